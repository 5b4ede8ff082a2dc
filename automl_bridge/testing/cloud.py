"""An in-memory cloud adapter with a scripted job lifecycle, for testing cloud backends.

:class:`ScriptedAdapter` implements the :class:`~automl_bridge.backends.cloud.adapter.CloudAdapter`
protocol without any SDK: each job walks through a list of states, one per ``status`` call;
``cancel`` moves it to stopping, then cancelled. It records every job it created and every stop
request, and can raise :class:`KeyboardInterrupt` at the k-th call of any method (an interrupt
arriving in the middle of a submit or a poll). :class:`ScriptedBackend` is the cloud backend
around it, used by the common layer's tests and the interrupt checks.

Example:
    >>> import pandas as pd
    >>> from automl_bridge.spec import JobSpec
    >>> frame = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5] * 10, "y": [0, 1] * 20})
    >>> backend = ScriptedBackend(adapter=ScriptedAdapter(), sleep=lambda s: None)
    >>> result = backend.run(JobSpec(target="y", task="classification", metric="accuracy",
    ...                              time_budget_s=600), frame)
    >>> result.status.value, result.best.candidate_id
    ('completed', 'c1')
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pandas as pd

from automl_bridge.backends.cloud.adapter import (
    JobIdentity,
    RemoteJob,
    RemoteResult,
    RemoteStatus,
    StagedData,
    TrainingTable,
)
from automl_bridge.backends.cloud.backend import CloudBackend
from automl_bridge.exceptions import UnsupportedSpecError
from automl_bridge.results import Candidate, CandidateState, RunStatus
from automl_bridge.spec import JobSpec

_STATES = {"pending": RunStatus.PENDING, "running": RunStatus.RUNNING,
           "completed": RunStatus.COMPLETED, "failed": RunStatus.FAILED,
           "cancelled": RunStatus.CANCELLED}


class ScriptedAdapter:
    """A fake service: jobs follow ``script``; see the module docstring.

    Args:
        script: states of a job, one per ``status`` call (the last one repeats).
        failure_reason: the reason a ``"failed"`` job gives.
        interrupt_at: ``(method, k)``: the k-th call (1-based) of ``method`` raises
            KeyboardInterrupt (after doing its work when ``after=True``).
        after: see ``interrupt_at``.
        strict: refuse ``search`` strategies other than ``"auto"`` (else warn).
    """

    name = "scripted"

    def __init__(self, *, script: tuple[str, ...] = ("pending", "running", "completed"),
                 failure_reason: str | None = None,
                 interrupt_at: tuple[str, int] | None = None, after: bool = False,
                 strict: bool = True) -> None:
        self.script = script
        self.failure_reason = failure_reason
        self.interrupt_at = interrupt_at
        self.after = after
        self.strict = strict
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.stop_requests: list[str] = []
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    # --- interrupts ------------------------------------------------------------------------

    def _call(self, method: str) -> bool:
        """Count a call; whether it must be interrupted (and when: before or after)."""
        with self._lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            hit = self.interrupt_at is not None and self.interrupt_at == (
                method, self.calls[method])
        if hit and not self.after:
            raise KeyboardInterrupt(f"interrupted in {method}")
        return hit

    # --- the protocol ----------------------------------------------------------------------

    def validate(self, spec: JobSpec, table: TrainingTable) -> list[str]:
        hit = self._call("validate")
        out = []
        if spec.search_strategy != "auto":
            if self.strict:
                raise UnsupportedSpecError(
                    f"The scripted service runs its own search; search={spec.search_strategy!r}"
                    " cannot be honoured. Use search='auto', or strict=False to ignore it.")
            out.append(f"search={spec.search_strategy!r} was ignored: the service runs its "
                       "own search.")
        _after(hit, "validate")
        return out

    def stage(self, table: TrainingTable, identity: JobIdentity) -> StagedData:
        hit = self._call("stage")
        _after(hit, "stage")
        return StagedData(uri=f"mem://{identity.name}/train.csv", info={"rows": table.n_rows})

    def submit(self, spec: JobSpec, table: TrainingTable, staged: StagedData,
               identity: JobIdentity) -> RemoteJob:
        hit = self._call("submit")
        if identity.name not in self.jobs:
            self.jobs[identity.name] = {"step": 0, "stopping": 0, "state": None,
                                        "labels": dict(identity.labels)}
            self.created.append(identity.name)
        _after(hit, "submit")
        return RemoteJob(self.name, identity.name, run_id=identity.run_id)

    def find(self, identity: JobIdentity) -> RemoteJob | None:
        self._call("find")
        if identity.name in self.jobs:
            return RemoteJob(self.name, identity.name, run_id=identity.run_id)
        return None

    def status(self, job: RemoteJob) -> RemoteStatus:
        hit = self._call("status")
        state = self._state(job.job_id, advance=True)
        _after(hit, "status")
        return state

    def _state(self, name: str, *, advance: bool) -> RemoteStatus:
        rec = self.jobs[name]
        if rec["state"] is not None:  # stopped, or stopping
            if rec["state"] == "stopping":
                if advance:
                    rec["stopping"] += 1
                if rec["stopping"] >= 2:
                    rec["state"] = "cancelled"
                else:
                    return RemoteStatus(RunStatus.RUNNING, raw="Stopping", stopping=True)
            return _status(rec["state"], self.failure_reason)
        raw = self.script[min(rec["step"], len(self.script) - 1)]
        if advance:
            rec["step"] += 1
        if raw in ("completed", "failed", "cancelled"):
            rec["state"] = raw
        return _status(raw, self.failure_reason)

    def cancel(self, job: RemoteJob) -> RemoteStatus:
        hit = self._call("cancel")
        self.stop_requests.append(job.job_id)
        rec = self.jobs.get(job.job_id)
        if rec is not None and rec["state"] is None:
            rec["state"] = "stopping"
        state = self._state(job.job_id, advance=False) if rec is not None else \
            RemoteStatus(RunStatus.CANCELLED, raw="NotFound")
        _after(hit, "cancel")
        return state

    def collect(self, job: RemoteJob, spec: JobSpec, table: TrainingTable) -> RemoteResult:
        self._call("collect")
        metric = table.metric
        cands = [Candidate(candidate_id=f"c{i}", family=f"algo{i}", params={},
                           score=0.7 + 0.1 * i, metrics={metric: 0.7 + 0.1 * i},
                           state=CandidateState.COMPLETE,
                           extra={"raw_metrics": {"Score": 0.7 + 0.1 * i}})
                 for i in range(2)]
        return RemoteResult(candidates=cands, best_id="c1", model_uri=f"mem://{job.job_id}/model",
                            started_at="2026-01-01T00:00:00Z", ended_at="2026-01-01T00:10:00Z",
                            cost={"usd": 0.12, "basis": "fake", "price_table_date":
                                  "2026-01-01"})

    def list_ours(self, *, active_only: bool = True) -> list[RemoteJob]:
        self._call("list_ours")
        return [RemoteJob(self.name, name) for name, rec in self.jobs.items()
                if not active_only or rec["state"] in (None, "stopping")]

    def predict(self, job: RemoteJob, data: TrainingTable | str) -> pd.DataFrame:
        self._call("predict")
        path = data.path if isinstance(data, TrainingTable) else data
        rows = len(pd.read_csv(path))
        return pd.DataFrame({"prediction": [1] * rows})

    # --- checks ----------------------------------------------------------------------------

    def orphans(self) -> list[str]:
        """Jobs created and never asked to stop that have not ended on their own."""
        return [name for name in self.created
                if self.jobs[name]["state"] is None and name not in self.stop_requests]


def _after(hit: bool, method: str) -> None:
    if hit:
        raise KeyboardInterrupt(f"interrupted after {method}")


def _status(raw: str, reason: str | None) -> RemoteStatus:
    return RemoteStatus(_STATES[raw], raw=raw,
                        failure_reason=reason if raw == "failed" else None)


class ScriptedBackend(CloudBackend):
    """The cloud backend around a :class:`ScriptedAdapter` (option ``adapter``)."""

    name: ClassVar[str] = "scripted"
    OPTIONS: ClassVar[dict[str, str]] = {"adapter": "the ScriptedAdapter to drive"}

    def make_adapter(self, *, strict: bool, **options: Any) -> Any:
        adapter = options.get("adapter") or ScriptedAdapter()
        adapter.strict = strict
        return adapter
