"""The only module that imports ``azure.*``: the MLClient, the job entity, errors.

Every SDK call goes through :func:`call`, which maps ``azure.core`` / ``azure-ai-ml`` errors to
the automl_bridge tree with a redacted message that names the operation and the fix. Retries
are azure-core's own ``RetryPolicy`` (``retry_total``, ``retry_backoff_factor``): 408, 429,
500, 502, 503, 504 and any response with ``Retry-After`` are retried before an error reaches
:func:`call`.

Example:
    >>> map_error(KeyError("F1"), "build the job").__class__.__name__
    'CloudRequestError'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from automl_bridge.backends.cloud.redact import detached, redact
from automl_bridge.exceptions import (
    BackendNotInstalledError,
    CloudAuthError,
    CloudError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
)

if TYPE_CHECKING:
    from automl_bridge.backends.azure.settings import AzureSettings

T = TypeVar("T")
_INSTALL = "pip install 'automl-bridge[azure]'"
#: Largest piece of the CSV held in memory during an upload (bytes per block).
UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024


def _require() -> None:
    try:
        import azure.ai.ml
        import azure.core  # noqa: F401
    except ImportError as exc:
        raise BackendNotInstalledError(
            f"The azure backend needs azure-ai-ml and azure-identity: {_INSTALL}") from exc


def make_client(settings: AzureSettings) -> Any:
    """An ``MLClient`` for the workspace (telemetry off; the injected credential/transport)."""
    _require()
    from azure.ai.ml import MLClient

    credential = settings.credential
    if credential is None:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError as exc:
            raise BackendNotInstalledError(
                f"The azure backend needs azure-identity for its default credential: "
                f"{_INSTALL}, or pass credential=.") from exc
        credential = DefaultAzureCredential()
    kwargs: dict[str, Any] = {"enable_telemetry": False}
    if settings.transport is not None:
        kwargs["transport"] = settings.transport
    if settings.retry_total is not None:
        kwargs["retry_total"] = settings.retry_total
    if settings.retry_backoff_factor is not None:
        kwargs["retry_backoff_factor"] = settings.retry_backoff_factor
    return MLClient(credential, settings.subscription_id, settings.resource_group,
                    settings.workspace, **kwargs)


def call(operation: str, fn: Callable[[], T], *, secrets: Iterable[str] = ()) -> T:
    """Run one SDK call; its errors come back as ours (``from`` the original)."""
    try:
        return fn()
    except CloudError:
        raise
    except Exception as exc:
        mapped = map_error(exc, operation, secrets=secrets)
        if mapped is None:
            raise
        error = detached(mapped, exc)
    raise error  # outside the handler: no SDK text in the chain (see redact.detached)


def map_error(exc: BaseException, operation: str, *,
              secrets: Iterable[str] = ()) -> CloudError | None:
    """Our error for an SDK error (``None``: not an SDK error, let it through)."""
    text = redact(_message(exc), secrets=secrets)
    where = f"Azure ML: {operation} failed"
    if isinstance(exc, KeyError):  # azure-ai-ml enum lookups (bad metric/algorithm names)
        return CloudRequestError(f"{where}: azure-ai-ml does not know {text}. Check the "
                                 "metric and model names against docs/clouds/azure.md.")
    try:
        from azure.core import exceptions as core
    except ImportError:  # pragma: no cover - the SDK is there when its errors are
        return None
    ml_exc = _ml_exceptions()
    if isinstance(exc, core.ClientAuthenticationError):
        return CloudAuthError(f"{where}: authentication failed ({text}). Sign in (az login), "
                              "or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
                              "or pass credential=.")
    if isinstance(exc, core.ResourceNotFoundError):
        return CloudNotFoundError(f"{where}: not found ({text}). Check subscription_id, "
                                  "resource_group, workspace, compute and the job name.")
    if isinstance(exc, core.HttpResponseError):
        return _http_error(exc, where, text)
    if isinstance(exc, core.ServiceRequestError | core.ServiceResponseError):
        return CloudTransientError(f"{where}: the service could not be reached ({text}) after "
                                   "azure-core's retries. Check the network and retry later.")
    if ml_exc is not None and isinstance(exc, ml_exc[0]):
        return CloudRequestError(f"{where}: azure-ai-ml refused the request ({text}).")
    if isinstance(exc, core.AzureError):
        return CloudError(f"{where}: {text}")
    return None


def _http_error(exc: Any, where: str, text: str) -> CloudError:
    status = getattr(exc, "status_code", None)
    code = str(getattr(getattr(exc, "error", None), "code", "") or "")
    if "quota" in text.lower() or "quota" in code.lower():
        return CloudQuotaError(f"{where}: quota exceeded ({text}). Request more quota for the "
                               "VM family in the workspace's region, or use smaller or fewer "
                               "nodes (instance_type, max_concurrent_trials).")
    if status == 401:
        return CloudAuthError(f"{where}: not authenticated ({text}). Sign in again or pass "
                              "credential=.")
    if status == 403:
        return CloudAuthError(f"{where}: permission denied ({text}). The identity needs the "
                              "'AzureML Data Scientist' role on the workspace (see "
                              "docs/clouds/azure.md).")
    if status == 404:
        return CloudNotFoundError(f"{where}: not found ({text}).")
    if status in (429, 408) or (status is not None and status >= 500):
        return CloudTransientError(f"{where}: the service kept answering {status} after "
                                   f"azure-core's retries ({text}). Retry later.")
    if status is not None and 400 <= status < 500:
        return CloudRequestError(f"{where}: the service refused the request ({status}: "
                                 f"{text}).")
    return CloudError(f"{where}: {text}")


def _ml_exceptions() -> tuple[type[BaseException], ...] | None:
    try:
        from azure.ai.ml.exceptions import MlException, ValidationException
    except ImportError:  # pragma: no cover
        return None
    return (ValidationException, MlException)


def _message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:600]


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says the resource already exists (409)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "status_code", None) == 409 or \
                type(seen).__name__ == "ResourceExistsError" or \
                "ResourceExistsError" in str(getattr(seen, "sdk_error", "")):
            return True
        seen = seen.__cause__
    return False


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is (or was caused by) a 404."""
    return isinstance(exc, CloudNotFoundError) or getattr(exc, "status_code", None) == 404


# --- the job ---------------------------------------------------------------------------------


def build_job(plan: dict[str, Any]) -> Any:
    """The ``azure-ai-ml`` AutoML job entity for a plan from :func:`translate.plan_job`."""
    _require()
    from azure.ai.ml import Input, automl
    from azure.ai.ml.entities import JobResourceConfiguration

    factory = automl.classification if plan["task"] == "classification" else automl.regression
    kwargs: dict[str, Any] = {
        "training_data": Input(type=plan["training_data"]["type"],
                               path=plan["training_data"]["path"]),
        "target_column_name": plan["target_column_name"],
        "primary_metric": plan["primary_metric"],
        "name": plan["name"],
        "display_name": plan["display_name"],
        "experiment_name": plan["experiment_name"],
        "tags": dict(plan["tags"]),
    }
    for key in ("validation_data_size", "n_cross_validations", "positive_label"):
        if key in plan:
            kwargs[key] = plan[key]
    if plan.get("compute"):
        kwargs["compute"] = plan["compute"]
    job = call("build the job", lambda: factory(**kwargs))
    job.set_limits(**plan["limits"])
    if plan.get("training"):
        job.set_training(**plan["training"])
    if plan.get("resources"):
        # The REST model, not the entity: azure-ai-ml 1.35 puts job.resources into the body
        # as is, and an entity there goes out in snake_case (instance_type), which the
        # service does not read.
        job.resources = JobResourceConfiguration(**plan["resources"])._to_rest_object()
    return job


def rest_dict(job: Any) -> dict[str, Any]:
    """The job's REST body as the SDK sends it (for golden tests)."""
    return dict(job._to_rest_object().as_dict())


def job_failure(ml: Any, name: str) -> str | None:
    """The error message of a failed job (run history; best effort, ``None`` if unknown)."""
    try:
        details = ml.jobs._runs_operations.get_run_details(name)
    except Exception:
        return None
    err = getattr(details, "error", None)
    root = getattr(err, "error", None) or err
    if root is None:
        return None
    code, message = getattr(root, "code", None), getattr(root, "message", None)
    text = ": ".join(str(p) for p in (code, message) if p)
    return text or None
