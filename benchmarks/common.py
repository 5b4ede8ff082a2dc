"""Shared code of the benchmark scripts: datasets, splits, scoring, isolated child runs.

Nothing here is a benchmark by itself; the scripts beside it (``quality.py``, ``budget.py``,
``memory.py``, ``overhead.py``, ``import_time.py``) import it. See ``docs/benchmarks.md``.

Main pieces:

* :data:`DATASETS` / :func:`load_dataset`: the offline suite (sklearn bundled sets, penguins,
  a synthetic adult-like categorical set with missing values, two large synthetic sets), each
  generated or loaded deterministically.
* :func:`split`: the fixed 75/25 train/test split (seed 0, stratified for classification).
* :func:`score_predictions`: the AMLB metric of the dataset (binary ROC-AUC, multiclass
  log-loss, regression RMSE) computed with :func:`automl_bridge.metrics.score`, identically
  for every system.
* :func:`run_in_child`: runs ``module:function(payload)`` in a fresh interpreter (its own
  process group), with a hard kill after a timeout and peak RSS of the whole process tree.
* :func:`system_job`: the child-side job shared by ``quality.py``, ``budget.py`` and
  ``memory.py``: load a dataset, fit one system on its training split, score it on the test
  split.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
QUICK_DIR = RESULTS_DIR / "quick"
TARGET = "target"
SPLIT_SEED = 0
TEST_SIZE = 0.25
#: AMLB convention, the same for every system.
METRIC_OF_KIND = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
SMOKE_NOTE = ("SMOKE RUN (--quick): proves the script works end to end on tiny inputs and "
              "budgets. These numbers are not benchmark results.")


# --- datasets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset of the suite.

    Attributes:
        name: key used on the command line.
        kind: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        load: ``load(n_rows)`` returns ``(X, y)``; ``n_rows=None`` means every row.
        description: one line for the docs.
        size: ``"small"`` or ``"large"`` (large ones take longer to generate and fit).
    """

    name: str
    kind: str
    load: Callable[[int | None], tuple[pd.DataFrame, pd.Series]]
    description: str
    size: str = "small"

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return "regression" if self.kind == "regression" else "classification"

    @property
    def metric(self) -> str:
        """The canonical metric the suite scores this dataset with."""
        return METRIC_OF_KIND[self.kind]


def _sk_loader(name: str) -> Callable[[int | None], tuple[pd.DataFrame, pd.Series]]:
    def load(n_rows: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{name}")(return_X_y=True, as_frame=True)
        X.columns = [str(c) for c in X.columns]
        return _head(X, y.rename(TARGET), n_rows)

    return load


def _head(X: pd.DataFrame, y: pd.Series, n_rows: int | None) -> tuple[pd.DataFrame, pd.Series]:
    if n_rows is None or n_rows >= len(X):
        return X, y
    return X.iloc[:n_rows].reset_index(drop=True), y.iloc[:n_rows].reset_index(drop=True)


def _as_object(X: pd.DataFrame) -> pd.DataFrame:
    """String columns as ``object`` dtype with ``NaN`` for missing (one raw form for all)."""
    import numpy as np
    import pandas as pd

    X = X.copy()
    for col in X.columns:
        s = X[col]
        if not pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            X[col] = s.astype(object).where(s.notna(), np.nan)
    return X


def load_penguins(n_rows: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """palmerpenguins: 344 rows, target ``species`` (3 classes), categoricals and NaN."""
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    y = frame.pop("species").astype(object).rename(TARGET)
    return _head(_as_object(frame), y, n_rows)


#: Levels of the adult-like categorical columns (name -> number of levels, Zipf exponent).
ADULT_CATEGORICALS: dict[str, tuple[int, float]] = {
    "workclass": (8, 1.2), "education": (16, 0.6), "marital_status": (7, 0.9),
    "occupation": (14, 0.5), "relationship": (6, 0.8), "race": (5, 1.5), "sex": (2, 0.3),
    "native_country": (40, 2.0),
}


def load_adult_like(n_rows: int | None = None, *, seed: int = 0) -> tuple[pd.DataFrame,
                                                                          pd.Series]:
    """A synthetic adult-census-like set: 10,000 rows, 8 categorical + 5 numeric columns.

    Generation (fixed ``seed``): every categorical column draws its levels from a Zipf-like
    distribution (``p_k ~ 1 / k**a``) over 2-40 levels (see :data:`ADULT_CATEGORICALS`) and
    gives every level a random effect on the log-odds (normal, sd 0.6; ``education`` is
    ordinal with a monotone effect). Numerics: ``age`` (17-90, inverted-U effect),
    ``hours_per_week`` (linear effect), ``capital_gain`` (90 % zeros, a non-zero value adds
    +1.5), ``capital_loss`` and ``fnlwgt`` (no effect). An interaction (married x sex) adds
    +0.8. Logistic noise, intercept tuned to about 24 % positives (``">50K"``). Finally 10 %
    of all feature cells are set missing, completely at random.
    """
    import numpy as np
    import pandas as pd

    n = 10_000
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    logit = np.zeros(n)
    for name, (levels, a) in ADULT_CATEGORICALS.items():
        p = 1.0 / np.arange(1, levels + 1) ** a
        codes = rng.choice(levels, size=n, p=p / p.sum())
        if name == "education":
            effects = np.linspace(-1.2, 1.5, levels) + rng.normal(0, 0.15, levels)
            codes = rng.permutation(levels)[codes]  # frequency independent of the order
        else:
            effects = rng.normal(0, 0.6, levels)
        logit += effects[codes]
        cols[name] = np.array([f"{name[:3]}_{c:02d}" for c in range(levels)],
                              dtype=object)[codes]
    age = rng.integers(17, 91, size=n).astype(float)
    hours = np.clip(rng.normal(40, 12, size=n), 1, 99).round()
    gain = np.where(rng.random(n) < 0.9, 0.0, rng.lognormal(8, 1.2, size=n)).round()
    loss = np.where(rng.random(n) < 0.95, 0.0, rng.lognormal(7, 0.5, size=n)).round()
    fnlwgt = rng.lognormal(12, 0.5, size=n).round()
    logit += -((age - 48) / 15) ** 2 + 0.03 * (hours - 40) + 1.5 * (gain > 0)
    married = cols["marital_status"] == "mar_00"
    logit += 0.8 * (married & (cols["sex"] == "sex_00"))
    logit += rng.logistic(size=n) * 0.8
    threshold = np.quantile(logit, 0.76)
    y = np.where(logit > threshold, ">50K", "<=50K").astype(object)
    X = pd.DataFrame({"age": age, **cols, "hours_per_week": hours, "capital_gain": gain,
                      "capital_loss": loss, "fnlwgt": fnlwgt})
    mask = rng.random(X.shape) < 0.10
    X = X.mask(mask)
    X = _as_object(X)
    return _head(X, pd.Series(y, name=TARGET, dtype=object), n_rows)


def load_synth_clf(n_rows: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``make_classification``: 50,000 x 50, binary, 15 informative + 10 redundant features."""
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=50_000, n_features=50, n_informative=15,
                               n_redundant=10, n_clusters_per_class=3, class_sep=0.8,
                               flip_y=0.03, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(X.shape[1])])
    return _head(frame, pd.Series(y, name=TARGET), n_rows)


def load_synth_reg(n_rows: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``make_friedman1``: 200,000 x 30 (5 informative, 25 noise features), noise sd 1.0.

    ``y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + N(0, 1)``, ``x ~ U(0, 1)``.
    Rows are i.i.d., so the first ``n_rows`` rows are a fair subsample (used by memory.py).
    """
    import pandas as pd
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=200_000, n_features=30, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(X.shape[1])])
    return _head(frame, pd.Series(y, name=TARGET), n_rows)


DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (
    DatasetInfo("breast_cancer", "binary", _sk_loader("breast_cancer"),
                "sklearn bundled; 569 x 30 numeric"),
    DatasetInfo("iris", "multiclass", _sk_loader("iris"), "sklearn bundled; 150 x 4, 3 classes"),
    DatasetInfo("wine", "multiclass", _sk_loader("wine"), "sklearn bundled; 178 x 13, 3 classes"),
    DatasetInfo("digits", "multiclass", _sk_loader("digits"),
                "sklearn bundled; 1,797 x 64, 10 classes"),
    DatasetInfo("diabetes", "regression", _sk_loader("diabetes"),
                "sklearn bundled; 442 x 10 numeric"),
    DatasetInfo("penguins", "multiclass", load_penguins,
                "palmerpenguins; 344 x 7, 3 classes, 2 categoricals, NaN"),
    DatasetInfo("adult_like", "binary", load_adult_like,
                "synthetic adult-like; 10,000 x 13, 8 categoricals (2-40 levels), 10 % missing"),
    DatasetInfo("synth_clf_50k", "binary", load_synth_clf,
                "make_classification; 50,000 x 50, seed 0", "large"),
    DatasetInfo("synth_reg_200k", "regression", load_synth_reg,
                "make_friedman1; 200,000 x 30, noise 1.0, seed 0", "large"),
)}
QUICK_DATASETS = ("breast_cancer", "penguins")


def load_dataset(name: str, n_rows: int | None = None) -> tuple[DatasetInfo, pd.DataFrame,
                                                                 pd.Series]:
    """The dataset ``name`` (optionally its first ``n_rows`` rows)."""
    if name not in DATASETS:
        raise SystemExit(f"Unknown dataset {name!r}. Known: {sorted(DATASETS)}")
    info = DATASETS[name]
    X, y = info.load(n_rows)
    return info, X, y


@dataclass
class Split:
    """The fixed train/test split of one dataset."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    classes: list[Any] | None = None


def split(info: DatasetInfo, X: pd.DataFrame, y: pd.Series) -> Split:
    """75/25 train/test, seed 0, stratified for classification (the same for every system)."""
    from sklearn.model_selection import train_test_split

    strat = y if info.task == "classification" else None
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=TEST_SIZE,
                                              random_state=SPLIT_SEED, stratify=strat)
    classes = sorted(set(y.tolist())) if info.task == "classification" else None
    return Split(X_train=X_tr.reset_index(drop=True), X_test=X_te.reset_index(drop=True),
                 y_train=y_tr.reset_index(drop=True), y_test=y_te.reset_index(drop=True),
                 classes=classes)


# --- scoring ---------------------------------------------------------------------------------


def align_proba(proba: Any, fitted_classes: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    """Probabilities with one column per class of ``classes`` (0 for classes never seen)."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    fitted = [_plain(c) for c in fitted_classes]
    if fitted == [_plain(c) for c in classes]:
        return proba
    out = np.zeros((proba.shape[0], len(classes)))
    index = {_plain(c): i for i, c in enumerate(classes)}
    for j, c in enumerate(fitted):
        out[:, index[c]] = proba[:, j]
    return out


def _plain(v: Any) -> Any:
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def score_predictions(info: DatasetInfo, data: Split, *, y_pred: Any = None,
                      proba: Any = None) -> float:
    """The dataset's metric on the test split, via :func:`automl_bridge.metrics.score`.

    ``proba`` must have one column per class of ``data.classes`` (see :func:`align_proba`).
    """
    from automl_bridge.metrics import score

    if info.task == "regression":
        return score(info.metric, data.y_test.to_numpy(), y_pred=y_pred)
    return score(info.metric, data.y_test.to_numpy(), y_proba=proba, classes=data.classes)


# --- systems (child side) --------------------------------------------------------------------


@dataclass
class Fitted:
    """What a system returns after ``fit``: predictions for the test rows and details."""

    predict: Callable[[pd.DataFrame], Any]
    predict_proba: Callable[[pd.DataFrame], Any] | None = None
    classes: list[Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def fit_ours(X: pd.DataFrame, y: pd.Series, *, info: DatasetInfo, budget_s: float, seed: int,
             workdir: str) -> Fitted:
    """Our engine: ``AutoMLJob(...).with_backend("local", run_dir=..., n_jobs=1).fit``."""
    from automl_bridge import AutoMLJob
    from automl_bridge.progress import SilentProgress

    job = AutoMLJob(task=info.task, target=TARGET, metric=info.metric, time_budget_s=budget_s,
                    seed=seed).with_backend("local", run_dir=workdir, n_jobs=1)
    t0 = time.monotonic()
    result = job.fit((X, y), progress=SilentProgress())
    fit_s = time.monotonic() - t0
    best = result.best
    states: dict[str, int] = {}
    for c in result.candidates:
        states[c.state.value] = states.get(c.state.value, 0) + 1
    details = {
        "engine_wall_time_s": result.wall_time_s,
        "external_fit_s": round(fit_s, 3),
        "status": result.status.value,
        "n_trials": len(result.candidates),
        "trial_states": states,
        "best_family": best.family if best else None,
        "best_validation_score": None if best is None else _finite(best.score),
        "final_model": _final_kind(best),
        "stop_reason": result.extra.get("stop_reason"),
        "validation": result.extra.get("validation"),
        "warnings": list(result.warnings),
    }

    def proba(frame: pd.DataFrame) -> Any:
        out = job.predict_proba(frame)
        return out.to_numpy()

    classes = list(job.model.classes_) if info.task == "classification" else None
    return Fitted(predict=lambda frame: job.predict(frame).to_numpy(),
                  predict_proba=proba if classes is not None else None,
                  classes=classes, details=details)


def _final_kind(best: Any) -> str | None:
    """``baseline``, ``refit on all rows`` or ``last validation split`` (see LocalRun)."""
    if best is None:
        return None
    if best.family == "baseline":
        return "baseline"
    trained_on = best.extra.get("trained_on")
    return "refit on all rows" if trained_on == "all rows" else str(trained_on)


def _finite(v: float) -> float | None:
    return None if v != v else float(v)


def system_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Child side of one (dataset, system, budget, seed) run: fit, predict, score.

    Payload keys: ``dataset``, ``system`` (``ours``, ``hgb``, ``optuna``, ``flaml``),
    ``budget_s``, ``seed``, optional ``n_rows``. Imports of the system's libraries happen
    before the timer starts, the same way for every system.
    """
    info, X, y = load_dataset(payload["dataset"], payload.get("n_rows"))
    data = split(info, X, y)
    system = payload["system"]
    fit = _system_fit(system)
    rss_before = _own_rss_mb()
    with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as workdir:
        t0 = time.monotonic()
        fitted = fit(data.X_train, data.y_train, info=info, budget_s=payload["budget_s"],
                     seed=payload["seed"], workdir=workdir)
        fit_s = time.monotonic() - t0
        t1 = time.monotonic()
        if info.task == "classification":
            assert fitted.predict_proba is not None and fitted.classes is not None
            proba = align_proba(fitted.predict_proba(data.X_test), fitted.classes,
                                data.classes or [])
            test_score = score_predictions(info, data, proba=proba)
        else:
            test_score = score_predictions(info, data, y_pred=fitted.predict(data.X_test))
        predict_s = time.monotonic() - t1
    return {"score": test_score, "fit_s": round(fit_s, 3), "predict_s": round(predict_s, 3),
            "n_train": len(data.X_train), "n_test": len(data.X_test),
            "n_features": int(X.shape[1]),
            "data_mb": round(float(X.memory_usage(deep=True).sum()) / 2**20, 2),
            "rss_before_fit_mb": rss_before, "details": fitted.details}


def _system_fit(system: str) -> Callable[..., Fitted]:
    """The fit function of ``system``, its heavy imports done (outside any timer)."""
    import sklearn.ensemble  # noqa: F401  - every system uses scikit-learn

    if system == "ours":
        import optuna  # noqa: F401

        import automl_bridge.backends._local_run  # noqa: F401
        return fit_ours
    import peers

    if system not in peers.PEERS:
        raise SystemExit(f"Unknown system {system!r}. Known: ['ours', *{sorted(peers.PEERS)}]")
    peers.preload(system)
    return peers.PEERS[system]


def _own_rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return round(psutil.Process().memory_info().rss / 2**20, 1)


# --- running in a child process (parent side) ------------------------------------------------


@dataclass
class ChildOutcome:
    """How one child run went.

    Attributes:
        status: ``"ok"``, ``"timeout"`` (killed after ``timeout_s``) or ``"error"``.
        result: what the child function returned (``None`` unless ok).
        wall_s: wall time of the whole child, interpreter start to exit.
        peak_rss_mb: peak of the summed RSS of the child and all its descendants.
        peak_rss_root_mb: peak RSS of the child alone.
        peak_rss_children_mb: peak of the summed RSS of the child's descendants.
        max_processes: most processes alive in the tree at one poll.
        error: the end of the child's stderr when it failed.
    """

    status: str
    result: dict[str, Any] | None
    wall_s: float
    peak_rss_mb: float | None = None
    peak_rss_root_mb: float | None = None
    peak_rss_children_mb: float | None = None
    max_processes: int = 0
    error: str | None = None


class TreeRSSMonitor:
    """Polls the RSS of a process and its descendants in a thread (``psutil``).

    The sum of RSS counts shared library pages once per process, so it overstates the
    physical memory a little; it is the number ``top`` users add up.
    """

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_total = 0
        self.peak_root = 0
        self.peak_children = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-monitor")

    def __enter__(self) -> TreeRSSMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = root_rss = 0
            for i, proc in enumerate(procs):
                try:
                    rss = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                if i == 0:
                    root_rss = rss
            self.peak_total = max(self.peak_total, total)
            self.peak_root = max(self.peak_root, root_rss)
            self.peak_children = max(self.peak_children, total - root_rss)
            self.max_processes = max(self.max_processes, len(procs))
            self._stop.wait(self.interval_s)


def run_in_child(target: str, payload: dict[str, Any], *, timeout_s: float,
                 monitor: bool = True) -> ChildOutcome:
    """Run ``target`` (``"module:function"`` in ``benchmarks/``) on ``payload`` in a new process.

    The child is a fresh interpreter in its own session; after ``timeout_s`` the whole process
    group is killed (SIGKILL), so worker processes die with it. Its output goes to a log
    whose tail is kept on failure.
    """
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "payload.json").write_text(json.dumps(payload))
        out = tmp_path / "out.json"
        log = tmp_path / "log.txt"
        cmd = [sys.executable, str(BENCH_DIR / "_child.py"), target, str(tmp_path / "payload.json"),
               str(out)]
        t0 = time.monotonic()
        with open(log, "wb") as log_fh:
            proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=str(REPO_ROOT))
            mon = TreeRSSMonitor(proc.pid) if monitor else None
            if mon is not None:
                mon.__enter__()
            timed_out = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
            except BaseException:
                _kill_group(proc)
                raise
            finally:
                if mon is not None:
                    mon.__exit__()
        wall = time.monotonic() - t0
        peak = round(mon.peak_total / 2**20, 1) if mon is not None else None
        peak_root = round(mon.peak_root / 2**20, 1) if mon is not None else None
        peak_kids = round(mon.peak_children / 2**20, 1) if mon is not None else None
        n_procs = mon.max_processes if mon is not None else 0
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        if timed_out:
            return ChildOutcome("timeout", None, wall, peak, peak_root, peak_kids, n_procs,
                                f"killed after {timeout_s:.0f}s\n{tail}")
        if proc.returncode != 0 or not out.exists():
            return ChildOutcome("error", None, wall, peak, peak_root, peak_kids, n_procs,
                                f"exit code {proc.returncode}\n{tail}")
        return ChildOutcome("ok", json.loads(out.read_text()), wall, peak, peak_root, peak_kids,
                            n_procs)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_after(budget_s: float) -> float:
    """Hard wall-clock limit of one child run: ``3 x budget + 30 s``."""
    return 3 * budget_s + 30


def run_system(dataset: str, system: str, *, budget_s: float | None, seed: int,
               kill_s: float, n_rows: int | None = None) -> dict[str, Any]:
    """Run :func:`system_job` in a child process; return the result record.

    The record holds the test ``score``, ``fit_s`` (wall time of the system's fit, measured
    in the child around it), ``elapsed_over_budget``, peak RSS of the child's process tree and
    the system's ``details``; ``status`` is ``ok``, ``timeout`` or ``error``.
    """
    from automl_bridge.metrics import get_metric

    info = DATASETS[dataset]
    payload = {"dataset": dataset, "system": system, "seed": seed,
               "budget_s": budget_s if budget_s is not None else 0.0, "n_rows": n_rows}
    outcome = run_in_child("common:system_job", payload, timeout_s=kill_s)
    res = outcome.result or {}
    fit_s = res.get("fit_s")
    rec: dict[str, Any] = {
        "dataset": dataset, "kind": info.kind, "metric": info.metric,
        "direction": get_metric(info.metric).direction, "system": system,
        "budget_s": budget_s, "seed": seed, "status": outcome.status,
        "score": res.get("score"), "fit_s": fit_s, "predict_s": res.get("predict_s"),
        "elapsed_over_budget": (round(fit_s / budget_s, 4)
                                if fit_s is not None and budget_s else None),
        "child_wall_s": round(outcome.wall_s, 3), "peak_rss_mb": outcome.peak_rss_mb,
        "peak_rss_root_mb": outcome.peak_rss_root_mb,
        "peak_rss_children_mb": outcome.peak_rss_children_mb,
        "max_processes": outcome.max_processes, "n_train": res.get("n_train"),
        "n_test": res.get("n_test"),
        "n_features": res.get("n_features"), "data_mb": res.get("data_mb"),
        "rss_before_fit_mb": res.get("rss_before_fit_mb"), "details": res.get("details", {}),
    }
    if outcome.error:
        rec["error"] = outcome.error
    return rec


# --- result files ----------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured: CPU, memory, Python and library versions."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        import psutil

        mem_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    versions: dict[str, str] = {}
    for dist in ("automl-bridge", "optuna", "scikit-learn", "numpy", "pandas", "flaml",
                 "lightgbm", "xgboost", "psutil"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            continue
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
                                      "OPENBLAS_NUM_THREADS") if k in os.environ}
    return {"cpu": cpu, "cores": cores(), "memory_gb": mem_gb, "platform": platform.platform(),
            "python": sys.version.split()[0], "versions": versions, "git_commit": _git_commit(),
            "load_avg_at_start": _load_avg(), "env": env}


def _load_avg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def now_iso() -> str:
    """Current UTC time, ISO-8601, seconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_document(benchmark: str, *, quick: bool, config: dict[str, Any]) -> dict[str, Any]:
    """The top of a result file (records are added by the script)."""
    doc: dict[str, Any] = {"benchmark": benchmark, "schema": 1, "smoke": quick,
                           "started_at": now_iso(), "machine": machine_info(), "config": config}
    if quick:
        doc["note"] = SMOKE_NOTE
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")
    tmp.replace(path)


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)
    return item() if callable(item) else str(obj)


def default_out(name: str, quick: bool) -> Path:
    """``benchmarks/results/<name>.json``, or ``results/quick/`` for smoke runs."""
    return (QUICK_DIR if quick else RESULTS_DIR) / f"{name}.json"


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation), NaN for no values."""
    vals = sorted(values)
    if not vals:
        return float("nan")
    pos = (len(vals) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def distribution(values: Sequence[float]) -> dict[str, float | int]:
    """``n``, ``p50``, ``p95``, ``max`` of ``values`` (rounded)."""
    return {"n": len(values), "p50": round(percentile(values, 50), 4),
            "p95": round(percentile(values, 95), 4),
            "max": round(max(values), 4) if values else float("nan")}


def log(msg: str) -> None:
    """Progress line on stderr with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
