"""Azure tiers 2 and 3: the real azure-ai-ml / azure-storage-blob requests through a fake
azure-core transport (URLs, bodies, uploads), and scripted job lifecycles end to end."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.exceptions import RemoteJobFailedError, UnsupportedOperationError
from automl_bridge.results import CandidateState, RunStatus
from automl_bridge.spec import JobSpec
from automl_bridge.testing.backends import CONTRACT, BackendCase
from automl_bridge.testing.fakes.azure import FakeAzureML

pytest.importorskip("azure.ai.ml")

SPEC = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=900,
               max_trials=3, validation={"method": "cv", "folds": 3})
JOBS_API = "api-version=2024-01-01-preview"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    return pd.DataFrame({"x": x, "z": rng.normal(size=80), "y": (x > 0).astype(int)})


def puts(fake: FakeAzureML, part: str) -> list[str]:
    return [u for m, u in fake.calls if m == "PUT" and part in u]


# --- tier 2: the requests ---------------------------------------------------------------------


def test_submit_uploads_mltable_and_puts_one_job(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    name = handle.info["job"]["job_id"]
    assert name.startswith("ab-r1-")
    # one job PUT to the workspace's jobs collection, at the SDK's api-version
    job_puts = puts(fake, "/jobs/")
    assert job_puts == [f"https://management.azure.com{fake.ws_path}/jobs/{name}?{JOBS_API}"]
    assert fake.created == [name]
    body = fake.jobs[name]["properties"]
    task = body["taskDetails"]
    assert body["jobType"] == "AutoML" and task["taskType"] == "Classification"
    assert body["computeId"] == f"{fake.ws_path}/computes/cpu-cluster"
    assert body["tags"] == {"automl-bridge": "1", "automl-bridge-run": "r1"}
    assert task["primaryMetric"] == "AUCWeighted" and task["targetColumnName"] == "y"
    assert task["limitSettings"]["timeout"] == "PT15M"
    assert task["limitSettings"]["maxTrials"] == 3
    assert task["nCrossValidations"] == {"mode": "Custom", "value": 3}
    uri = task["trainingData"]["uri"]
    assert task["trainingData"]["jobInputType"] == "mltable"
    assert uri.startswith("azureml://datastores/workspaceblobstore/paths/automl-bridge/")
    # the MLTable folder: the CSV as written and an MLTable file naming it
    folder = uri.split("/paths/")[1].rstrip("/")
    csv = fake.blobs[f"azureml-blobstore-fake/{folder}/train.csv"].decode()
    assert csv.splitlines()[0] == "x,z,y" and len(csv.splitlines()) == 81
    mltable = fake.blobs[f"azureml-blobstore-fake/{folder}/MLTable"].decode()
    assert "file: ./train.csv" in mltable and "read_delimited" in mltable
    # the datastore key went to the blob client only
    assert ("POST", f"https://management.azure.com{fake.ws_path}/datastores/"
                    "workspaceblobstore/listSecrets?api-version=2024-10-01-preview") in \
        [(m, u) for m, u in fake.calls]
    assert "ZmFrZS1hY2NvdW50LWtleQ==" not in json.dumps(handle.info)


def test_requests_carry_the_bearer_token_and_no_telemetry(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    seen: list[Any] = []
    original = fake.send

    def spy(request: Any, **kw: Any) -> Any:
        seen.append(request)
        return original(request, **kw)

    fake.send = spy  # type: ignore[method-assign]
    fake.backend(run_id="r1").submit(SPEC, data)
    put = next(r for r in seen if r.method == "PUT" and "/jobs/" in r.url)
    assert put.headers["Authorization"] == "Bearer fake-token"
    assert all("applicationinsights" not in r.url for r in seen)


def test_same_data_is_uploaded_once(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.backend(run_id="r1").submit(SPEC, data)
    n = len(fake.uploads)
    fake.backend(run_id="r2").submit(SPEC, data)
    assert len(fake.uploads) == n == 2 and len(fake.created) == 2


def test_large_csv_goes_up_in_blocks(data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from automl_bridge.backends.azure import staging

    monkeypatch.setattr(staging, "UPLOAD_BLOCK_BYTES", 1024)
    fake = FakeAzureML()
    big = pd.concat([data] * 10, ignore_index=True)
    fake.backend(run_id="r1").submit(SPEC, big)
    blocks = [u for m, u in fake.calls if m == "PUT" and "comp=block&" in u]
    assert len(blocks) >= 5
    csv = next(v for k, v in fake.blobs.items() if k.endswith("train.csv"))
    assert len(csv.decode().splitlines()) == len(big) + 1


def test_existing_data_asset_is_used_without_upload(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    result = fake.backend(run_id="r1", data_asset="azureml:bikes:3").run(SPEC, data)
    assert fake.uploads == []
    body = fake.jobs[fake.created[0]]["properties"]["taskDetails"]["trainingData"]
    assert body["uri"].endswith("/data/bikes/versions/3")
    assert any("azureml:bikes:3" in w for w in result.warnings)


def test_serverless_job_body(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.backend(run_id="r1", instance_type="Standard_D4s_v3", instance_count=2).submit(
        SPEC, data)
    props = fake.jobs[fake.created[0]]["properties"]
    assert "computeId" not in props or props["computeId"] is None
    assert props["resources"]["instanceType"] == "Standard_D4s_v3"
    assert props["resources"]["instanceCount"] == 2


# --- tier 3: lifecycles -----------------------------------------------------------------------


def test_completed_run_gives_candidates_best_model_and_cost(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    result = fake.backend(run_id="r1").run(SPEC, data)
    assert result.status is RunStatus.COMPLETED and result.backend == "azure"
    name = fake.created[0]
    assert [c.candidate_id for c in result.candidates] == [f"{name}_{i}" for i in range(3)]
    assert result.best is not None and result.best.candidate_id == f"{name}_2"
    assert result.best.family == "VotingEnsemble" and result.best.score == 0.93
    assert result.best.metrics["accuracy"] == 0.9
    assert result.best.extra["raw_metrics"]["AUC_weighted"] == 0.93
    assert result.extra["model_uri"] == \
        f"azureml://jobs/{name}_2/outputs/artifacts/paths/outputs/mlflow-model/"
    cost = result.extra["cost"]
    assert cost["usd"] == pytest.approx(0.5 * 0.293) and cost["price_table_date"]
    assert result.started_at == "2026-01-01T00:00:00Z"
    assert fake.cancelled == []


def test_without_mlflow_candidates_keep_the_primary_metric(data: pd.DataFrame) -> None:
    from automl_bridge.backends.azure.adapter import _mlflow_missing

    if not _mlflow_missing():
        pytest.skip("MLflow is installed here")
    fake = FakeAzureML()
    result = fake.backend(run_id="r1", metrics_reader=None).run(SPEC, data)
    assert any("automl-bridge[azure-metrics]" in w for w in result.warnings)
    assert [c.score for c in result.candidates] == [0.91, 0.89, 0.93]
    assert result.candidates[0].metrics == {"roc_auc": 0.91}


def test_metrics_reader_failure_is_a_warning(data: pd.DataFrame) -> None:
    def broken(job: str, children: list[str]) -> dict[str, dict[str, float]]:
        raise RuntimeError("mlflow said no, token=abc123")

    result = FakeAzureML().backend(run_id="r1", metrics_reader=broken).run(SPEC, data)
    warning = next(w for w in result.warnings if "metrics" in w)
    assert "abc123" not in warning and result.best is not None


def test_failed_job_raises_with_its_reason(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running", "Failed"), failure_message="Target column has NaN")
    with pytest.raises(RemoteJobFailedError, match="Target column has NaN") as info:
        fake.backend(run_id="r1").run(SPEC, data)
    assert "Target column has NaN" in str(info.value.reason)
    assert fake.cancelled == []


def test_failed_child_is_a_failed_candidate(data: pd.DataFrame) -> None:
    trials = ({"algorithm": "KNN", "score": 0.7}, {"algorithm": "SVM", "score": float("nan"),
                                                   "status": "Failed"})
    result = FakeAzureML(trials=trials).backend(run_id="r1").run(SPEC, data)
    assert [c.state for c in result.candidates] == [CandidateState.COMPLETE,
                                                    CandidateState.FAILED]
    assert result.best is not None and result.best.family == "KNN"


def test_cancel_requests_then_cancelled_and_is_idempotent(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",))
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    backend.cancel(handle)
    name = fake.created[0]
    assert fake.cancelled == [name]
    cancel_posts = [u for m, u in fake.calls if m == "POST" and u.split("?")[0].endswith(
        "/cancel")]
    assert cancel_posts == [f"https://management.azure.com{fake.ws_path}/jobs/{name}/cancel"
                            "?api-version=2024-01-01-preview"] or len(cancel_posts) == 1
    state = backend.remote_status(handle)
    assert state.raw == "Canceled" and state.status is RunStatus.CANCELLED
    backend.cancel(handle)  # ended: no second request
    assert fake.cancelled == [name]


def test_cancel_while_cancel_requested_sends_nothing(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",), cancel_script=("CancelRequested",))
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    backend.cancel(handle)
    state = backend.remote_status(handle)
    assert state.stopping and state.status is RunStatus.RUNNING
    backend.cancel(handle)
    assert len(fake.cancelled) == 1


def test_cancel_racing_completion_returns_the_end_state(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running", "Completed"))
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    # the status check says Running, the job completes before the cancel POST arrives
    fake.fail(400, method="POST", contains="/cancel", code="UserError",
              message="Cannot cancel: the job is Completed.")
    state = backend.adapter.cancel(backend_job(handle))
    assert state.status is RunStatus.COMPLETED


def backend_job(handle: Any) -> Any:
    from automl_bridge.backends.cloud.adapter import RemoteJob

    return RemoteJob.from_info(handle.info["job"])


def test_resubmit_attaches_to_the_existing_job(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",))
    first = fake.backend(run_id="r1").submit(SPEC, data)
    second = fake.backend(run_id="r1").submit(SPEC, data)
    assert first.info["job"]["job_id"] == second.info["job"]["job_id"]
    assert len(fake.created) == 1 and second.info["job"]["info"]["attached"] is True


def test_create_conflict_attaches(data: pd.DataFrame) -> None:
    """Another process created the job between our GET and our PUT."""
    fake = FakeAzureML(script=("Running",))
    backend = fake.backend(run_id="r1")
    fake.fail(404, method="GET", contains="/jobs/ab-r1-", times=1)
    original = fake._create

    def racing(name: str, body: dict[str, Any]) -> Any:
        fake.add_job(name, tags={"automl-bridge": "1", "automl-bridge-run": "r1"})
        return original(name, body)  # 409: it exists now

    fake._create = racing  # type: ignore[method-assign]
    handle = backend.submit(SPEC, data)
    assert handle.info["job"]["info"]["attached"] is True and fake.created == []


def test_interrupt_while_polling_stops_the_job(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",))
    backend = fake.backend(run_id="r1")
    calls_to_submit = len(fake.calls)
    backend.submit(SPEC, data)
    n = len(fake.calls) - calls_to_submit
    fake2 = FakeAzureML(script=("Running",), interrupt_at=n + 2)
    with pytest.raises(KeyboardInterrupt) as info:
        fake2.backend(run_id="r1").run(SPEC, data)
    assert fake2.cancelled == fake2.created and len(fake2.created) == 1
    assert any("asked to stop" in note for note in getattr(info.value, "__notes__", []))


@pytest.mark.parametrize("k", range(1, 12))  # every request of a submit and the first polls
def test_interrupt_anywhere_leaves_no_running_job(data: pd.DataFrame, k: int) -> None:
    fake = FakeAzureML(script=("Running",), interrupt_at=k)
    with contextlib.suppress(KeyboardInterrupt):
        fake.backend(run_id="r1").run(SPEC, data.head(40))
    assert fake.cancelled == fake.created  # every job created was asked to stop
    assert all(j["properties"]["status"] != "Running" for j in fake.jobs.values())


def test_list_ours_and_cleanup(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.add_job("someone-elses", status="Running")
    fake.add_job("ab-old-done", status="Completed", tags={"automl-bridge": "1"})
    fake.add_job("ab-old-running", status="Running",
                 tags={"automl-bridge": "1", "automl-bridge-run": "old"})
    backend = fake.backend()
    found = backend.cleanup(dry_run=True)
    assert [j.job_id for j in found] == ["ab-old-running"] and found[0].run_id == "old"
    assert fake.cancelled == []
    backend.cleanup()
    assert fake.cancelled == ["ab-old-running"]
    everything = backend.adapter.list_ours(active_only=False)
    assert {j.job_id for j in everything} == {"ab-old-done", "ab-old-running"}
    lists = [u for m, u in fake.calls if m == "GET" and u.split("?")[0].endswith("/jobs")]
    assert lists and all("tag=automl-bridge" in u and "jobType=AutoML" in u for u in lists)


def test_predict_is_refused_with_the_way_out(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    result = fake.backend(run_id="r1").run(SPEC, data)
    with pytest.raises(UnsupportedOperationError, match="endpoint"):
        result.best.model.predict(data.drop(columns="y"))  # type: ignore[union-attr]


def test_refusal_creates_nothing(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    with pytest.raises(Exception, match="log_loss"):
        fake.backend(run_id="r1").run(SPEC.replace(metric="log_loss"), data)
    assert fake.calls == []


# --- the shared backend contract over the fake ------------------------------------------------


def _azure(outcome: str, strict: bool) -> Any:
    script = {"completed": ("NotStarted", "Running", "Completed"),
              "failed": ("Running", "Failed"), "running": ("Running",)}[outcome]
    fake = FakeAzureML(script=script, failure_message="the data has no rows left")
    return fake.backend(strict=strict)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_contract(check: Any, data: pd.DataFrame) -> None:
    case = BackendCase("azure", make=_azure, unsupported={"search": "tpe"},
                       reason="the data has no rows left",
                       created=lambda b: len(b.adapter.settings.transport.created))
    check(case, data, SPEC.replace(metric="accuracy", validation="holdout"))
