"""Compare runs side by side: the one data structure every report renderer reads.

:func:`compare` turns any number of :class:`~automl_bridge.results.RunResult` (local and
cloud, or several local strategies) into a :class:`Comparison`: the common spec and what
differs, what each engine refused or approximated, per-engine summaries, leaderboards, best
score against time, parameter importances, Pareto fronts and learning curves, and, with a
holdout, every best model scored on the same rows with paired-bootstrap confidence intervals.
``Comparison.to_dict()`` is JSON-ready; ``to_markdown()``, ``to_html()`` and ``save()`` render
it. Nothing here needs a cloud SDK.

Example:
    >>> from automl_bridge.results import Candidate, RunResult, RunStatus
    >>> def run(rid, scores):
    ...     cands = [Candidate(candidate_id=str(i), family="linear", params={"C": float(i)},
    ...                        score=s) for i, s in enumerate(scores)]
    ...     best = max(cands, key=lambda c: c.score)
    ...     return RunResult(run_id=rid, backend="local", status=RunStatus.COMPLETED,
    ...                      metric="accuracy", direction="maximize", candidates=cands,
    ...                      best=best, extra={"strategy": rid})
    >>> cmp = compare([run("tpe", [0.7, 0.9]), run("random", [0.8])])
    >>> [(e["label"], e["best_score"]) for e in cmp.to_dict()["engines"]]
    [('local/tpe', 0.9), ('local/random', 0.8)]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_bridge.exceptions import AutoMLInputError, SpecError
from automl_bridge.metrics import get_metric
from automl_bridge.results import (
    Candidate,
    CandidateState,
    RunResult,
    _jsonable,
    atomic_write_text,
    load_result,
)

#: Version of the structure :meth:`Comparison.to_dict` returns.
SCHEMA = 1
LEADERBOARD_ROWS = 50
MAX_CURVES = 10
_FINISH_KEYS = ("finished_at", "ended_at")
_COSTS = {"model_size": "minimize", "predict_latency": "minimize"}


@dataclass
class Comparison:
    """Runs compared side by side; see :func:`compare`.

    Attributes mirror the keys of :meth:`to_dict`; ``results`` keeps the compared
    :class:`RunResult` objects (not serialised). ``title`` may be changed before rendering.
    """

    title: str
    created_at: str
    metric: str
    direction: str
    spec: dict[str, Any]
    spec_differences: dict[str, dict[str, Any]]
    engines: list[dict[str, Any]]
    holdout: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    results: list[RunResult] = field(default_factory=list, repr=False, compare=False)

    @property
    def labels(self) -> list[str]:
        """The engine labels, in order."""
        return [e["label"] for e in self.engines]

    def engine(self, label: str) -> dict[str, Any]:
        """The summary of one engine by label."""
        for e in self.engines:
            if e["label"] == label:
                return e
        raise KeyError(f"No engine {label!r} in this comparison; the labels are {self.labels}.")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready structure every renderer reads (a fresh copy)."""
        data = {
            "schema": SCHEMA, "created_at": self.created_at, "title": self.title,
            "spec": self.spec, "spec_differences": self.spec_differences,
            "metric": self.metric, "direction": self.direction, "engines": self.engines,
            "holdout": self.holdout, "notes": self.notes,
        }
        return json.loads(json.dumps(_jsonable(data)))

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def to_markdown(self) -> str:
        """A Markdown report (deterministic for the same data)."""
        from automl_bridge.reports.markdown import render_markdown

        return render_markdown(self.to_dict())

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS, JS and SVG; no network needed)."""
        from automl_bridge.reports.html import render_html

        return render_html(self.to_dict())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as HTML, Markdown or JSON, chosen by the suffix of ``path``.

        Raises:
            AutoMLInputError: the suffix is not ``.html``/``.htm``, ``.md`` or ``.json``.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        renderers: dict[str, Callable[[], str]] = {
            ".html": self.to_html, ".htm": self.to_html, ".md": self.to_markdown,
            ".markdown": self.to_markdown, ".json": self.to_json}
        if suffix not in renderers:
            raise AutoMLInputError(
                f"The report path {str(target)!r} must end in .html, .md or .json (the "
                f"format is chosen by the suffix). Got {suffix or '(no suffix)'!r}.")
        atomic_write_text(target, renderers[suffix]())
        return target


def compare(results: Sequence[RunResult | str | os.PathLike[str]], holdout: Any = None, *,
            labels: Sequence[str] | None = None,
            predictions: Mapping[str, Any] | None = None, n_boot: int = 2000, seed: int = 0,
            title: str | None = None) -> Comparison:
    """Compare runs of the same spec on several engines.

    Args:
        results: the runs (``RunResult`` objects or paths of saved result JSON files).
        holdout: rows with the target (a DataFrame or a CSV/TSV/Parquet path): every
            engine's best model is scored on them with the compared metric.
        labels: a name per run; default ``backend/strategy`` (local) or ``backend``, made
            unique with ``#2``, ``#3``...
        predictions: ``{label: array}`` holdout predictions that replace the model's (labels
            or values; for probability metrics the positive-class probability of a binary
            task or one column per class). Needed for results read from JSON (no model).
        n_boot: bootstrap resamples of the holdout rows (0: no intervals).
        seed: seed of the bootstrap.
        title: the report's title (default: from the labels, metric and target).

    Returns:
        The :class:`Comparison`.

    Raises:
        AutoMLInputError: no results, a wrong label list, predictions without holdout.
        SpecError: runs of different targets or tasks, or of different metrics where a later
            run does not report the first run's metric for its candidates.
        TargetError: the holdout lacks the target column.
    """
    runs = _as_results(results)
    names = _labels(runs, labels)
    target, task = _check_same_problem(runs, names)
    metric, direction, notes = _choose_metric(runs, names)
    spec, differences, spec_notes = spec_table(runs, names)
    engines = [engine_summary(r, label, metric, direction) for r, label in zip(runs, names,
                                                                                strict=True)]
    if predictions and holdout is None:
        raise AutoMLInputError("predictions= are scored on a holdout; pass holdout= (the rows "
                               "with the target that the predictions are for).")
    if n_boot < 0:
        raise AutoMLInputError(f"n_boot must be 0 or more resamples. Got {n_boot}.")
    scored = None
    if holdout is not None:
        from automl_bridge.reports.holdout import score_holdout

        scored = score_holdout(runs, names, holdout, target=target, task=task, metric=metric,
                               direction=direction, predictions=predictions or {},
                               n_boot=n_boot, seed=seed)
    if title is None:
        title = (f"{' vs '.join(names)}: {metric}" + (f" on {target!r}" if target else ""))
    return Comparison(title=title, created_at=_now(), metric=metric, direction=direction,
                      spec=spec, spec_differences=differences, engines=engines,
                      holdout=scored, notes=notes + spec_notes, results=list(runs))


# --- input checks -----------------------------------------------------------------------------


def _as_results(results: Any) -> list[RunResult]:
    if isinstance(results, (RunResult, str, os.PathLike)):
        results = [results]
    runs = [load_result(r) if isinstance(r, (str, os.PathLike)) else r for r in results]
    if not runs:
        raise AutoMLInputError("compare() needs at least one RunResult (or result file). Got "
                               "an empty list.")
    for i, r in enumerate(runs):
        if not isinstance(r, RunResult):
            raise AutoMLInputError(f"compare() takes RunResult objects or result file paths; "
                                   f"item {i} is a {type(r).__name__}.")
    return runs


def default_label(result: RunResult) -> str:
    """``backend/strategy`` for local runs, the backend name for the others."""
    if result.backend == "local":
        return f"local/{strategy_of(result)}"
    return result.backend


def strategy_of(result: RunResult) -> str:
    """The search strategy of a run (a cloud's own search is ``"auto"``)."""
    found = result.extra.get("strategy")
    if found:
        return str(found)
    search = (result.spec or {}).get("search")
    if result.backend == "local" and search:
        return str(search.get("strategy", "auto") if isinstance(search, dict) else search)
    return "auto"


def _labels(runs: list[RunResult], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        given = [str(x) for x in labels]
        if len(given) != len(runs):
            raise AutoMLInputError(f"labels= needs one name per result: {len(runs)} results, "
                                   f"{len(given)} labels ({given}).")
        dupes = sorted({x for x in given if given.count(x) > 1})
        if dupes:
            raise AutoMLInputError(f"labels= must be unique; repeated: {dupes}.")
        return given
    out: list[str] = []
    for r in runs:
        base = default_label(r)
        label, k = base, 2
        while label in out:
            label, k = f"{base}#{k}", k + 1
        out.append(label)
    return out


def _check_same_problem(runs: list[RunResult], names: list[str]) -> tuple[str | None, str]:
    targets = {n: (r.spec or {}).get("target") for r, n in zip(runs, names, strict=True)}
    tasks = {n: r.task or (r.spec or {}).get("task") or "" for r, n in zip(runs, names,
                                                                           strict=True)}
    tasks = {n: t for n, t in tasks.items() if t and t != "auto"}
    known_targets = {n: t for n, t in targets.items() if t}
    if len(set(known_targets.values())) > 1:
        raise SpecError(f"compare() needs runs of the same target; got {known_targets}. "
                        "Compare the runs of each target separately.")
    if len(set(tasks.values())) > 1:
        raise SpecError(f"compare() needs runs of the same task; got {tasks}. Compare the "
                        "runs of each task separately.")
    target = next(iter(known_targets.values()), None)
    return target, next(iter(tasks.values()), "")


def _choose_metric(runs: list[RunResult], names: list[str]) -> tuple[str, str, list[str]]:
    """The first run's metric; other metrics are allowed when every run reports it."""
    metric = runs[0].metric
    direction = runs[0].direction or get_metric(metric).direction
    notes: list[str] = []
    lacking = []
    for r, name in zip(runs[1:], names[1:], strict=True):
        if r.metric == metric:
            continue
        done = [c for c in r.candidates if c.state is CandidateState.COMPLETE]
        if any(metric not in c.metrics for c in done):
            lacking.append(f"{name} ({r.metric})")
        else:
            notes.append(f"{name} optimised {r.metric!r}; it is compared on {metric!r}, which "
                         "its candidates also report.")
    if lacking:
        raise SpecError(f"compare() compares on the first run's metric {metric!r}, but "
                        f"{', '.join(lacking)} do not report it for every candidate. Put a run "
                        f"of that metric first, or compare runs of one metric.")
    return metric, direction, notes


# --- spec -------------------------------------------------------------------------------------


def spec_table(runs: list[RunResult], names: list[str]
               ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[str]]:
    """The fields every run's spec agrees on, the others per label, and notes."""
    specs = {n: _jsonable(r.spec) for r, n in zip(runs, names, strict=True) if r.spec}
    notes = [f"{n}: the result records no spec." for r, n in zip(runs, names, strict=True)
             if not r.spec]
    fields: list[str] = []
    for s in specs.values():
        fields += [k for k in s if k not in fields]
    common: dict[str, Any] = {}
    differences: dict[str, dict[str, Any]] = {}
    for f in fields:
        values = {n: s.get(f) for n, s in specs.items()}
        first = next(iter(values.values()))
        if all(v == first for v in values.values()):
            common[f] = first
        else:
            differences[f] = values
    return common, differences, notes


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
        "best_score": _finite(value(best)) if best is not None else None,
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
                               "family": c.family, "score": _finite(value(c))}
        row.update({k: _finite(v) for k, v in c.metrics.items() if k != "score"})
        row.update({k: _finite(v) for k, v in c.measures.items()})
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


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _parse_time(text: Any) -> dt.datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
