"""The thin client layer: boto3 clients (created lazily, or injected) and the one place where
botocore errors become ours.

boto3 is imported inside functions only, so ``import automl_bridge`` stays free of it. Clients
created here use botocore's ``standard`` retry mode (throttling, 5xx and connection errors are
retried with backoff by botocore itself); what still fails after that is mapped by
:func:`map_error` to the cloud error tree, with the message redacted.

Example:
    >>> from automl_bridge.exceptions import CloudQuotaError
    >>> category("ResourceLimitExceeded", 400) is CloudQuotaError
    True
    >>> category("SomethingNew", 503).__name__
    'CloudTransientError'
"""

from __future__ import annotations

import re
from typing import Any

from automl_bridge.backends.cloud.redact import detached, redact
from automl_bridge.exceptions import (
    BackendNotInstalledError,
    CloudAuthError,
    CloudError,
    CloudNotFoundError,
    CloudQuotaError,
    CloudRequestError,
    CloudTransientError,
    ConfigError,
)

INSTALL_HINT = "pip install 'automl-bridge[aws]'"
#: Default total attempts per call in botocore's standard retry mode.
DEFAULT_MAX_ATTEMPTS = 5

QUOTA_CODES = frozenset({"ResourceLimitExceeded", "ServiceQuotaExceededException"})
AUTH_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "MissingAuthenticationToken", "IncompleteSignature",
    "NotAuthorized", "AuthFailure", "InvalidAccessKeyId", "RequestExpired", "AllAccessDisabled",
    "InvalidToken", "TokenRefreshRequired"})
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException", "NoSuchBucket",
                             "NoSuchKey", "NotFound", "404"})
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", "InternalFailure", "InternalError", "InternalServerError",
    "InternalServerException", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestTimeout", "RequestTimeoutException"})

_FIX = {
    CloudQuotaError: "This needs a quota increase, not a retry: raise the SageMaker quota in "
                     "the Service Quotas console (concurrent AutoML jobs, or the instance "
                     "type's limit; new accounts often have 0), or stop other jobs "
                     "(automl-bridge cleanup --backend sagemaker).",
    CloudAuthError: "Check the AWS credentials (profile, environment variables, 'aws sso "
                    "login') and that they allow this call and iam:PassRole on the execution "
                    "role; see docs/clouds/sagemaker.md for the minimal policy.",
    CloudNotFoundError: "Check the name, the region and the bucket.",
    CloudRequestError: "The service refused the request as invalid; the message says which "
                       "field.",
    CloudTransientError: "Throttling or a server error persisted after botocore's retries; "
                         "try again later, or raise the backend option 'max_attempts'.",
    CloudError: "See the service's message.",
}


def require_boto3() -> None:
    """Raise BackendNotInstalledError (with the pip command) when boto3 is missing."""
    try:
        import boto3  # noqa: F401
    except ImportError as exc:
        raise BackendNotInstalledError(
            f"The sagemaker backend needs boto3. Install it with: {INSTALL_HINT}") from exc


def make_clients(*, region: str | None, profile: str | None,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> tuple[Any, Any]:
    """``(sagemaker, s3)`` boto3 clients with botocore's standard retries."""
    require_boto3()
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                    user_agent_extra="automl-bridge")
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return (session.client("sagemaker", config=config),
                session.client("s3", config=config))
    except BotoCoreError as exc:
        error = detached(map_error(exc, "create the boto3 clients"), exc)
    raise error


def call(client: Any, operation: str, /, **kwargs: Any) -> Any:
    """``client.<operation>(**kwargs)`` with botocore errors mapped to ours (the botocore
    error's type and redacted text in ``sdk_error``)."""
    try:
        return getattr(client, operation)(**kwargs)
    except Exception as exc:
        mapped = map_error(exc, operation)
        if mapped is exc:
            raise
        error = detached(mapped, exc)
    raise error  # outside the handler: no SDK text in the chain (see redact.detached)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (or of an S3 upload failure)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    match = re.search(r"An error occurred \(([A-Za-z0-9.]+)\)", str(exc))
    return match.group(1) if match else None


def category(code: str | None, status: int | None) -> type[CloudError]:
    """Our error class for an AWS error code and HTTP status."""
    if code in QUOTA_CODES:
        return CloudQuotaError
    if code in AUTH_CODES or status == 403:
        return CloudAuthError
    if code in NOT_FOUND_CODES or status == 404:
        return CloudNotFoundError
    if code in TRANSIENT_CODES or status == 429 or (status is not None and status >= 500):
        return CloudTransientError
    if (status is not None and 400 <= status < 500) or code is not None:
        return CloudRequestError
    return CloudError


def map_error(exc: BaseException, operation: str) -> BaseException:
    """Our error for a botocore/boto3 error (``exc`` itself when it is not one of theirs)."""
    if isinstance(exc, CloudError | ConfigError):
        return exc
    try:
        from botocore import exceptions as bex
    except ImportError:  # pragma: no cover - boto3 is required before any call
        return exc
    text = redact(exc)
    if isinstance(exc, bex.ClientError) or type(exc).__name__ == "S3UploadFailedError":
        code = error_code(exc)
        response = getattr(exc, "response", None) or {}
        meta = response.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode")
        cls = category(code, status)
        attempts = meta.get("RetryAttempts")
        tried = f" after {attempts + 1} attempts" if isinstance(attempts, int) and attempts \
            else ""
        return cls(f"SageMaker call {operation} failed ({code or 'error'}{tried}): {text} "
                   f"{_FIX[cls]}")
    if isinstance(exc, bex.NoRegionError):
        return ConfigError("No AWS region is set for the sagemaker backend: pass the option "
                           "'region' (e.g. 'us-east-1'), or set it in the AWS profile.")
    if isinstance(exc, bex.ProfileNotFound):
        return ConfigError(f"The AWS profile of the sagemaker backend was not found: {text}. "
                           "Check the option 'profile' and ~/.aws/config.")
    auth = (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError,
            bex.TokenRetrievalError, bex.SSOError, bex.NoAuthTokenError)
    if isinstance(exc, auth):
        return CloudAuthError(f"SageMaker call {operation} has no usable AWS credentials: "
                              f"{text}. {_FIX[CloudAuthError]}")
    if isinstance(exc, bex.ParamValidationError):
        return CloudRequestError(f"SageMaker call {operation} was refused by botocore before "
                                 f"sending: {text}")
    if isinstance(exc, bex.ConnectionError | bex.HTTPClientError):
        return CloudTransientError(f"SageMaker call {operation} could not reach AWS: {text}. "
                                   f"{_FIX[CloudTransientError]}")
    if isinstance(exc, bex.BotoCoreError):
        return CloudError(f"SageMaker call {operation} failed: {text}")
    return exc
