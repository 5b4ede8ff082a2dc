"""Tier 1 of the Vertex backend: spec -> request JSON (golden payloads), validation, mapping.

Pure translation; the only SDK use is the typed ``AutoMlTablesInputs`` schema proto that checks
the task inputs we build. Regenerate the golden files with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from automl_bridge.backends.cloud.adapter import TrainingTable
from automl_bridge.backends.cloud.naming import labels_for
from automl_bridge.backends.vertex import translate as tr
from automl_bridge.backends.vertex.results import (
    TRAINING_USD_PER_NODE_HOUR,
    candidate_from,
    canonical_metrics,
    raw_metrics,
    training_cost,
)
from automl_bridge.backends.vertex.validate import check_options, parse_bucket, plan
from automl_bridge.exceptions import ConfigError, DataError, UnsupportedSpecError
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec

GOLDEN = Path(__file__).parent / "golden" / "vertex"


def table(task: str = "classification", metric: str = "roc_auc", n_classes: int = 2,
          n_rows: int = 5000, columns: tuple[str, ...] | None = None) -> TrainingTable:
    cols = columns or ("age", "income", "city", "joined", "notes", "member", "y")
    kinds = {"age": "numeric", "income": "numeric", "city": "categorical", "joined": "datetime",
             "notes": "text", "member": "boolean", "y": "target"}
    classes = tuple(f"c{i}" for i in range(n_classes)) if task == "classification" else None
    return TrainingTable(path="train.csv", target="y", task=task, metric=metric, n_rows=n_rows,
                         columns=cols, dtypes={c: kinds.get(c, "numeric") for c in cols},
                         classes=classes, sha256="ab" * 32)


def spec(**kw: object) -> JobSpec:
    base: dict[str, object] = {"target": "y", "time_budget_s": 3600}
    base.update(kw)
    return JobSpec(**base)


def golden(name: str, payload: dict) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    assert payload == json.loads(path.read_text()), f"differs from {path}"


# --- objectives (table 1.2) ------------------------------------------------------------------


@pytest.mark.parametrize(("task", "metric", "n", "want"), [
    ("classification", "roc_auc", 2, "maximize-au-roc"),
    ("classification", "log_loss", 2, "minimize-log-loss"),
    ("classification", "log_loss", 3, "minimize-log-loss"),
    ("classification", "roc_auc", 3, None),
    ("classification", "accuracy", 2, None),
    ("classification", "f1", 2, None),
    ("classification", "balanced_accuracy", 5, None),
    ("regression", "rmse", 0, "minimize-rmse"),
    ("regression", "mae", 0, "minimize-mae"),
    ("regression", "mse", 0, "minimize-rmse"),
    ("regression", "r2", 0, "minimize-rmse"),
    ("regression", "mape", 0, None),
])
def test_objective_table(task: str, metric: str, n: int, want: str | None) -> None:
    assert tr.objective_for(task, metric, n_classes=n) == want


def test_every_objective_is_one_vertex_accepts() -> None:
    allowed = {"binary": {"maximize-au-roc", "minimize-log-loss", "maximize-au-prc",
                          "maximize-precision-at-recall", "maximize-recall-at-precision"},
               "multiclass": {"minimize-log-loss"},
               "regression": {"minimize-rmse", "minimize-mae", "minimize-rmsle"}}
    for kind, table_ in tr.OBJECTIVES.items():
        assert set(table_.values()) <= allowed[kind]
        assert tr.DEFAULT_OBJECTIVE[kind] in allowed[kind]


def test_accuracy_refused_when_strict_and_mapped_with_warning_otherwise() -> None:
    t = table(metric="accuracy")
    with pytest.raises(UnsupportedSpecError, match=r"(?s)metric='accuracy'.*strict=False"):
        plan(spec(metric="accuracy"), t, strict=True)
    p = plan(spec(metric="accuracy"), t, strict=False)
    assert p.objective == "maximize-au-roc"
    assert any("metric='accuracy'" in w and "maximize-au-roc" in w for w in p.warnings)


def test_multiclass_roc_auc_falls_back_to_log_loss_only_when_allowed() -> None:
    t = table(metric="roc_auc", n_classes=3)
    with pytest.raises(UnsupportedSpecError, match="multiclass"):
        plan(spec(metric="roc_auc"), t, strict=True)
    assert plan(spec(metric="roc_auc"), t, strict=False).objective == "minimize-log-loss"


# --- budget ----------------------------------------------------------------------------------


def test_budget_conversion_and_bounds() -> None:
    assert tr.budget_from_seconds(3600) == 1000
    assert tr.budget_from_seconds(3601) == 1001
    assert tr.budget_from_seconds(259200) == 72000
    t = table()
    assert plan(spec(time_budget_s=7200), t, strict=True).budget_milli_node_hours == 2000
    with pytest.raises(UnsupportedSpecError, match=r"time_budget_s.*outside"):
        plan(spec(time_budget_s=600), t, strict=True)
    low = plan(spec(time_budget_s=600), t, strict=False)
    assert low.budget_milli_node_hours == 1000 and "using 1000" in low.warnings[0]
    high = plan(spec(time_budget_s=10 * 86400), t, strict=False)
    assert high.budget_milli_node_hours == 72000


def test_explicit_budget_option_wins_and_says_so() -> None:
    p = plan(spec(time_budget_s=600), table(), strict=True, budget_milli_node_hours=1500)
    assert p.budget_milli_node_hours == 1500
    assert "budget_milli_node_hours=1500" in p.warnings[0]


def test_no_time_budget_needs_the_option_when_strict() -> None:
    s = spec(time_budget_s=None, max_trials=5)
    with pytest.raises(UnsupportedSpecError) as err:
        plan(s, table(), strict=True)
    assert "max_trials" in str(err.value) and "budget_milli_node_hours" in str(err.value)
    p = plan(s, table(), strict=False)
    assert p.budget_milli_node_hours == 1000 and len(p.warnings) == 2


@pytest.mark.parametrize("bad", [999, 72001, 1000.0, "1000", True])
def test_budget_option_range(bad: object) -> None:
    with pytest.raises(ConfigError, match="budget_milli_node_hours"):
        check_options(project="my-project", location="us-central1", staging_bucket="gs://b-1",
                      api_transport="rest", budget_milli_node_hours=bad)


# --- split, transformations, every spec field ------------------------------------------------


def test_split_from_the_validation_spec() -> None:
    assert tr.fraction_split(0.2) == {"trainingFraction": 0.8, "validationFraction": 0.1,
                                      "testFraction": 0.1}
    p = plan(spec(validation={"method": "holdout", "fraction": 0.3}), table(), strict=True)
    assert p.split == {"trainingFraction": 0.7, "validationFraction": 0.15,
                       "testFraction": 0.15}
    assert math.isclose(sum(p.split.values()), 1.0)
    with pytest.raises(UnsupportedSpecError, match="cross-validation"):
        plan(spec(validation="cv"), table(), strict=True)
    assert plan(spec(validation="cv"), table(), strict=False).split["trainingFraction"] == 0.8


def test_transformations_are_explicit_for_every_feature() -> None:
    p = plan(spec(), table(), strict=True)
    assert p.transformations == [
        {"numeric": {"columnName": "age"}}, {"numeric": {"columnName": "income"}},
        {"categorical": {"columnName": "city"}}, {"auto": {"columnName": "joined"}},
        {"text": {"columnName": "notes"}}, {"categorical": {"columnName": "member"}}]


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("max_trials", 10, "max_trials"),
    ("search", "tpe", "search='tpe'"),
    ("models", ["linear"], "models="),
    ("estimation", "low_fidelity", "estimation="),
    ("ensemble", False, "ensemble=False"),
    ("objectives", ["roc_auc", "model_size"], "objectives="),
    ("constraints", {"max_model_bytes": 1e6}, "constraints="),
])
def test_fields_vertex_cannot_honour(field: str, value: object, needle: str) -> None:
    s = spec(**{field: value})
    with pytest.raises(UnsupportedSpecError, match=needle.replace("[", r"\[")):
        plan(s, table(), strict=True)
    warnings = plan(s, table(), strict=False).warnings
    assert any(needle in w and "strict=False" in w for w in warnings)


def test_all_refusals_in_one_message() -> None:
    s = spec(search="tpe", max_trials=3, metric="accuracy")
    with pytest.raises(UnsupportedSpecError) as err:
        plan(s, table(metric="accuracy"), strict=True)
    assert str(err.value).count("\n- ") == 3


def test_fields_that_map_without_warning() -> None:
    s = spec(ensemble=True, on_missing_target="error", drop_rare_classes=True,
             objectives=["roc_auc"])
    assert plan(s, table(), strict=True).warnings == []
    assert "seed=7" in plan(spec(seed=7), table(), strict=True).warnings[0]


def test_data_checks() -> None:
    with pytest.raises(DataError, match="1000 rows"):
        plan(spec(), table(n_rows=300), strict=True)
    assert "300 rows" in plan(spec(), table(n_rows=300), strict=False).warnings[0]
    with pytest.raises(DataError, match="'_id'"):
        plan(spec(), table(columns=("_id", "y")), strict=False)
    with pytest.raises(DataError, match="501 classes"):
        plan(spec(metric="log_loss"), table(metric="log_loss", n_classes=501), strict=False)


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value"), [
    ("project", "P"), ("project", ""), ("location", "US"), ("staging_bucket", "bucket"),
    ("staging_bucket", "s3://b"), ("staging_bucket", "gs://A"), ("api_transport", "http"),
])
def test_malformed_options(option: str, value: str) -> None:
    good = {"project": "my-project", "location": "us-central1", "staging_bucket": "gs://b-1",
            "api_transport": "rest", "budget_milli_node_hours": None}
    with pytest.raises(ConfigError, match=option):
        check_options(**{**good, option: value})


def test_bucket_parsing() -> None:
    assert parse_bucket("gs://b-1") == ("b-1", "")
    assert parse_bucket("gs://b-1/a/b/") == ("b-1", "a/b")


# --- golden request payloads -----------------------------------------------------------------


def _pipeline(t: TrainingTable, s: JobSpec) -> dict:
    return tr.pipeline_body(plan(s, t, strict=True), target="y", dataset_id="111",
                            display_name="ab-20261127-101500-ab12cd-abababab",
                            labels=labels_for("vertex", "20261127-101500-ab12cd"))


def test_golden_pipeline_classification() -> None:
    golden("pipeline_classification.json", _pipeline(table(), spec()))


def test_golden_pipeline_regression() -> None:
    t = table(task="regression", metric="mae")
    body = _pipeline(t, spec(metric="mae", time_budget_s=7200,
                             validation={"method": "holdout", "fraction": 0.3}))
    golden("pipeline_regression.json", body)


def test_golden_dataset_and_batch_prediction() -> None:
    labels = labels_for("vertex", "20261127-101500-ab12cd")
    golden("dataset.json", tr.dataset_body(display_name="ab-run", labels=labels,
                                           gcs_uri="gs://b-1/automl-bridge/ab-run/train.csv"))
    golden("batch_prediction.json", tr.batch_prediction_body(
        display_name="ab-predict-222-0123", model="projects/p/locations/l/models/333",
        input_uri="gs://b-1/in.csv", output_prefix="gs://b-1/out", labels=labels))


@pytest.mark.parametrize("name", ["pipeline_classification.json", "pipeline_regression.json"])
def test_golden_task_inputs_parse_with_the_typed_schema(name: str) -> None:
    pytest.importorskip("google.cloud.aiplatform")
    from automl_bridge.backends.vertex.client import check_task_inputs

    body = json.loads((GOLDEN / name).read_text())
    check_task_inputs(body["trainingTaskInputs"])
    with pytest.raises(Exception, match="targetColumm"):
        check_task_inputs({**body["trainingTaskInputs"], "targetColumm": "y"})
    assert body["trainingTaskDefinition"] == tr.AUTOML_TABULAR
    assert body["labels"] == body["modelToUpload"]["labels"]


def test_labels_are_legal_gcp_labels() -> None:
    labels = labels_for("vertex", "Run.With:Odd/Chars" + "x" * 80)
    for k, v in labels.items():
        assert len(k) <= 63 and len(v) <= 63
        assert all(ch.islower() or ch.isdigit() or ch in "_-" for ch in k + v)
    assert tr.label_filter(labels).startswith('labels.automl-bridge="1" AND ')


# --- states and results ----------------------------------------------------------------------


@pytest.mark.parametrize(("state", "want", "stopping"), [
    ("PIPELINE_STATE_UNSPECIFIED", RunStatus.PENDING, False),
    ("PIPELINE_STATE_QUEUED", RunStatus.PENDING, False),
    ("PIPELINE_STATE_PENDING", RunStatus.PENDING, False),
    ("PIPELINE_STATE_RUNNING", RunStatus.RUNNING, False),
    ("PIPELINE_STATE_CANCELLING", RunStatus.RUNNING, True),
    ("PIPELINE_STATE_SUCCEEDED", RunStatus.COMPLETED, False),
    ("PIPELINE_STATE_FAILED", RunStatus.FAILED, False),
    ("PIPELINE_STATE_CANCELLED", RunStatus.CANCELLED, False),
    ("PIPELINE_STATE_PAUSED", RunStatus.CANCELLED, False),
    (3, RunStatus.RUNNING, False),
    (5, RunStatus.FAILED, False),
])
def test_pipeline_states(state: object, want: RunStatus, stopping: bool) -> None:
    st = tr.status_of(state)
    assert st.status is want and st.stopping is stopping
    assert st.raw.startswith("PIPELINE_STATE_")


def test_failure_reason_and_unknown_state() -> None:
    st = tr.status_of("PIPELINE_STATE_FAILED", 3, "Weight column cannot be specified")
    assert st.failure_reason == "code 3: Weight column cannot be specified"
    odd = tr.status_of("PIPELINE_STATE_NEW_THING")
    assert odd.status is RunStatus.RUNNING and "unknown" in odd.detail


def test_metrics_mapping_keeps_raw() -> None:
    raw = {"auRoc": 0.91, "auPrc": 0.88, "logLoss": "0.3", "confidenceMetrics": [{}] * 50,
           "confusionMatrix": {"annotationSpecs": [{"displayName": "a"}, {"displayName": "b"}],
                               "rows": [[8, 2], [1, 9]]}}
    assert canonical_metrics(raw) == {"roc_auc": 0.91, "log_loss": 0.3, "accuracy": 0.85}
    kept = raw_metrics(raw)
    assert kept["auPrc"] == 0.88 and kept["confidenceMetrics_count"] == 50
    reg = canonical_metrics({"rootMeanSquaredError": 3.0, "meanAbsoluteError": 2.0,
                             "rSquared": 0.7, "meanAbsolutePercentageError": 12.0})
    assert reg == {"rmse": 3.0, "mae": 2.0, "r2": 0.7, "mse": 9.0}


def test_candidate_from_pipeline_and_evaluation() -> None:
    pipeline = {"name": "projects/p/locations/l/trainingPipelines/222",
                "modelToUpload": {"name": "projects/p/locations/l/models/333"},
                "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:30:00.5Z",
                "trainingTaskInputs": {"predictionType": "regression",
                                       "optimizationObjective": "minimize-rmse",
                                       "trainBudgetMilliNodeHours": 1000}}
    ev = {"name": "projects/p/locations/l/models/333/evaluations/9",
          "metrics": {"rootMeanSquaredError": 1.5, "rSquared": 0.8}}
    c = candidate_from(pipeline, [ev], metric="rmse")
    assert (c.candidate_id, c.score, c.fit_time_s) == ("333", 1.5, 1800.5)
    assert c.extra["raw_metrics"] == {"rootMeanSquaredError": 1.5, "rSquared": 0.8}
    assert c.params["optimizationObjective"] == "minimize-rmse"
    assert math.isnan(candidate_from(pipeline, [ev], metric="mae").score)
    json.dumps(c.to_dict())


def test_cost_from_node_hours() -> None:
    used = training_cost({"trainCostMilliNodeHours": "500"}, budget=1000)
    assert used["usd"] == round(0.5 * TRAINING_USD_PER_NODE_HOUR, 2)
    assert "trainCostMilliNodeHours" in used["basis"] and used["price_table_date"]
    bound = training_cost({}, budget=2000)
    assert bound["usd"] == round(2 * TRAINING_USD_PER_NODE_HOUR, 2)
    assert "upper bound" in bound["basis"]
    assert training_cost(None, budget=None) == {}
