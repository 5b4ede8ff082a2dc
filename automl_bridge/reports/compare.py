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
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl_bridge.exceptions import AutoMLInputError, SpecError
from automl_bridge.metrics import get_metric
from automl_bridge.reports.engines import engine_summary, strategy_of
from automl_bridge.results import (
    CandidateState,
    RunResult,
    _jsonable,
    atomic_write_text,
    load_result,
)

#: Version of the structure :meth:`Comparison.to_dict` returns.
SCHEMA = 1


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




def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
