"""Vertex responses -> automl_bridge results (pure: JSON dicts in, our objects out).

Vertex AutoML Tabular exposes no candidate leaderboard: a pipeline yields one Model and its
ModelEvaluation (metrics on the test split). The run therefore has one
:class:`~automl_bridge.results.Candidate`, whose metrics carry canonical names; the raw Vertex
names and values stay in ``extra["raw_metrics"]``.

Example:
    >>> canonical_metrics({"auRoc": 0.91, "logLoss": 0.3, "auPrc": 0.88})
    {'roc_auc': 0.91, 'log_loss': 0.3}
    >>> canonical_metrics({"rootMeanSquaredError": 2.0, "meanAbsoluteError": 1.5})
    {'rmse': 2.0, 'mae': 1.5, 'mse': 4.0}
    >>> training_cost({"trainCostMilliNodeHours": "1500"}, budget=2000)["usd"]
    31.88
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from automl_bridge.results import Candidate, CandidateState

#: Published price of AutoML tabular (classification / regression) training, per node hour,
#: in USD (us-central1; other regions differ). Source: https://cloud.google.com/vertex-ai/pricing
TRAINING_USD_PER_NODE_HOUR = 21.252
#: When :data:`TRAINING_USD_PER_NODE_HOUR` was taken from the price table.
PRICE_TABLE_DATE = "2026-11-27"

#: Vertex evaluation metric -> canonical name (same value convention). ``rSquared`` is
#: documented by Vertex as the "coefficient of determination as Pearson correlation
#: coefficient"; see :data:`R2_NOTE`.
METRIC_NAMES = {"auRoc": "roc_auc", "logLoss": "log_loss", "rootMeanSquaredError": "rmse",
                "meanAbsoluteError": "mae", "rSquared": "r2"}
R2_NOTE = ("Vertex's rSquared (reported as r2) is documented as the coefficient of "
           "determination from the Pearson correlation; it can differ from scikit-learn's r2 "
           "(1 - SSE/SST) when predictions are biased.")
#: Vertex's scalar metrics kept raw (lists such as ``confidenceMetrics`` are summarised).
_RAW_SCALARS = ("auRoc", "auPrc", "logLoss", "rootMeanSquaredError", "meanAbsoluteError",
                "meanAbsolutePercentageError", "rSquared", "rootMeanSquaredLogError")


def canonical_metrics(raw: dict[str, Any]) -> dict[str, float]:
    """Canonical metrics from a Vertex evaluation's ``metrics`` (unknown keys are skipped).

    ``mse`` is derived exactly from RMSE and ``accuracy`` from the confusion matrix when
    present; MAPE stays raw (its percent convention is not documented).
    """
    out: dict[str, float] = {}
    for key, name in METRIC_NAMES.items():
        value = _number(raw.get(key))
        if value is not None:
            out[name] = value
    if "rmse" in out:
        out["mse"] = out["rmse"] ** 2
    accuracy = _accuracy(raw.get("confusionMatrix"))
    if accuracy is not None:
        out["accuracy"] = accuracy
    return out


def raw_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    """The evaluation's scalar metrics as Vertex named them, plus list sizes."""
    out: dict[str, Any] = {k: _number(raw[k]) for k in _RAW_SCALARS if k in raw}
    if isinstance(raw.get("confidenceMetrics"), list):
        out["confidenceMetrics_count"] = len(raw["confidenceMetrics"])
    matrix = raw.get("confusionMatrix")
    if isinstance(matrix, dict):
        out["confusionMatrix"] = {"annotationSpecs": [
            s.get("displayName", s.get("id")) for s in matrix.get("annotationSpecs", [])],
            "rows": matrix.get("rows", [])}
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "NaN", "Infinity" too
        except ValueError:
            return None
    return None


def _accuracy(matrix: Any) -> float | None:
    if not isinstance(matrix, dict):
        return None
    rows = matrix.get("rows")
    if not isinstance(rows, list) or not rows:
        return None
    try:
        grid = [[float(v) for v in row] for row in rows]
    except (TypeError, ValueError):
        return None
    n = min(len(grid), min(len(r) for r in grid))
    total = sum(sum(r) for r in grid)
    return sum(grid[i][i] for i in range(n)) / total if total > 0 else None


def seconds_between(start: str, end: str) -> float:
    """Seconds between two RFC 3339 times (0.0 when either is missing)."""
    if not start or not end:
        return 0.0
    a, b = _parse_time(start), _parse_time(end)
    return max(0.0, (b - a).total_seconds()) if a and b else 0.0


def _parse_time(text: str) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def training_cost(metadata: dict[str, Any] | None, *, budget: int | None,
                  usd_per_node_hour: float = TRAINING_USD_PER_NODE_HOUR) -> dict[str, Any]:
    """The training cost estimate: ``trainCostMilliNodeHours`` when Vertex reports it (the
    actual use, at most the budget), else the budget (an upper bound)."""
    used = _number((metadata or {}).get("trainCostMilliNodeHours"))
    if used is None and budget is None:
        return {}
    milli = used if used is not None else float(budget or 0)
    source = "trainCostMilliNodeHours" if used is not None else "the budget (upper bound)"
    hours = milli / 1000.0
    return {
        "usd": round(hours * usd_per_node_hour, 2),
        "basis": f"{hours:g} node hours from {source} x ${usd_per_node_hour:g} per node hour "
                 "(AutoML tabular training)",
        "price_table_date": PRICE_TABLE_DATE,
        "note": "Training only; us-central1 list price (other regions differ). Dataset "
                "storage, batch prediction and deployed endpoints are billed separately.",
    }


def candidate_from(pipeline: dict[str, Any], evaluations: list[dict[str, Any]], *,
                   metric: str) -> Candidate:
    """The run's single candidate: the pipeline's model, scored from its evaluation."""
    model = (pipeline.get("modelToUpload") or {}).get("name", "")
    inputs = pipeline.get("trainingTaskInputs") or {}
    evaluation = evaluations[0] if evaluations else {}
    raw = evaluation.get("metrics") or {}
    metrics = canonical_metrics(raw)
    params = {k: inputs[k] for k in ("predictionType", "optimizationObjective",
                                     "trainBudgetMilliNodeHours", "disableEarlyStopping")
              if k in inputs}
    extra: dict[str, Any] = {
        "raw_metrics": raw_metrics(raw),
        "model": model,
        "evaluation": evaluation.get("name", ""),
        "metrics_schema_uri": evaluation.get("metricsSchemaUri", ""),
        "evaluated_on": "test split",
    }
    if len(evaluations) > 1:
        extra["other_evaluations"] = [e.get("name", "") for e in evaluations[1:]]
    return Candidate(
        candidate_id=model.rsplit("/", 1)[-1] or pipeline.get("name", "").rsplit("/", 1)[-1],
        family="vertex_automl_tabular",
        params=json.loads(json.dumps(params)),
        score=metrics.get(metric, float("nan")),
        metrics=metrics,
        fit_time_s=seconds_between(pipeline.get("startTime", ""), pipeline.get("endTime", "")),
        state=CandidateState.COMPLETE if model else CandidateState.FAILED,
        error=None if model else "the pipeline uploaded no model",
        extra=extra,
    )
