"""Azure tier 4: failures injected below the SDK, so azure-core's own retry policy runs, and
each outcome mapped to the automl_bridge error tree; no secret in any message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.exceptions import (
    CloudAuthError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
)
from automl_bridge.spec import JobSpec
from automl_bridge.testing.fakes.azure import FakeAzureML

pytest.importorskip("azure.ai.ml")

SPEC = JobSpec(target="y", task="classification", metric="accuracy", time_budget_s=900)
KEY = "ZmFrZS1hY2NvdW50LWtleQ=="


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    return pd.DataFrame({"x": x, "y": (x > 0).astype(int)})


def job_puts(fake: FakeAzureML) -> int:
    return sum(1 for m, u in fake.calls if m == "PUT" and "/jobs/" in u)


@pytest.mark.parametrize(("status", "retry_after"), [(429, "0"), (429, None), (503, "0"),
                                                     (503, None), (500, None), (408, None)])
def test_throttling_and_server_errors_are_retried_by_azure_core(
        data: pd.DataFrame, status: int, retry_after: str | None) -> None:
    fake = FakeAzureML(script=("Running",))
    fake.fail(status, method="PUT", contains="/jobs/", retry_after=retry_after,
              code="TooManyRequests", message="slow down")
    handle = fake.backend(run_id="r1").submit(SPEC, data)
    assert job_puts(fake) == 2 and fake.created == [handle.info["job"]["job_id"]]


def test_persistent_throttling_is_transient_after_the_retries(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.fail(429, method="PUT", contains="/jobs/", times=100, retry_after="0",
              code="TooManyRequests", message="Rate limit exceeded")
    with pytest.raises(CloudTransientError, match="429"):
        fake.backend(run_id="r1", retry_total=2).submit(SPEC, data)
    assert job_puts(fake) == 3


def test_quota_text_is_a_quota_error(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.fail(429, method="PUT", contains="/jobs/", times=100, retry_after="0",
              code="QuotaExceeded", message="Operation would exceed the core quota for "
                                            "standardDSv2Family")
    with pytest.raises(CloudQuotaError, match="quota"):
        fake.backend(run_id="r1", retry_total=1).submit(SPEC, data)


@pytest.mark.parametrize(("status", "error"), [
    (400, CloudRequestError), (401, CloudAuthError), (403, CloudAuthError),
    (404, CloudNotFoundError), (409, CloudRequestError)])
def test_client_errors_fail_at_once_with_our_type(data: pd.DataFrame, status: int,
                                                  error: type[Exception]) -> None:
    fake = FakeAzureML()
    fake.fail(status, method="PUT", contains="/jobs/", times=5, code="UserError",
              message="The compute target cpu-cluster is not valid")
    with pytest.raises(error) as info:
        fake.backend(run_id="r1").submit(SPEC, data)
    assert job_puts(fake) == 1  # no retry without Retry-After
    assert info.value.__cause__ is None  # no SDK text in the chain; its type is kept
    assert info.value.sdk_error.startswith("azure.core.exceptions.")
    assert "create the AutoML job" in str(info.value)


def test_status_of_a_missing_job_is_not_found(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",))
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    fake.jobs.clear()
    with pytest.raises(CloudNotFoundError, match="not found"):
        backend.status(handle)


def test_cancel_post_is_retried_on_503(data: pd.DataFrame) -> None:
    fake = FakeAzureML(script=("Running",))
    backend = fake.backend(run_id="r1")
    handle = backend.submit(SPEC, data)
    fake.fail(503, method="POST", contains="/cancel")
    backend.cancel(handle)
    posts = [u for m, u in fake.calls if m == "POST" and "/cancel" in u]
    assert len(posts) == 2 and fake.cancelled == fake.created


def test_credential_failure_is_an_auth_error(data: pd.DataFrame) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class NoLogin:
        def get_token(self, *scopes: str, **kw: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed: client_secret="
                                            "s3cr3t-value is expired")

    fake = FakeAzureML()
    with pytest.raises(CloudAuthError, match="az login") as info:
        fake.backend(run_id="r1", credential=NoLogin()).submit(SPEC, data)
    assert "s3cr3t-value" not in str(info.value)


def test_blob_errors_hide_the_account_key_and_sas(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    fake.fail(403, method="PUT", contains="blob.core.windows.net", times=5,
              code="AuthorizationFailure",
              message=f"denied for https://x.blob.core.windows.net/c/b?sv=2021&sig=abcdef "
                      f"AccountKey={KEY}")
    with pytest.raises(CloudAuthError) as info:
        fake.backend(run_id="r1").submit(SPEC, data)
    text = str(info.value)
    assert KEY not in text and "sig=abcdef" not in text
    assert fake.created == []


def test_no_secret_reaches_the_result(data: pd.DataFrame) -> None:
    fake = FakeAzureML()
    result = fake.backend(run_id="r1").run(SPEC, data)
    text = json.dumps(result.to_dict())
    assert KEY not in text and "fake-token" not in text


def test_unmapped_python_errors_pass_through() -> None:
    from automl_bridge.backends.azure.client import call

    with pytest.raises(ZeroDivisionError):
        call("divide", lambda: 1 / 0)


def test_responses_transport_sees_the_same_put() -> None:
    """Without an injected transport the SDK uses requests: intercepted with `responses`."""
    responses = pytest.importorskip("responses")
    from automl_bridge.backends.azure.client import build_job, make_client
    from automl_bridge.backends.azure.settings import AzureSettings

    fake = FakeAzureML()
    settings = AzureSettings.from_options(
        subscription_id=fake.subscription_id, resource_group="rg1", workspace="ws1",
        compute="cpu-cluster", credential=fake.credential())
    ml = make_client(settings)
    plan = {"task": "regression", "name": "ab-x", "display_name": "ab-x",
            "experiment_name": "e", "tags": {"automl-bridge": "1"}, "compute": "cpu-cluster",
            "training_data": {"type": "mltable", "path": "azureml://datastores/d/paths/p/"},
            "target_column_name": "y", "primary_metric": "r2_score",
            "limits": {"timeout_minutes": 30}}
    seen: list[Any] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        seen.append(request)
        body = json.loads(request.body)
        body.update(name="ab-x", id=request.url.split("?")[0].split(".com")[1])
        body["properties"]["status"] = "NotStarted"
        return 201, {"content-type": "application/json"}, json.dumps(body)

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.PUT, re.compile(r".*/jobs/ab-x\?.*"), callback=answer)
        created = ml.jobs.create_or_update(build_job(plan))
    assert created.name == "ab-x" and len(seen) == 1
    body = json.loads(seen[0].body)["properties"]
    assert body["taskDetails"]["limitSettings"]["timeout"] == "PT30M"
    assert body["taskDetails"]["primaryMetric"] == "R2Score"
    assert seen[0].headers["Authorization"] == "Bearer fake-token"


def test_importing_the_backend_imports_no_azure_sdk() -> None:
    code = ("import sys, json, automl_bridge.backends.azure, automl_bridge.testing.fakes.azure;"
            "print(json.dumps([m for m in sys.modules if m == 'azure' "
            "or m.startswith('azure.')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []


def test_sdk_exceptions_map_to_our_tree() -> None:
    from azure.ai.ml.exceptions import ErrorTarget, ValidationException
    from azure.core.exceptions import ServiceRequestError

    from automl_bridge.backends.azure.client import map_error

    invalid = ValidationException(message="bad limits", no_personal_data_message="bad",
                                  target=ErrorTarget.AUTOML)
    assert isinstance(map_error(invalid, "build the job"), CloudRequestError)
    offline = map_error(ServiceRequestError("connection refused"), "get the job")
    assert isinstance(offline, CloudTransientError) and "get the job" in str(offline)
    assert isinstance(map_error(KeyError("F1"), "build the job"), CloudRequestError)
