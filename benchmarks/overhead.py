"""Per-trial overhead of our search loop over plain Optuna (goal: at most 1.5x).

What it measures, all in this one process and run:

1. **Trivial objective.** ``N`` trials (default 200) whose evaluation costs nothing, through
   (a) plain Optuna: ``study.optimize(objective, n_trials=N)`` where the objective samples
   the engine's space (``model`` choice + the chosen family's parameters, via
   ``automl_bridge.search.space.sample``) and returns a deterministic score of the
   parameters; (b) our engine's loop: ``automl_bridge.engine.runner.Search`` with a fake
   executor whose ``call()`` returns the same score at once. Same sampler (our ``tpe``
   strategy, seed 0), same space, same scores, so both should sample the same parameters
   (checked: ``same params``). Once with in-memory storage, once with SQLite (the engine's
   default storage). Per-trial time = wall time / N; median of ``--repeats``.
2. **Realistic.** ``M`` trials (default 40) on a tiny dataset (breast_cancer, 5-fold CV,
   ROC-AUC): our ``Search`` with the real ``InlineExecutor`` and ``ProcessExecutor`` vs a
   plain Optuna objective doing the same scikit-learn fits (the same pipelines from
   ``build_pipeline`` on the same folds) and computing only the one metric. The difference
   is what the engine adds per trial: bookkeeping, all-metrics scoring, the champion, IPC.
   The worker process start (up to a first cheap evaluation) is measured apart: it happens
   once per run, overlapped with data validation, and is not part of the per-trial time.
   Every family is fitted once in this process before timing (first-use costs).
   Everything runs with ``OMP_WAIT_POLICY=PASSIVE`` (what the engine's workers use), so the
   in-process fits and the worker's fits use OpenMP the same way.

Run (full; about 10-15 minutes, most of it the SQLite cases)::

    .venv/bin/python benchmarks/overhead.py --trials 200 --realistic-trials 40 --repeats 3 \\
        --out benchmarks/results/overhead.json

Smoke run (30 trivial and 6 realistic trials; written to results/quick/)::

    .venv/bin/python benchmarks/overhead.py --quick
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import TARGET, cores, default_out, load_dataset, log, new_document, now_iso, split
from common import write_json as write_doc

FAMILY_BONUS = {"linear": 0.10, "knn": 0.05, "svm": 0.08, "random_forest": 0.20,
                "extra_trees": 0.15, "hist_gradient_boosting": 0.25}


def trivial_score(family: str, params: dict[str, Any]) -> float:
    """A cheap deterministic score of a configuration (gives TPE something to model)."""
    x = FAMILY_BONUS.get(family, 0.0)
    for _, v in sorted(params.items()):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            x += 0.01 * math.log1p(abs(float(v)))
    return x


class TrivialExecutor:
    """Stands in for a worker: every call returns at once."""

    n_threads = 1
    alive = True
    restart_cost = 0.0

    def load(self, ctx: Any) -> None:
        """Nothing to load."""

    def call(self, kind: str, family: str, params: dict[str, Any], *,
             timeout: float | None = None, cancel: Any = None) -> dict[str, Any]:
        """The trivial score in the shape ``evaluate`` returns."""
        s = trivial_score(family, params)
        return {"score": s, "metrics": {"roc_auc": s}, "n_splits": 1, "fit_time_s": 0.0}

    def close(self) -> None:
        """Nothing to release."""


# --- building blocks ---------------------------------------------------------------------------


def sampler() -> Any:
    """The sampler the engine uses for ``search="tpe"`` (seed 0), fresh."""
    from automl_bridge.search.strategies import StrategyContext, make_strategy

    return make_strategy("tpe", StrategyContext()).sampler


def storage(kind: str, tmp: Path, name: str) -> Any:
    """A fresh Optuna storage: ``memory`` or a new SQLite file."""
    from automl_bridge.engine.study import open_storage

    return open_storage("memory" if kind == "memory" else f"sqlite:///{tmp / name}.db")


def families_and_ctx(n_rows: int = 1000) -> tuple[dict[str, Any], Any]:
    """All six families and the data context that shapes their spaces."""
    from automl_bridge.models.families import DataContext
    from automl_bridge.registry import registry_for

    ctx = DataContext(task="classification", n_rows=n_rows, n_features=30, n_classes=2)
    reg = registry_for("families")
    fams = {n: reg.get(n) for n in reg.names()}
    return {n: f for n, f in fams.items() if f.available(ctx) is None}, ctx


def sample_config(trial: Any, families: dict[str, Any], ctx: Any) -> tuple[str, dict[str, Any]]:
    """What ``Search._sample`` does: a family, then its parameters, prefixed."""
    from automl_bridge.search.space import sample

    names = list(families)
    family = trial.suggest_categorical("model", names)
    return family, sample(trial, families[family].space(ctx), prefix=f"{family}.")


def run_plain(store: Any, n: int, objective: Callable[[Any], float]) -> tuple[float, list[Any]]:
    """Plain ``study.optimize``; returns (seconds, params of every trial)."""
    import optuna

    study = optuna.create_study(storage=store, sampler=sampler(), direction="maximize")
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - t0, [t.params for t in study.trials]


def run_ours(store: Any, n: int, executor: Any, families: dict[str, Any], ctx: Any,
             name: str) -> tuple[float, list[Any]]:
    """Our ``Search`` over a study created the way a run creates it."""
    from automl_bridge.engine.runner import Budget, Search
    from automl_bridge.engine.study import create_run_study
    from automl_bridge.spec import JobSpec

    spec = JobSpec(task="classification", target=TARGET, metric="roc_auc", max_trials=n,
                   time_budget_s=None)
    study = create_run_study(store, run_id=name, spec=spec, data_sha256="0" * 64,
                             directions=["maximize"], sampler=sampler())
    search = Search(study=study, families=families, space_ctx=ctx, executors=[executor],
                    budget=Budget(deadline=None, trials_left=n), direction="maximize")
    t0 = time.perf_counter()
    search.run()
    return time.perf_counter() - t0, [t.params for t in study.trials]


def compare(name: str, n: int, repeats: int, plain: Callable[[int], tuple[float, list[Any]]],
            ours: Callable[[int], tuple[float, list[Any]]]) -> dict[str, Any]:
    """Alternate plain and ours ``repeats`` times; medians of per-trial milliseconds."""
    p_ms: list[float] = []
    o_ms: list[float] = []
    same = []
    for i in range(repeats):
        order = (plain, ours) if i % 2 == 0 else (ours, plain)
        results = {}
        for fn in order:
            secs, params = fn(i)
            results[fn] = params
            (p_ms if fn is plain else o_ms).append(1000 * secs / n)
        a, b = results[plain], results[ours]
        same.append(sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), 1))
    p, o = statistics.median(p_ms), statistics.median(o_ms)
    out = {"name": name, "n_trials": n, "repeats": repeats, "plain_ms_per_trial": round(p, 3),
           "ours_ms_per_trial": round(o, 3), "ratio": round(o / p, 3),
           "same_params_share": round(min(same), 3),
           "plain_runs_ms": [round(x, 3) for x in p_ms],
           "ours_runs_ms": [round(x, 3) for x in o_ms]}
    log(f"{name}: plain {p:.2f} ms/trial, ours {o:.2f} ms/trial, ratio {o / p:.2f} "
        f"(same params: {min(same):.0%})")
    return out


# --- the two experiments -----------------------------------------------------------------------


def trivial_cases(n: int, repeats: int, tmp: Path) -> list[dict[str, Any]]:
    """Trivial objective, in-memory and SQLite storage."""
    families, ctx = families_and_ctx()

    def objective(trial: Any) -> float:
        family, params = sample_config(trial, families, ctx)
        return trivial_score(family, params)

    def plain(kind: str) -> Callable[[int], tuple[float, list[Any]]]:
        return lambda i: run_plain(storage(kind, tmp, f"plain-{kind}-{i}"), n, objective)

    def ours(kind: str) -> Callable[[int], tuple[float, list[Any]]]:
        return lambda i: run_ours(storage(kind, tmp, f"ours-{kind}-{i}"), n, TrivialExecutor(),
                                  families, ctx, f"ours-{kind}-{i}")

    return [compare(f"trivial objective, {kind} storage", n, repeats, plain(kind), ours(kind))
            for kind in ("memory", "sqlite")]


def realistic_context() -> tuple[Any, Any, dict[str, Any], Any]:
    """breast_cancer training split as the engine prepares it: (EvalContext, y, families, ctx)."""
    from automl_bridge.backends.local import usable_families
    from automl_bridge.data import prepare_training_data
    from automl_bridge.engine.evaluate import EvalContext
    from automl_bridge.engine.splits import make_splits
    from automl_bridge.models.families import DataContext
    from automl_bridge.spec import JobSpec

    info, X, y = load_dataset("breast_cancer")
    data = split(info, X, y)
    spec = JobSpec(task="classification", target=TARGET, metric="roc_auc", max_trials=1,
                   time_budget_s=None)
    td = prepare_training_data((data.X_train, data.y_train), spec)
    splits, _, _ = make_splits(td.y, td.task, "auto", folds=5, fraction=0.2, seed=0)
    ctx = DataContext(task=td.task, n_rows=len(splits[0][0]), n_features=len(td.schema.kinds),
                      n_classes=td.n_classes, seed=0)
    families, _ = usable_families(spec, td.task, ctx)
    ectx = EvalContext(X=td.X, y=td.y, task=td.task, classes=td.classes, metric=td.metric,
                       pos_label=td.pos_label, kinds=td.schema.kinds,
                       input_columns=list(td.X.columns), splits=splits, target=TARGET, seed=0,
                       n_threads=cores())
    return ectx, td, families, ctx


def realistic_cases(n: int, repeats: int, tmp: Path) -> tuple[list[dict[str, Any]], float]:
    """Real fits: plain Optuna objective vs our Search with Inline/Process executors."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from automl_bridge.engine.workers import InlineExecutor, ProcessExecutor
    from automl_bridge.models.pipeline import build_pipeline

    ectx, _, families, ctx = realistic_context()

    def objective(trial: Any) -> float:
        family, params = sample_config(trial, families, ctx)
        fam = families[family]
        proba = np.zeros(len(ectx.y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for tr, va in ectx.splits:
                pipe = build_pipeline(fam, params, ectx.data_context(len(tr)), kinds=ectx.kinds,
                                      input_columns=ectx.input_columns)
                pipe.fit(ectx.X.iloc[tr], ectx.y[tr])
                col = list(pipe.classes_).index(ectx.pos_label)
                proba[va] = pipe.predict_proba(ectx.X.iloc[va])[:, col]
        return float(roc_auc_score(ectx.y == ectx.pos_label, proba))

    # Warm-up, untimed: fit every family once here, so first-use costs (lazy scikit-learn
    # imports, OpenMP start) fall on no variant.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = ectx.splits[0][0]
        for fam in families.values():
            build_pipeline(fam, fam.defaults(ctx), ectx.data_context(len(tr)), kinds=ectx.kinds,
                           input_columns=ectx.input_columns).fit(ectx.X.iloc[tr], ectx.y[tr])

    startup: list[float] = []

    def process_executor() -> Any:
        t0 = time.perf_counter()
        ex = ProcessExecutor(n_threads=cores())
        ex.load(ectx)
        # one cheap evaluation: the worker is up, has imported scikit-learn and holds the data
        ex.call("eval", "linear", families["linear"].defaults(ctx))
        startup.append(time.perf_counter() - t0)
        return ex

    def ours(kind: str, make: Callable[[], Any]) -> Callable[[int], tuple[float, list[Any]]]:
        def run(i: int) -> tuple[float, list[Any]]:
            ex = make()
            if isinstance(ex, InlineExecutor):
                ex.load(ectx)
            try:
                return run_ours(storage(kind, tmp, f"real-{kind}-{i}-{id(ex)}"), n, ex,
                                families, ctx, f"real-{i}-{id(ex)}")
            finally:
                ex.close()
        return run

    def plain(kind: str) -> Callable[[int], tuple[float, list[Any]]]:
        return lambda i: run_plain(storage(kind, tmp, f"real-plain-{kind}-{i}"), n, objective)

    out = [
        compare("breast_cancer 5-fold, InlineExecutor, memory storage", n, repeats,
                plain("memory"), ours("memory", lambda: InlineExecutor(n_threads=cores()))),
        compare("breast_cancer 5-fold, ProcessExecutor, memory storage", n, repeats,
                plain("memory"), ours("memory", process_executor)),
        compare("breast_cancer 5-fold, ProcessExecutor, SQLite storage (engine default)", n,
                repeats, plain("sqlite"), ours("sqlite", process_executor)),
    ]
    return out, statistics.median(startup) if startup else float("nan")


def main(argv: list[str] | None = None) -> int:
    """Run both experiments; write the JSON and print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=200, help="trials of the trivial objective")
    p.add_argument("--realistic-trials", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3, help="repeats of the trivial cases")
    p.add_argument("--realistic-repeats", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="smoke run: 30 + 6 trials, 1 repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.trials, args.realistic_trials, args.repeats, args.realistic_repeats = 30, 6, 1, 1
    out = args.out or default_out("overhead", args.quick)
    # The engine's workers run with passive OpenMP waiting; give the in-process variants the
    # same (before scikit-learn loads OpenMP), or spinning threads skew the comparison.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    doc = new_document("overhead", quick=args.quick, config={
        "trials": args.trials, "realistic_trials": args.realistic_trials,
        "repeats": args.repeats, "realistic_repeats": args.realistic_repeats,
        "sampler": "automl_bridge tpe strategy (multivariate, group), seed 0",
        "realistic_dataset": "breast_cancer training split (426 rows), 5-fold CV, roc_auc",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")})
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        doc["comparisons"] = trivial_cases(args.trials, args.repeats, Path(tmp))
        realistic, startup = realistic_cases(args.realistic_trials, args.realistic_repeats,
                                             Path(tmp))
    doc["comparisons"] += realistic
    doc["process_startup_s"] = round(startup, 3)
    doc["finished_at"] = now_iso()
    write_doc(out, doc)
    import report

    print(report.render_overhead(doc))
    worst = max(c["ratio"] for c in doc["comparisons"])
    print(f"worst ratio ours / plain Optuna: {worst:.2f} (goal <= 1.5)")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
