"""What a cloud adapter implements, and the values that travel between it and the backend.

Example:
    >>> from automl_bridge.results import RunStatus
    >>> RemoteStatus(RunStatus.RUNNING, raw="Stopping", stopping=True).is_terminal
    False
    >>> RemoteJob("sagemaker", "ab-1f2e", run_id="r1").to_info()["job_id"]
    'ab-1f2e'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from automl_bridge.results import Candidate, RunStatus

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.spec import JobSpec


@dataclass(frozen=True)
class TrainingTable:
    """The training data as the clouds receive it: one local CSV file with a header row.

    Attributes:
        path: the CSV file (the user's own file, or one written once from their frame).
        target: the target column.
        task: ``"classification"`` or ``"regression"`` (after inference).
        metric: the run's canonical metric.
        n_rows: data rows.
        columns: every column, the target included, in file order.
        dtypes: column -> ``"numeric"``, ``"categorical"``, ``"text"``, ``"datetime"`` (the
            feature kinds of schema inference; the target is ``"target"``).
        classes: the classes (classification), sorted; ``None`` for regression.
        sha256: the data fingerprint (content hash).
    """

    path: str
    target: str
    task: str
    metric: str
    n_rows: int
    columns: tuple[str, ...]
    dtypes: dict[str, str] = field(default_factory=dict)
    classes: tuple[Any, ...] | None = None
    sha256: str = ""


@dataclass(frozen=True)
class JobIdentity:
    """Who a remote job is: derived from the run id and the data, so a retried submit finds
    the job it created instead of creating a second one.

    Attributes:
        run_id: the run's id.
        data_sha256: the data fingerprint.
        name: a deterministic job name (see :func:`automl_bridge.backends.cloud.naming.job_name`).
        labels: tags/labels that mark the job as ours (see ``naming.labels_for``).
    """

    run_id: str
    data_sha256: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StagedData:
    """Where the uploaded training data lives (``s3://``, ``gs://``, ``azureml:...``)."""

    uri: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteJob:
    """A reference to a remote AutoML job (JSON-ready through :meth:`to_info`)."""

    backend: str
    job_id: str
    run_id: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_info(self) -> dict[str, Any]:
        """The reference as a JSON-ready dict (kept in ``RunHandle.info``)."""
        return asdict(self)

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> RemoteJob:
        """The reference back from :meth:`to_info`."""
        return cls(backend=str(info["backend"]), job_id=str(info["job_id"]),
                   run_id=str(info.get("run_id", "")), info=dict(info.get("info") or {}))


@dataclass(frozen=True)
class RemoteStatus:
    """A remote job's state in common terms, with the service's own words kept.

    Attributes:
        status: pending, running, completed, failed or cancelled.
        raw: the service's state (``"InProgress"``, ``"PIPELINE_STATE_RUNNING"``, ...).
        detail: a secondary status, if the service has one.
        failure_reason: why the job failed, in the service's words (redacted).
        stopping: a stop was requested and the job has not stopped yet (``status`` running).
    """

    status: RunStatus
    raw: str
    detail: str = ""
    failure_reason: str | None = None
    stopping: bool = False

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended."""
        return self.status.is_terminal


@dataclass
class RemoteResult:
    """What a finished job produced.

    Attributes:
        candidates: every candidate the service exposes (canonical metric names; the raw
            names and values in ``extra["raw_metrics"]``).
        best_id: the service's best candidate, if it names one.
        model_uri: where the best model is (an S3 URI, a model resource name, ...).
        started_at / ended_at: ISO-8601 UTC times of the job.
        cost: ``{"usd", "basis", "price_table_date", "note"}`` or ``{}`` when unknown.
        warnings: what the adapter approximated or could not read.
        extra: raw job fields worth keeping (JSON-ready, redacted).
    """

    candidates: list[Candidate] = field(default_factory=list)
    best_id: str | None = None
    model_uri: str | None = None
    started_at: str = ""
    ended_at: str = ""
    cost: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class CloudAdapter(Protocol):
    """One managed AutoML service, as the cloud backend drives it."""

    name: str

    def validate(self, spec: JobSpec, table: TrainingTable) -> list[str]:
        """Check everything that can be checked without the network; warnings for
        approximations. Raises UnsupportedSpecError, SpecError or ConfigError."""
        ...

    def stage(self, table: TrainingTable, identity: JobIdentity) -> StagedData:
        """Upload (and register) the training data."""
        ...

    def submit(self, spec: JobSpec, table: TrainingTable, staged: StagedData,
               identity: JobIdentity) -> RemoteJob:
        """Create the job, or attach to the one ``identity`` already created."""
        ...

    def find(self, identity: JobIdentity) -> RemoteJob | None:
        """The job ``identity`` created, if any."""
        ...

    def status(self, job: RemoteJob) -> RemoteStatus:
        """The job's state now."""
        ...

    def cancel(self, job: RemoteJob) -> RemoteStatus:
        """Ask the service to stop the job (idempotent)."""
        ...

    def collect(self, job: RemoteJob, spec: JobSpec, table: TrainingTable) -> RemoteResult:
        """Candidates, best model, timings and cost of a finished job."""
        ...

    def list_ours(self, *, active_only: bool = True) -> list[RemoteJob]:
        """Jobs this SDK started (by tag or label)."""
        ...

    def predict(self, job: RemoteJob, data: TrainingTable | str) -> pd.DataFrame:
        """Predictions of the best model, or UnsupportedOperationError."""
        ...
