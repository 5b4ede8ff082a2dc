"""Pure translation between our spec and SageMaker Autopilot V2 requests (no SDK, no network).

The decisions a run needs (problem type, objective, budgets, mode, algorithms, validation
split) are gathered in a :class:`Plan` by :mod:`automl_bridge.backends.sagemaker.validate`;
:func:`create_request` turns a plan into the ``CreateAutoMLJobV2`` keyword arguments and
:func:`remote_status` turns a ``DescribeAutoMLJobV2`` response into our common status.

Example:
    >>> plan = Plan(target="y", problem_type="BinaryClassification", objective="AUC",
    ...             max_runtime_s=600, max_candidates=5)
    >>> req = create_request(plan, job_name="ab-r1-0f0f", role_arn=ROLE_EXAMPLE,
    ...                      train_uri="s3://bkt/p/ab-r1-0f0f/input/",
    ...                      output_uri="s3://bkt/p/ab-r1-0f0f/output/", tags={"k": "v"})
    >>> req["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"]
    {'MaxCandidates': 5, 'MaxAutoMLJobRuntimeInSeconds': 600}
    >>> remote_status({"AutoMLJobStatus": "InProgress",
    ...                "AutoMLJobSecondaryStatus": "Starting"}).status.value
    'pending'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automl_bridge.backends.cloud.adapter import RemoteStatus
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.results import RunStatus

ROLE_EXAMPLE = "arn:aws:iam::123456789012:role/AutoMLRole"
#: Content type of the training channel: CSV with a header row.
CSV_CONTENT_TYPE = "text/csv;header=present"

BINARY, MULTICLASS, REGRESSION = "BinaryClassification", "MulticlassClassification", "Regression"

#: Canonical metric -> Autopilot objective, per problem type (reference table 1.2 and the
#: service model's documentation of ``AutoMLJobObjective.MetricName``). Pairs not listed are
#: refused: no silent substitution.
OBJECTIVES: dict[str, dict[str, str]] = {
    BINARY: {"accuracy": "Accuracy", "roc_auc": "AUC", "balanced_accuracy": "BalancedAccuracy",
             "f1": "F1", "precision": "Precision", "recall": "Recall"},
    MULTICLASS: {"accuracy": "Accuracy", "balanced_accuracy": "BalancedAccuracy",
                 "f1_macro": "F1macro"},
    REGRESSION: {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "r2": "R2"},
}
#: Autopilot's own default objective per problem type (used only when the spec sets no metric
#: and our default metric is not an Autopilot objective; a warning says so).
DEFAULT_OBJECTIVE = {BINARY: "F1", MULTICLASS: "Accuracy", REGRESSION: "MSE"}

#: Autopilot metric names (objective and reported ``CandidateMetrics``) -> canonical names.
#: ``PrecisionMacro``, ``RecallMacro``, ``InferenceLatency``, ... have no canonical name and
#: stay in ``extra["raw_metrics"]`` only.
TO_CANONICAL: dict[str, str] = {
    "Accuracy": "accuracy", "AUC": "roc_auc", "BalancedAccuracy": "balanced_accuracy",
    "F1": "f1", "F1macro": "f1_macro", "Precision": "precision", "Recall": "recall",
    "LogLoss": "log_loss", "MSE": "mse", "RMSE": "rmse", "MAE": "mae", "R2": "r2",
}

MODES = {"auto": "AUTO", True: "ENSEMBLING", False: "HYPERPARAMETER_TUNING"}
#: Algorithms each training mode accepts (service model documentation of AutoMLAlgorithms).
MODE_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "ENSEMBLING": ("catboost", "extra-trees", "fastai", "lightgbm", "linear-learner",
                   "nn-torch", "randomforest", "xgboost"),
    "HYPERPARAMETER_TUNING": ("linear-learner", "mlp", "xgboost"),
}
#: Our model families -> the Autopilot algorithm of the same kind, per mode.
FAMILY_ALGORITHMS: dict[str, dict[str, str]] = {
    "linear": {"ENSEMBLING": "linear-learner", "HYPERPARAMETER_TUNING": "linear-learner"},
    "random_forest": {"ENSEMBLING": "randomforest"},
    "extra_trees": {"ENSEMBLING": "extra-trees"},
    "mlp": {"ENSEMBLING": "nn-torch", "HYPERPARAMETER_TUNING": "mlp"},
}
#: Families with only a close Autopilot cousin (an approximation: refused when strict).
FAMILY_APPROXIMATIONS: dict[str, dict[str, str]] = {
    "hist_gradient_boosting": {"ENSEMBLING": "lightgbm", "HYPERPARAMETER_TUNING": "xgboost"},
}

#: AutoMLJobStatus -> common status (reference table 1.3).
_STATUS = {"Completed": RunStatus.COMPLETED, "Failed": RunStatus.FAILED,
           "Stopped": RunStatus.CANCELLED, "Stopping": RunStatus.RUNNING,
           "InProgress": RunStatus.RUNNING}


@dataclass(frozen=True)
class Plan:
    """What the job will ask Autopilot for.

    Attributes:
        target: the target column (``TargetAttributeName``).
        problem_type: ``BinaryClassification``, ``MulticlassClassification`` or ``Regression``.
        objective: the ``AutoMLJobObjective.MetricName``.
        max_runtime_s: ``MaxAutoMLJobRuntimeInSeconds`` (always set).
        max_candidates: ``MaxCandidates`` or ``None`` (Autopilot's default).
        max_runtime_per_trial_s: ``MaxRuntimePerTrainingJobInSeconds`` or ``None``.
        mode: ``AUTO``, ``ENSEMBLING`` or ``HYPERPARAMETER_TUNING``.
        algorithms: ``AutoMLAlgorithms`` or ``None`` (every algorithm of the mode).
        validation_fraction: ``DataSplitConfig.ValidationFraction`` or ``None`` (default 0.2).
        warnings: one line per approximation, each naming the spec field.
    """

    target: str
    problem_type: str
    objective: str
    max_runtime_s: int
    max_candidates: int | None = None
    max_runtime_per_trial_s: int | None = None
    mode: str = "AUTO"
    algorithms: tuple[str, ...] | None = None
    validation_fraction: float | None = None
    warnings: tuple[str, ...] = ()


def problem_type(task: str, classes: tuple[Any, ...] | list[Any] | None) -> str:
    """Autopilot's ``ProblemType`` for a task and its classes.

    >>> problem_type("classification", ("a", "b", "c"))
    'MulticlassClassification'
    """
    if task == "regression":
        return REGRESSION
    return BINARY if classes is not None and len(classes) <= 2 else MULTICLASS


def create_request(plan: Plan, *, job_name: str, role_arn: str, train_uri: str,
                   output_uri: str, tags: dict[str, str]) -> dict[str, Any]:
    """The ``CreateAutoMLJobV2`` keyword arguments for ``plan`` (never ``ModelDeployConfig``)."""
    criteria: dict[str, int] = {}
    if plan.max_candidates is not None:
        criteria["MaxCandidates"] = plan.max_candidates
    if plan.max_runtime_per_trial_s is not None:
        criteria["MaxRuntimePerTrainingJobInSeconds"] = plan.max_runtime_per_trial_s
    criteria["MaxAutoMLJobRuntimeInSeconds"] = plan.max_runtime_s
    tabular: dict[str, Any] = {"TargetAttributeName": plan.target,
                               "ProblemType": plan.problem_type,
                               "CompletionCriteria": criteria, "Mode": plan.mode}
    if plan.algorithms:
        tabular["CandidateGenerationConfig"] = {
            "AlgorithmsConfig": [{"AutoMLAlgorithms": list(plan.algorithms)}]}
    request: dict[str, Any] = {
        "AutoMLJobName": job_name,
        "AutoMLJobInputDataConfig": [{
            "ChannelType": "training", "ContentType": CSV_CONTENT_TYPE,
            "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": train_uri}}}],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "AutoMLProblemTypeConfig": {"TabularJobConfig": tabular},
        "RoleArn": role_arn,
        "AutoMLJobObjective": {"MetricName": plan.objective},
    }
    if plan.validation_fraction is not None:
        request["DataSplitConfig"] = {"ValidationFraction": plan.validation_fraction}
    request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return request


def remote_status(describe: dict[str, Any]) -> RemoteStatus:
    """Our status from a ``DescribeAutoMLJobV2`` response (raw and secondary state kept).

    ``InProgress`` with the secondary status ``Starting`` is pending; ``Stopping`` is running
    with ``stopping=True``; an unknown state counts as running (keep polling).
    """
    raw = str(describe.get("AutoMLJobStatus", ""))
    detail = str(describe.get("AutoMLJobSecondaryStatus") or "")
    status = _STATUS.get(raw, RunStatus.RUNNING)
    if raw == "InProgress" and detail == "Starting":
        status = RunStatus.PENDING
    reason = describe.get("FailureReason")
    return RemoteStatus(status=status, raw=raw, detail=detail,
                        failure_reason=redact(reason) if reason else None,
                        stopping=raw == "Stopping")
