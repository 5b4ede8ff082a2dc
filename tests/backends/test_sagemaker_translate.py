"""SageMaker tier 1: pure translation (spec -> request, response -> results), golden payloads,
options, and the strict enum/max/pattern check from botocore's own service model."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.backends.cloud.adapter import TrainingTable
from automl_bridge.backends.sagemaker import translate, validate
from automl_bridge.backends.sagemaker.cost import PRICE_TABLE_DATE, estimate
from automl_bridge.backends.sagemaker.results import job_extra, model_uri, to_candidate
from automl_bridge.exceptions import ConfigError, SpecError, UnsupportedSpecError
from automl_bridge.results import CandidateState, RunStatus
from automl_bridge.spec import JobSpec

pytest.importorskip("botocore")

GOLDEN = Path(__file__).parent / "golden" / "sagemaker"
ROLE = "arn:aws:iam::123456789012:role/AutoMLRole"
NAME = "ab-20261127-101500-ab12cd-0f0f0f"


def table(task: str = "classification", classes: tuple[Any, ...] | None = ("no", "yes"),
          metric: str = "roc_auc") -> TrainingTable:
    return TrainingTable(path="train.csv", target="label", task=task, metric=metric, n_rows=300,
                         columns=("x1", "x2", "cat", "label"), classes=classes,
                         sha256="0f" * 32)


def plan(spec: JobSpec, tab: TrainingTable | None = None, *, strict: bool = True,
         per_trial: int | None = None) -> translate.Plan:
    return validate.plan_job(spec, tab or table(), strict=strict,
                             max_runtime_per_trial_s=per_trial)


def request(p: translate.Plan) -> dict[str, Any]:
    return translate.create_request(
        p, job_name=NAME, role_arn=ROLE, train_uri=f"s3://bkt/automl/{NAME}/input/",
        output_uri=f"s3://bkt/automl/{NAME}/output/",
        tags={"automl-bridge": "1", "automl-bridge-run": "20261127-101500-ab12cd"})


def check_golden(name: str, payload: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert json.loads(path.read_text()) == payload, f"golden {path.name} differs"


@pytest.fixture(scope="module")
def model() -> Any:
    return validate.load_service_model()


# --- golden payloads ---------------------------------------------------------------------------


def test_binary_request_matches_golden(model: Any) -> None:
    spec = JobSpec(task="classification", target="label", metric="roc_auc", time_budget_s=3600,
                   max_trials=20, validation={"method": "holdout", "fraction": 0.25})
    req = request(plan(spec))
    check_golden("create_binary", req)
    assert validate.request_errors(model, "CreateAutoMLJobV2", req) == []
    assert "ModelDeployConfig" not in req


def test_multiclass_models_request_matches_golden(model: Any) -> None:
    spec = JobSpec(task="classification", target="label", metric="f1_macro",
                   time_budget_s=1800.5, models=["linear", "random_forest", "extra_trees"],
                   ensemble=True)
    req = request(plan(spec, table(classes=("a", "b", "c"), metric="f1_macro"), per_trial=600))
    check_golden("create_multiclass_models", req)
    assert validate.request_errors(model, "CreateAutoMLJobV2", req) == []


def test_regression_request_matches_golden(model: Any) -> None:
    spec = JobSpec(task="regression", target="label", metric="rmse", time_budget_s=600,
                   ensemble=False, models=["linear", "mlp"])
    req = request(plan(spec, table("regression", None, "rmse")))
    check_golden("create_regression", req)
    assert validate.request_errors(model, "CreateAutoMLJobV2", req) == []


# --- spec mapping ------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "classes", "metric", "objective"), [
    ("classification", (0, 1), "accuracy", "Accuracy"),
    ("classification", (0, 1), "roc_auc", "AUC"),
    ("classification", (0, 1), "f1", "F1"),
    ("classification", (0, 1), "precision", "Precision"),
    ("classification", (0, 1), "recall", "Recall"),
    ("classification", (0, 1), "balanced_accuracy", "BalancedAccuracy"),
    ("classification", (0, 1, 2), "accuracy", "Accuracy"),
    ("classification", (0, 1, 2), "f1_macro", "F1macro"),
    ("classification", (0, 1, 2), "balanced_accuracy", "BalancedAccuracy"),
    ("regression", None, "mse", "MSE"),
    ("regression", None, "rmse", "RMSE"),
    ("regression", None, "mae", "MAE"),
    ("regression", None, "r2", "R2"),
])
def test_objectives_map(task: str, classes: Any, metric: str, objective: str,
                        model: Any) -> None:
    p = plan(JobSpec(task=task, target="label", metric=metric), table(task, classes, metric))
    assert p.objective == objective and p.warnings == ()
    assert objective in model.shape_for("AutoMLMetricEnum").enum


@pytest.mark.parametrize(("task", "classes", "metric"), [
    ("classification", (0, 1, 2), "roc_auc"), ("classification", (0, 1, 2), "log_loss"),
    ("classification", (0, 1), "log_loss"), ("classification", (0, 1), "f1_macro"),
    ("classification", (0, 1, 2), "f1_weighted"), ("regression", None, "mape"),
])
def test_unsupported_objective_is_refused_never_substituted(task: str, classes: Any,
                                                             metric: str) -> None:
    spec = JobSpec(task=task, target="label", metric=metric)
    with pytest.raises(UnsupportedSpecError, match=f"metric: '{metric}' is not an Autopilot"):
        plan(spec, table(task, classes, metric))
    loose = plan(spec, table(task, classes, metric), strict=False)
    assert loose.objective == translate.DEFAULT_OBJECTIVE[loose.problem_type]
    assert any(w.startswith("metric:") and "scored by" in w for w in loose.warnings)


def test_default_metric_without_autopilot_objective_uses_the_service_default() -> None:
    p = plan(JobSpec(task="classification", target="label"),
             table(classes=("a", "b", "c"), metric="log_loss"))
    assert p.objective == "Accuracy"
    assert "No metric was set" in p.warnings[0]


def test_time_budget_always_sets_the_runtime_cap() -> None:
    assert plan(JobSpec(target="label", time_budget_s=59.2)).max_runtime_s == 60
    spec = JobSpec(target="label", time_budget_s=None, max_trials=5)
    with pytest.raises(UnsupportedSpecError, match="time_budget_s"):
        plan(spec)
    loose = plan(spec, strict=False)
    assert loose.max_runtime_s == validate.UNBOUNDED_CAP_S and loose.max_candidates == 5
    assert "time_budget_s" in loose.warnings[0]


def test_max_trials_above_750_refused_or_capped() -> None:
    spec = JobSpec(target="label", max_trials=1000)
    with pytest.raises(UnsupportedSpecError, match="max_trials"):
        plan(spec)
    assert plan(spec, strict=False).max_candidates == 750


def test_per_trial_limit_longer_than_the_job_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_runtime_per_trial_s"):
        plan(JobSpec(target="label", time_budget_s=60), per_trial=120)


def test_every_unsupported_field_is_listed_at_once() -> None:
    spec = JobSpec(target="label", metric="roc_auc", search="tpe", validation="cv",
                   pos_label="yes", estimation="low_fidelity",
                   constraints={"max_model_bytes": 1e6})
    with pytest.raises(UnsupportedSpecError) as info:
        plan(spec)
    text = str(info.value)
    for field in ("search:", "validation:", "pos_label:", "estimation:", "constraints:"):
        assert field in text
    assert "strict=False" in text
    loose = plan(spec, strict=False)
    assert [w.split(":")[0] for w in loose.warnings] == [
        "search", "validation", "pos_label", "estimation", "constraints"]
    assert loose.validation_fraction is None


def test_multi_objective_refused() -> None:
    spec = JobSpec(target="label", objectives=["roc_auc", "model_size"])
    with pytest.raises(UnsupportedSpecError, match="objectives"):
        plan(spec)


def test_seed_is_a_warning_only() -> None:
    assert plan(JobSpec(target="label", seed=0)).warnings == ()
    assert plan(JobSpec(target="label", seed=7)).warnings[0].startswith("seed:")


@pytest.mark.parametrize(("ensemble", "models", "mode", "algorithms"), [
    ("auto", None, "AUTO", None),
    (True, None, "ENSEMBLING", None),
    (False, None, "HYPERPARAMETER_TUNING", None),
    ("auto", ["random_forest", "linear"], "ENSEMBLING", ("randomforest", "linear-learner")),
    ("auto", ["mlp"], "ENSEMBLING", ("nn-torch",)),
    (False, ["mlp", "linear"], "HYPERPARAMETER_TUNING", ("mlp", "linear-learner")),
])
def test_mode_and_algorithms(ensemble: Any, models: Any, mode: str, algorithms: Any) -> None:
    p = plan(JobSpec(target="label", ensemble=ensemble, models=models))
    assert (p.mode, p.algorithms) == (mode, algorithms)
    if algorithms:
        assert set(algorithms) <= set(translate.MODE_ALGORITHMS[mode])


def test_families_without_equivalent() -> None:
    spec = JobSpec(target="label", models=["knn", "hist_gradient_boosting", "linear"])
    with pytest.raises(UnsupportedSpecError, match="knn"):
        plan(spec)
    loose = plan(spec, strict=False)
    assert loose.algorithms == ("lightgbm", "linear-learner")
    assert "hist_gradient_boosting -> lightgbm" in loose.warnings[0]
    only_missing = plan(JobSpec(target="label", models=["svm"]), strict=False)
    assert only_missing.algorithms is None and "every algorithm" in only_missing.warnings[0]
    with pytest.raises(UnsupportedSpecError, match="random_forest"):
        plan(JobSpec(target="label", models=["random_forest"], ensemble=False))


def test_problem_type_needs_classes() -> None:
    with pytest.raises(SpecError, match="classes"):
        plan(JobSpec(target="label"), table(classes=None))
    assert translate.problem_type("classification", ("a", "b")) == translate.BINARY


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "", "not-an-arn-but-long-enough",
                                 "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:user/u"])
def test_bad_role_arn(bad: Any) -> None:
    with pytest.raises(ConfigError, match="role_arn"):
        validate.check_role_arn(bad)


def test_role_arn_partitions() -> None:
    assert validate.check_role_arn("arn:aws-cn:iam::123456789012:role/path/R")


@pytest.mark.parametrize("bad", [None, "bucket/prefix", "s3://", "s3://UPPER/x", "gs://b/p",
                                 "s3://a/" + "p" * 600, "s3://b..c/x"])
def test_bad_s3_output(bad: Any) -> None:
    with pytest.raises(ConfigError, match="s3_output"):
        validate.check_s3_output(bad)


def test_s3_output_and_region() -> None:
    assert validate.check_s3_output("s3://bkt") == "s3://bkt/"
    assert validate.check_region("us-gov-west-1") == "us-gov-west-1"
    assert validate.check_region(None) is None
    with pytest.raises(ConfigError, match="region"):
        validate.check_region("US_EAST")
    with pytest.raises(ConfigError, match="max_attempts"):
        validate.check_positive_int("max_attempts", 0)


# --- the service model check (what botocore's validator skips) --------------------------------


def test_strict_check_catches_enum_max_and_pattern(model: Any) -> None:
    bad = {"AutoMLJobName": "a" * 33, "RoleArn": "not-an-arn-but-long-enough",
           "AutoMLJobObjective": {"MetricName": "LogLoss"},
           "DataSplitConfig": {"ValidationFraction": 1.5},
           "AutoMLProblemTypeConfig": {"TabularJobConfig": {
               "TargetAttributeName": "y", "ProblemType": "Classification",
               "CompletionCriteria": {"MaxCandidates": 1000}}}}
    errors = validate.request_errors(model, "CreateAutoMLJobV2", bad)
    joined = "\n".join(errors)
    for part in ("AutoMLJobName: longer than 32", "RoleArn", "MetricName: 'LogLoss'",
                 "ProblemType: 'Classification'", "MaxCandidates: 1000 is more than 750",
                 "ValidationFraction: 1.5"):
        assert part in joined
    assert validate.JOB_NAME.pattern == model.shape_for("AutoMLJobName").metadata["pattern"]
    assert validate.ROLE_ARN.pattern == model.shape_for("RoleArn").metadata["pattern"]


def test_family_table_matches_the_service_enum(model: Any) -> None:
    enum = set(model.shape_for("AutoMLAlgorithmConfig").members["AutoMLAlgorithms"].member.enum)
    for mode, algos in translate.MODE_ALGORITHMS.items():
        assert set(algos) <= enum
        assert mode in model.shape_for("AutoMLMode").enum


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "secondary", "status", "stopping"), [
    ("InProgress", "Starting", RunStatus.PENDING, False),
    ("InProgress", "TrainingModels", RunStatus.RUNNING, False),
    ("InProgress", "AnalyzingData", RunStatus.RUNNING, False),
    ("Stopping", "Stopping", RunStatus.RUNNING, True),
    ("Completed", "MaxAutoMLJobRuntimeReached", RunStatus.COMPLETED, False),
    ("Completed", "MaxCandidatesReached", RunStatus.COMPLETED, False),
    ("Failed", "Failed", RunStatus.FAILED, False),
    ("Stopped", "Stopped", RunStatus.CANCELLED, False),
    ("SomethingNew", "", RunStatus.RUNNING, False),
])
def test_status_mapping(raw: str, secondary: str, status: RunStatus, stopping: bool,
                        model: Any) -> None:
    got = translate.remote_status({"AutoMLJobStatus": raw, "AutoMLJobSecondaryStatus": secondary})
    assert (got.status, got.stopping, got.raw, got.detail) == (status, stopping, raw, secondary)
    if raw != "SomethingNew":
        assert raw in model.shape_for("AutoMLJobStatus").enum
        assert not secondary or secondary in model.shape_for("AutoMLJobSecondaryStatus").enum


def test_every_service_status_is_mapped(model: Any) -> None:
    for raw in model.shape_for("AutoMLJobStatus").enum:
        assert translate.remote_status({"AutoMLJobStatus": raw}).raw == raw
        assert raw in translate._STATUS


def test_failure_reason_is_redacted() -> None:
    got = translate.remote_status({"AutoMLJobStatus": "Failed", "FailureReason":
                                   "AccessDenied for AKIAABCDEFGHIJKLMNOP"})
    assert got.status is RunStatus.FAILED and "AKIAABCDEFGHIJKLMNOP" not in str(got.failure_reason)


# --- results -----------------------------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_candidate_metrics_are_canonical_with_raw_kept() -> None:
    raw = {"CandidateName": "WeightedEnsemble-L3", "CandidateStatus": "Completed",
           "ObjectiveStatus": "Succeeded", "CandidateSteps": [
               {"CandidateStepType": "AWS::SageMaker::TrainingJob", "CandidateStepName": "t1",
                "CandidateStepArn": "arn"}],
           "CreationTime": T0, "EndTime": T0 + dt.timedelta(seconds=90),
           "FinalAutoMLJobObjectiveMetric": {"MetricName": "validation:f1_binary",
                                             "StandardMetricName": "F1", "Value": 0.8},
           "CandidateProperties": {"CandidateMetrics": [
               {"MetricName": "LogLoss", "StandardMetricName": "LogLoss", "Value": 0.4,
                "Set": "Validation"},
               {"StandardMetricName": "Accuracy", "Value": 0.85},
               {"StandardMetricName": "PrecisionMacro", "Value": 0.7, "Set": "Validation"},
               {"StandardMetricName": "Accuracy", "Value": 0.99, "Set": "Train"}]},
           "InferenceContainers": [{"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz",
                                    "Environment": {"SECRET": "x"}}]}
    c = to_candidate(raw, metric="log_loss")
    assert c.family == "ensemble" and c.state is CandidateState.COMPLETE
    assert c.metrics == {"f1": 0.8, "log_loss": 0.4, "accuracy": 0.85}
    assert c.score == 0.4 and c.fit_time_s == 90.0
    assert len(c.extra["raw_metrics"]) == 5 and c.extra["raw_metrics"][0]["objective"]
    assert c.extra["inference_containers"] == [{"image": "img",
                                                "model_data_url": "s3://b/m.tar.gz"}]
    json.dumps(c.to_dict())


def test_candidate_without_objective_metric_or_times() -> None:
    c = to_candidate({"CandidateName": "x", "CandidateStatus": "Failed",
                      "ObjectiveStatus": "Failed", "FailureReason": "OOM"}, metric="roc_auc")
    assert c.state is CandidateState.FAILED and math.isnan(c.score) and c.error == "OOM"
    assert c.family == "autopilot" and c.metrics == {}
    completed_but_failed = to_candidate({"CandidateName": "y", "CandidateStatus": "Completed",
                                         "ObjectiveStatus": "Failed"}, metric="roc_auc")
    assert completed_but_failed.state is CandidateState.FAILED


def test_model_uri_and_job_extra() -> None:
    three = {"InferenceContainers": [{"ModelDataUrl": "s3://b/pre"}, {"ModelDataUrl":
             "s3://b/algo"}, {"ModelDataUrl": "s3://b/post"}]}
    assert model_uri(three) == "s3://b/algo"
    assert model_uri(None) is None
    extra = job_extra({"AutoMLJobArn": "arn", "AutoMLJobStatus": "Completed",
                       "PartialFailureReasons": [{"PartialFailureMessage": ""},
                                                 {"PartialFailureMessage": "one failed"}],
                       "AutoMLJobArtifacts": {"DataExplorationNotebookLocation": "s3://n"}})
    assert extra["partial_failures"] == ["one failed"]
    assert extra["notebooks"] == {"DataExplorationNotebookLocation": "s3://n"}


def test_cost_estimate_states_its_basis() -> None:
    est = estimate([{"kind": "training", "instance_type": "ml.m5.4xlarge", "count": 2,
                     "seconds": 1800},
                    {"kind": "processing", "instance_type": "ml.x9.huge", "seconds": 60}])
    assert est["usd"] == pytest.approx(0.922)
    assert est["price_table_date"] == PRICE_TABLE_DATE
    assert "us-east-1" in est["note"] and "ml.x9.huge" in est["note"]
    assert est["unpriced_instance_types"] == ["ml.x9.huge"]


def test_usage_of_each_job_kind() -> None:
    from automl_bridge.backends.sagemaker.cost import usage

    assert usage("AWS::SageMaker::TrainingJob", {
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
        "TrainingTimeInSeconds": 100}) == {"kind": "training", "instance_type": "ml.m5.xlarge",
                                           "count": 2, "seconds": 100}
    got = usage("AWS::SageMaker::ProcessingJob", {
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.2xlarge",
                                                  "InstanceCount": 1}},
        "ProcessingStartTime": T0, "ProcessingEndTime": T0 + dt.timedelta(minutes=2)})
    assert (got["kind"], got["seconds"]) == ("processing", 120.0)
    got = usage("AWS::SageMaker::TransformJob", {"TransformResources": {
        "InstanceType": "ml.m5.large", "InstanceCount": 1}})
    assert (got["kind"], got["seconds"]) == ("transform", 0)
