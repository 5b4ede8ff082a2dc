"""Coordination of the processes that work on one run: trial claims, heartbeats, lost trials.

Every process (a ``fit`` or an ``automl-bridge worker``) that works on a run holds one
:class:`Coordinator`. It gives out trials one at a time under the run's lock, so the trial
budget is counted over all processes and is exact:

* **Budget.** A trial counts once it started (RUNNING or finished), unless it was *void*: lost
  with a killed process, or interrupted by Ctrl-C or a cancel. ``claim`` refuses a new trial
  once ``max_trials`` trials count, so N workers together run exactly ``max_trials``.
* **Lost trials.** A trial is lost when the process running it died: its owner's PID is gone
  (same host: seen at once) or its heartbeat is older than the grace period (any host; the
  database server's clock decides, so clock skew between machines does not matter). A lost
  trial is marked void and failed, and enqueued once more with the same parameters; a retry
  that is lost again is not retried (it might be what kills the process).
* **Lock.** On PostgreSQL, a session-level advisory lock (released by the server when the
  process dies); with SQLite or in memory one process owns the run, so a thread lock suffices.
  :meth:`Coordinator.finalizing` takes a second lock so exactly one process refits and writes
  the final model.
* **One process on SQLite.** A run on SQLite or in memory records the process that owns it;
  another live process that opens it is refused (``ConfigError``: use PostgreSQL).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from automl_bridge.exceptions import ConfigError

log = logging.getLogger("automl_bridge.local")

#: Trial user attribute: the trial is not counted against the trial budget (lost or stopped).
VOID_ATTR = "automl_bridge:void"
#: Trial user attribute of a retry: the number of the lost trial it repeats.
RETRY_OF_ATTR = "automl_bridge:retry_of"
#: Trial system attribute: the process that runs the trial.
OWNER_ATTR = "automl_bridge:owner"
#: Study user attribute (SQLite and memory): the process that owns the run.
PROCESS_ATTR = "automl_bridge:process"
#: Study user attribute: the run's deadline (ISO time of the database's clock), shared runs.
DEADLINE_ATTR = "automl_bridge:deadline"
#: Study user attribute: what the finalizing process wrote (best candidate, files, by whom).
FINAL_ATTR = "automl_bridge:final"

#: Default seconds between heartbeats of a running trial...
HEARTBEAT_S = 5.0
#: ...and the heartbeats a trial may miss before it counts as lost.
GRACE_BEATS = 4


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one that reuses its PID by its start time."""

    host: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> ProcessId:
        """This process."""
        return cls(host=socket.gethostname(), pid=os.getpid(), start=_start_time(os.getpid()))

    @classmethod
    def from_dict(cls, raw: Any) -> ProcessId | None:
        """Read one written by :meth:`to_dict` (``None`` when absent or malformed)."""
        if not isinstance(raw, dict):
            return None
        try:
            return cls(host=str(raw["host"]), pid=int(raw["pid"]), start=str(raw["start"]))
        except (KeyError, TypeError, ValueError):
            return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"host": self.host, "pid": self.pid, "start": self.start}

    @property
    def label(self) -> str:
        """``host:pid``."""
        return f"{self.host}:{self.pid}"

    def alive(self) -> bool | None:
        """Whether the process runs: ``None`` when it is on another host (unknown here)."""
        if self.host != socket.gethostname():
            return None
        if self.pid == os.getpid():
            return self.start == _start_time(self.pid)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, owned by someone else
        return self.start == _start_time(self.pid)


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), else ``""``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@contextlib.contextmanager
def advisory_lock(conn: Any, key: int, *, poll_s: float | None = None,
                  quiet_unlock: bool = False) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock ``key`` on the connection ``conn``.

    Blocks until it is free; with ``poll_s``, tries every ``poll_s`` seconds instead (so a
    signal is handled while waiting). The server frees the lock if the process dies.
    ``quiet_unlock``: an error while unlocking (a lost connection, whose lock is gone with it)
    is not raised.
    """
    from sqlalchemy import text

    if poll_s is None:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    else:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            time.sleep(poll_s)
    try:
        yield
    finally:
        with contextlib.suppress(*((Exception,) if quiet_unlock else ())):
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def storage_kind(storage: Any) -> str:
    """``"memory"``, ``"sqlite"``, ``"server"`` (PostgreSQL: several processes) or
    ``"other"`` (another database Optuna supports; one process)."""
    url = getattr(storage, "url", None)
    if url is None:
        return "memory"
    if str(url).startswith("sqlite"):
        return "sqlite"
    return "server" if str(url).startswith("postgresql") else "other"


class Coordinator:
    """This process's share of a run (see the module docstring).

    Args:
        storage: the run's Optuna storage (as returned by ``open_storage``).
        run_id: the run (study) name.
        max_trials: the run's trial budget (``None``: none).
        heartbeat_s: seconds between heartbeats of a running trial (server storages); a trial
            silent for :data:`GRACE_BEATS` heartbeats is lost.
    """

    def __init__(self, storage: Any, run_id: str, *, max_trials: int | None,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.storage = storage
        self.run_id = run_id
        self.max_trials = max_trials
        self.heartbeat_s = heartbeat_s
        self.grace_s = heartbeat_s * GRACE_BEATS
        self.kind = storage_kind(storage)
        self.shared = self.kind == "server"
        self.me = ProcessId.current()
        self.notes: list[str] = []
        self._thread_lock = threading.RLock()
        self._active: set[int] = set()
        self._conn: Any = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        if self.shared:
            self._conn = storage.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")

    # --- locks -------------------------------------------------------------------------------

    def _key(self, purpose: str) -> int:
        digest = hashlib.sha256(f"automl-bridge:{self.run_id}:{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The run's claim lock: over threads here, and over processes on a server."""
        with self._thread_lock:
            if not self.shared:
                yield
                return
            with advisory_lock(self._conn, self._key("claim")):
                yield

    @contextlib.contextmanager
    def finalizing(self, poll_s: float = 0.2) -> Iterator[None]:
        """Hold the run's final-step lock (waits while another process holds it)."""
        if not self.shared:
            yield
            return
        with advisory_lock(self._conn, self._key("final"), poll_s=poll_s, quiet_unlock=True):
            yield

    @property
    def salt(self) -> int:
        """0 for a run of one process; on a shared storage, a number that tells this process
        apart from the other workers (their samplers must not draw the same configurations)."""
        if not self.shared:
            return 0
        import zlib

        return zlib.crc32(f"{self.me.label}:{self.me.start}".encode()) or 1

    # --- the run's owner (SQLite, memory) and its deadline -----------------------------------

    def take_run(self, study: Any) -> None:
        """Record this process as the run's owner (SQLite, memory).

        Raises:
            ConfigError: another live process works on the run (SQLite serves one).
        """
        if self.shared:
            return
        owner = ProcessId.from_dict(study.user_attrs.get(PROCESS_ATTR))
        if owner is not None and owner != self.me and owner.alive():
            raise ConfigError(
                f"The run {self.run_id!r} is being worked on by another process "
                f"(pid {owner.pid}). SQLite serves one process per run: wait for it to end, "
                "or use a PostgreSQL storage for several workers "
                "(storage='postgresql://user:password@host/db', see docs/scaling.md)."
            )
        study.set_user_attr(PROCESS_ATTR, self.me.to_dict())

    def db_now(self) -> _dt.datetime:
        """The database server's clock (UTC); this machine's for SQLite and memory."""
        if self.shared:
            from sqlalchemy import text

            value = self._conn.execute(text("SELECT now()")).scalar()
            return value.astimezone(_dt.timezone.utc)
        return _dt.datetime.now(_dt.timezone.utc)

    def shared_deadline(self, study: Any, budget_s: float, *, reset: bool = False) -> float:
        """A ``time.monotonic()`` deadline here for the run's shared deadline.

        The first process sets the deadline (the database's clock at start plus the budget;
        ``reset``: set it anew); every process converts it to its own monotonic clock.
        """
        with self.lock():
            raw = study.user_attrs.get(DEADLINE_ATTR)
            now = self.db_now()
            if raw is None or reset:
                raw = (now + _dt.timedelta(seconds=budget_s)).isoformat()
                study.set_user_attr(DEADLINE_ATTR, raw)
        left = (_dt.datetime.fromisoformat(raw) - now).total_seconds()
        return time.monotonic() + left

    # --- trials ------------------------------------------------------------------------------

    def claim(self, study: Any) -> Any:
        """A new trial for this process, or ``None`` once the trial budget is spent."""
        import optuna

        with self.lock():
            self.sweep(study)
            if self.max_trials is not None and self.counted(study) >= self.max_trials:
                return None
            trial = study.ask()
            tid = trial._trial_id
            if self.shared:  # one process owns an SQLite run: its lost trials need no owner
                self.storage.set_trial_system_attr(tid, OWNER_ATTR, self.me.to_dict())
                self.storage.record_heartbeat(tid)
            self._active.add(tid)
        self._ensure_heartbeat()
        assert isinstance(trial, optuna.trial.Trial)
        return trial

    def release(self, trial: Any) -> None:
        """The trial ended here (told, or given up)."""
        self._active.discard(trial._trial_id)

    def abandon(self, study: Any) -> None:
        """Fail this process's running trials after Ctrl-C (void: not counted, not retried;
        a resume samples new ones in their place)."""
        import optuna

        from automl_bridge.engine.study import TRIAL_ATTR

        with self.lock():
            for tid in list(self._active):
                with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                    attrs = self.storage.get_trial(tid).user_attrs
                    record = None if TRIAL_ATTR in attrs else _interrupted_record(
                        attrs.get("automl_bridge:model", "?"), "Interrupted.")
                    _fail_void(self.storage, tid, record)
                self._active.discard(tid)

    def counted(self, study: Any) -> int:
        """Trials that count against the budget: started, not void."""
        if self.kind == "memory":
            trials = study.get_trials(deepcopy=False)
            return sum(t.state.name != "WAITING" and not t.user_attrs.get(VOID_ATTR)
                       for t in trials)
        from sqlalchemy import text

        sid = study._study_id
        with self.storage.engine.connect() as conn:
            started = conn.execute(text(
                "SELECT COUNT(*) FROM trials WHERE study_id = :s AND state != 'WAITING'"),
                {"s": sid}).scalar()
            void = conn.execute(text(
                "SELECT COUNT(*) FROM trial_user_attributes a JOIN trials t "
                "ON a.trial_id = t.trial_id WHERE t.study_id = :s AND a.key = :k "
                "AND t.state != 'WAITING'"), {"s": sid, "k": VOID_ATTR}).scalar()
        return int(started or 0) - int(void or 0)

    def running_elsewhere(self, study: Any) -> int:
        """Trials other processes (or other threads here) are running now."""
        return len(self._running_elsewhere(study))

    def _running_elsewhere(self, study: Any) -> list[Any]:
        import optuna

        running = study._storage.get_all_trials(study._study_id, deepcopy=False,
                                                states=(optuna.trial.TrialState.RUNNING,))
        return [t for t in running if t._trial_id not in self._active]

    def sweep(self, study: Any) -> list[int]:
        """Fail the lost trials of dead processes, retrying each once; their numbers."""
        running = self._running_elsewhere(study)
        if not running:
            return []
        stale: set[int] = set()
        if self.shared:
            stale = set(self._stale_ids(study))
        lost = []
        for trial in running:
            owner = ProcessId.from_dict(trial.system_attrs.get(OWNER_ATTR))
            if not self.shared:
                dead = True  # this process owns the run: nobody else can be running it
            else:
                dead = trial._trial_id in stale or (owner is not None
                                                    and owner.alive() is False)
            if dead and self._void_lost(study, trial, owner):
                lost.append(trial.number)
        return lost

    def _stale_ids(self, study: Any) -> list[int]:
        """RUNNING trials whose last heartbeat is older than the grace period (server clock)."""
        from sqlalchemy import text

        rows = self._conn.execute(text(
            "SELECT t.trial_id FROM trials t JOIN trial_heartbeats h "
            "ON h.trial_id = t.trial_id WHERE t.study_id = :s AND t.state = 'RUNNING' "
            "AND h.heartbeat < now() - make_interval(secs => :g)"),
            {"s": study._study_id, "g": float(self.grace_s)}).fetchall()
        return [int(r[0]) for r in rows]

    def _void_lost(self, study: Any, trial: Any, owner: ProcessId | None) -> bool:
        import optuna

        retry_of = trial.user_attrs.get(RETRY_OF_ATTR)
        who = owner.label if owner is not None else "a process"
        again = "it was run again" if retry_of is None else \
            f"it was already the retry of trial {retry_of}, so it was not run again"
        record = _interrupted_record(
            trial.params.get("model", trial.user_attrs.get("automl_bridge:model", "?")),
            f"The process running this trial ({who}) stopped or lost contact; {again}.")
        try:
            _fail_void(study._storage, trial._trial_id, record)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False  # it finished (or another process failed it) meanwhile
        if retry_of is None:
            attrs = {RETRY_OF_ATTR: trial.number}
            for key in ("automl_bridge:warm_start", "automl_bridge:model"):
                if key in trial.user_attrs:
                    attrs[key] = trial.user_attrs[key]
            study.enqueue_trial(trial.params, user_attrs=attrs)
        note = f"Trial {trial.number} was lost with {who}; {again}."
        log.warning(note)
        self.notes.append(note)
        return True

    # --- heartbeats --------------------------------------------------------------------------

    def _ensure_heartbeat(self) -> None:
        if not self.shared or (self._beat is not None and self._beat.is_alive()):
            return
        self._beat = threading.Thread(target=self._heartbeat_loop, daemon=True,
                                      name="automl-bridge-heartbeat")
        self._beat.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            for tid in list(self._active):
                try:
                    self.storage.record_heartbeat(tid)
                except Exception as exc:  # the database may be back at the next beat
                    log.warning("Heartbeat of trial id %s failed (%s); retrying in %.0fs.",
                                tid, type(exc).__name__, self.heartbeat_s)

    def close(self) -> None:
        """Stop the heartbeat and release the connection."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def _interrupted_record(family: Any, error: str) -> dict[str, Any]:
    """The candidate record of a trial that ended without a result."""
    return {"family": str(family), "params": {}, "state": "interrupted", "error": error}


def _fail_void(storage: Any, trial_id: int, record: dict[str, Any] | None) -> None:
    """Fail a running trial as void (not counted), storing ``record`` as its candidate.

    Raises:
        optuna.exceptions.UpdateFinishedTrialError: it finished meanwhile.
    """
    import optuna

    from automl_bridge.engine.study import TRIAL_ATTR

    if record is not None:
        storage.set_trial_user_attr(trial_id, TRIAL_ATTR, json.dumps(record))
    storage.set_trial_user_attr(trial_id, VOID_ATTR, True)
    storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
