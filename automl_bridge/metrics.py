"""Canonical metrics: names, tasks, directions and how to compute them.

One place defines every metric the SDK knows. Each backend maps these canonical names to its own.
Definitions are plain data (importing this module imports no scikit-learn); :func:`score`
imports scikit-learn only when it computes.

Example:
    >>> from automl_bridge.metrics import get_metric
    >>> m = get_metric("rmse")
    >>> (m.name, m.direction, m.task)
    ('rmse', 'minimize', 'regression')
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from automl_bridge.exceptions import MetricError

if TYPE_CHECKING:
    import numpy as np

Direction = Literal["maximize", "minimize"]
Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Metric:
    """A canonical metric.

    Attributes:
        name: canonical name users write in the spec.
        task: the task it applies to.
        direction: ``"maximize"`` or ``"minimize"``.
        needs_proba: computed from predicted probabilities rather than labels.
        binary_only: defined for two classes only (``f1`` with a positive class).
        description: one line for docs and ``--help``.
    """

    name: str
    task: Task
    direction: Direction
    needs_proba: bool = False
    binary_only: bool = False
    description: str = ""

    @property
    def greater_is_better(self) -> bool:
        """Whether a larger value is better."""
        return self.direction == "maximize"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", "maximize", description="share of correct labels"),
        Metric("balanced_accuracy", "classification", "maximize",
               description="mean recall over classes"),
        Metric("f1", "classification", "maximize", binary_only=True,
               description="F1 of the positive class (binary only)"),
        Metric("f1_macro", "classification", "maximize", description="unweighted mean F1"),
        Metric("f1_weighted", "classification", "maximize",
               description="support-weighted mean F1"),
        Metric("precision", "classification", "maximize", binary_only=True,
               description="precision of the positive class (binary only)"),
        Metric("recall", "classification", "maximize", binary_only=True,
               description="recall of the positive class (binary only)"),
        Metric("roc_auc", "classification", "maximize", needs_proba=True,
               description="ROC AUC; one-vs-rest macro average for multiclass"),
        Metric("log_loss", "classification", "minimize", needs_proba=True,
               description="cross-entropy of the predicted probabilities"),
        Metric("rmse", "regression", "minimize", description="root mean squared error"),
        Metric("mse", "regression", "minimize", description="mean squared error"),
        Metric("mae", "regression", "minimize", description="mean absolute error"),
        Metric("r2", "regression", "maximize", description="coefficient of determination"),
        Metric("mape", "regression", "minimize",
               description="mean absolute percentage error"),
    )
}

#: AMLB convention: binary ROC-AUC, multiclass log-loss, regression RMSE.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def get_metric(name: str, task: str | None = None) -> Metric:
    """Return the canonical metric ``name``, checking that it fits ``task``.

    Raises:
        MetricError: unknown name (with close matches) or a metric of the other task.
    """
    if name not in METRICS:
        close = difflib.get_close_matches(str(name), list(METRICS), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise MetricError(
            f"The 'metric' of JobSpec must be one of {sorted(METRICS)}. Got {name!r}.{hint}"
        )
    metric = METRICS[name]
    if task in ("classification", "regression") and metric.task != task:
        allowed = sorted(n for n, m in METRICS.items() if m.task == task)
        raise MetricError(
            f"The metric {name!r} is a {metric.task} metric, but the task is {task!r}. "
            f"Use one of {allowed}, or set task={metric.task!r}."
        )
    return metric


def metrics_for(task: str, n_classes: int = 0) -> list[Metric]:
    """Every metric that can be computed for ``task`` (and number of classes)."""
    out = [m for m in METRICS.values() if m.task == task]
    if task == "classification" and n_classes > 2:
        out = [m for m in out if not m.binary_only]
    return out


def default_metric(task: str, n_classes: int = 0) -> str:
    """The AMLB default metric for a task."""
    if task == "regression":
        return DEFAULT_METRIC["regression"]
    return DEFAULT_METRIC["binary" if n_classes <= 2 else "multiclass"]


def score(
    metric: Metric | str,
    y_true: Any,
    *,
    y_pred: Any = None,
    y_proba: np.ndarray | None = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> float:
    """Compute one metric.

    Args:
        metric: a :class:`Metric` or its canonical name.
        y_true: true labels or values.
        y_pred: predicted labels or values (needed unless the metric uses probabilities).
        y_proba: predicted probabilities, columns in the order of ``classes``.
        classes: class labels in the column order of ``y_proba``.
        pos_label: the positive class of binary metrics; defaults to ``classes[-1]``.

    Returns:
        The metric value as a float (NaN when undefined, e.g. one class in ``y_true``).
    """
    import numpy as np
    from sklearn import metrics as skm

    m = get_metric(metric) if isinstance(metric, str) else metric
    y_true = np.asarray(y_true)
    if m.task == "regression":
        y_pred = np.asarray(y_pred, dtype=float)
        y_true = y_true.astype(float)
        if m.name == "rmse":
            return float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))
        if m.name == "mse":
            return float(skm.mean_squared_error(y_true, y_pred))
        if m.name == "mae":
            return float(skm.mean_absolute_error(y_true, y_pred))
        if m.name == "r2":
            return float(skm.r2_score(y_true, y_pred))
        if m.name == "mape":
            return float(skm.mean_absolute_percentage_error(y_true, y_pred))
        raise AssertionError(m.name)  # pragma: no cover - METRICS is closed

    labels = list(classes) if classes is not None else sorted(set(y_true.tolist()))
    if pos_label is None and labels:
        pos_label = labels[-1]
    if m.needs_proba:
        if y_proba is None:
            raise MetricError(f"The metric {m.name!r} needs predicted probabilities.")
        proba = np.asarray(y_proba, dtype=float)
        if m.name == "log_loss":
            return float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=labels))
        present = set(y_true.tolist())
        if len(present) < 2:
            return float("nan")
        if len(labels) == 2:
            col = labels.index(pos_label)
            return float(skm.roc_auc_score(y_true == pos_label, proba[:, col]))
        if len(present) < len(labels):
            keep = [i for i, c in enumerate(labels) if c in present]
            sub = proba[:, keep]
            sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-15, None)
            if len(keep) == 2:  # sklearn reads two columns as binary: score the second class
                return float(skm.roc_auc_score(y_true == labels[keep[1]], sub[:, 1]))
            return float(skm.roc_auc_score(y_true, sub, multi_class="ovr", average="macro",
                                           labels=[labels[i] for i in keep]))
        return float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro",
                                       labels=labels))
    y_pred = np.asarray(y_pred)
    if m.name == "accuracy":
        return float(skm.accuracy_score(y_true, y_pred))
    if m.name == "balanced_accuracy":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(skm.balanced_accuracy_score(y_true, y_pred))
    binary = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}
    if m.name in binary:
        return float(binary[m.name](y_true, y_pred, pos_label=pos_label, average="binary",
                                    zero_division=0))
    if m.name in ("f1_macro", "f1_weighted"):
        return float(skm.f1_score(y_true, y_pred, average=m.name.split("_")[1], labels=labels,
                                  zero_division=0))
    raise AssertionError(m.name)  # pragma: no cover


def score_all(
    metrics: Sequence[Metric],
    y_true: Any,
    *,
    y_pred: Any,
    y_proba: Any = None,
    classes: Sequence[Any] | None = None,
    pos_label: Any = None,
) -> dict[str, float]:
    """Compute several metrics at once; metrics needing missing probabilities are skipped."""
    out: dict[str, float] = {}
    for m in metrics:
        if m.needs_proba and y_proba is None:
            continue
        out[m.name] = score(m, y_true, y_pred=y_pred, y_proba=y_proba, classes=classes,
                            pos_label=pos_label)
    return out


def is_better(a: float, b: float, direction: Direction) -> bool:
    """Whether score ``a`` is strictly better than ``b`` (NaN is never better)."""
    if a != a:  # NaN
        return False
    if b != b:
        return True
    return a > b if direction == "maximize" else a < b
