"""Azure tier 1: spec -> job plan -> the SDK's REST body, against golden JSON; names checked
against the installed azure-ai-ml enums; every refusal and approximation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.backends.azure import mapping
from automl_bridge.backends.azure.settings import AzureSettings
from automl_bridge.backends.azure.translate import plan_job
from automl_bridge.backends.cloud.adapter import TrainingTable
from automl_bridge.exceptions import ConfigError, UnsupportedSpecError
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec

pytest.importorskip("azure.ai.ml")

GOLDEN = Path(__file__).parent / "golden" / "azure"
TAGS = {"automl-bridge": "1", "automl-bridge-run": "r1"}


def settings(**kw: Any) -> AzureSettings:
    base = {"subscription_id": "00000000-0000-0000-0000-000000000000",
            "resource_group": "rg1", "workspace": "ws1"}
    return AzureSettings.from_options(**{**base, **kw})


def table(task: str = "classification", metric: str = "roc_auc", classes: Any = (0, 1),
          n_rows: int = 100, columns: tuple[str, ...] = ("x1", "x2", "y")) -> TrainingTable:
    return TrainingTable(path="train.csv", target="y", task=task, metric=metric, n_rows=n_rows,
                         columns=columns, classes=classes if task == "classification" else None,
                         sha256="ab" * 32)


def plan(spec: JobSpec, tbl: TrainingTable | None = None,
         **kw: Any) -> tuple[dict[str, Any], list[str]]:
    tbl = tbl or table(spec.task if spec.task != "auto" else "classification",
                       str(spec.metric))
    return plan_job(spec, tbl, settings(**kw), name="ab-r1-abab", tags=TAGS,
                    data_uri="azureml://datastores/workspaceblobstore/paths/automl-bridge/x/")


def check_golden(name: str, got: dict[str, Any]) -> None:
    path = GOLDEN / name
    if os.environ.get("AUTOML_BRIDGE_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(path.read_text()), f"{name} differs from the golden file"


# --- names against the installed SDK ----------------------------------------------------------


def test_primary_metrics_and_algorithms_are_the_sdks() -> None:
    from azure.ai.ml.automl import (
        ClassificationModels,
        ClassificationPrimaryMetrics,
        RegressionModels,
        RegressionPrimaryMetrics,
    )
    from azure.ai.ml.entities._job.automl.tabular.classification_job import ClassificationJob

    job = ClassificationJob(primary_metric="accuracy")
    for name in mapping.CLASSIFICATION_PRIMARY:
        job.primary_metric = name  # the SDK's own parser: KeyError if unknown
        assert job.primary_metric in set(ClassificationPrimaryMetrics)
    assert len(mapping.CLASSIFICATION_PRIMARY) == len(ClassificationPrimaryMetrics)
    assert len(mapping.REGRESSION_PRIMARY) == len(RegressionPrimaryMetrics)
    assert set(mapping.CLASSIFICATION_ALGORITHMS) == {m.value for m in ClassificationModels}
    assert set(mapping.REGRESSION_ALGORITHMS) == {m.value for m in RegressionModels}
    for family, per_task in mapping.FAMILIES.items():
        for task, (names, _) in per_task.items():
            known = mapping.CLASSIFICATION_ALGORITHMS if task == "classification" \
                else mapping.REGRESSION_ALGORITHMS
            assert set(names) <= set(known), family


def test_job_states_cover_the_sdk_enum() -> None:
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus

    assert {s.value for s in JobStatus} == set(mapping.STATES)
    assert mapping.job_state("Unknown") == (RunStatus.RUNNING, False)
    assert mapping.job_state("CancelRequested") == (RunStatus.RUNNING, True)
    assert mapping.job_state("NotResponding")[0] is RunStatus.FAILED
    assert mapping.job_state("Paused")[0] is RunStatus.CANCELLED
    assert mapping.job_state("something new") == (RunStatus.RUNNING, False)


# --- golden plans and REST bodies -------------------------------------------------------------


def test_classification_golden() -> None:
    from automl_bridge.backends.azure.client import build_job, rest_dict

    spec = JobSpec(task="classification", target="y", metric="roc_auc", time_budget_s=1830,
                   max_trials=25, validation={"method": "cv", "folds": 5}, pos_label=1,
                   models=["linear", "random_forest", "svm"], ensemble=False)
    got, warnings = plan(spec, compute="cpu-cluster", trial_timeout_minutes=10,
                         max_concurrent_trials=2)
    assert warnings == []
    assert got["limits"]["timeout_minutes"] == 31  # ceil(1830 / 60)
    check_golden("classification_plan.json", got)
    check_golden("classification_rest.json", rest_dict(build_job(got)))


def test_regression_serverless_golden() -> None:
    from automl_bridge.backends.azure.client import build_job, rest_dict

    spec = JobSpec(task="regression", target="y", metric="r2", time_budget_s=3600,
                   validation={"method": "holdout", "fraction": 0.25})
    got, warnings = plan(spec, table("regression", "r2"), instance_type="Standard_D4s_v3",
                         instance_count=2, experiment="bikes")
    assert warnings == []
    assert got["resources"] == {"instance_type": "Standard_D4s_v3", "instance_count": 2}
    assert got["compute"] is None and "training" not in got
    body = rest_dict(build_job(got))
    assert body["properties"]["resources"]["instanceType"] == "Standard_D4s_v3"
    assert body["properties"]["taskDetails"]["validationDataSize"] == 0.25
    check_golden("regression_serverless_plan.json", got)
    check_golden("regression_serverless_rest.json", body)


# --- field by field ---------------------------------------------------------------------------


@pytest.mark.parametrize(("metric", "task", "classes", "primary"), [
    ("accuracy", "classification", (0, 1, 2), "accuracy"),
    ("roc_auc", "classification", ("a", "b"), "AUC_weighted"),
    ("balanced_accuracy", "classification", (0, 1, 2), "norm_macro_recall"),
    ("r2", "regression", None, "r2_score"),
])
def test_exact_metrics(metric: str, task: str, classes: Any, primary: str) -> None:
    spec = JobSpec(task=task, target="y", metric=metric, time_budget_s=900)
    got, warnings = plan(spec, table(task, metric, classes))
    assert got["primary_metric"] == primary and warnings == []


@pytest.mark.parametrize(("metric", "task", "classes", "primary"), [
    ("rmse", "regression", None, "normalized_root_mean_squared_error"),
    ("mse", "regression", None, "normalized_root_mean_squared_error"),
    ("mae", "regression", None, "normalized_mean_absolute_error"),
    ("roc_auc", "classification", (0, 1, 2), "AUC_weighted"),
    ("precision", "classification", (0, 1), "precision_score_weighted"),
])
def test_approximate_metrics_refused_unless_not_strict(metric: str, task: str, classes: Any,
                                                       primary: str) -> None:
    spec = JobSpec(task=task, target="y", metric=metric, time_budget_s=900)
    with pytest.raises(UnsupportedSpecError, match="strict=False"):
        plan(spec, table(task, metric, classes))
    got, warnings = plan(spec, table(task, metric, classes), strict=False)
    assert got["primary_metric"] == primary
    assert len(warnings) == 1 and warnings[0].startswith("azure: metric:")


@pytest.mark.parametrize(("metric", "task"), [("f1", "classification"),
                                              ("log_loss", "classification"),
                                              ("f1_macro", "classification"),
                                              ("recall", "classification"),
                                              ("mape", "regression")])
def test_metrics_azure_cannot_optimise_are_always_refused(metric: str, task: str) -> None:
    spec = JobSpec(task=task, target="y", metric=metric, time_budget_s=900)
    for strict in (True, False):
        with pytest.raises(UnsupportedSpecError, match="cannot be optimised"):
            plan(spec, table(task, metric), strict=strict)


def test_budget_is_always_a_timeout() -> None:
    got, warnings = plan(JobSpec(task="classification", target="y", metric="accuracy",
                                 time_budget_s=61))
    assert got["limits"] == {"timeout_minutes": 2}
    assert len(warnings) == 1 and "short" in warnings[0]
    got, warnings = plan(JobSpec(task="classification", target="y", metric="accuracy",
                                 time_budget_s=None, max_trials=5))
    assert got["limits"] == {"timeout_minutes": 1440, "max_trials": 5}
    assert "time_budget_s" in warnings[0]
    week = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=9e5)
    with pytest.raises(UnsupportedSpecError, match="time_budget_s"):
        plan(week)
    assert plan(week, strict=False)[0]["limits"]["timeout_minutes"] == 10080


def test_short_timeout_on_big_data_refused() -> None:
    spec = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=3600)
    big = table(metric="accuracy", n_rows=5_000_001, columns=("a", "y"))
    with pytest.raises(UnsupportedSpecError, match="10,000,000"):
        plan(spec, big, strict=False)
    assert plan(spec.replace(time_budget_s=3601), big)[0]["limits"]["timeout_minutes"] == 61


def test_max_trials_and_trial_timeout() -> None:
    spec = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=900,
                   max_trials=5000)
    with pytest.raises(UnsupportedSpecError, match="max_trials"):
        plan(spec)
    assert plan(spec, strict=False)[0]["limits"]["max_trials"] == 1000
    with pytest.raises(ConfigError, match="trial_timeout_minutes"):
        plan(spec.replace(max_trials=5), trial_timeout_minutes=16)


def test_validation_methods() -> None:
    base = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=900)
    assert "n_cross_validations" not in plan(base)[0]
    assert "validation_data_size" not in plan(base)[0]
    assert plan(base.replace(validation="cv"))[0]["n_cross_validations"] == 5
    assert plan(base.replace(validation="holdout"))[0]["validation_data_size"] == 0.2


def test_models_map_refuse_or_approximate() -> None:
    base = JobSpec(task="regression", target="y", metric="r2", time_budget_s=900)
    reg = table("regression", "r2")
    got, _ = plan(base.replace(models=["linear", "knn", "extra_trees"]), reg)
    assert got["training"]["allowed_training_algorithms"] == ["ElasticNet", "KNN",
                                                              "ExtremeRandomTrees"]
    with pytest.raises(UnsupportedSpecError, match="models"):
        plan(base.replace(models=["hist_gradient_boosting"]), reg)
    got, warnings = plan(base.replace(models=["hist_gradient_boosting", "svm"]), reg,
                         strict=False)
    assert got["training"]["allowed_training_algorithms"] == ["LightGBM"]
    assert len(warnings) == 2 and all("models" in w for w in warnings)
    with pytest.raises(UnsupportedSpecError, match="None of the 'models'"):
        plan(base.replace(models=["svm"]), reg, strict=False)


def test_ensemble_switches() -> None:
    base = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=900)
    assert "training" not in plan(base)[0]
    assert plan(base.replace(ensemble=True))[0]["training"] == {
        "enable_vote_ensemble": True, "enable_stack_ensemble": True}


@pytest.mark.parametrize("change", [
    {"search": "tpe"}, {"seed": 7}, {"estimation": "low_fidelity"},
    {"objectives": ["accuracy", "model_size"]}, {"constraints": {"max_model_bytes": 1e6}},
])
def test_fields_azure_cannot_honour(change: dict[str, Any]) -> None:
    spec = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=900,
                   **change)
    field = next(iter(change))
    with pytest.raises(UnsupportedSpecError, match=f"'{field}'"):
        plan(spec)
    _, warnings = plan(spec, strict=False)
    assert len(warnings) == 1 and warnings[0].startswith(f"azure: {field}:")


def test_pos_label_only_for_two_classes() -> None:
    spec = JobSpec(task="classification", target="y", metric="accuracy", time_budget_s=900,
                   pos_label="yes")
    assert plan(spec, table(metric="accuracy", classes=("no", "yes")))[0]["positive_label"] \
        == "yes"
    assert "positive_label" not in plan(spec, table(metric="accuracy", classes=(1, 2, 3)))[0]


# --- options ----------------------------------------------------------------------------------


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no option"):
        settings(region="eastus")
    with pytest.raises(ConfigError, match="instance_type"):
        settings(compute="cpu-cluster", instance_type="Standard_DS3_v2")
    with pytest.raises(ConfigError, match="data_asset"):
        settings(data_asset="bikes:1")
    with pytest.raises(ConfigError, match="compute"):
        settings(compute="has space")
    with pytest.raises(ConfigError, match="metrics"):
        settings(metrics="all")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscription_id": "s1", "resource_group": "g1",
                                  "workspace_name": "w1"}))
    s = AzureSettings.from_options(config_path=str(config))
    assert (s.subscription_id, s.resource_group, s.workspace) == ("s1", "g1", "w1")
    assert settings(data_asset="azureml:bikes:3").data_asset == "azureml:bikes:3"


def test_canonical_metrics_conversions() -> None:
    raw = {"AUC_weighted": 0.8, "AUC_macro": 0.7, "norm_macro_recall": 0.4, "accuracy": 0.9}
    assert mapping.canonical_metrics(raw, "classification", 2)["roc_auc"] == 0.8
    multi = mapping.canonical_metrics(raw, "classification", 3)
    assert multi["roc_auc"] == 0.7
    assert multi["balanced_accuracy"] == pytest.approx(1 / 3 + 0.4 * 2 / 3)
    reg = mapping.canonical_metrics({"root_mean_squared_error": 2.0,
                                     "normalized_root_mean_squared_error": 0.1},
                                    "regression")
    assert reg == {"mse": 4.0, "rmse": 2.0}
