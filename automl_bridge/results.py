"""RunResult: the same result object for every backend.

A :class:`RunResult` records what ran (spec, backend, data fingerprint, package versions,
seed), how it went (status, start/end, wall time, warnings) and every candidate tried. It
saves to versioned JSON; :func:`load_result` reads it back. Fitted models are not part of the
JSON: they are saved beside it with :func:`automl_bridge.models.persistence.save_model`.

Example:
    >>> from automl_bridge.results import Candidate, RunResult, RunStatus
    >>> c = Candidate(candidate_id="0", family="linear", params={"C": 1.0}, score=0.9,
    ...               metrics={"accuracy": 0.9})
    >>> r = RunResult(run_id="demo", backend="local", status=RunStatus.COMPLETED,
    ...               metric="accuracy", direction="maximize", candidates=[c], best=c)
    >>> r.best.score
    0.9
"""

from __future__ import annotations

import enum
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.exceptions import AutoMLInputError

if TYPE_CHECKING:
    import pandas as pd

RESULT_SCHEMA_VERSION = 2
#: Versions :func:`load_result` reads (2 added objectives, feasibility and ensembles; a
#: version-1 file reads with their defaults).
READABLE_SCHEMA_VERSIONS = (1, 2)


class RunStatus(str, enum.Enum):
    """Where a run stands, common to every backend."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended."""
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


class CandidateState(str, enum.Enum):
    """How one candidate (trial) ended."""

    COMPLETE = "complete"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"
    RUNNING = "running"


@dataclass
class Candidate:
    """One evaluated pipeline configuration.

    Attributes:
        candidate_id: id within the run (the trial number for the local engine).
        family: model family name (``"baseline"`` for the fallback model).
        params: hyperparameters as chosen by the search.
        score: validation score on the run's metric (NaN when the candidate did not complete).
        metrics: every metric computed on validation, by canonical name.
        fit_time_s: seconds spent fitting and validating.
        state: how the candidate ended.
        error: the error message when it failed or timed out.
        model: the fitted model (best candidate only; never serialised to JSON).
        extra: backend-specific details (raw cloud fields, fidelity, ...).
        measures: measured cost objectives: ``model_size`` (bytes of the fitted pipeline) and
            ``predict_latency`` (ms per 1,000 rows), when the run asked for them.
        feasible: whether the candidate meets the run's constraints (always true without).
        violations: each broken constraint with the measured value, e.g.
            ``{"max_model_bytes": 1.2e6}``.
    """

    candidate_id: str
    family: str
    params: dict[str, Any]
    score: float = float("nan")
    metrics: dict[str, float] = field(default_factory=dict)
    fit_time_s: float = 0.0
    state: CandidateState = CandidateState.COMPLETE
    error: str | None = None
    model: Any = field(default=None, repr=False, compare=False)
    extra: dict[str, Any] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)
    feasible: bool = True
    violations: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the fitted model)."""
        return {
            "candidate_id": self.candidate_id,
            "family": self.family,
            "params": _jsonable(self.params),
            "score": _num(self.score),
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "fit_time_s": self.fit_time_s,
            "state": self.state.value,
            "error": self.error,
            "extra": _jsonable(self.extra),
            "measures": {k: _num(v) for k, v in self.measures.items()},
            "feasible": self.feasible,
            "violations": {k: _num(v) for k, v in self.violations.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            candidate_id=str(d["candidate_id"]),
            family=d["family"],
            params=dict(d.get("params") or {}),
            score=_float(d.get("score")),
            metrics={k: _float(v) for k, v in (d.get("metrics") or {}).items()},
            fit_time_s=float(d.get("fit_time_s") or 0.0),
            state=CandidateState(d.get("state", "complete")),
            error=d.get("error"),
            extra=dict(d.get("extra") or {}),
            measures={k: _float(v) for k, v in (d.get("measures") or {}).items()},
            feasible=bool(d.get("feasible", True)),
            violations={k: _float(v) for k, v in (d.get("violations") or {}).items()},
        )


@dataclass
class RunResult:
    """The outcome of one AutoML run, whatever backend ran it.

    Attributes:
        run_id: unique id of the run.
        backend: backend name (``"local"``, ``"sagemaker"``, ...).
        status: final (or current) :class:`RunStatus`.
        metric: canonical metric name the search optimised.
        direction: ``"maximize"`` or ``"minimize"``.
        candidates: every candidate tried, in the order they were started.
        best: the best complete candidate (``None`` when nothing completed).
        spec: the JobSpec as a dict.
        task: the task actually run (after ``task="auto"`` inference).
        started_at / ended_at: ISO-8601 UTC timestamps.
        wall_time_s: measured wall time of the whole run.
        warnings: everything handled automatically or approximated, one line each.
        data_fingerprint: rows, columns, schema and content hash of the training data.
        package_versions: versions of Python and the libraries that ran.
        seed: the random seed.
        budget_exhausted: the budget ended before any real candidate completed and the best is
            a baseline model.
        model_path: where the best model was saved, if it was.
        extra: backend-specific fields (raw cloud state, storage, validation scheme, ...).
        objectives: the objectives searched (``[metric]`` for a single-objective run, e.g.
            ``["roc_auc", "model_size", "predict_latency"]``).
        pareto_front: ids of the feasible complete candidates no other feasible candidate
            dominates on every objective (multi-objective runs; empty otherwise).
        ensemble: the final ensemble when one was kept: ``{"members": [{"candidate_id",
            "family", "weight"}], "score", "best_single_score", "metrics"}``; ``None``
            when the final model is a single pipeline.
    """

    run_id: str
    backend: str
    status: RunStatus
    metric: str
    direction: str
    candidates: list[Candidate] = field(default_factory=list)
    best: Candidate | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    started_at: str = ""
    ended_at: str = ""
    wall_time_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    data_fingerprint: dict[str, Any] = field(default_factory=dict)
    package_versions: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    budget_exhausted: bool = False
    model_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    objectives: list[str] = field(default_factory=list)
    pareto_front: list[str] = field(default_factory=list)
    ensemble: dict[str, Any] | None = None

    # --- views -----------------------------------------------------------------------------

    def leaderboard(self, *, include_failed: bool = False) -> pd.DataFrame:
        """Candidates as a DataFrame, best first.

        Columns: ``rank``, ``candidate_id``, ``family``, ``score``, one column per metric,
        the measured costs (``model_size``, ``predict_latency``) when the run measured them,
        ``feasible`` when it had constraints, ``fit_time_s``, ``state``, ``params`` (and
        ``error`` when failed ones are included). Infeasible candidates rank like the others
        (by score); ``best`` never is one.
        """
        import pandas as pd

        rows = []
        constrained = any(c.violations for c in self.candidates) or bool(
            (self.spec or {}).get("constraints"))
        for c in self.candidates:
            if c.state is not CandidateState.COMPLETE and not include_failed:
                continue
            row: dict[str, Any] = {"candidate_id": c.candidate_id, "family": c.family,
                                   "score": c.score}
            row.update({f"{k}": v for k, v in c.metrics.items()})
            row.update(c.measures)
            if constrained:
                row["feasible"] = c.feasible
            row.update({"fit_time_s": round(c.fit_time_s, 3), "state": c.state.value,
                        "params": json.dumps(_jsonable(c.params), sort_keys=True)})
            if include_failed:
                row["error"] = c.error
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=["rank", "candidate_id", "family", "score"])
        ascending = self.direction == "minimize"
        frame = frame.sort_values(["score", "candidate_id"], ascending=[ascending, True],
                                  na_position="last", kind="mergesort")
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame.reset_index(drop=True)

    @property
    def n_complete(self) -> int:
        """Number of candidates that completed."""
        return sum(c.state is CandidateState.COMPLETE for c in self.candidates)

    # --- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema_version``."""
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "run_id": self.run_id,
            "backend": self.backend,
            "status": self.status.value,
            "metric": self.metric,
            "direction": self.direction,
            "task": self.task,
            "spec": self.spec,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "wall_time_s": self.wall_time_s,
            "seed": self.seed,
            "budget_exhausted": self.budget_exhausted,
            "best": self.best.to_dict() if self.best else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "warnings": list(self.warnings),
            "data_fingerprint": _jsonable(self.data_fingerprint),
            "package_versions": dict(self.package_versions),
            "model_path": self.model_path,
            "extra": _jsonable(self.extra),
            "objectives": list(self.objectives),
            "pareto_front": list(self.pareto_front),
            "ensemble": _jsonable(self.ensemble),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        """Inverse of :meth:`to_dict`; refuses unknown schema versions."""
        version = d.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            raise AutoMLInputError(
                f"The result file has schema_version {version!r}; this release reads versions "
                f"{list(READABLE_SCHEMA_VERSIONS)}. Upgrade automl-bridge to read it."
            )
        best = Candidate.from_dict(d["best"]) if d.get("best") else None
        return cls(
            run_id=d["run_id"], backend=d["backend"], status=RunStatus(d["status"]),
            metric=d["metric"], direction=d["direction"], task=d.get("task", ""),
            candidates=[Candidate.from_dict(c) for c in d.get("candidates", [])],
            best=best, spec=d.get("spec", {}), started_at=d.get("started_at", ""),
            ended_at=d.get("ended_at", ""), wall_time_s=float(d.get("wall_time_s", 0.0)),
            warnings=list(d.get("warnings", [])),
            data_fingerprint=d.get("data_fingerprint", {}),
            package_versions=d.get("package_versions", {}), seed=d.get("seed"),
            budget_exhausted=bool(d.get("budget_exhausted", False)),
            model_path=d.get("model_path"), extra=d.get("extra", {}),
            objectives=list(d.get("objectives", [d["metric"]])),
            pareto_front=[str(c) for c in d.get("pareto_front") or []],
            ensemble=d.get("ensemble"),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result as JSON, atomically (temp file + rename)."""
        target = Path(path)
        atomic_write_text(target, json.dumps(self.to_dict(), indent=2, sort_keys=False))
        return target


def load_result(path: str | os.PathLike[str]) -> RunResult:
    """Read a result written by :meth:`RunResult.save`.

    Raises:
        AutoMLInputError: the file is missing, not JSON, or of an unknown schema version.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError as exc:
        raise AutoMLInputError(f"No result file at {str(p)!r}.") from exc
    except json.JSONDecodeError as exc:
        raise AutoMLInputError(f"The result file {str(p)!r} is not valid JSON: {exc}.") from exc
    return RunResult.from_dict(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_or_none(v: Any) -> float | None:
    """``v`` as a finite float; ``None`` when it is missing, not a number, NaN or infinite."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars, tuples and other simple objects to JSON types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(obj)
