"""Tier 2 of the Vertex backend: request shape through the real SDK.

The adapter runs with the gapic REST transport and anonymous credentials; ``responses`` sees the
exact URLs and JSON bodies the SDK sends (its real proto -> JSON serialisation) and answers with
JSON the SDK really parses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("google.cloud.aiplatform")
responses = pytest.importorskip("responses")

from google.auth.credentials import AnonymousCredentials  # noqa: E402

from automl_bridge.backends.cloud.adapter import JobIdentity, RemoteJob, TrainingTable  # noqa: E402
from automl_bridge.backends.cloud.naming import labels_for  # noqa: E402
from automl_bridge.backends.vertex import VertexAdapter  # noqa: E402
from automl_bridge.results import RunStatus  # noqa: E402
from automl_bridge.spec import JobSpec  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "vertex"
RUN = "20261127-101500-ab12cd"
HOST = "https://us-central1-aiplatform.googleapis.com"
PARENT = "projects/my-project/locations/us-central1"
BASE = f"{HOST}/v1/{PARENT}"
TP = f"{PARENT}/trainingPipelines/222"
MODEL = f"{PARENT}/models/333"


@pytest.fixture
def table(tmp_path: Path) -> TrainingTable:
    cols = ("age", "income", "city", "joined", "notes", "member", "y")
    kinds = {"age": "numeric", "income": "numeric", "city": "categorical", "joined": "datetime",
             "notes": "text", "member": "boolean", "y": "target"}
    path = tmp_path / "train.csv"
    path.write_text(",".join(cols) + "\n" + "1,2,a,2024-01-01,hi there,True,c1\n" * 3)
    return TrainingTable(path=str(path), target="y", task="classification", metric="roc_auc",
                         n_rows=5000, columns=cols, dtypes=kinds, classes=("c0", "c1"),
                         sha256="ab" * 32)


@pytest.fixture
def identity() -> JobIdentity:
    return JobIdentity(run_id=RUN, data_sha256="ab" * 32, name=f"ab-{RUN}-abababab",
                       labels=labels_for("vertex", RUN))


def adapter(**kw: object) -> VertexAdapter:
    opts: dict[str, object] = {"project": "my-project", "location": "us-central1",
                               "staging_bucket": "gs://stage-bkt/pre",
                               "credentials": AnonymousCredentials(), "api_transport": "rest",
                               "retry_sleep": lambda s: None}
    opts.update(kw)
    return VertexAdapter(**opts)  # type: ignore[arg-type]


def ours(calls: Any) -> list[Any]:
    """The requests of this test: a request for the hub's fakes ("fake-bucket-N",
    "fake-project-N") comes from an earlier test's SDK thread that outlived it (seen once in a
    CI run, between this test's requests), not from the adapter under test."""
    return [c for c in calls if "/fake-bucket-" not in c.request.url
            and "/fake-project-" not in c.request.url]


def query(call: object) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)  # type: ignore[attr-defined]


def test_stage_and_submit_send_the_golden_requests(table: TrainingTable,
                                                   identity: JobIdentity) -> None:
    a = adapter()
    spec = JobSpec(target="y", metric="roc_auc", time_budget_s=3600)
    dataset = {"name": f"{PARENT}/datasets/111", "displayName": identity.name,
               "labels": identity.labels,
               "metadata": {"inputConfig": {"gcsSource": {
                   "uri": [f"gs://stage-bkt/pre/automl-bridge/{identity.name}/train.csv"]}}}}
    with responses.RequestsMock() as rs:
        rs.add(responses.GET, f"{BASE}/datasets", json={})
        rs.add(responses.POST, "https://storage.googleapis.com/upload/storage/v1/b/stage-bkt/o",
               json={"bucket": "stage-bkt", "name": "x", "generation": "1"})
        rs.add(responses.POST, f"{BASE}/datasets", json={
            "name": f"{PARENT}/datasets/111/operations/5", "done": True,
            "response": {"@type": "type.googleapis.com/google.cloud.aiplatform.v1.Dataset",
                         **dataset}})
        rs.add(responses.GET, f"{BASE}/trainingPipelines", json={})
        rs.add(responses.POST, f"{BASE}/trainingPipelines",
               json={"name": TP, "displayName": identity.name, "state": 2})
        staged = a.stage(table, identity)
        job = a.submit(spec, table, staged, identity)
        # bucket lookups are the SDK's own
        calls = [c for c in ours(rs.calls) if "storage/v1/b/stage-bkt?" not in c.request.url]

    assert [(c.request.method, urlparse(c.request.url).path) for c in calls] == [
        ("GET", f"/v1/{PARENT}/datasets"),
        ("POST", "/upload/storage/v1/b/stage-bkt/o"),
        ("POST", f"/v1/{PARENT}/datasets"),
        ("GET", f"/v1/{PARENT}/trainingPipelines"),
        ("POST", f"/v1/{PARENT}/trainingPipelines"),
    ]
    run_filter = f'labels.automl-bridge-run="{RUN}"'
    assert query(calls[0])["filter"] == [run_filter]
    assert query(calls[3])["filter"] == [run_filter]
    assert query(calls[4])["$alt"] == ["json;enum-encoding=int"]
    assert query(calls[1])["uploadType"] == ["multipart"]
    upload = calls[1].request.body
    assert f'"name": "pre/automl-bridge/{identity.name}/train.csv"'.encode() in upload
    assert b"1,2,a,2024-01-01,hi there,True,c1" in upload
    assert json.loads(calls[2].request.body) == {
        "displayName": identity.name,
        "labels": identity.labels,
        "metadataSchemaUri": "gs://google-cloud-aiplatform/schema/dataset/metadata/"
                             "tabular_1.0.0.yaml",
        "metadata": dataset["metadata"]}
    golden = json.loads((GOLDEN / "pipeline_classification.json").read_text())
    assert json.loads(calls[4].request.body) == golden
    assert all("Authorization" not in c.request.headers for c in calls)
    assert (staged.info["dataset_id"], job.job_id, job.run_id) == ("111", TP, RUN)
    assert job.info["attached"] is False


def test_submit_attaches_to_the_labelled_pipeline(table: TrainingTable,
                                                  identity: JobIdentity) -> None:
    from automl_bridge.backends.cloud.adapter import StagedData

    a = adapter()
    spec = JobSpec(target="y", metric="roc_auc", time_budget_s=3600)
    other = {"name": f"{PARENT}/trainingPipelines/1", "displayName": "ab-other-run",
             "labels": identity.labels, "state": 3}
    mine = {"name": TP, "displayName": identity.name, "labels": identity.labels, "state": 3}
    with responses.RequestsMock() as rs:
        rs.add(responses.GET, f"{BASE}/trainingPipelines",
               json={"trainingPipelines": [other, mine]})
        job = a.submit(spec, table, StagedData("gs://x", {"dataset_id": "111"}), identity)
        assert len(ours(rs.calls)) == 1  # no create
    assert job.job_id == TP and job.info["attached"] is True


def test_status_cancel_collect_urls() -> None:
    a = adapter()
    job = RemoteJob("vertex", TP, run_id=RUN)
    done = {"name": TP, "state": "PIPELINE_STATE_SUCCEEDED", "modelToUpload": {"name": MODEL},
            "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T01:00:00Z",
            "trainingTaskInputs": {"predictionType": "classification",
                                   "optimizationObjective": "maximize-au-roc",
                                   "trainBudgetMilliNodeHours": 1000},
            "trainingTaskMetadata": {"trainCostMilliNodeHours": "640"}}
    with responses.RequestsMock() as rs:
        rs.add(responses.GET, f"{HOST}/v1/{TP}", json={"name": TP, "state": 3})
        rs.add(responses.GET, f"{HOST}/v1/{TP}", json={"name": TP, "state": 3})
        rs.add(responses.POST, f"{HOST}/v1/{TP}:cancel", json={})
        rs.add(responses.GET, f"{HOST}/v1/{TP}", json={"name": TP, "state": 6})
        assert a.status(job).status is RunStatus.RUNNING
        st = a.cancel(job)
        assert st.stopping and st.raw == "PIPELINE_STATE_CANCELLING"
        assert [c.request.method for c in ours(rs.calls)] == ["GET", "GET", "POST", "GET"]
        assert ours(rs.calls)[2].request.body in (None, b"", "", b"{}", "{}")
    spec = JobSpec(target="y", metric="roc_auc", time_budget_s=3600)
    t = TrainingTable(path="x.csv", target="y", task="classification", metric="roc_auc",
                      n_rows=5000, columns=("x", "y"), classes=("a", "b"))
    with responses.RequestsMock() as rs:
        rs.add(responses.GET, f"{HOST}/v1/{TP}", json=done)
        rs.add(responses.GET, f"{HOST}/v1/{MODEL}/evaluations", json={"modelEvaluations": [
            {"name": f"{MODEL}/evaluations/9", "metrics": {"auRoc": 0.9, "logLoss": 0.2}}]})
        got = a.collect(job, spec, t)
    assert got.model_uri == MODEL and got.best_id == "333"
    assert got.candidates[0].score == 0.9
    assert got.cost["usd"] == round(0.64 * 21.252, 2)
    assert got.started_at == "2026-01-01T00:00:00Z"


def test_list_ours_filters_on_the_mark_label() -> None:
    a = adapter()
    items = [{"name": f"{PARENT}/trainingPipelines/{i}", "state": s,
              "labels": {"automl-bridge": "1", "automl-bridge-run": f"r{i}"}}
             for i, s in enumerate([3, 4, 6, 2])]
    with responses.RequestsMock() as rs:
        rs.add(responses.GET, f"{BASE}/trainingPipelines", json={"trainingPipelines": items})
        active = a.list_ours()
        everything = a.list_ours(active_only=False)
        assert query(ours(rs.calls)[0])["filter"] == ['labels.automl-bridge="1"']
    assert [j.run_id for j in active] == ["r0", "r2", "r3"]
    assert len(everything) == 4
