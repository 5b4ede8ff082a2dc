"""Objectives and constraints of a run: what is told to the study, what is feasible, the front.

A single-objective run optimises its metric. ``objectives=[...]`` adds more metrics or the
costs ``model_size`` (bytes of the pickled fitted pipeline) and ``predict_latency`` (ms to
predict 1,000 rows, best of 3, measured in the worker right after the fit). ``constraints``
bound those costs; a candidate breaking one is *infeasible*: samplers get the violation
through ``constraints_func`` and it is never the best candidate.

Example:
    >>> obj = Objectives.of(["roc_auc", "model_size"], {"max_model_bytes": 1000})
    >>> obj.directions, obj.measures
    (('maximize', 'minimize'), ('model_size',))
    >>> obj.values({"roc_auc": 0.9}, {"model_size": 2000.0})
    [0.9, 2000.0]
    >>> obj.violations({"model_size": 2000.0})
    {'max_model_bytes': 2000.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.metrics import get_metric
from automl_bridge.spec import CONSTRAINTS, COST_OBJECTIVES


@dataclass(frozen=True)
class Objectives:
    """The objectives (first: the run's metric) and constraints of a run."""

    names: tuple[str, ...]
    constraints: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, names: Sequence[str], constraints: Mapping[str, float] | None) -> Objectives:
        """From the spec's objectives (metric first) and constraints."""
        return cls(tuple(names), dict(constraints or {}))

    @property
    def directions(self) -> tuple[str, ...]:
        """``"maximize"``/``"minimize"`` per objective."""
        return tuple(COST_OBJECTIVES.get(n) or get_metric(n).direction for n in self.names)

    @property
    def multi(self) -> bool:
        """Whether there are several objectives."""
        return len(self.names) > 1

    @property
    def measures(self) -> tuple[str, ...]:
        """Costs that must be measured on each candidate (for objectives or constraints)."""
        wanted = {n for n in self.names if n in COST_OBJECTIVES}
        wanted |= {CONSTRAINTS[c] for c in self.constraints}
        return tuple(sorted(wanted))

    def values(self, metrics: Mapping[str, float], measures: Mapping[str, float]
               ) -> list[float]:
        """The objective values of one candidate, in order."""
        return [float(measures[n]) if n in COST_OBJECTIVES else float(metrics[n])
                for n in self.names]

    def violations(self, measures: Mapping[str, float]) -> dict[str, float]:
        """Each broken constraint with the measured value that broke it."""
        out = {}
        for name, limit in self.constraints.items():
            value = measures.get(CONSTRAINTS[name])
            if value is not None and value > limit:
                out[name] = float(value)
        return out

    def constraint_values(self, measures: Mapping[str, float]) -> list[float]:
        """Relative excess per constraint (``<= 0``: satisfied), for ``constraints_func``."""
        return [float(measures.get(CONSTRAINTS[name], 0.0)) / limit - 1.0
                for name, limit in sorted(self.constraints.items())]


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    better = False
    for x, y, d in zip(a, b, directions, strict=True):
        if d == "minimize":
            x, y = -x, -y
        if x < y:
            return False
        better = better or x > y
    return better


def pareto_front(points: Mapping[str, Sequence[float]], directions: Sequence[str]) -> list[str]:
    """Ids of the points no other point dominates (input order kept).

    Example:
        >>> pareto_front({"a": [0.9, 10], "b": [0.8, 5], "c": [0.7, 20]},
        ...              ["maximize", "minimize"])
        ['a', 'b']
    """
    items = list(points.items())
    return [i for i, v in items
            if not any(dominates(w, v, directions) for j, w in items if j != i)]


def objective_points(candidates: Sequence[Any], objectives: Objectives) -> dict[str, list[float]]:
    """Objective vectors of the feasible complete candidates, by candidate id."""
    out = {}
    for c in candidates:
        if c.state.value != "complete" or not c.feasible:
            continue
        try:
            out[c.candidate_id] = objectives.values(c.metrics, c.measures)
        except KeyError:
            continue
    return out
