"""Trial storage: create, find and resume the Optuna study behind a local run.

A run is one Optuna study named by its run id. The study's user attributes hold the spec, the
data hash, the run's sessions and its status, so an interrupted run can be found and resumed,
and a changed spec or changed data is refused with the difference shown.

Example:
    >>> from automl_bridge.engine.study import open_storage
    >>> type(open_storage("memory")).__name__
    'InMemoryStorage'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from automl_bridge.exceptions import (
    ConfigError,
    ResumeError,
    ResumeMismatchError,
    RunExistsError,
    StorageBusyError,
    StorageError,
)
from automl_bridge.spec import JobSpec

ATTR_SPEC = "automl_bridge:spec"
ATTR_RUN_ID = "automl_bridge:run_id"
ATTR_DATA = "automl_bridge:data_sha256"
ATTR_STATUS = "automl_bridge:status"
ATTR_CREATED = "automl_bridge:created_at"
ATTR_SESSIONS = "automl_bridge:sessions"
TRIAL_ATTR = "automl_bridge:candidate"
MEMORY = ("memory", ":memory:", "inmemory")
#: PostgreSQL advisory lock key held while Optuna's tables are created (any fixed 64-bit int).
SCHEMA_LOCK_KEY = 0x6175746F6D6C6272


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``: ``"memory"``, ``sqlite:///...`` or ``postgresql://...``.

    Raises:
        ConfigError: the URL is not a storage URL Optuna can use.
        StorageError: the database cannot be opened.
    """
    import optuna

    if url in MEMORY:
        return optuna.storages.InMemoryStorage()
    if "://" not in url:
        raise ConfigError(
            f"The local backend option 'storage' must be 'memory' or a database URL such as "
            f"'sqlite:///runs/study.db'. Got {redact(url)!r}."
        )
    try:
        from sqlalchemy.engine import make_url

        make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"The storage URL {redact(url)!r} cannot be parsed ({type(exc).__name__}). "
            "Percent-encode special characters in the user name and password, e.g. "
            "urllib.parse.quote(password, safe='')."
        ) from None
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 30}}
    try:
        with _schema_lock(url):
            storage = optuna.storages.RDBStorage(url, skip_compatibility_check=False, **kwargs)
    except Exception as exc:  # SQLAlchemy / driver errors
        raise storage_error(exc, url) from exc
    if url.startswith("sqlite:///"):
        _tune_sqlite(storage.engine)
    return storage


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, one process at a time creates Optuna's tables.

    Workers started together on a fresh database otherwise race to create them: 3 of 8
    failed with ``IntegrityError`` (measured; the first CI run of the 4-worker test hit it).
    A session advisory lock serialises the creation; the server frees it if we die.
    """
    if not url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from automl_bridge.engine.coordination import advisory_lock

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn, advisory_lock(conn, SCHEMA_LOCK_KEY):
            yield
    finally:
        engine.dispose()


def _tune_sqlite(engine: Any) -> None:
    """Write-ahead log and normal sync: a commit per trial costs ~18 ms instead of ~90 ms.

    WAL keeps every committed transaction across a process crash; only a power loss can drop
    the last few commits (SQLite's documented trade-off for ``synchronous=NORMAL``).
    """
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened while creating the tables reconnect with the pragmas


def redact(url: str) -> str:
    """The URL with any password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def storage_error(exc: BaseException, url: str) -> StorageError:
    """Map a storage exception to ours, with advice."""
    text = f"{exc} {exc.__cause__ or ''}"
    if "database is locked" in text:
        return StorageBusyError(
            f"The storage {redact(url)!r} is locked by concurrent writers. Use PostgreSQL for "
            "several processes, or fewer workers on SQLite."
        )
    return StorageError(f"The storage {redact(url)!r} cannot be used: {type(exc).__name__}.")


def now_iso() -> str:
    """Current UTC time, ISO-8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def create_run_study(storage: Any, *, run_id: str, spec: JobSpec, data_sha256: str,
                     directions: Sequence[str], sampler: Any, pruner: Any = None,
                     recover: bool = False) -> Any:
    """Create the study of a new run.

    ``recover``: a study of this name that a killed process left half-created (no spec, no
    trials) is replaced. Only for a process that owns the run (not a worker, which could be
    racing a live creator).

    Raises:
        RunExistsError: a study with this run id exists already.
    """
    import optuna

    try:
        study = optuna.create_study(storage=storage, study_name=run_id,
                                    directions=list(directions),  # type: ignore[arg-type]
                                    sampler=sampler, pruner=pruner or optuna.pruners.NopPruner(),
                                    load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError as exc:
        if recover and _half_created(storage, run_id):
            optuna.delete_study(study_name=run_id, storage=storage)
            return create_run_study(storage, run_id=run_id, spec=spec,
                                    data_sha256=data_sha256, directions=directions,
                                    sampler=sampler, pruner=pruner)
        raise RunExistsError(
            f"A run named {run_id!r} exists already in this storage. Pass resume=True to "
            "continue it, or choose another run_id."
        ) from exc
    # the spec last: a worker loading the study meanwhile waits for it (join_run_study)
    for key, value in ((ATTR_RUN_ID, run_id), (ATTR_DATA, data_sha256),
                       (ATTR_STATUS, "running"), (ATTR_CREATED, now_iso()),
                       (ATTR_SESSIONS, []), (ATTR_SPEC, spec.to_dict())):
        study.set_user_attr(key, value)
    return study


def _half_created(storage: Any, run_id: str) -> bool:
    sid = storage.get_study_id_from_name(run_id)
    return ATTR_SPEC not in storage.get_study_user_attrs(sid) and \
        storage.get_n_trials(sid) == 0


def derived_run_id(spec: JobSpec, data_sha256: str) -> str:
    """The run id workers agree on without being told: ``w-`` + a hash of spec and data."""
    import hashlib

    text = json.dumps(spec.to_dict(), sort_keys=True, default=str) + data_sha256
    return "w-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def join_run_study(storage: Any, *, run_id: str, spec: JobSpec, data_sha256: str,
                   directions: Sequence[str], sampler: Any, pruner: Any = None,
                   wait_s: float = 30.0) -> tuple[Any, bool]:
    """The run's study for a worker: created when absent, else loaded and checked.

    Returns the study and whether this call created it. A worker that loses the race to
    create waits (up to ``wait_s``) for the creator to store the spec.

    Raises:
        ResumeMismatchError: the run exists with another spec or other data.
    """
    import time

    try:
        return create_run_study(storage, run_id=run_id, spec=spec, data_sha256=data_sha256,
                                directions=directions, sampler=sampler, pruner=pruner), True
    except RunExistsError:
        pass
    until = time.monotonic() + wait_s
    while True:
        try:
            return load_run_study(storage, run_id=run_id, spec=spec, data_sha256=data_sha256,
                                  sampler=sampler, pruner=pruner), False
        except ResumeMismatchError:
            raise
        except ResumeError:
            if time.monotonic() > until:
                raise
            time.sleep(0.2)  # the creator has not stored the spec yet


def find_resumable(storage: Any) -> str | None:
    """The run id of the newest run in ``storage`` that did not complete, if any."""
    import optuna

    best: tuple[str, str] | None = None
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if ATTR_RUN_ID not in attrs or attrs.get(ATTR_STATUS) == "completed":
            continue
        created = str(attrs.get(ATTR_CREATED, ""))
        if best is None or created > best[0]:
            best = (created, summary.study_name)
    return best[1] if best else None


def load_run_study(storage: Any, *, run_id: str, spec: JobSpec, data_sha256: str,
                   sampler: Any, pruner: Any = None) -> Any:
    """Load a stored run for resuming, after checking that spec and data are the same.

    Raises:
        ResumeError: no such run.
        ResumeMismatchError: the stored spec or data differ (the message shows how).
    """
    import optuna

    try:
        study = optuna.load_study(study_name=run_id, storage=storage, sampler=sampler,
                                  pruner=pruner or optuna.pruners.NopPruner())
    except KeyError as exc:
        raise ResumeError(f"There is no run {run_id!r} to resume in this storage.") from exc
    stored = study.user_attrs.get(ATTR_SPEC)
    if stored is None:
        raise ResumeError(f"The study {run_id!r} was not created by automl-bridge.")
    stored_spec = JobSpec.from_dict(stored)
    diff = stored_spec.diff(spec)
    if diff:
        raise ResumeMismatchError(
            f"The run {run_id!r} was started with a different spec; resume needs the same "
            "spec. Differences (stored != given):\n- " + "\n- ".join(diff)
        )
    if study.user_attrs.get(ATTR_DATA) != data_sha256:
        raise ResumeMismatchError(
            f"The run {run_id!r} was started on different data (content hash "
            f"{str(study.user_attrs.get(ATTR_DATA))[:12]} != {data_sha256[:12]}). Resume "
            "with the same training data, or start a new run."
        )
    return study


def stored_trials(storage: Any, run_id: str) -> int:
    """Trials stored for the run ``run_id`` (0 when there is no such run)."""
    try:
        return int(storage.get_n_trials(storage.get_study_id_from_name(run_id)))
    except KeyError:
        return 0


def candidate_attr(trial: Any) -> dict[str, Any]:
    """The candidate record stored on a trial (empty when none)."""
    raw = trial.user_attrs.get(TRIAL_ATTR)
    if isinstance(raw, str):
        return dict(json.loads(raw))
    return dict(raw or {})
