"""Tier 4 of the Vertex backend: HTTP errors injected below the SDK, retries, our error tree.

The fake answers with the status and JSON error body Vertex sends; the gapic REST transport
turns it into its ``google.api_core`` exception, our retry runs (Vertex has none on these
services), and the adapter maps what is left to the automl_bridge errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("google.cloud.aiplatform")
pytest.importorskip("responses")

from automl_bridge.backends.cloud.adapter import RemoteJob
from automl_bridge.backends.vertex import VertexAdapter, VertexBackend
from automl_bridge.backends.vertex.client import is_transient, map_error
from automl_bridge.exceptions import (
    CloudAuthError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
)
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec
from automl_bridge.testing.fakes.vertex import FakeVertex

SPEC = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=3600)


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"x": rng.normal(size=1100).round(3),
                         "y": rng.choice(["a", "b"], 1100)})


def adapter(fake: FakeVertex, sleeps: list[float] | None = None, **kw: object) -> VertexAdapter:
    opts = {**fake.options(), "staging_bucket": "gs://stage-bkt"}
    if sleeps is not None:
        opts["retry_sleep"] = sleeps.append
    opts.update(kw)
    return VertexAdapter(**opts)  # type: ignore[arg-type]


def running(fake: FakeVertex) -> RemoteJob:
    name = f"{fake.parent}/trainingPipelines/7"
    fake.pipelines[name] = {"name": name, "state": "PIPELINE_STATE_RUNNING", "labels": {}}
    fake._steps[name] = 0
    return RemoteJob("vertex", name, run_id="r")


def gets(fake: FakeVertex, job: RemoteJob) -> int:
    return sum(1 for m, p in fake.calls if m == "GET" and p.endswith(job.job_id))


def test_throttling_then_success_is_retried_with_backoff() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    sleeps: list[float] = []
    with fake.serve():
        a = adapter(fake, sleeps)
        job = running(fake)
        fake.fail("GET", "trainingPipelines/7", 429, "Too many requests, try later", times=2)
        assert a.status(job).status is RunStatus.RUNNING
    assert gets(fake, job) == 3 and len(sleeps) == 2


def test_unavailable_until_the_attempts_run_out() -> None:
    fake = FakeVertex()
    sleeps: list[float] = []
    with fake.serve():
        a = adapter(fake, sleeps, retry_attempts=4)
        job = running(fake)
        fake.fail("GET", "trainingPipelines/7", 503, "The service is currently unavailable",
                  times=10)
        with pytest.raises(CloudTransientError, match="get the training pipeline") as err:
            a.status(job)
    assert gets(fake, job) == 4 and len(sleeps) == 3
    assert err.value.__cause__ is None and "ServiceUnavailable" in err.value.sdk_error


def test_quota_is_not_retried() -> None:
    fake = FakeVertex()
    with fake.serve():
        b = VertexBackend(staging_bucket="gs://stage-bkt", run_id="q", sleep=lambda s: None,
                          **fake.options())
        fake.fail("POST", "/trainingPipelines", 429, "Quota exceeded for "
                  "aiplatform.googleapis.com/custom_model_training_cpus", times=5)
        with pytest.raises(CloudQuotaError, match="custom_model_training_cpus"):
            b.submit(SPEC, frame())
    assert sum(1 for m, p in fake.calls if m == "POST" and p.endswith("/trainingPipelines")) == 1
    assert fake.created == []


def test_per_minute_quota_is_throttling() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        a = adapter(fake)
        job = running(fake)
        fake.fail("GET", "trainingPipelines/7", 429, "Quota exceeded for quota metric 'Read "
                  "requests' and limit 'Read requests per minute'", times=1)
        assert a.status(job).status is RunStatus.RUNNING
    assert gets(fake, job) == 2


@pytest.mark.parametrize(("status", "error", "builtin"), [
    (401, CloudAuthError, PermissionError),
    (403, CloudAuthError, PermissionError),
    (404, CloudNotFoundError, LookupError),
    (400, CloudRequestError, ValueError),
])
def test_errors_map_to_our_tree(status: int, error: type, builtin: type) -> None:
    fake = FakeVertex()
    with fake.serve():
        a = adapter(fake)
        job = running(fake)
        fake.fail("GET", "trainingPipelines/7", status, "Permission 'aiplatform."
                  "trainingPipelines.get' denied; Authorization: Bearer ya29.secret-token")
        with pytest.raises(error) as err:
            a.status(job)
    assert isinstance(err.value, builtin)
    assert "ya29.secret-token" not in str(err.value)
    assert "Vertex AI could not get the training pipeline" in str(err.value)
    assert gets(fake, job) == 1


def test_create_that_landed_despite_an_error_is_not_repeated() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        b = VertexBackend(staging_bucket="gs://stage-bkt", run_id="once",
                          sleep=lambda s: None, **fake.options())
        fake.fail("POST", "/trainingPipelines", 503, "backend error", after=True)
        handle = b.submit(SPEC, frame())
    assert len(fake.created) == 1
    assert handle.info["job"]["job_id"] == fake.created[0]


def test_create_that_did_not_land_is_retried_once() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        b = VertexBackend(staging_bucket="gs://stage-bkt", run_id="twice",
                          sleep=lambda s: None, **fake.options())
        fake.fail("POST", "/trainingPipelines", 503, "backend error")
        fake.fail("POST", "/datasets", 429, "slow down")
        fake.fail("POST", "/upload/storage", 503, "try again")
        b.submit(SPEC, frame())
    posts = [p for m, p in fake.calls if m == "POST" and p.endswith("/trainingPipelines")]
    assert len(posts) == 2 and len(fake.created) == 1 and len(fake.datasets) == 1


def test_cancel_of_a_finished_pipeline_is_quietly_idempotent() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        a = adapter(fake)
        job = running(fake)
        fake.fail("POST", ":cancel", 400, "Cannot cancel: pipeline already finished")
        st = a.cancel(job)
    assert st.status is RunStatus.RUNNING  # the fake still says running; no error raised


def test_missing_credentials_are_an_auth_error(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    fake = FakeVertex()
    with fake.serve():
        a = adapter(fake, credentials=None)
        with pytest.raises(CloudAuthError, match="application-default login"):
            a.status(RemoteJob("vertex", f"{fake.parent}/trainingPipelines/1"))


def test_grpc_exception_types_map_the_same_way() -> None:
    from google.api_core import exceptions as gx

    assert is_transient(gx.ResourceExhausted("Resource has been exhausted (e.g. check quota)"))\
        is False
    assert is_transient(gx.ResourceExhausted("too many concurrent requests"))
    assert is_transient(gx.ServiceUnavailable("unavailable"))
    assert not is_transient(gx.PermissionDenied("no"))
    assert isinstance(map_error(gx.ResourceExhausted("Quota exceeded"), "x"), CloudQuotaError)
    assert isinstance(map_error(gx.FailedPrecondition("state"), "x"), CloudRequestError)
    assert isinstance(map_error(gx.DeadlineExceeded("slow"), "x"), CloudTransientError)
    from google.auth import exceptions as ga

    assert is_transient(ga.TransportError("connection reset"))
    assert isinstance(map_error(ga.TransportError("reset"), "x"), CloudTransientError)
    assert isinstance(map_error(ga.RefreshError("invalid_grant"), "x"), CloudAuthError)
    plain = ValueError("ours")
    assert map_error(plain, "x") is plain
