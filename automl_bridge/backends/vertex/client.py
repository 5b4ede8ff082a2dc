"""The thin client layer of the Vertex adapter: gapic clients, GCS, retries, error mapping.

The only module of the Vertex backend that imports ``google.*``, always inside functions.
Every call goes through :meth:`VertexClient.call`: our retry with backoff (the gapic
``PipelineService``, ``DatasetService``, ``ModelService`` and ``JobService`` methods have no
retry of their own) for throttling and unavailability, then ``google.api_core`` errors mapped to
the automl_bridge error tree with the SDK text redacted. Requests and responses are JSON-ready
dicts in the REST API's camelCase form, the same as :mod:`.translate` builds.

Example:
    >>> c = VertexClient(project="p1", location="us-central1", credentials=object())
    >>> c.endpoint, c.parent
    ('us-central1-aiplatform.googleapis.com', 'projects/p1/locations/us-central1')
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from automl_bridge.backends.cloud.redact import detached, redact
from automl_bridge.backends.cloud.retry import retry_call
from automl_bridge.exceptions import (
    BackendNotInstalledError,
    CloudAuthError,
    CloudError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
)

T = TypeVar("T")
_INSTALL = "pip install 'automl-bridge[gcp]'"


def _import_sdk() -> Any:
    try:
        from google.cloud import aiplatform_v1
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BackendNotInstalledError(
            "The vertex backend needs google-cloud-aiplatform, which is not installed. "
            f"Install it with: {_INSTALL}") from exc
    return aiplatform_v1


def is_transient(exc: BaseException) -> bool:
    """Throttling (429 / RESOURCE_EXHAUSTED without a quota limit), unavailability (503), 500,
    504 and connection errors: worth retrying."""
    from google.api_core import exceptions as gx

    if isinstance(exc, gx.TooManyRequests):  # ResourceExhausted subclasses it
        return not _is_quota(str(exc))
    if isinstance(exc, gx.ServiceUnavailable | gx.InternalServerError | gx.DeadlineExceeded |
                  gx.GatewayTimeout):
        return True
    from google.auth import exceptions as ga

    if isinstance(exc, ga.TransportError):  # token refresh could not reach the server
        return True
    try:
        import requests
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _is_quota(text: str) -> bool:
    """A quota or limit that waiting seconds will not lift (per-minute rate limits will)."""
    low = text.lower()
    if "per minute" in low or "per second" in low or "per_minute" in low:
        return False
    return "quota" in low or "limit" in low


def map_error(exc: BaseException, op: str, *, secrets: tuple[str, ...] = ()) -> BaseException:
    """Our error for an SDK error raised by ``op`` (returned, not raised; the caller chains).

    Errors that are not the SDK's come back unchanged.
    """
    from google.api_core import exceptions as gx

    text = redact(getattr(exc, "message", None) or exc, secrets=secrets)
    where = f"Vertex AI could not {op}"
    if isinstance(exc, gx.Unauthorized | gx.Forbidden):  # gRPC: Unauthenticated, PermissionDenied
        return CloudAuthError(
            f"{where}: {text}. Check the credentials (GOOGLE_APPLICATION_CREDENTIALS, "
            "`gcloud auth application-default login`, or credentials=) and that the account "
            "has roles/aiplatform.user and roles/storage.objectAdmin on the staging bucket "
            "(see docs/clouds/vertex.md).")
    if isinstance(exc, gx.NotFound):
        return CloudNotFoundError(f"{where}: not found: {text}. Check the project, location "
                                  "and resource name (and that the Vertex AI API is enabled).")
    if isinstance(exc, gx.TooManyRequests):
        if _is_quota(str(exc)):
            return CloudQuotaError(f"{where}: quota exceeded: {text}. Ask for a higher quota "
                                   "(IAM & Admin > Quotas) or run fewer jobs at once.")
        return CloudTransientError(f"{where}: still throttled after retries: {text}. Try "
                                   "again later.")
    if isinstance(exc, gx.ServiceUnavailable | gx.InternalServerError | gx.DeadlineExceeded |
                  gx.GatewayTimeout):
        return CloudTransientError(f"{where}: the service is unavailable after retries: "
                                   f"{text}. Try again later.")
    if isinstance(exc, gx.BadRequest | gx.FailedPrecondition | gx.Conflict |
                  gx.MethodNotImplemented):
        return CloudRequestError(f"{where}: the request was refused: {text}.")
    if isinstance(exc, gx.GoogleAPICallError):
        return CloudError(f"{where}: {text}.")
    try:
        from google.auth import exceptions as ga
    except ImportError:  # pragma: no cover
        return exc
    if isinstance(exc, ga.TransportError):
        return CloudTransientError(f"{where}: Google's token service could not be reached "
                                   f"after retries: {text}.")
    if isinstance(exc, ga.DefaultCredentialsError | ga.RefreshError):
        return CloudAuthError(
            f"{where}: no usable Google credentials: {text}. Run `gcloud auth "
            "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass "
            "credentials= to the vertex backend.")
    try:
        import requests
    except ImportError:  # pragma: no cover
        return exc
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return CloudTransientError(f"{where}: the service could not be reached after "
                                   f"retries: {text}.")
    return exc


def to_dict(message: Any) -> dict[str, Any]:
    """A proto-plus message as the REST API's JSON (camelCase, enums by name)."""
    from google.protobuf import json_format

    pb = getattr(message, "_pb", message)
    return dict(json_format.MessageToDict(pb))


class VertexClient:
    """Lazily built gapic clients for one project and location, plus GCS.

    Args:
        project / location: where the resources live.
        credentials: google-auth credentials (``None``: Application Default Credentials).
        api_transport: ``"rest"`` (default) or ``"grpc"``.
        timeout_s: per-request timeout in seconds.
        attempts: calls at most per operation (retries of transient errors).
        sleep: waits between retries (injectable for tests).
    """

    def __init__(self, *, project: str, location: str, credentials: Any = None,
                 api_transport: str = "rest", timeout_s: float = 120.0, attempts: int = 6,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.project, self.location = project, location
        self.credentials = credentials
        self.api_transport = api_transport
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.sleep = sleep
        self._clients: dict[str, Any] = {}

    @property
    def endpoint(self) -> str:
        """The regional API endpoint."""
        return f"{self.location}-aiplatform.googleapis.com"

    @property
    def parent(self) -> str:
        """``projects/P/locations/L``."""
        return f"projects/{self.project}/locations/{self.location}"

    # --- plumbing ------------------------------------------------------------------------------

    def _client(self, kind: str) -> Any:
        if kind not in self._clients:
            if kind == "storage":
                from google.cloud import storage

                self._clients[kind] = storage.Client(project=self.project,
                                                     credentials=self.credentials)
            else:
                sdk = _import_sdk()
                cls = {"pipeline": sdk.PipelineServiceClient, "dataset": sdk.DatasetServiceClient,
                       "model": sdk.ModelServiceClient, "job": sdk.JobServiceClient}[kind]
                self._clients[kind] = cls(credentials=self.credentials,
                                          transport=self.api_transport,
                                          client_options={"api_endpoint": self.endpoint})
        return self._clients[kind]

    def call(self, op: str, fn: Callable[[], T], *, retry: bool = True) -> T:
        """Run ``fn`` with retries of transient errors; SDK errors become ours."""
        try:
            return retry_call(fn, is_transient=is_transient,
                              attempts=self.attempts if retry else 1, sleep=self.sleep)
        except Exception as exc:
            mapped = map_error(exc, op)
            if mapped is exc:
                raise
            error = detached(mapped, exc)
        raise error  # outside the handler: no SDK text in the chain (see redact.detached)

    # --- GCS ---------------------------------------------------------------------------------

    def upload(self, path: str, bucket: str, blob: str, *, content_type: str = "text/csv") -> str:
        """Upload a local file (streamed in chunks when large); its ``gs://`` URI."""
        def go() -> None:
            b = self._client("storage").bucket(bucket).blob(blob)
            b.upload_from_filename(path, content_type=content_type, timeout=self.timeout_s)

        self.call(f"upload the data to gs://{bucket}/{blob}", go)
        return f"gs://{bucket}/{blob}"

    def list_blobs(self, bucket: str, prefix: str) -> list[str]:
        """Object names under ``prefix``."""
        return self.call(f"list gs://{bucket}/{prefix}", lambda: [
            b.name for b in self._client("storage").list_blobs(bucket, prefix=prefix,
                                                               timeout=self.timeout_s)])

    def download(self, bucket: str, blob: str, path: str) -> None:
        """Download one object to a local file."""
        self.call(f"download gs://{bucket}/{blob}", lambda: self._client("storage").bucket(
            bucket).blob(blob).download_to_filename(path, timeout=self.timeout_s))

    # --- datasets ------------------------------------------------------------------------------

    def list_datasets(self, flt: str) -> list[dict[str, Any]]:
        """Datasets matching a list filter."""
        return self.call("list datasets", lambda: [to_dict(d) for d in self._client(
            "dataset").list_datasets(
            request={"parent": self.parent, "filter": flt}, timeout=self.timeout_s)])

    def create_dataset(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a managed dataset and wait for it (one attempt; the caller retries)."""
        from google.cloud.aiplatform_v1.types import Dataset

        dataset = Dataset.from_json(json.dumps(body))

        def go() -> dict[str, Any]:
            op = self._client("dataset").create_dataset(parent=self.parent, dataset=dataset,
                                       timeout=self.timeout_s)
            return to_dict(op.result(timeout=max(self.timeout_s, 600.0)))

        return self.call("create the tabular dataset", go, retry=False)

    # --- training pipelines --------------------------------------------------------------------

    def list_pipelines(self, flt: str) -> list[dict[str, Any]]:
        """Training pipelines matching a list filter."""
        return self.call("list training pipelines", lambda: [
            to_dict(p) for p in self._client("pipeline").list_training_pipelines(
                request={"parent": self.parent, "filter": flt}, timeout=self.timeout_s)])

    def create_pipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a training pipeline (one attempt: the caller looks it up before a retry)."""
        from google.cloud.aiplatform_v1.types import TrainingPipeline

        pipeline = TrainingPipeline.from_json(json.dumps(body))
        return self.call("create the training pipeline", lambda: to_dict(
            self._client("pipeline").create_training_pipeline(
                parent=self.parent, training_pipeline=pipeline, timeout=self.timeout_s)),
            retry=False)

    def get_pipeline(self, name: str) -> dict[str, Any]:
        """One training pipeline."""
        return self.call(f"get the training pipeline {name}", lambda: to_dict(
            self._client("pipeline").get_training_pipeline(name=name, timeout=self.timeout_s)))

    def cancel_pipeline(self, name: str) -> None:
        """Ask Vertex to cancel a training pipeline."""
        self.call(f"cancel the training pipeline {name}", lambda: self._client(
            "pipeline").cancel_training_pipeline(name=name, timeout=self.timeout_s))

    # --- models --------------------------------------------------------------------------------

    def list_evaluations(self, model: str) -> list[dict[str, Any]]:
        """The model's evaluations (metrics on the test split)."""
        return self.call(f"list the evaluations of {model}", lambda: [
            to_dict(e) for e in self._client("model").list_model_evaluations(
                request={"parent": model}, timeout=self.timeout_s)])

    # --- batch prediction ----------------------------------------------------------------------

    def create_batch_prediction(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a batch prediction job (one attempt)."""
        from google.cloud.aiplatform_v1.types import BatchPredictionJob

        job = BatchPredictionJob.from_json(json.dumps(body))
        return self.call("create the batch prediction job", lambda: to_dict(
            self._client("job").create_batch_prediction_job(
                parent=self.parent, batch_prediction_job=job, timeout=self.timeout_s)),
            retry=False)

    def get_batch_prediction(self, name: str) -> dict[str, Any]:
        """One batch prediction job."""
        return self.call(f"get the batch prediction job {name}", lambda: to_dict(
            self._client("job").get_batch_prediction_job(name=name, timeout=self.timeout_s)))

    def cancel_batch_prediction(self, name: str) -> None:
        """Ask Vertex to cancel a batch prediction job."""
        self.call(f"cancel the batch prediction job {name}",
                  lambda: self._client("job").cancel_batch_prediction_job(
                      name=name, timeout=self.timeout_s))

    def list_batch_predictions(self, flt: str) -> list[dict[str, Any]]:
        """Batch prediction jobs matching a list filter."""
        return self.call("list batch prediction jobs", lambda: [
            to_dict(j) for j in self._client("job").list_batch_prediction_jobs(
                request={"parent": self.parent, "filter": flt}, timeout=self.timeout_s)])


def check_task_inputs(inputs: dict[str, Any]) -> None:
    """Parse ``trainingTaskInputs`` with the typed ``AutoMlTablesInputs`` schema proto, which
    catches misspelt keys and wrong types that the free-form pipeline field would let through.
    """
    from google.cloud.aiplatform.v1.schema.trainingjob import definition_v1

    definition_v1.AutoMlTablesInputs.from_json(json.dumps(inputs))
