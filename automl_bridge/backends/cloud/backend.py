"""One implementation of the backend protocol for every managed AutoML service.

:class:`CloudBackend` drives a :class:`~automl_bridge.backends.cloud.adapter.CloudAdapter`:

1. the data is checked exactly as the local engine checks it (target, task, metric, schema;
   :func:`automl_bridge.data.prepare_training_data`) and written once to a CSV file;
2. the adapter validates the spec without the network (a field the service cannot honour is
   an :class:`~automl_bridge.exceptions.UnsupportedSpecError`, or a recorded warning with
   ``strict=False``), uploads the data and creates the job under a deterministic name, so a
   repeated submit attaches to the job instead of creating another;
3. :meth:`CloudBackend.run` polls with exponential backoff (``poll_initial_s`` to
   ``poll_max_s``) until the job ends or the client-side deadline passes;
4. Ctrl-C, SIGTERM, an error or the deadline while the job runs **stops the remote job** (an
   interrupted submit first looks the job up by its name) and says so;
5. the result is a :class:`~automl_bridge.results.RunResult` like the local engine's, with the
   service's candidates, the best model's location (``extra["model_uri"]``), timings and a cost
   estimate; ``best.model`` predicts through the service (batch prediction) where the adapter
   can.

Example:
    >>> from automl_bridge.backends.cloud.backend import COMMON_OPTIONS
    >>> sorted(COMMON_OPTIONS)[:3]
    ['deadline_s', 'poll_initial_s', 'poll_max_s']
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from automl_bridge.backends.base import Capabilities, RunHandle, check_options
from automl_bridge.backends.cloud.adapter import (
    CloudAdapter,
    JobIdentity,
    RemoteJob,
    RemoteResult,
    RemoteStatus,
    TrainingTable,
)
from automl_bridge.backends.cloud.naming import job_name, labels_for
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.exceptions import ConfigError, RemoteJobFailedError, RunError
from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus
from automl_bridge.spec import JobSpec

#: Options every cloud backend takes besides its own.
COMMON_OPTIONS: dict[str, str] = {
    "strict": "refuse spec fields the service cannot honour (default True); False records a "
              "warning and approximates",
    "poll_initial_s": "first wait between status polls in seconds (default 15)",
    "poll_max_s": "longest wait between status polls (default 60)",
    "deadline_s": "client-side deadline of a run in seconds; the job is stopped when it passes "
                  "(default: twice the time budget plus one hour)",
    "run_id": "the run id (default: a new one; the same id and data attach to the same job)",
    "work_dir": "where the CSV sent to the service is written (default: a temporary folder)",
}


class CloudBackend:
    """The backend protocol around one cloud adapter (subclassed once per service).

    Subclasses set :attr:`name`, :attr:`OPTIONS` (their own options, described) and
    :meth:`make_adapter`.

    Args:
        sleep / clock: injectable for tests (polling waits and the deadline).
        **options: the common options (:data:`COMMON_OPTIONS`) and the service's.
    """

    name: ClassVar[str] = "cloud"
    OPTIONS: ClassVar[dict[str, str]] = {}

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, **options: Any) -> None:
        check_options(self.name, options, {**COMMON_OPTIONS, **self.OPTIONS})
        self.strict = bool(options.pop("strict", True))
        self.poll_initial_s = _positive(self.name, "poll_initial_s",
                                        options.pop("poll_initial_s", 15.0))
        self.poll_max_s = _positive(self.name, "poll_max_s", options.pop("poll_max_s", 60.0))
        deadline = options.pop("deadline_s", None)
        self.deadline_s = None if deadline is None else _positive(self.name, "deadline_s",
                                                                  deadline)
        self.run_id: str | None = options.pop("run_id", None)
        self.work_dir = options.pop("work_dir", None)
        self.sleep, self.clock = sleep, clock
        self.adapter: CloudAdapter = self.make_adapter(strict=self.strict, **options)
        self._tables: dict[str, TrainingTable] = {}

    def make_adapter(self, *, strict: bool, **options: Any) -> CloudAdapter:
        """The service's adapter for ``options`` (implemented by each cloud)."""
        raise NotImplementedError

    @property
    def capabilities(self) -> Capabilities:
        """The service runs its own search: no strategies or families to choose; a repeated
        submit of the same run attaches to its job (resume)."""
        return Capabilities(strategies=(), families=(), supports_resume=True,
                            supports_max_trials=True, hard_time_budget=False)

    # --- the protocol --------------------------------------------------------------------------

    def submit(self, spec: JobSpec, data: Any, *, resume: bool = False) -> RunHandle:
        """Check the data and spec, upload, create (or attach to) the job; return at once."""
        from automl_bridge.backends.local import new_run_id

        run_id = self.run_id or new_run_id()
        with self._staging_folder() as folder:
            table, warnings, frame = self._table(spec, data, run_id, folder)
            warnings = [*warnings, *self.adapter.validate(spec, table)]
            frame.to_csv(table.path, index=False)  # only once the spec was accepted
            del frame
            identity = self._identity(run_id, table)
            staged = self.adapter.stage(table, identity)
        job: RemoteJob | None = None
        try:
            job = self.adapter.submit(spec, table, staged, identity)
        except BaseException:
            self._stop_after_failed_submit(identity)
            raise
        self._tables[run_id] = table
        return RunHandle(run_id=run_id, backend=self.name,
                         info={"job": job.to_info(), "warnings": warnings,
                               "started": time.time(), "spec": spec.to_dict(),
                               "time_budget_s": spec.time_budget_s})

    def status(self, handle: RunHandle) -> RunStatus:
        """The job's common status (the raw one: :meth:`remote_status`)."""
        return self.remote_status(handle).status

    def remote_status(self, handle: RunHandle) -> RemoteStatus:
        """The job's status with the service's raw state and failure reason."""
        return self.adapter.status(_job(handle))

    def result(self, handle: RunHandle, *, timeout: float | None = None,
               spec: JobSpec | None = None) -> RunResult:
        """Wait for the job (polling with backoff) and build its result.

        Raises:
            RemoteJobFailedError: the job failed (with the service's reason).
            RunError: the deadline passed (the job was asked to stop).
        """
        job = _job(handle)
        limit = timeout if timeout is not None else self._deadline(
            handle.info.get("time_budget_s"))
        final = self._wait(job, limit)
        return self._result(handle, job, final, spec)

    def cancel(self, handle: RunHandle) -> None:
        """Ask the service to stop the job (idempotent)."""
        self.adapter.cancel(_job(handle))

    def run(self, spec: JobSpec, data: Any, *, resume: bool = False,
            progress: Any = None) -> RunResult:
        """Submit, wait and build the result; an interrupt or error stops the remote job."""
        handle: RunHandle | None = None
        try:
            with _terminate_as_interrupt():
                handle = self.submit(spec, data, resume=resume)
                return self.result(handle, spec=spec)
        except BaseException as exc:
            if handle is not None and not isinstance(exc, RemoteJobFailedError) \
                    and not getattr(exc, "job_stopped", False):
                self._stop(_job(handle), exc)
            raise

    def check(self, spec: JobSpec, data: Any) -> list[str]:
        """Everything :meth:`submit` checks before it uploads, with no network: the data, and
        the spec against the service. Returns the warnings; raises what submit would."""
        from automl_bridge.backends.local import new_run_id

        folder = Path(self.work_dir or tempfile.gettempdir())
        table, warnings, _ = self._table(spec, data, self.run_id or new_run_id(), folder)
        return [*warnings, *self.adapter.validate(spec, table)]  # nothing written

    # --- steps ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _staging_folder(self) -> Iterator[Path]:
        """Where the CSV sent to the service is written: ``work_dir`` (kept), or a temporary
        folder removed once the data is uploaded (no copy of the data is left behind)."""
        if self.work_dir:
            folder = Path(self.work_dir)
            folder.mkdir(parents=True, exist_ok=True)
            yield folder
            return
        with tempfile.TemporaryDirectory(prefix="automl-bridge-cloud-") as tmp:
            yield Path(tmp)

    def _table(self, spec: JobSpec, data: Any, run_id: str, folder: Path
               ) -> tuple[TrainingTable, list[str], Any]:
        """Check ``data`` like the local engine; the table (its CSV at ``folder``, not yet
        written), the warnings and the frame to write."""
        from automl_bridge.data import prepare_training_data

        tdata = prepare_training_data(data, spec)
        frame = tdata.X  # our own validated copy: the target joins it without another copy
        frame[spec.target] = tdata.y
        dtypes = dict(tdata.schema.kinds)
        dtypes[spec.target] = "target"
        table = TrainingTable(
            path=str(folder / f"{run_id}-train.csv"), target=spec.target, task=tdata.task,
            metric=tdata.metric, n_rows=len(frame),
            columns=tuple(str(c) for c in frame.columns), dtypes=dtypes,
            classes=tuple(tdata.classes) if tdata.classes is not None else None,
            sha256=str(tdata.fingerprint.get("sha256", "")))
        return table, list(tdata.warnings), frame

    def _identity(self, run_id: str, table: TrainingTable) -> JobIdentity:
        return JobIdentity(run_id=run_id, data_sha256=table.sha256,
                           name=job_name(run_id, table.sha256),
                           labels=labels_for(self.name, run_id))

    def _deadline(self, spec_budget: float | None) -> float | None:
        if self.deadline_s is not None:
            return self.deadline_s
        return None if spec_budget is None else 2.0 * spec_budget + 3600.0

    def _wait(self, job: RemoteJob, limit: float | None) -> RemoteStatus:
        start = self.clock()
        delay = self.poll_initial_s
        while True:
            state = self.adapter.status(job)
            if state.is_terminal:
                return state
            if limit is not None and self.clock() - start >= limit:
                stopped = self.adapter.cancel(job)
                error = RunError(
                    f"The {self.name} job {job.job_id!r} was still {state.raw} after the "
                    f"client-side deadline of {limit:.0f} s; it was asked to stop "
                    f"(now {stopped.raw}). Raise the backend option 'deadline_s' to wait "
                    "longer.")
                error.job_stopped = True  # type: ignore[attr-defined]
                raise error
            self.sleep(delay)
            delay = min(self.poll_max_s, delay * 2)

    def _result(self, handle: RunHandle, job: RemoteJob, final: RemoteStatus,
                spec: JobSpec | None) -> RunResult:
        from automl_bridge.metrics import get_metric

        table = self._tables.get(handle.run_id)
        warnings = list(handle.info.get("warnings") or [])
        if final.status is RunStatus.FAILED:
            reason = redact(final.failure_reason or "no reason given")
            raise RemoteJobFailedError(
                f"The {self.name} job {job.job_id!r} failed ({final.raw}): {reason}",
                reason=reason)
        spec = spec or _spec_of(handle)
        if table is None:
            raise RunError(f"The result of {self.name} run {handle.run_id!r} needs the data "
                           "description of its submit; submit it again in this process (the "
                           "same run id attaches to the job).")
        got: RemoteResult = (self.adapter.collect(job, spec, table)
                             if final.status is RunStatus.COMPLETED else RemoteResult())
        metric = table.metric
        direction = get_metric(metric).direction
        best = _best(got, direction)
        if best is not None:
            best.model = RemoteModel(self, job)
        status = final.status if final.status is not RunStatus.COMPLETED or got.candidates \
            else RunStatus.COMPLETED
        started = float(handle.info.get("started", time.time()))
        return RunResult(
            run_id=handle.run_id, backend=self.name, status=status, metric=metric,
            direction=direction, candidates=got.candidates, best=best, spec=spec.to_dict(),
            task=table.task, started_at=got.started_at, ended_at=got.ended_at,
            wall_time_s=round(time.time() - started, 3),
            warnings=[*warnings, *got.warnings],
            data_fingerprint={"sha256": table.sha256, "rows": table.n_rows,
                              "columns": list(table.columns)},
            extra={"job_id": job.job_id, "raw_state": final.raw, "detail": final.detail,
                   "model_uri": got.model_uri, "cost": got.cost, "remote": got.extra},
        )

    def _stop(self, job: RemoteJob, why: BaseException) -> None:
        """Stop the remote job after an interrupt or error; never raise over ``why``."""
        try:
            state = self.adapter.cancel(job)
            _note(why, f"The {self.name} job {job.job_id!r} was asked to stop ({state.raw}).")
        except Exception as exc:  # the original error matters more
            _note(why, f"Stopping the {self.name} job {job.job_id!r} failed: "
                       f"{redact(exc)}. Stop it with: automl-bridge cleanup --backend "
                       f"{self.name}")

    def _stop_after_failed_submit(self, identity: JobIdentity) -> None:
        """A submit that failed or was interrupted may have created the job: find and stop it."""
        with contextlib.suppress(Exception):
            job = self.adapter.find(identity)
            if job is not None:
                self.adapter.cancel(job)

    # --- cleanup ---------------------------------------------------------------------------------

    def cleanup(self, *, dry_run: bool = False) -> list[RemoteJob]:
        """Stop every job this SDK started that is still running (by tag or label)."""
        jobs = self.adapter.list_ours(active_only=True)
        if not dry_run:
            for job in jobs:
                self.adapter.cancel(job)
        return jobs


class RemoteModel:
    """The best model of a cloud run: predictions go through the service's batch prediction.

    Not saved locally: ``RunResult.extra["model_uri"]`` says where the service keeps it.
    """

    def __init__(self, backend: CloudBackend, job: RemoteJob) -> None:
        self.backend, self.job = backend, job

    def predict(self, frame: Any) -> Any:
        """Predictions for ``frame`` (a DataFrame or a CSV path) from the service."""
        if isinstance(frame, str | os.PathLike):
            out = self.backend.adapter.predict(self.job, str(frame))
        else:
            with tempfile.TemporaryDirectory(prefix="automl-bridge-predict-") as tmp:
                path = str(Path(tmp) / "input.csv")
                frame.to_csv(path, index=False)
                out = self.backend.adapter.predict(self.job, path)
        return out["prediction"].to_numpy() if hasattr(out, "columns") and \
            "prediction" in out.columns else out

    def __repr__(self) -> str:
        return f"RemoteModel({self.backend.name}, {self.job.job_id!r})"


def _best(got: RemoteResult, direction: str) -> Candidate | None:
    done = [c for c in got.candidates if c.state is CandidateState.COMPLETE]
    if got.best_id is not None:
        for c in done:
            if c.candidate_id == got.best_id:
                return c
    scored = [c for c in done if c.score == c.score]
    if not scored:
        return None
    sign = -1.0 if direction == "maximize" else 1.0
    return min(scored, key=lambda c: sign * c.score)


def _job(handle: RunHandle) -> RemoteJob:
    info = handle.info.get("job")
    if not isinstance(info, dict):
        raise ConfigError(f"The handle of run {handle.run_id!r} names no remote job.")
    return RemoteJob.from_info(info)


def _spec_of(handle: RunHandle) -> JobSpec:
    raw = handle.info.get("spec")
    if not isinstance(raw, dict):
        raise ConfigError(f"The result of run {handle.run_id!r} needs its spec; pass spec=.")
    return JobSpec.from_dict(raw)


def _positive(backend: str, name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not out > 0:
        raise ConfigError(f"The option {name!r} of the {backend} backend must be a positive "
                          f"number of seconds. Got {value!r}.")
    return out


def _note(exc: BaseException, text: str) -> None:
    with contextlib.suppress(Exception):
        exc.add_note(text)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the remote job is stopped on the way out."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises :class:`_Terminated`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
