"""Compute multi-fidelity search needs to reach random search's best, on the largest datasets.

For each dataset, the engine's own search loop (``automl_bridge.engine.runner.Search``) runs
each strategy for the same wall time, in this process (one inline executor, so nothing is
killed and no worker start-up is counted), without the warm-start defaults (so every strategy
proposes every configuration itself), on the engine's validation scheme (a 20 % holdout at
this size). Compute is the cumulative fit time of the trials, in order of completion; only
full-fidelity trials count as found.

Reported per dataset: random search's final best validation score ``S_r`` and its compute
``C_r``; for each multi-fidelity strategy the compute at which its best full-fidelity score
first reaches ``S_r`` (``None``: never within its run) and the ratio to ``C_r`` (goal: at most
1/3).

Run: ``.venv/bin/python benchmarks/multifidelity.py [--seconds 120] [--quick]``
(about 4 x seconds per dataset; idle machine). Writes ``benchmarks/results/multifidelity.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    TARGET,
    default_out,
    load_dataset,
    log,
    new_document,
    now_iso,
    split,
    write_json,
)

STRATEGIES = ("random", "successive_halving", "hyperband", "bohb")
DATASETS = ("synth_clf_50k", "synth_reg_200k")
FAMILIES = ("hist_gradient_boosting", "linear")


def run_one(dataset: str, strategy: str, *, seconds: float, seed: int,
            n_rows: int | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One strategy on one dataset: the (compute, score, fidelity, state) of every trial."""
    import optuna

    from automl_bridge.data import prepare_training_data
    from automl_bridge.engine.evaluate import EvalContext
    from automl_bridge.engine.runner import Budget, Search, engine_space
    from automl_bridge.engine.splits import make_splits
    from automl_bridge.engine.study import candidate_attr, create_run_study
    from automl_bridge.engine.workers import InlineExecutor
    from automl_bridge.metrics import get_metric
    from automl_bridge.models.families import DataContext
    from automl_bridge.registry import registry_for
    from automl_bridge.search.strategies import StrategyContext, make_strategy
    from automl_bridge.spec import JobSpec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    info, X, y = load_dataset(dataset, n_rows)
    data = split(info, X, y)
    opts = dict(options or {}) if strategy != "random" else {}
    spec = JobSpec(task=info.task, target=TARGET, metric=info.metric, time_budget_s=seconds,
                   seed=seed, models=list(FAMILIES), search={"strategy": strategy, **opts})
    tdata = prepare_training_data((data.X_train, data.y_train), spec)
    splits, scheme, _ = make_splits(tdata.y, tdata.task, "auto", folds=5, fraction=0.2,
                                    seed=seed, target=TARGET)
    n_train = len(splits[0][0])
    ctx = DataContext(task=tdata.task, n_rows=n_train, n_features=len(tdata.schema.kinds),
                      n_classes=tdata.n_classes, seed=seed)
    families = {name: registry_for("families").get(name) for name in FAMILIES}
    executor = InlineExecutor(n_threads=2)
    executor.load(EvalContext(X=tdata.X, y=tdata.y, task=tdata.task, classes=tdata.classes,
                              metric=tdata.metric, pos_label=tdata.pos_label,
                              kinds=tdata.schema.kinds, input_columns=list(tdata.X.columns),
                              splits=splits, target=TARGET, seed=seed, n_threads=2))
    direction = get_metric(tdata.metric).direction
    strat = make_strategy(strategy, StrategyContext(
        seed=seed, directions=(direction,), space=engine_space(families, ctx), n_rows=n_train,
        options=opts))
    study = create_run_study(optuna.storages.InMemoryStorage(), run_id=f"{dataset}-{strategy}",
                             spec=spec, data_sha256="0" * 64, directions=[direction],
                             sampler=strat.sampler, pruner=strat.pruner)
    search = Search(study=study, families=families, space_ctx=ctx, executors=[executor],
                    budget=Budget(deadline=time.monotonic() + seconds, trials_left=None,
                                  write_reserve_s=0.0),
                    direction=direction, plan=strat.plan)
    t0 = time.monotonic()
    search.run()
    wall = time.monotonic() - t0
    trials = []
    for t in sorted(study.get_trials(deepcopy=False),
                    key=lambda t: t.datetime_complete or t.datetime_start):
        rec = candidate_attr(t)
        trials.append({"number": t.number, "state": rec.get("state"),
                       "score": rec.get("score"), "fidelity": rec.get("fidelity", 1.0),
                       "fit_time_s": rec.get("fit_time_s", 0.0), "family": rec.get("family")})
    return {"dataset": dataset, "strategy": strategy, "metric": tdata.metric,
            "direction": direction, "validation": scheme, "seconds": seconds, "wall_s": wall,
            "trials": trials}


def reach(run: dict[str, Any], target: float) -> float | None:
    """Cumulative fit time when a full-fidelity trial first scores at least ``target``."""
    better = (lambda s: s >= target - 1e-12) if run["direction"] == "maximize" else \
        (lambda s: s <= target + 1e-12)
    spent = 0.0
    for t in run["trials"]:
        spent += float(t["fit_time_s"] or 0.0)
        if t["state"] == "complete" and t["score"] is not None and better(float(t["score"])):
            return spent
    return None


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset: random's best and compute; each strategy's compute to reach it."""
    out = []
    for dataset in sorted({r["dataset"] for r in runs}):
        by = {r["strategy"]: r for r in runs if r["dataset"] == dataset}
        rnd = by.get("random")
        if rnd is None:
            continue
        scores = [float(t["score"]) for t in rnd["trials"] if t["state"] == "complete"]
        if not scores:
            continue
        best = max(scores) if rnd["direction"] == "maximize" else min(scores)
        c_r = sum(float(t["fit_time_s"] or 0.0) for t in rnd["trials"])
        row: dict[str, Any] = {"dataset": dataset, "metric": rnd["metric"],
                               "random_best": best, "random_compute_s": round(c_r, 1),
                               "random_trials": len(rnd["trials"]),
                               "random_reached_at_s": round(reach(rnd, best) or 0.0, 1)}
        for name, run in by.items():
            if name == "random":
                continue
            at = reach(run, best)
            full = [float(t["score"]) for t in run["trials"] if t["state"] == "complete"]
            own = (max(full) if run["direction"] == "maximize" else min(full)) if full \
                else None
            row[name] = {"reached_at_s": None if at is None else round(at, 1),
                         "ratio": None if at is None else round(at / c_r, 3),
                         "trials": len(run["trials"]),
                         "pruned": sum(t["state"] == "pruned" for t in run["trials"]),
                         "own_best": own}
        out.append(row)
    return out


def report(summary: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize`."""
    lines = ["| dataset | random: best (metric), trials, compute | "
             + " | ".join(f"{s}: compute to reach it (ratio), trials, pruned, own best"
                          for s in STRATEGIES[1:]) + " |",
             "|---" * len(STRATEGIES) + "|"]
    for row in summary:
        cells = [f"{row['dataset']}",
                 f"{row['random_best']:.5g} ({row['metric']}), {row['random_trials']}, "
                 f"{row['random_compute_s']} s (reached at {row['random_reached_at_s']} s)"]
        for s in STRATEGIES[1:]:
            r = row.get(s)
            if r is None:
                cells.append("-")
                continue
            reached = "never" if r["reached_at_s"] is None else \
                f"{r['reached_at_s']} s ({r['ratio']:.2f})"
            own = "-" if r["own_best"] is None else f"{r['own_best']:.5g}"
            cells.append(f"{reached}, {r['trials']}, {r['pruned']}, {own}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="wall time per strategy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--min-fraction", type=float, default=None,
                   help="option min_fraction of the multi-fidelity strategies (default 1/27)")
    p.add_argument("--quick", action="store_true", help="smoke run: 5,000 rows, 10 s")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    seconds = 10.0 if args.quick else args.seconds
    n_rows = 5000 if args.quick else None
    doc = new_document("multifidelity", quick=args.quick,
                       config={"seconds": seconds, "seed": args.seed, "families": FAMILIES,
                               "strategies": STRATEGIES, "datasets": args.datasets,
                               "min_fraction": args.min_fraction})
    options = {} if args.min_fraction is None else {"min_fraction": args.min_fraction}
    runs = []
    for dataset in args.datasets:
        for strategy in STRATEGIES:
            log(f"{dataset} {strategy} ({seconds:.0f} s)")
            run = run_one(dataset, strategy, seconds=seconds, seed=args.seed, n_rows=n_rows,
                          options=options)
            log(f"  {len(run['trials'])} trials in {run['wall_s']:.1f} s")
            runs.append(run)
    doc["runs"] = runs
    doc["summary"] = summarize(runs)
    doc["finished_at"] = now_iso()
    out = args.out or default_out("multifidelity", args.quick)
    write_json(out, doc)
    print(report(doc["summary"]))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
