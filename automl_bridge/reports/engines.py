"""Per-engine views of a run: summary, leaderboard, best score against time, Pareto points,
learning curves, and the spec fields it refused or approximated.

Each function reads one :class:`~automl_bridge.results.RunResult` and returns JSON-ready data
for :func:`automl_bridge.reports.compare`.

Example:
    >>> from automl_bridge.results import Candidate, RunResult, RunStatus
    >>> cands = [Candidate(candidate_id=str(i), family="linear", params={}, score=s,
    ...                    extra={"finished_at": f"2025-01-01T00:00:0{i + 1}+00:00"})
    ...          for i, s in enumerate([0.7, 0.6, 0.9])]
    >>> run = RunResult(run_id="r", backend="local", status=RunStatus.COMPLETED,
    ...                 metric="accuracy", direction="maximize", candidates=cands,
    ...                 started_at="2025-01-01T00:00:00+00:00")
    >>> anytime(run, score_fn(run, "accuracy"), "maximize")
    [[1.0, 0.7], [3.0, 0.9]]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from automl_bridge.exceptions import AutoMLInputError
from automl_bridge.metrics import get_metric
from automl_bridge.results import (
    Candidate,
    CandidateState,
    RunResult,
    _jsonable,
    finite_or_none,
)

LEADERBOARD_ROWS = 50
MAX_CURVES = 10
_FINISH_KEYS = ("finished_at", "ended_at")
_COSTS = {"model_size": "minimize", "predict_latency": "minimize"}

def strategy_of(result: RunResult) -> str:
    """The search strategy of a run (a cloud's own search is ``"auto"``)."""
    found = result.extra.get("strategy")
    if found:
        return str(found)
    search = (result.spec or {}).get("search")
    if result.backend == "local" and search:
        return str(search.get("strategy", "auto") if isinstance(search, dict) else search)
    return "auto"



# --- warnings -------------------------------------------------------------------------------------

def field_notes(result: RunResult) -> tuple[list[str], list[str]]:
    """Split a run's warnings into notes about spec fields (refused or approximated) and the
    rest. A field note starts with the field (``"seed: ..."``, ``"seed=3 ..."``), maybe after
    the backend's name, or says ``"The 'seed' of JobSpec ..."``."""
    fields = sorted(_spec_fields(result), key=len, reverse=True)
    alt = "|".join(re.escape(f) for f in fields)
    prefix = re.compile(rf"^\s*{re.escape(result.backend)}\s*:\s*", re.IGNORECASE)
    head = re.compile(rf"^(?:{alt})\s*[:=]|^the '(?:{alt})' of jobspec", re.IGNORECASE)
    refused, other = [], []
    for w in result.warnings:
        text = prefix.sub("", str(w), count=1)
        if alt and head.match(text):
            refused.append(text)
        else:
            other.append(str(w))
    return refused, other


def _spec_fields(result: RunResult) -> set[str]:
    from automl_bridge.spec import JobSpec

    return (set(JobSpec.model_fields) | set(result.spec or {})) - {"spec_version"}


# --- per engine -------------------------------------------------------------------------------


def score_fn(result: RunResult, metric: str) -> Callable[[Candidate], float]:
    """A candidate's score in ``metric`` (its own score when the run optimised it)."""
    if result.metric == metric:
        return lambda c: c.score
    return lambda c: float(c.metrics.get(metric, float("nan")))


def engine_summary(result: RunResult, label: str, metric: str, direction: str
                   ) -> dict[str, Any]:
    """Everything the report shows about one run."""
    from automl_bridge.reports.importance import importances, parallel_rows

    value = score_fn(result, metric)
    refused, other = field_notes(result)
    best = result.best
    local = result.backend == "local"
    imp = importances(result.candidates, value, seed=result.seed or 0) if local else None
    return {
        "label": label, "run_id": result.run_id, "backend": result.backend,
        "status": result.status.value, "strategy": strategy_of(result),
        "best_score": finite_or_none(value(best)) if best is not None else None,
        "best_family": best.family if best is not None else None,
        "wall_time_s": result.wall_time_s, "n_trials": len(result.candidates),
        "n_complete": result.n_complete, "cost": result.extra.get("cost") or None,
        "warnings": other, "refused_or_approximated": refused,
        "leaderboard": leaderboard(result, value, direction),
        "anytime": anytime(result, value, direction),
        "importances": imp,
        "parallel": parallel_rows(result.candidates, value, direction,
                                  order=list(imp) if imp else None) if local else None,
        "pareto": pareto(result),
        "learning_curves": learning_curves(result, value, direction),
    }


def _ranked(result: RunResult, value: Callable[[Candidate], float], direction: str
            ) -> list[Candidate]:
    sign = -1.0 if direction == "maximize" else 1.0

    def key(c: Candidate) -> tuple[int, float, int, str]:
        v = value(c)
        ok = math.isfinite(v)
        cid = c.candidate_id
        return (0 if ok else 1, sign * v if ok else 0.0, int(cid) if cid.isdigit() else 1 << 62,
                cid)

    return sorted((c for c in result.candidates if c.state is CandidateState.COMPLETE), key=key)


def leaderboard(result: RunResult, value: Callable[[Candidate], float], direction: str
                ) -> list[dict[str, Any]]:
    """The complete candidates best first (top :data:`LEADERBOARD_ROWS`): rank, id, family,
    score, every validation metric, the measured costs, ``feasible`` (constrained runs),
    fit time, state and the parameters as short text."""
    constrained = any(c.violations for c in result.candidates) or bool(
        (result.spec or {}).get("constraints"))
    rows = []
    for rank, c in enumerate(_ranked(result, value, direction)[:LEADERBOARD_ROWS], start=1):
        row: dict[str, Any] = {"rank": rank, "candidate_id": c.candidate_id,
                               "family": c.family, "score": finite_or_none(value(c))}
        row.update({k: finite_or_none(v) for k, v in c.metrics.items() if k != "score"})
        row.update({k: finite_or_none(v) for k, v in c.measures.items()})
        if constrained:
            row["feasible"] = c.feasible
        row.update({"fit_time_s": round(c.fit_time_s, 3), "state": c.state.value,
                    "params": params_text(c.params)})
        rows.append(row)
    return rows


def params_text(params: Mapping[str, Any]) -> str:
    """``"C=1.0, kind=ridge"``: parameters as one short line, sorted by name."""
    return ", ".join(f"{k}={json.dumps(_jsonable(v), sort_keys=True)}".replace('"', "")
                     for k, v in sorted(params.items()))


def anytime(result: RunResult, value: Callable[[Candidate], float], direction: str
            ) -> list[list[float]]:
    """``[[seconds since the start, best so far], ...]`` at each improvement.

    Times come from each candidate's ``extra["finished_at"]`` (or ``"ended_at"``) relative to
    ``started_at``; without them, from the cumulative ``fit_time_s`` (sequential trials);
    ``[]`` when neither is known.
    """
    done = [c for c in result.candidates
            if c.state is CandidateState.COMPLETE and math.isfinite(value(c))]
    start = _parse_time(result.started_at)
    stamps = [_parse_time(next((c.extra[k] for k in _FINISH_KEYS if c.extra.get(k)), None))
              for c in done]
    times: list[float]
    if done and start is not None and all(s is not None for s in stamps):
        times = [max(0.0, (s - start).total_seconds()) for s in stamps if s is not None]
    elif done and any(c.fit_time_s > 0 for c in done):
        total, times = 0.0, []
        for c in done:
            total += max(0.0, c.fit_time_s)
            times.append(total)
    else:
        return []
    points: list[list[float]] = []
    best = None
    for t, c in sorted(zip(times, done, strict=True), key=lambda p: p[0]):
        v = value(c)
        if best is None or (v > best if direction == "maximize" else v < best):
            best = v
            points.append([round(t, 3), float(v)])
    return points


def pareto(result: RunResult) -> dict[str, Any] | None:
    """The objective values of a multi-objective run: ``{"objectives", "directions",
    "points": [[candidate_id, v1, v2, ...]], "front": [ids]}``; ``None`` for one objective."""
    objectives = list(result.objectives)
    if len(objectives) < 2:
        return None
    directions = [_COSTS.get(o) or _direction(o) for o in objectives]
    points = []
    for c in result.candidates:
        if c.state is not CandidateState.COMPLETE or not c.feasible:
            continue
        vals = [_objective_value(result, c, o) for o in objectives]
        if all(v is not None and math.isfinite(v) for v in vals):
            points.append([c.candidate_id, *vals])
    front = [str(x) for x in result.pareto_front] or _front(points, directions)
    return {"objectives": objectives, "directions": directions, "points": points,
            "front": front}


def _direction(name: str) -> str:
    try:
        return get_metric(name).direction
    except AutoMLInputError:
        return "minimize"


def _objective_value(result: RunResult, c: Candidate, name: str) -> float | None:
    if name in c.measures:
        return float(c.measures[name])
    if name in c.metrics:
        return float(c.metrics[name])
    return float(c.score) if name == result.metric else None


def _front(points: list[list[Any]], directions: list[str]) -> list[str]:
    signs = [1.0 if d == "minimize" else -1.0 for d in directions]

    def dominates(a: list[Any], b: list[Any]) -> bool:
        pairs = [(s * x, s * y) for s, x, y in zip(signs, a[1:], b[1:], strict=True)]
        return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)

    return [p[0] for p in points if not any(dominates(q, p) for q in points if q is not p)]


def learning_curves(result: RunResult, value: Callable[[Candidate], float], direction: str
                    ) -> list[dict[str, Any]]:
    """Per-epoch curves of the best network candidates (at most :data:`MAX_CURVES`):
    ``train`` is the training loss, ``val`` the validation loss, and ``val_metric`` the
    validation accuracy or MAE when logged (``val_metric_name`` says which)."""
    out = []
    for c in _ranked(result, value, direction):
        history = c.extra.get("history")
        if not history or not isinstance(history, list):
            continue
        rows = [h for h in history if isinstance(h, dict)]
        name = next((k for k in ("val_accuracy", "val_mae") if any(k in h for h in rows)), None)
        out.append({
            "candidate_id": c.candidate_id,
            "architecture": _architecture(c),
            "epochs": [h.get("epoch", i + 1) for i, h in enumerate(rows)],
            "val": [h.get("val_loss") for h in rows],
            "train": [h.get("loss") for h in rows],
            "val_metric_name": name,
            "val_metric": [h.get(name) for h in rows] if name else [],
        })
        if len(out) == MAX_CURVES:
            break
    return out


def _architecture(c: Candidate) -> str:
    arch = c.extra.get("architecture")
    if arch is None:
        return c.family
    return arch if isinstance(arch, str) else json.dumps(_jsonable(arch), sort_keys=True)


# --- helpers ----------------------------------------------------------------------------------


def _parse_time(text: Any) -> dt.datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
