"""SageMaker tier 4: errors and retries injected below botocore (a ``before-send`` hook returns
raw HTTP responses), so botocore's serializer, parser, standard-mode retries and error classes
all run; each outcome is mapped to our error tree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.backends.cloud.adapter import JobIdentity, RemoteJob, TrainingTable
from automl_bridge.backends.sagemaker import SageMakerAdapter
from automl_bridge.backends.sagemaker.client import call, make_clients
from automl_bridge.exceptions import (
    CloudAuthError,
    CloudError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
    ConfigError,
)
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec

pytest.importorskip("boto3")
from botocore.awsrequest import AWSResponse

ROLE = "arn:aws:iam::123456789012:role/AutoMLRole"
NAME = "ab-r1-0f0f0f"
JOB = RemoteJob("sagemaker", NAME, "r1")
DESCRIBE = {"AutoMLJobName": NAME,
            "AutoMLJobArn": f"arn:aws:sagemaker:eu-west-1:1:automl-job/{NAME}",
            "AutoMLJobInputDataConfig": [{"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://bkt/in/"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://bkt/out/"}, "RoleArn": ROLE,
            "CreationTime": 1700000000, "LastModifiedTime": 1700000100,
            "AutoMLJobStatus": "InProgress", "AutoMLJobSecondaryStatus": "TrainingModels"}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


class Wire:
    """Scripted raw HTTP answers for one operation; records what was sent."""

    def __init__(self, script: list[tuple[int, Any]], *, xml: bool = False) -> None:
        self.script = script
        self.sent: list[tuple[str, str, Any]] = []
        self.xml = xml

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body
        self.sent.append((request.method, request.headers.get("X-Amz-Target", b""), body))
        status, payload = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if self.xml:
            return AWSResponse(request.url, status, {"Content-Type": "application/xml"},
                               _Raw(payload.encode()))
        return AWSResponse(request.url, status,
                           {"Content-Type": "application/x-amz-json-1.1"},
                           _Raw(json.dumps(payload).encode()))


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[float]:
    """Dummy credentials, no local AWS config, and botocore's retry sleeps recorded."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    return sleeps


def adapter(**options: Any) -> SageMakerAdapter:
    """An adapter whose boto3 clients are made by the backend (standard retries)."""
    return SageMakerAdapter(role_arn=ROLE, s3_output="s3://bkt/automl/", region="eu-west-1",
                            **options)


def wire(a: SageMakerAdapter, operation: str, script: list[tuple[int, Any]]) -> Wire:
    hook = Wire(script)
    a.sm.meta.events.register(f"before-send.sagemaker.{operation}", hook)
    return hook


def error(code: str, message: str = "") -> dict[str, str]:
    return {"__type": code, "message": message or code}


def test_clients_use_standard_retries() -> None:
    a = adapter(max_attempts=4)
    assert a.sm.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert a.s3.meta.config.retries["mode"] == "standard"


def test_throttling_then_success_is_retried_by_botocore(aws_env: list[float]) -> None:
    a = adapter()
    hook = wire(a, "DescribeAutoMLJobV2", [(400, error("ThrottlingException", "Rate exceeded")),
                                           (200, DESCRIBE)])
    assert a.status(JOB).status is RunStatus.RUNNING
    assert len(hook.sent) == 2 and len(aws_env) == 1
    method, target, body = hook.sent[0]
    assert method == "POST" and target == b"SageMaker.DescribeAutoMLJobV2"
    assert json.loads(body) == {"AutoMLJobName": NAME}


def test_throttling_that_persists_is_transient(aws_env: list[float]) -> None:
    a = adapter(max_attempts=3)
    hook = wire(a, "DescribeAutoMLJobV2", [(400, error("ThrottlingException"))])
    with pytest.raises(CloudTransientError, match="after 3 attempts") as info:
        a.status(JOB)
    assert len(hook.sent) == 3 and len(aws_env) == 2
    assert info.value.__cause__ is None and "ClientError" in info.value.sdk_error


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_retried_then_transient(status: int) -> None:
    a = adapter(max_attempts=2)
    hook = wire(a, "StopAutoMLJob", [(status, error("InternalFailure"))])
    with pytest.raises(CloudTransientError):
        call(a.sm, "stop_auto_ml_job", AutoMLJobName=NAME)
    assert len(hook.sent) == 2


def test_quota_is_not_retried(tmp_path: Path) -> None:
    a = adapter()
    wire(a, "DescribeAutoMLJobV2", [(400, error("ResourceNotFound", "no job"))])
    hook = wire(a, "CreateAutoMLJobV2", [(400, error(
        "ResourceLimitExceeded", "account-level service limit 'Max number of concurrent "
        "AutoML jobs' is 0"))])
    path = tmp_path / "t.csv"
    path.write_text("x,label\n1,a\n2,b\n")
    table = TrainingTable(path=str(path), target="label", task="classification",
                          metric="accuracy", n_rows=2, columns=("x", "label"),
                          classes=("a", "b"), sha256="0f" * 32)
    identity = JobIdentity("r1", "0f" * 32, NAME, {"automl-bridge": "1",
                                                   "automl-bridge-run": "r1"})
    from automl_bridge.backends.cloud.adapter import StagedData

    with pytest.raises(CloudQuotaError, match="quota increase") as info:
        a.submit(JobSpec(target="label", metric="accuracy"), table,
                 StagedData("s3://bkt/automl/x/input/"), identity)
    assert len(hook.sent) == 1
    assert "create_auto_ml_job_v2" in str(info.value) and "ResourceLimitExceeded" in str(
        info.value)


@pytest.mark.parametrize(("code", "status", "expected"), [
    ("AccessDeniedException", 400, CloudAuthError),
    ("ExpiredTokenException", 400, CloudAuthError),
    ("UnrecognizedClientException", 400, CloudAuthError),
    ("InvalidSignatureException", 400, CloudAuthError),
    ("SomethingForbidden", 403, CloudAuthError),
    ("ResourceNotFound", 400, CloudNotFoundError),
    ("ValidationException", 400, CloudRequestError),
    ("ResourceInUse", 400, CloudRequestError),
])
def test_service_errors_map_to_our_tree(code: str, status: int, expected: type) -> None:
    a = adapter()
    hook = wire(a, "DescribeAutoMLJobV2", [(status, error(code))])
    with pytest.raises(expected) as info:
        a.status(JOB)
    assert len(hook.sent) == 1  # none of these is retried
    assert code in str(info.value) and "describe_auto_ml_job_v2" in str(info.value)


def test_builtin_classes_still_catch() -> None:
    a = adapter()
    wire(a, "DescribeAutoMLJobV2", [(400, error("AccessDeniedException"))])
    with pytest.raises(PermissionError):
        a.status(JOB)
    a2 = adapter()
    wire(a2, "DescribeAutoMLJobV2", [(400, error("ResourceNotFound"))])
    with pytest.raises(LookupError):
        a2.status(JOB)
    a3 = adapter()
    wire(a3, "DescribeAutoMLJobV2", [(400, error("ResourceNotFound"))])
    ident = JobIdentity("r1", "0f" * 32, NAME, {})
    assert a3.find(ident) is None  # not found -> no job, not an error


def test_messages_are_redacted() -> None:
    a = adapter()
    wire(a, "DescribeAutoMLJobV2", [(400, error(
        "AccessDeniedException", "User AKIAABCDEFGHIJKLMNOP with token=abc123secret denied "
        "on https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef&X-Amz-Credential=x"))])
    with pytest.raises(CloudAuthError) as info:
        a.status(JOB)
    text = str(info.value)
    for secret in ("AKIAABCDEFGHIJKLMNOP", "abc123secret", "deadbeef"):
        assert secret not in text


def test_param_validation_error_is_a_request_error() -> None:
    a = adapter()
    with pytest.raises(CloudRequestError, match="before sending"):
        call(a.sm, "describe_auto_ml_job_v2", AutoMLJobName=NAME, Foo=1)


def test_no_credentials_is_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CloudAuthError, match="credentials"):
        adapter().status(JOB)


def test_no_region_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="region"):
        make_clients(region=None, profile=None)


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="profile"):
        make_clients(region="eu-west-1", profile="nope")


def test_s3_upload_denied_is_auth(tmp_path: Path) -> None:
    a = adapter()
    head = Wire([(403, "")], xml=True)  # no s3:ListBucket: HeadObject says 403
    put = Wire([(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                      "</Error>")], xml=True)
    a.s3.meta.events.register("before-send.s3.HeadObject", head)
    a.s3.meta.events.register("before-send.s3.PutObject", put)
    path = tmp_path / "t.csv"
    path.write_text("x,label\n1,a\n")
    table = TrainingTable(path=str(path), target="label", task="classification",
                          metric="accuracy", n_rows=1, columns=("x", "label"), classes=("a",),
                          sha256="0f" * 32)
    with pytest.raises(CloudAuthError, match="AccessDenied"):
        a.stage(table, JobIdentity("r1", "0f" * 32, NAME, {}))
    assert len(put.sent) == 1


def test_cancel_of_a_missing_job_is_not_found() -> None:
    a = adapter()
    wire(a, "StopAutoMLJob", [(400, error("ResourceNotFound"))])
    with pytest.raises(CloudNotFoundError):
        a.cancel(JOB)


def test_cancel_error_on_a_running_job_propagates() -> None:
    a = adapter()
    wire(a, "StopAutoMLJob", [(400, error("ValidationException", "cannot stop"))])
    wire(a, "DescribeAutoMLJobV2", [(200, DESCRIBE)])
    with pytest.raises(CloudRequestError):
        a.cancel(JOB)


def test_errors_are_cloud_errors() -> None:
    for cls in (CloudAuthError, CloudNotFoundError, CloudQuotaError, CloudRequestError,
                CloudTransientError):
        assert issubclass(cls, CloudError)
