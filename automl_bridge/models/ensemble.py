"""Greedy ensemble selection (Caruana et al., 2004) and the ensemble model users predict with.

Selection works on the candidates' pooled validation predictions (out-of-fold under
cross-validation, the holdout rows otherwise): start from the best single candidate, then
repeatedly add (with replacement) the candidate whose inclusion most improves the validation
metric of the averaged prediction; keep the best ensemble seen. Weights are the counts of each
member divided by the rounds. Averaging probabilities (classification) or values (regression)
of pipelines refit on all rows gives :class:`EnsembleModel`.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1])
    >>> preds = {"a": np.array([[.6, .4], [.6, .4], [.9, .1], [.2, .8]]),
    ...          "b": np.array([[.4, .6], [.1, .9], [.3, .7], [.4, .6]])}
    >>> sel = greedy_selection(preds, y, metric="accuracy", classes=[0, 1], rounds=10)
    >>> sorted(sel.weights), sel.score >= 0.75
    (['a', 'b'], True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_bridge.exceptions import AutoMLInputError, ModelNotFittedError
from automl_bridge.metrics import get_metric, is_better, metrics_for, score, score_all


@dataclass
class Selection:
    """The chosen ensemble: member id -> weight (summing to 1), its validation score, the
    best single score, and its averaged validation prediction."""

    weights: dict[str, float]
    score: float
    single_score: float
    prediction: np.ndarray


def _labelled(y: np.ndarray, pred: np.ndarray, classes: Sequence[Any] | None
              ) -> dict[str, Any]:
    """``score`` keyword arguments for a prediction: labels (+ probabilities) or values."""
    if classes is None:
        return {"y_pred": pred}
    labels = np.asarray(classes, dtype=y.dtype)[pred.argmax(axis=1)]
    return {"y_pred": labels, "y_proba": pred, "classes": classes}


def _score(metric: str, y: np.ndarray, pred: np.ndarray, classes: Sequence[Any] | None,
           pos_label: Any) -> float:
    return float(score(metric, y, pos_label=pos_label, **_labelled(y, pred, classes)))


def selection_metrics(selection: Selection, y: np.ndarray, *, task: str,
                      classes: Sequence[Any] | None = None, pos_label: Any = None
                      ) -> dict[str, float]:
    """Every metric of the task for the selected ensemble's validation prediction."""
    return score_all(metrics_for(task, len(classes or [])), y, pos_label=pos_label,
                     **_labelled(y, selection.prediction, classes))


def greedy_selection(predictions: Mapping[str, np.ndarray], y: np.ndarray, *, metric: str,
                     classes: Sequence[Any] | None = None, pos_label: Any = None,
                     rounds: int = 25) -> Selection:
    """Caruana's greedy forward selection with replacement over ``predictions``.

    Args:
        predictions: candidate id -> validation predictions on the same rows (probabilities,
            one column per class, for classification; values for regression).
        y: the true targets of those rows.
        metric: canonical metric name.
        classes: class labels (classification) or ``None`` (regression).
        pos_label: positive class of binary metrics.
        rounds: members added (with replacement); the best prefix is kept.
    """
    if not predictions:
        raise ValueError("Ensemble selection needs at least one candidate's predictions.")
    direction = get_metric(metric).direction
    predictions = {k: _as_float(v, classes is not None) for k, v in predictions.items()}
    ids = list(predictions)
    singles = {i: _score(metric, y, predictions[i], classes, pos_label) for i in ids}
    first = ids[0]
    for i in ids[1:]:
        if is_better(singles[i], singles[first], direction):
            first = i
    counts = {first: 1}
    total = predictions[first].astype(float).copy()
    best = (singles[first], dict(counts), total.copy())
    for r in range(1, rounds):
        trial_best: tuple[float, str] | None = None
        for i in ids:
            s = _score(metric, y, (total + predictions[i]) / (r + 1), classes, pos_label)
            if trial_best is None or is_better(s, trial_best[0], direction):
                trial_best = (s, i)
        assert trial_best is not None
        s, i = trial_best
        total += predictions[i]
        counts[i] = counts.get(i, 0) + 1
        if is_better(s, best[0], direction):
            best = (s, dict(counts), total / (r + 1))
    n = sum(best[1].values())
    return Selection({i: c / n for i, c in best[1].items()}, best[0], singles[first], best[2])


def _as_float(pred: np.ndarray, proba: bool) -> np.ndarray:
    """float64 copy; probability rows renormalised (they may come as float32)."""
    out = np.asarray(pred, dtype=float)
    if proba:
        out = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
    return out


class EnsembleModel:
    """A weighted average of fitted models (each a ``TabularModel``).

    Args:
        members: the fitted member models.
        weights: their weights (normalised to sum to 1).
        task, target, classes: as for ``TabularModel``.
    """

    family = "ensemble"

    def __init__(self, *, members: Sequence[Any], weights: Sequence[float], task: str,
                 target: str, classes: list[Any] | None = None) -> None:
        if len(members) != len(weights) or not members:
            raise AutoMLInputError("An ensemble needs one weight per member and at least one "
                                   f"member. Got {len(members)} members, {len(weights)} weights.")
        total = float(sum(weights))
        self.members = list(members)
        self.weights = [float(w) / total for w in weights]
        self.task = task
        self.target = target
        self.classes_ = list(classes) if classes is not None else None
        self.params = {"members": [{"family": m.family, "params": m.params, "weight": w}
                                   for m, w in zip(self.members, self.weights, strict=True)]}

    def __repr__(self) -> str:
        parts = ", ".join(f"{m.family}:{w:.2f}" for m, w in zip(self.members, self.weights,
                                                                 strict=True))
        return f"EnsembleModel({parts})"

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted average of the members' class probabilities."""
        if self.task != "classification" or self.classes_ is None:
            raise AutoMLInputError("predict_proba is only available for classification models; "
                                   f"this ensemble does {self.task}. Use predict().")
        if not self.members:
            raise ModelNotFittedError("This ensemble has no members.")
        return np.asarray(sum(w * m.predict_proba(X)
                              for m, w in zip(self.members, self.weights, strict=True)))

    def predict(self, X: Any) -> np.ndarray:
        """Labels of the highest averaged probability, or the averaged values."""
        if self.task == "classification" and self.classes_ is not None:
            proba = self.predict_proba(X)
            if proba.shape[0] == 0:
                return np.asarray([], dtype=np.asarray(self.classes_).dtype)
            return np.asarray(self.classes_)[proba.argmax(axis=1)]
        return np.asarray(sum(w * np.asarray(m.predict(X), dtype=float)
                              for m, w in zip(self.members, self.weights, strict=True)))
