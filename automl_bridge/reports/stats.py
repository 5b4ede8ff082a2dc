"""Paired bootstrap of holdout scores: confidence intervals of scores and of their differences.

Every engine is scored on the *same* resampled rows in each bootstrap round, so the interval of
a difference reflects how much the ranking could change with other test rows, not the noise of
two independent estimates. Intervals are percentile intervals. Metrics that are means over rows
(accuracy, MAE, MSE, RMSE, MAPE, log-loss), R² and binary ROC-AUC are computed vectorised;
every other metric goes through :func:`automl_bridge.metrics.score` once per resample.

Example:
    >>> import numpy as np
    >>> from automl_bridge.reports.stats import Prediction, paired_bootstrap, percentile_ci
    >>> y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    >>> preds = {"a": Prediction(y_pred=y), "b": Prediction(y_pred=1 - y)}
    >>> boot = paired_bootstrap("accuracy", y, preds, n_boot=200, seed=0)
    >>> percentile_ci(boot["a"]), percentile_ci(boot["b"])
    ((1.0, 1.0), (0.0, 0.0))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl_bridge.metrics import Metric, get_metric, score

if TYPE_CHECKING:
    import numpy as np

#: Most index cells (resamples x rows) drawn at once; bounds memory for large holdouts.
BLOCK_CELLS = 2_000_000
_MEAN_METRICS = ("accuracy", "mae", "mse", "rmse", "mape", "log_loss")


@dataclass(frozen=True)
class Prediction:
    """What one engine predicted for the holdout rows.

    Attributes:
        y_pred: predicted labels or values (label metrics and regression).
        y_proba: class probabilities, one column per class of ``classes``.
        classes: class labels in the column order of ``y_proba``.
    """

    y_pred: Any = None
    y_proba: Any = None
    classes: Sequence[Any] | None = None

    def take(self, rows: Any) -> Prediction:
        """The prediction restricted to ``rows`` (indices)."""
        return Prediction(
            y_pred=None if self.y_pred is None else self.y_pred[rows],
            y_proba=None if self.y_proba is None else self.y_proba[rows],
            classes=self.classes)


def metric_score(metric: Metric | str, y_true: Any, pred: Prediction, *,
                 pos_label: Any = None) -> float:
    """The metric of one prediction on all rows (the canonical implementation)."""
    return score(metric, y_true, y_pred=pred.y_pred, y_proba=pred.y_proba,
                 classes=pred.classes, pos_label=pos_label)


def bootstrap_blocks(n_rows: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` resamples of ``n_rows`` rows, in blocks of resamples.

    The same ``(n_rows, n_boot, seed)`` always yields the same indices.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, BLOCK_CELLS // max(n_rows, 1)))
    done = 0
    while done < n_boot:
        size = min(block, n_boot - done)
        yield rng.integers(0, n_rows, size=(size, n_rows))
        done += size


def paired_bootstrap(metric: Metric | str, y_true: Any, predictions: Mapping[str, Prediction],
                     *, n_boot: int = 2000, seed: int = 0,
                     pos_label: Any = None) -> dict[str, np.ndarray]:
    """The metric of every prediction on the same ``n_boot`` resamples of the rows.

    Args:
        metric: canonical metric (name or :class:`~automl_bridge.metrics.Metric`).
        y_true: true labels or values of the holdout rows.
        predictions: per engine label, its :class:`Prediction` of those rows.
        n_boot: number of resamples.
        seed: seed of the resampling.
        pos_label: positive class of binary metrics.

    Returns:
        Per label, an array of ``n_boot`` scores (NaN where the metric is undefined on a
        resample, e.g. ROC-AUC of a resample with one class).
    """
    import numpy as np

    m = get_metric(metric) if isinstance(metric, str) else metric
    y = np.asarray(y_true)
    scorers = {label: _scorer(m, y, pred, pos_label) for label, pred in predictions.items()}
    out: dict[str, list[np.ndarray]] = {label: [] for label in predictions}
    for idx in bootstrap_blocks(len(y), n_boot, seed):
        for label, fn in scorers.items():
            out[label].append(fn(idx))
    return {label: (np.concatenate(parts) if parts else np.zeros(0))
            for label, parts in out.items()}


def percentile_ci(values: Any, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile interval of bootstrap values, ignoring NaN; ``(None, None)`` when empty."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(arr, [tail, 100.0 - tail])
    return float(low) + 0.0, float(high) + 0.0  # + 0.0: no "-0.0"


def better_diff(a: Any, b: Any, direction: str) -> Any:
    """``a - b`` signed so that a positive difference means ``a`` is better."""
    return (a - b) if direction == "maximize" else (b - a)


# --- vectorised scorers ---------------------------------------------------------------------


def _scorer(m: Metric, y: np.ndarray, pred: Prediction, pos_label: Any) -> Any:
    """A function from a block of resample indices to the block's scores."""
    import numpy as np

    if m.name in _MEAN_METRICS:
        per_row = _per_row(m, y, pred)
        if m.name == "rmse":
            return lambda idx: np.sqrt(per_row[idx].mean(axis=1))
        return lambda idx: per_row[idx].mean(axis=1)
    if m.name == "r2":
        yt = y.astype(float)
        err2 = (yt - np.asarray(pred.y_pred, dtype=float)) ** 2
        return lambda idx: _r2(yt[idx], err2[idx])
    if m.name == "roc_auc" and pred.classes is not None and len(pred.classes) == 2:
        classes = list(pred.classes)
        pos = classes[-1] if pos_label is None else pos_label
        s = np.asarray(pred.y_proba, dtype=float)[:, classes.index(pos)]
        return _auc_scorer((y == pos).astype(float), s)

    def generic(idx: np.ndarray) -> np.ndarray:
        return np.array([score(m, y[rows], y_pred=_rows(pred.y_pred, rows),
                               y_proba=_rows(pred.y_proba, rows), classes=pred.classes,
                               pos_label=pos_label) for rows in idx])

    return generic


def _rows(values: Any, rows: np.ndarray) -> Any:
    return None if values is None else values[rows]


def _per_row(m: Metric, y: np.ndarray, pred: Prediction) -> np.ndarray:
    """The per-row loss or hit whose mean is the metric."""
    import numpy as np

    if m.name == "accuracy":
        return (np.asarray(pred.y_pred) == y).astype(float)
    if m.name == "log_loss":
        classes = list(pred.classes or sorted(set(y.tolist())))
        proba = np.clip(np.asarray(pred.y_proba, dtype=float), 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        col = np.array([classes.index(v) for v in y.tolist()])
        return -np.log(proba[np.arange(len(y)), col])
    yt = y.astype(float)
    err = yt - np.asarray(pred.y_pred, dtype=float)
    if m.name == "mae":
        return np.abs(err)
    if m.name == "mape":
        return np.abs(err) / np.maximum(np.abs(yt), np.finfo(np.float64).eps)
    return err ** 2  # mse, rmse


def _r2(y: np.ndarray, err2: np.ndarray) -> np.ndarray:
    import numpy as np

    ss_tot = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    ss_res = err2.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - ss_res / ss_tot
    # sklearn: a constant y_true gives 1.0 for a perfect fit, else 0.0
    return np.where(ss_tot == 0, np.where(ss_res == 0, 1.0, 0.0), out)


def _auc_scorer(positive: np.ndarray, s: np.ndarray) -> Any:
    """Binary ROC-AUC of resamples as a weighted Mann-Whitney statistic (ties count half)."""
    import numpy as np

    order = np.argsort(s, kind="mergesort")
    s_sorted, pos_sorted = s[order], positive[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    n = len(s)

    def auc(idx: np.ndarray) -> np.ndarray:
        b = idx.shape[0]
        flat = (idx + (np.arange(b)[:, None] * n)).ravel()
        counts = np.bincount(flat, minlength=b * n).reshape(b, n)[:, order].astype(float)
        pos = np.add.reduceat(counts * pos_sorted, starts, axis=1)
        neg = np.add.reduceat(counts * (1.0 - pos_sorted), starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        num = (pos * (below + 0.5 * neg)).sum(axis=1)
        den = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / den, np.nan)

    return auc
