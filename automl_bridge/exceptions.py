"""The one error tree of automl_bridge.

Every error the SDK raises derives from :class:`AutoMLBridgeError` and from the builtin that
matches its meaning, so ``except ValueError`` keeps working for callers that do not know us.
Messages name the object or column, the rule, the value seen and the fix.

Example:
    >>> from automl_bridge.exceptions import SpecError, AutoMLBridgeError
    >>> issubclass(SpecError, ValueError) and issubclass(SpecError, AutoMLBridgeError)
    True
"""

from __future__ import annotations

from collections.abc import Sequence


class AutoMLBridgeError(Exception):
    """Root of every error raised by automl_bridge."""


# --- bad input -----------------------------------------------------------------------------


class AutoMLInputError(AutoMLBridgeError, ValueError):
    """Something the user gave (spec, data, config) is invalid.

    Validation collects every problem it finds before raising; ``problems`` holds one line per
    problem, and the message lists them all.
    """

    def __init__(self, message: str, *, problems: Sequence[str] | None = None) -> None:
        self.problems: list[str] = list(problems) if problems else [message]
        super().__init__(message)


class SpecError(AutoMLInputError):
    """A :class:`~automl_bridge.spec.JobSpec` field is invalid."""


class MetricError(SpecError):
    """The metric is unknown or does not fit the task."""


class BudgetError(SpecError):
    """The time budget or trial budget is invalid."""


class ConfigError(AutoMLInputError):
    """A config file, backend option or CLI argument is invalid."""


class DataError(AutoMLInputError):
    """The training or prediction data cannot be used as given."""


class TargetError(DataError):
    """The target column is missing or unusable (all missing, one class, ...)."""


class SchemaError(DataError):
    """The feature columns are unusable (no rows, no features, duplicate names, ...)."""


class TaskMismatchError(DataError):
    """The target does not fit the requested task (floats for classification, ...)."""


class PredictSchemaError(DataError):
    """The data given to ``predict`` does not match the training schema."""


class ResourceLimitError(DataError):
    """The data would not fit in the memory available."""


class UnsupportedSpecError(AutoMLBridgeError, ValueError):
    """A backend cannot honour a spec field (and approximation was not allowed)."""


class UnsupportedOperationError(AutoMLBridgeError, NotImplementedError):
    """A backend cannot do this operation as configured (e.g. predictions from a cloud model
    that would need a deployment the user did not ask for)."""


# --- environment ---------------------------------------------------------------------------


class BackendNotInstalledError(AutoMLBridgeError, ImportError):
    """An optional extra needed for a backend, strategy or model family is not installed."""


class UnknownNameError(AutoMLBridgeError, LookupError):
    """A registry name (backend, search strategy, model family) is not known."""

    def __str__(self) -> str:  # LookupError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


# --- runs ----------------------------------------------------------------------------------


class RunError(AutoMLBridgeError, RuntimeError):
    """A run could not complete."""


class FitInterrupted(KeyboardInterrupt):
    """``fit`` was stopped by Ctrl-C (SIGINT) or SIGTERM.

    A ``KeyboardInterrupt``, so code that stops on Ctrl-C still stops. ``result`` is the
    partial :class:`~automl_bridge.results.RunResult` (status ``interrupted``), written to the
    run directory like any other; ``signal`` is ``"SIGINT"`` or ``"SIGTERM"``. The run can be
    continued with ``fit(..., resume=True)``.
    """

    def __init__(self, result: object = None, signal: str = "SIGINT") -> None:
        super().__init__(f"The run was interrupted ({signal}); its partial result is kept. "
                         "Continue it with resume=True.")
        self.result = result
        self.signal = signal


class AllTrialsFailedError(RunError):
    """Every trial of a run failed; the message shows the first failure."""


# --- clouds --------------------------------------------------------------------------------


class CloudError(AutoMLBridgeError, RuntimeError):
    """A cloud service refused or failed a request (the SDK's error is the ``__cause__``)."""


class CloudQuotaError(CloudError):
    """The account's quota or service limit does not allow the request (raise the quota, or
    ask for smaller instances / fewer parallel jobs)."""


class CloudAuthError(CloudError, PermissionError):
    """Missing, expired or insufficient credentials or permissions."""


class CloudNotFoundError(CloudError, LookupError):
    """A cloud resource (job, bucket, workspace, model) does not exist."""

    def __str__(self) -> str:  # LookupError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class CloudRequestError(CloudError, ValueError):
    """The service rejected the request as invalid."""


class CloudTransientError(CloudError):
    """Throttling or a server error that persisted after retries; trying later may work."""


class RemoteJobFailedError(CloudError):
    """The remote AutoML job failed; ``reason`` holds the service's failure reason."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class TrainingDivergedError(RunError):
    """A network's training loss became NaN or infinite (lower the learning rate)."""


class RunNotFoundError(RunError, LookupError):
    """No run with the given id or handle is known to the backend."""


class ResumeError(AutoMLBridgeError, ValueError):
    """A run cannot be resumed as asked."""


class ResumeMismatchError(ResumeError):
    """The stored spec of the run to resume differs from the given one."""


class RunExistsError(ResumeError):
    """A run already exists where a new one would be created."""


class StorageError(AutoMLBridgeError, RuntimeError):
    """The trial storage cannot be used."""


class StorageBusyError(StorageError):
    """The storage is locked by concurrent writers (SQLite under load)."""


class ModelNotFittedError(AutoMLBridgeError, ValueError, AttributeError):
    """A model was used before a successful ``fit``."""


class UntrustedModelError(AutoMLBridgeError, ValueError):
    """A model file holds types outside the fixed allowlist of trusted types."""


__all__ = [
    "AllTrialsFailedError",
    "AutoMLBridgeError",
    "AutoMLInputError",
    "BackendNotInstalledError",
    "BudgetError",
    "CloudAuthError",
    "CloudError",
    "CloudNotFoundError",
    "CloudQuotaError",
    "CloudRequestError",
    "CloudTransientError",
    "ConfigError",
    "DataError",
    "MetricError",
    "ModelNotFittedError",
    "PredictSchemaError",
    "RemoteJobFailedError",
    "ResourceLimitError",
    "ResumeError",
    "ResumeMismatchError",
    "RunError",
    "RunExistsError",
    "RunNotFoundError",
    "SchemaError",
    "SpecError",
    "StorageBusyError",
    "StorageError",
    "TargetError",
    "TaskMismatchError",
    "TrainingDivergedError",
    "UnknownNameError",
    "UnsupportedOperationError",
    "UnsupportedSpecError",
    "UntrustedModelError",
]
