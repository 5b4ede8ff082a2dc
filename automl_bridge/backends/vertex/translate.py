"""Pure translation between automl_bridge and Vertex AI AutoML Tabular (no SDK, no network).

Everything the Vertex adapter sends is built here as the JSON the REST API receives
(camelCase keys), so it can be diffed against golden payloads; the client layer turns it into
proto messages. Everything it reads back (pipeline states) is mapped here too.

Example:
    >>> objective_for("classification", "roc_auc", n_classes=2)
    'maximize-au-roc'
    >>> objective_for("classification", "accuracy", n_classes=2) is None
    True
    >>> budget_from_seconds(7200)
    2000
    >>> transformation("x1", "numeric")
    {'numeric': {'columnName': 'x1'}}
    >>> fraction_split(0.2)
    {'trainingFraction': 0.8, 'validationFraction': 0.1, 'testFraction': 0.1}
    >>> status_of("PIPELINE_STATE_CANCELLING").stopping
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.backends.cloud.adapter import RemoteStatus
from automl_bridge.results import RunStatus

#: The AutoML tabular training task (classification and regression).
AUTOML_TABULAR = ("gs://google-cloud-aiplatform/schema/trainingjob/definition/"
                  "automl_tabular_1.0.0.yaml")
#: Metadata schema of a managed tabular Dataset.
TABULAR_DATASET_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/tabular_1.0.0.yaml"

#: Bounds of ``trainBudgetMilliNodeHours`` (1000 = one node hour).
MIN_BUDGET, MAX_BUDGET = 1000, 72000

#: Canonical metric -> Vertex ``optimizationObjective``, per kind of task. ``mse`` and ``r2``
#: rank models exactly like RMSE on one validation set, so they map to ``minimize-rmse``.
OBJECTIVES: dict[str, dict[str, str]] = {
    "binary": {"roc_auc": "maximize-au-roc", "log_loss": "minimize-log-loss"},
    "multiclass": {"log_loss": "minimize-log-loss"},
    "regression": {"rmse": "minimize-rmse", "mae": "minimize-mae", "mse": "minimize-rmse",
                   "r2": "minimize-rmse"},
}
#: Vertex's default objective per kind of task (used when approximating, strict=False).
DEFAULT_OBJECTIVE = {"binary": "maximize-au-roc", "multiclass": "minimize-log-loss",
                     "regression": "minimize-rmse"}

#: Column kind of automl_bridge's schema inference -> Vertex transformation. Datetimes go to
#: ``auto`` (Vertex's ``timestamp`` wants RFC 3339 text unless a format is given).
TRANSFORMATIONS = {"numeric": "numeric", "categorical": "categorical", "boolean": "categorical",
                   "text": "text", "datetime": "auto"}

#: Vertex ``PipelineState`` -> common status (table 1.3 of the cloud reference).
PIPELINE_STATES: dict[str, RunStatus] = {
    "PIPELINE_STATE_UNSPECIFIED": RunStatus.PENDING,
    "PIPELINE_STATE_QUEUED": RunStatus.PENDING,
    "PIPELINE_STATE_PENDING": RunStatus.PENDING,
    "PIPELINE_STATE_RUNNING": RunStatus.RUNNING,
    "PIPELINE_STATE_CANCELLING": RunStatus.RUNNING,  # stopping
    "PIPELINE_STATE_SUCCEEDED": RunStatus.COMPLETED,
    "PIPELINE_STATE_FAILED": RunStatus.FAILED,
    "PIPELINE_STATE_CANCELLED": RunStatus.CANCELLED,
    "PIPELINE_STATE_PAUSED": RunStatus.CANCELLED,  # the SDK treats PAUSED as terminal
}
#: ``PipelineState`` by number (the REST transport asks for ``enum-encoding=int``).
PIPELINE_STATE_NAMES = ("PIPELINE_STATE_UNSPECIFIED", "PIPELINE_STATE_QUEUED",
                        "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING",
                        "PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED",
                        "PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_CANCELLED",
                        "PIPELINE_STATE_PAUSED")
#: States in which a pipeline may still spend node hours.
ACTIVE_STATES = ("PIPELINE_STATE_UNSPECIFIED", "PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING",
                 "PIPELINE_STATE_RUNNING", "PIPELINE_STATE_CANCELLING")


@dataclass(frozen=True)
class VertexPlan:
    """What validation decided, ready to be translated into requests.

    Attributes:
        prediction_type: ``"classification"`` or ``"regression"``.
        objective: the ``optimizationObjective``.
        budget_milli_node_hours: ``trainBudgetMilliNodeHours`` (1000-72000).
        split: ``fractionSplit`` (training / validation / test fractions).
        transformations: one entry per feature column.
        warnings: approximations and notes, one line each.
    """

    prediction_type: str
    objective: str
    budget_milli_node_hours: int
    split: dict[str, float]
    transformations: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def task_kind(task: str, n_classes: int) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"``."""
    if task == "regression":
        return "regression"
    return "binary" if n_classes <= 2 else "multiclass"


def objective_for(task: str, metric: str, *, n_classes: int = 2) -> str | None:
    """The Vertex objective that optimises ``metric``, or ``None`` when Vertex has none."""
    return OBJECTIVES[task_kind(task, n_classes)].get(metric)


def budget_from_seconds(seconds: float) -> int:
    """The documented conversion of a time budget into node hours: one node hour per hour of
    time budget (``ceil(seconds / 3.6)`` milli node hours), before clamping to 1000-72000.

    Vertex bills node hours, not wall-clock time; training may use several nodes in parallel.
    """
    return math.ceil(float(seconds) / 3.6)


def transformation(column: str, kind: str) -> dict[str, Any]:
    """The ``transformations`` entry of one feature column of kind ``kind``."""
    return {TRANSFORMATIONS.get(kind, "auto"): {"columnName": column}}


def transformations_for(columns: list[str] | tuple[str, ...], dtypes: dict[str, str],
                        target: str) -> list[dict[str, Any]]:
    """Explicit transformations of every feature column, in file order (never left to Vertex,
    which would read the data to infer them)."""
    return [transformation(c, dtypes.get(c, "auto")) for c in columns if c != target]


def fraction_split(holdout: float) -> dict[str, float]:
    """``fractionSplit`` for a holdout of ``holdout``: the rest trains, the holdout is shared
    evenly by validation (model selection) and test (the reported evaluation). The default
    0.2 gives Vertex's own 80/10/10."""
    half = round(holdout / 2.0, 6)
    return {"trainingFraction": round(1.0 - 2 * half, 6), "validationFraction": half,
            "testFraction": half}


def task_inputs(plan: VertexPlan, target: str) -> dict[str, Any]:
    """``trainingTaskInputs`` of the AutoML tabular task."""
    return {
        "targetColumn": target,
        "predictionType": plan.prediction_type,
        "optimizationObjective": plan.objective,
        "trainBudgetMilliNodeHours": plan.budget_milli_node_hours,
        "disableEarlyStopping": False,
        "transformations": plan.transformations,
    }


def pipeline_body(plan: VertexPlan, *, target: str, dataset_id: str, display_name: str,
                  labels: dict[str, str]) -> dict[str, Any]:
    """The ``TrainingPipeline`` JSON that ``create_training_pipeline`` sends."""
    return {
        "displayName": display_name,
        "labels": dict(labels),
        "trainingTaskDefinition": AUTOML_TABULAR,
        "trainingTaskInputs": task_inputs(plan, target),
        "inputDataConfig": {"datasetId": dataset_id, "fractionSplit": dict(plan.split)},
        "modelToUpload": {"displayName": display_name, "labels": dict(labels)},
    }


def dataset_body(*, display_name: str, gcs_uri: str, labels: dict[str, str]) -> dict[str, Any]:
    """The managed tabular ``Dataset`` JSON that ``create_dataset`` sends."""
    return {
        "displayName": display_name,
        "metadataSchemaUri": TABULAR_DATASET_SCHEMA,
        "metadata": {"inputConfig": {"gcsSource": {"uri": [gcs_uri]}}},
        "labels": dict(labels),
    }


def batch_prediction_body(*, display_name: str, model: str, input_uri: str, output_prefix: str,
                          labels: dict[str, str]) -> dict[str, Any]:
    """The ``BatchPredictionJob`` JSON (CSV from GCS in, CSV to GCS out, automatic
    resources: nothing is deployed)."""
    return {
        "displayName": display_name,
        "model": model,
        "inputConfig": {"instancesFormat": "csv", "gcsSource": {"uris": [input_uri]}},
        "outputConfig": {"predictionsFormat": "csv",
                         "gcsDestination": {"outputUriPrefix": output_prefix}},
        "labels": dict(labels),
    }


def label_filter(labels: dict[str, str]) -> str:
    """A list filter matching every label in ``labels`` (``labels.k="v" AND ...``)."""
    return " AND ".join(f'labels.{k}="{v}"' for k, v in sorted(labels.items()))


def state_name(state: Any) -> str:
    """A ``PipelineState`` as its name, from a proto enum, a name or a number."""
    if isinstance(state, int) and not isinstance(state, bool) and not hasattr(state, "name"):
        return PIPELINE_STATE_NAMES[state] if 0 <= state < len(PIPELINE_STATE_NAMES) \
            else f"PIPELINE_STATE_{state}"
    name = getattr(state, "name", None)
    return str(name if name is not None else state)


def status_of(state: Any, error_code: int = 0, error_message: str = "") -> RemoteStatus:
    """The common status of a pipeline in ``state`` (with its ``error``, if any)."""
    raw = state_name(state)
    status = PIPELINE_STATES.get(raw, RunStatus.RUNNING)  # unknown: keep polling
    reason = None
    if status in (RunStatus.FAILED, RunStatus.CANCELLED) and (error_code or error_message):
        reason = f"code {error_code}: {error_message}".strip() if error_code else error_message
    detail = "" if raw in PIPELINE_STATES else "unknown state; treated as running"
    return RemoteStatus(status=status, raw=raw, detail=detail, failure_reason=reason,
                        stopping=raw == "PIPELINE_STATE_CANCELLING")
