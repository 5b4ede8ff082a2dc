"""Azure results: the leaderboard from the parent's tags and the child runs, the optional
MLflow metrics reader, and the cost estimate (pure functions, plus MLflow faked in
sys.modules)."""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import pytest

from automl_bridge.backends.azure.results import (
    best_child,
    build_candidates,
    estimate_cost,
    trials_from_tags,
)
from automl_bridge.results import CandidateState


def test_tag_lists_continue_across_chunks() -> None:
    tags = {"iteration_000": "0;1", "iteration_001": "2", "run_algorithm_000": "A;B",
            "run_algorithm_001": "C", "score_000": "0.1;0.2", "score_001": "0.3",
            "fit_time_000": "1;2", "fit_time_001": "3", "score_threshold": "ignored"}
    trials = trials_from_tags(tags)
    assert [t["algorithm"] for t in trials] == ["A", "B", "C"]
    assert [t["score"] for t in trials] == [0.1, 0.2, 0.3]
    assert [t["iteration"] for t in trials] == [0, 1, 2]


def test_candidates_merge_tags_children_and_metrics() -> None:
    tags = {"iteration_000": "1;0", "run_algorithm_000": "RandomForest;LightGBM",
            "run_preprocessor_000": "MaxAbsScaler;", "score_000": "0.2;0.1",
            "fit_time_000": "2.5;1.0"}
    children = [
        {"name": "job_setup", "status": "Completed"},
        {"name": "job_0", "status": "Completed", "properties": {}},
        {"name": "job_1", "status": "Completed"},
        {"name": "job_2", "status": "Running", "properties": {"run_algorithm": "KNN"},
         "created_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:01:00Z"},
    ]
    metrics = {"job_0": {"normalized_root_mean_squared_error": 0.1,
                         "root_mean_squared_error": 3.0, "r2_score": 0.5}}
    got = build_candidates("job", tags=tags, children=children, metrics=metrics,
                           primary="normalized_root_mean_squared_error", metric="rmse",
                           task="regression", n_classes=0)
    assert [c.candidate_id for c in got] == ["job_0", "job_1", "job_2"]
    first, second, third = got
    assert first.family == "LightGBM" and first.score == 3.0 and first.metrics["mse"] == 9.0
    assert first.params == {"algorithm": "LightGBM", "preprocessor": ""}
    assert second.family == "RandomForest" and math.isnan(second.score)  # NRMSE only
    assert second.extra["raw_metrics"] == {"normalized_root_mean_squared_error": 0.2}
    assert second.fit_time_s == 2.5
    assert third.family == "KNN" and third.state is CandidateState.RUNNING
    assert third.fit_time_s == 60.0


def test_best_child_from_tags_or_properties() -> None:
    assert best_child({"automl_best_child_run_id": "j_3"}, {}) == "j_3"
    assert best_child({}, {"best_child_run_id": "j_1"}) == "j_1"
    assert best_child({}, {}) is None


def test_cost_estimate() -> None:
    cost, note = estimate_cost(started="2026-01-01T00:00:00Z", ended="2026-01-01T02:00:00Z",
                               nodes=2, vm_size="Standard_DS3_v2", price_per_node_hour=None)
    assert note is None and cost["usd"] == pytest.approx(2 * 2 * 0.293)
    assert "Standard_DS3_v2" in cost["basis"] and cost["price_table_date"] == "2025-01-01"
    cost, note = estimate_cost(started="2026-01-01T00:00:00Z", ended="2026-01-01T01:00:00Z",
                               nodes=1, vm_size="Standard_XYZ", price_per_node_hour=None)
    assert cost == {} and note is not None and "price_per_node_hour" in note
    cost, _ = estimate_cost(started="2026-01-01T00:00:00Z", ended="2026-01-01T01:00:00Z",
                            nodes=1, vm_size="Standard_XYZ", price_per_node_hour=2.0)
    assert cost["usd"] == 2.0
    assert estimate_cost(started="", ended="", nodes=1, vm_size=None,
                         price_per_node_hour=1.0)[0] == {}


def test_mlflow_reader_with_a_stand_in_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_bridge.backends.azure.mlflow_metrics import make_reader

    uris: list[str] = []

    class Client:
        def __init__(self, tracking_uri: str) -> None:
            uris.append(tracking_uri)

        def get_run(self, name: str) -> Any:
            data = types.SimpleNamespace(metrics={"accuracy": 0.5, "log_loss": 0.7})
            return types.SimpleNamespace(data=data)

    tracking = types.ModuleType("mlflow.tracking")
    tracking.MlflowClient = Client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow", types.ModuleType("mlflow"))
    monkeypatch.setitem(sys.modules, "mlflow.tracking", tracking)
    monkeypatch.setitem(sys.modules, "azureml", types.ModuleType("azureml"))
    monkeypatch.setitem(sys.modules, "azureml.mlflow", types.ModuleType("azureml.mlflow"))
    workspace = types.SimpleNamespace(mlflow_tracking_uri="azureml://eastus.api.azureml.ms/x")
    ml = types.SimpleNamespace(workspace_name="ws1",
                               workspaces=types.SimpleNamespace(get=lambda name: workspace))
    reader = make_reader(ml)
    assert reader is not None
    assert reader("job", ["job_0", "job_1"]) == {"job_0": {"accuracy": 0.5, "log_loss": 0.7},
                                                 "job_1": {"accuracy": 0.5, "log_loss": 0.7}}
    assert uris == ["azureml://eastus.api.azureml.ms/x"]


def test_mlflow_required_but_missing_is_refused_before_upload() -> None:
    pytest.importorskip("azure.ai.ml")
    from automl_bridge.backends.azure.adapter import _mlflow_missing
    from automl_bridge.backends.cloud.adapter import TrainingTable
    from automl_bridge.exceptions import BackendNotInstalledError
    from automl_bridge.spec import JobSpec
    from automl_bridge.testing.fakes.azure import FakeAzureML

    if not _mlflow_missing():
        pytest.skip("MLflow is installed here")
    backend = FakeAzureML().backend(metrics="mlflow", metrics_reader=None)
    table = TrainingTable(path="t.csv", target="y", task="classification", metric="accuracy",
                          n_rows=10, columns=("x", "y"), classes=(0, 1))
    spec = JobSpec(target="y", task="classification", metric="accuracy", time_budget_s=600)
    with pytest.raises(BackendNotInstalledError, match="azure-metrics"):
        backend.adapter.validate(spec, table)
