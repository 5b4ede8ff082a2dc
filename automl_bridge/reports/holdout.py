"""Score every engine's best model on the same holdout rows, with paired-bootstrap intervals.

Local models predict in process (``predict_proba`` for metrics that need probabilities);
cloud models (:class:`~automl_bridge.backends.cloud.backend.RemoteModel`) predict through the
service's batch prediction, which gives labels only, so probability metrics need the user's
``predictions=``. An engine that cannot be scored is left out with a note saying why.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl_bridge.results import Candidate, RunResult, RunStatus
    >>> class Echo:  # predicts the feature as the label
    ...     def predict(self, X): return X["x"].to_numpy()
    >>> best = Candidate(candidate_id="0", family="echo", params={}, score=1.0, model=Echo())
    >>> run = RunResult(run_id="r", backend="local", status=RunStatus.COMPLETED,
    ...                 metric="accuracy", direction="maximize", candidates=[best], best=best,
    ...                 spec={"target": "y"})
    >>> rows = pd.DataFrame({"x": [0, 1, 1, 0], "y": [0, 1, 1, 1]})
    >>> out = score_holdout([run], ["echo"], rows, target="y", task="classification",
    ...                     metric="accuracy", direction="maximize", predictions={},
    ...                     n_boot=100, seed=0)
    >>> out["scores"][0]["score"]
    0.75
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from automl_bridge.exceptions import AutoMLInputError, TargetError
from automl_bridge.metrics import Metric, get_metric
from automl_bridge.reports.stats import (
    Prediction,
    better_diff,
    metric_score,
    paired_bootstrap,
    percentile_ci,
)
from automl_bridge.results import RunResult

if TYPE_CHECKING:
    import numpy as np

#: Confidence level of every interval.
LEVEL = 0.95


def score_holdout(runs: Sequence[RunResult], labels: Sequence[str], holdout: Any, *,
                  target: str | None, task: str, metric: str, direction: str,
                  predictions: Mapping[str, Any], n_boot: int, seed: int) -> dict[str, Any]:
    """The ``"holdout"`` part of the comparison (see :func:`automl_bridge.reports.compare`).

    Raises:
        AutoMLInputError: unknown labels in ``predictions``, or a prediction of the wrong
            length.
        TargetError: the holdout has no target column (or the runs record no target).
        DataError: the holdout path cannot be read.
    """
    from automl_bridge.data import read_table

    unknown = sorted(set(predictions) - set(labels))
    if unknown:
        raise AutoMLInputError(f"predictions= names engines that are not compared: {unknown}. "
                               f"The labels are {list(labels)}.")
    frame = read_table(holdout)
    if not target:
        raise TargetError("The holdout cannot be scored: the results record no target column "
                          "(their spec is empty).")
    if target not in frame.columns:
        raise TargetError(f"The holdout has no column {target!r}, the runs' target; it has "
                          f"{list(frame.columns)[:20]}. Pass rows that include the target.")
    notes: list[str] = []
    keep = frame[target].notna().to_numpy()
    if not keep.all():
        notes.append(f"{int((~keep).sum())} holdout rows without a target were left out.")
    y_true = frame[target].to_numpy()[keep]
    X = frame.drop(columns=[target])
    m = get_metric(metric, task or None)
    spec_pos = next((r.spec.get("pos_label") for r in runs if (r.spec or {}).get("pos_label")
                     is not None), None)
    preds: dict[str, Prediction] = {}
    for run, label in zip(runs, labels, strict=True):
        got: Prediction | None
        if label in predictions:
            got = _user_prediction(m, y_true, predictions[label], run, label, keep, spec_pos)
            notes.append(f"{label}: predictions supplied by the user.")
        else:
            got, why = _model_prediction(m, X, y_true, run, label, keep)
            if got is None:
                notes.append(f"{label}: not scored: {why}")
                continue
        preds[label] = got
    scores = _point_scores(m, y_true, preds, spec_pos, notes)
    preds = {k: v for k, v in preds.items() if k in scores}
    boot = paired_bootstrap(m, y_true, preds, n_boot=n_boot, seed=seed,
                            pos_label=spec_pos) if n_boot and preds else {}
    if n_boot and preds:
        notes.insert(0, f"Paired bootstrap over the same {len(y_true):,} rows, {n_boot:,} "
                        f"resamples, {LEVEL:.0%} percentile intervals.")
    out_scores = []
    for label, value in scores.items():
        low, high = percentile_ci(boot[label], LEVEL) if label in boot else (None, None)
        out_scores.append({"label": label, "score": value, "ci_low": low, "ci_high": high})
    differences = []
    names = list(scores)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diff = float(better_diff(scores[a], scores[b], direction)) + 0.0
            low, high = (percentile_ci(better_diff(boot[a], boot[b], direction), LEVEL)
                         if boot else (None, None))
            significant = low is not None and high is not None and (low > 0 or high < 0)
            differences.append({"a": a, "b": b, "diff": diff, "ci_low": low, "ci_high": high,
                                "significant": bool(significant)})
    return {"n_rows": len(y_true), "metric": metric, "direction": direction,
            "confidence": LEVEL, "n_boot": n_boot, "scores": out_scores,
            "differences": differences, "notes": notes}


def _point_scores(m: Metric, y_true: np.ndarray, preds: dict[str, Prediction], spec_pos: Any,
                  notes: list[str]) -> dict[str, float]:
    import math

    out: dict[str, float] = {}
    for label, pred in preds.items():
        try:
            value = metric_score(m, y_true, pred, pos_label=spec_pos)
        except Exception as exc:  # a model's odd output must not sink the whole report
            notes.append(f"{label}: not scored: {type(exc).__name__}: {exc}")
            continue
        if not math.isfinite(value):
            notes.append(f"{label}: not scored: {m.name} is undefined on these rows.")
            continue
        out[label] = value
    return out


def _model_prediction(m: Metric, X: Any, y_true: np.ndarray, run: RunResult, label: str,
                      keep: np.ndarray) -> tuple[Prediction | None, str]:
    import numpy as np

    model = run.best.model if run.best is not None else None
    if model is None:
        return None, (f"the result has no model in memory (a result read from JSON, or no "
                      f"best candidate); pass predictions={{{label!r}: ...}}.")
    rows = X[keep] if not keep.all() else X
    try:
        if m.needs_proba:
            if not hasattr(model, "predict_proba"):
                return None, (f"{m.name} needs predicted probabilities and this model "
                              f"({type(model).__name__}) predicts labels only; pass "
                              f"predictions={{{label!r}: probabilities}}.")
            proba = np.asarray(model.predict_proba(rows), dtype=float)
            classes = getattr(model, "classes_", None)
            if classes is None:
                classes = sorted(set(y_true.tolist()))
            return Prediction(y_proba=proba, classes=list(classes)), ""
        return Prediction(y_pred=np.asarray(model.predict(rows))), ""
    except Exception as exc:  # noted per engine: one failing model must not sink the report
        return None, f"its model failed to predict: {type(exc).__name__}: {exc}"


def _user_prediction(m: Metric, y_true: np.ndarray, given: Any, run: RunResult, label: str,
                     keep: np.ndarray, pos_label: Any) -> Prediction:
    import numpy as np

    arr = np.asarray(given)
    if arr.shape[0] == keep.shape[0] and not keep.all():
        arr = arr[keep]
    if arr.shape[0] != y_true.shape[0]:
        raise AutoMLInputError(f"predictions[{label!r}] has {arr.shape[0]} rows; the holdout "
                               f"has {keep.shape[0]}. Give one prediction per holdout row.")
    if not m.needs_proba:
        return Prediction(y_pred=arr)
    model = run.best.model if run.best is not None else None
    classes = list(getattr(model, "classes_", None) or sorted(set(y_true.tolist())))
    proba = arr.astype(float)
    if proba.ndim == 1:
        if len(classes) != 2:
            raise AutoMLInputError(
                f"predictions[{label!r}] is one column, but {m.name} on {len(classes)} "
                f"classes needs one probability column per class in the order {classes}.")
        pos = classes[-1] if pos_label is None else pos_label
        other = classes[0] if pos == classes[-1] else classes[-1]
        classes = [other, pos]
        proba = np.column_stack([1.0 - proba, proba])
    elif proba.shape[1] != len(classes):
        raise AutoMLInputError(f"predictions[{label!r}] has {proba.shape[1]} columns; "
                               f"{m.name} needs one per class, in the order {classes}.")
    return Prediction(y_proba=proba, classes=classes)
