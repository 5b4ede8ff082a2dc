"""The local engine: Optuna + scikit-learn on this machine.

``LocalBackend.run`` validates the data, opens (or resumes) the run's study, searches within
the budget, picks and saves the final model and returns a :class:`RunResult`. ``submit`` runs
the same in a background thread for asynchronous use.

Options (``AutoMLJob.with_backend("local", ...)``):
    storage: ``"memory"``, ``"sqlite:///path.db"`` or a PostgreSQL URL. Default: SQLite in
        the run directory, or memory when ``run_dir=None``.
    n_jobs: trials evaluated in parallel (default 1; threads on one machine).
    run_dir: folder of run directories (default ``"runs"``); ``None`` writes nothing.
    run_id: name of the run (default: a timestamp plus random suffix); with ``resume=True``,
        the run to resume.
    isolation: ``"process"`` (trials in killable worker processes: the time budget is hard),
        ``"inline"`` (in this process), or ``"auto"`` (process when there is a time budget).
    heartbeat_s: seconds between heartbeats of a running trial on PostgreSQL (default 5); a
        trial silent for 4 heartbeats is lost and retried once (see docs/scaling.md).

Several processes, on any number of machines, work on one run when they share a PostgreSQL
storage: ``LocalBackend(storage="postgresql://...", run_id="exp1").work(spec, data)`` (or
``automl-bridge worker job.yaml --storage ...``) in each.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_bridge.backends.base import Capabilities, RunHandle, check_options
from automl_bridge.engine.coordination import HEARTBEAT_S
from automl_bridge.exceptions import (
    AllTrialsFailedError,
    ConfigError,
    ResourceLimitError,
    RunNotFoundError,
    SpecError,
)
from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus
from automl_bridge.spec import JobSpec

log = logging.getLogger("automl_bridge.local")

OPTIONS = {
    "storage": "'memory' or a database URL; default SQLite in the run directory",
    "n_jobs": "trials in parallel, default 1",
    "run_dir": "folder of run directories, default 'runs'; None writes nothing",
    "run_id": "name of the run to create or resume",
    "isolation": "'auto', 'process' or 'inline'",
    "heartbeat_s": "seconds between trial heartbeats on PostgreSQL, default 5",
}
#: Extra time a run may take over its budget: max(2 s, 5 %).
OVERRUN_ABS_S = 2.0
OVERRUN_REL = 0.05


def allowed_overrun(budget_s: float) -> float:
    """The documented margin over a time budget."""
    return max(OVERRUN_ABS_S, OVERRUN_REL * budget_s)


@dataclass
class _Job:
    thread: threading.Thread
    cancel: threading.Event
    status: RunStatus = RunStatus.RUNNING
    result: RunResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LocalBackend:
    """Runs the search on this machine (see the module docstring for options)."""

    name = "local"

    def __init__(self, **options: Any) -> None:
        check_options("local", options, OPTIONS)
        n_jobs = options.get("n_jobs", 1)
        if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
            raise ConfigError(
                f"The local backend option 'n_jobs' must be a positive integer or -1 (all "
                f"cores). Got {n_jobs!r}."
            )
        self.n_jobs = os.cpu_count() or 1 if n_jobs == -1 else n_jobs
        isolation = options.get("isolation", "auto")
        if isolation not in ("auto", "process", "inline"):
            raise ConfigError(
                "The local backend option 'isolation' must be 'auto', 'process' or 'inline'. "
                f"Got {isolation!r}."
            )
        self.isolation = isolation
        heartbeat = options.get("heartbeat_s", HEARTBEAT_S)
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)) \
                or not 0.1 <= heartbeat <= 3600:
            raise ConfigError("The local backend option 'heartbeat_s' must be a number of "
                              f"seconds from 0.1 to 3600. Got {heartbeat!r}.")
        self.heartbeat_s = float(heartbeat)
        run_dir = options.get("run_dir", "runs")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.storage_url: str | None = options.get("storage")
        self.run_id: str | None = options.get("run_id")
        if self.run_id is not None:
            _check_run_id(self.run_id)
        self._jobs: dict[str, _Job] = {}

    @property
    def capabilities(self) -> Capabilities:
        """Everything in the registry; resume; hard time budget."""
        from automl_bridge.registry import registry_for

        return Capabilities(strategies=tuple(registry_for("strategies").names()),
                            families=tuple(registry_for("families").names()),
                            supports_resume=True, supports_max_trials=True,
                            hard_time_budget=True)

    # --- asynchronous protocol ---------------------------------------------------------------

    def submit(self, spec: JobSpec, data: Any, *, resume: bool = False) -> RunHandle:
        """Start the run in a background thread and return at once."""
        run_id = self.run_id or new_run_id()
        cancel = threading.Event()
        job = _Job(thread=threading.Thread(), cancel=cancel)

        def target() -> None:
            try:
                job.result = self.run(spec, data, resume=resume, cancel=cancel, run_id=run_id)
                job.status = job.result.status
            except BaseException as exc:  # delivered by result()
                job.error = exc
                job.status = RunStatus.FAILED
            finally:
                job.done.set()

        job.thread = threading.Thread(target=target, name=f"automl-bridge-{run_id}",
                                      daemon=True)
        self._jobs[run_id] = job
        job.thread.start()
        return RunHandle(run_id=run_id, backend=self.name,
                         info={"run_dir": str(self.run_dir / run_id) if self.run_dir else None})

    def _job(self, handle: RunHandle) -> _Job:
        if handle.run_id not in self._jobs:
            raise RunNotFoundError(
                f"This local backend did not submit a run {handle.run_id!r}. Handles are valid "
                "on the backend object that submitted them."
            )
        return self._jobs[handle.run_id]

    def status(self, handle: RunHandle) -> RunStatus:
        """Current status of a submitted run."""
        return self._job(handle).status

    def result(self, handle: RunHandle, *, timeout: float | None = None) -> RunResult:
        """Wait for the run and return its result (re-raises its error)."""
        job = self._job(handle)
        if not job.done.wait(timeout):
            raise TimeoutError(f"The run {handle.run_id!r} is still running after {timeout}s.")
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def cancel(self, handle: RunHandle) -> None:
        """Stop the run: running trials are killed, the result has status ``cancelled``."""
        self._job(handle).cancel.set()

    # --- the run -----------------------------------------------------------------------------

    def run(self, spec: JobSpec, data: Any, *, resume: bool = False,
            cancel: threading.Event | None = None, run_id: str | None = None,
            progress: Any = None) -> RunResult:
        """Run the job here and now (blocks). See :class:`LocalRun`."""
        from automl_bridge.backends._local_run import LocalRun

        if run_id is not None:  # the constructor checked self.run_id; this one names a folder too
            _check_run_id(run_id)
        return LocalRun(backend=self, spec=spec, resume=resume,
                        run_id=run_id or self.run_id, cancel=cancel or threading.Event(),
                        progress=progress).execute(data)

    def work(self, spec: JobSpec, data: Any, *, cancel: threading.Event | None = None,
             progress: Any = None) -> RunResult:
        """Work on a shared run as one of any number of workers (blocks until it ends).

        Joins the run ``run_id`` in the PostgreSQL ``storage`` (created by the first worker;
        without ``run_id``, every worker given the same spec and data derives the same id).
        Workers take trials until the run's budget, counted over all of them, is spent; the
        first to finish then refits and writes the final model, and the others return the
        same candidates without it (``result.extra["final"]`` says where it is).

        Raises:
            ConfigError: the storage is not PostgreSQL (SQLite serves one process).
            ResumeMismatchError: the run exists with another spec or other data.
        """
        from automl_bridge.backends._local_run import LocalRun

        if self.storage_url is None:
            raise ConfigError(
                "A worker needs the local backend option 'storage' set to a PostgreSQL URL "
                "shared by all workers, e.g. storage='postgresql://user:password@host/db' "
                "(see docs/scaling.md).")
        return LocalRun(backend=self, spec=spec, resume=False, run_id=self.run_id,
                        cancel=cancel or threading.Event(), progress=progress,
                        join=True).execute(data)


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx`` (UTC time plus 6 random hex digits)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _check_run_id(run_id: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", run_id):
        raise ConfigError(
            "The local backend option 'run_id' must be 1-128 letters, digits, '.', '_' or '-' "
            f"starting with a letter or digit. Got {run_id!r}."
        )


def available_memory_bytes() -> int | None:
    """Memory available to new allocations (Linux ``MemAvailable``), or ``None``."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(frame_bytes: int, copies: int, available: int | None) -> None:
    """Refuse data whose working copies would not fit in memory."""
    if available is None:
        return
    need = frame_bytes * copies
    if need > available:
        raise ResourceLimitError(
            f"The data takes {frame_bytes / 2**20:.1f} MiB; the run needs about {copies} "
            f"working copies ({need / 2**20:.0f} MiB) but only {available / 2**20:.0f} MiB are "
            "available. Use fewer rows or columns, or n_jobs=1."
        )


def usable_families(spec: JobSpec, task: str, ctx: Any) -> tuple[dict[str, Any], list[str]]:
    """Families to search, and warnings for requested ones that cannot run on this data."""
    from automl_bridge.registry import registry_for

    reg = registry_for("families")
    names = list(spec.models) if spec.models else reg.default_names()
    families: dict[str, Any] = {}
    warnings: list[str] = []
    for name in names:
        fam = reg.get(name)
        reason = fam.available(ctx)
        if reason is None:
            families[name] = fam
        elif spec.models:
            warnings.append(f"Model family {name!r} was skipped: {reason}.")
    if not families:
        raise SpecError(
            f"None of the model families {names} can run on this data "
            f"({'; '.join(warnings)}). Add other families to 'models'."
        )
    return families, warnings


def summarize_failures(candidates: list[Candidate]) -> None:
    """Raise when every finished trial failed (and none timed out)."""
    finished = [c for c in candidates if c.state in
                (CandidateState.COMPLETE, CandidateState.FAILED, CandidateState.TIMED_OUT)]
    if finished and all(c.state is CandidateState.FAILED for c in finished):
        first = finished[0]
        raise AllTrialsFailedError(
            f"All {len(finished)} trials failed. The first failure (candidate "
            f"{first.candidate_id}, family {first.family!r}, params {first.params}) was: "
            f"{first.error}"
        )
