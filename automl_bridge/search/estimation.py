"""Performance estimation, combinable with any single-objective strategy (``estimation=``).

- ``"low_fidelity"``: every trial is evaluated once at a lower fidelity (``fraction`` of its
  resource: boosting iterations or trees for those families, training rows for the others;
  default 0.33). Candidates are ranked by that estimate; the final model is the best one
  refit at full fidelity (see :mod:`automl_bridge.engine.fidelity`).
- ``"learning_curve"``: every trial reports its validation score at ``points`` evenly spaced
  fidelities (default 10); the learning-curve pruner extrapolates the partial curve and stops
  the trial when its final score is unlikely to beat the best so far (probability below
  ``threshold``, default 0.25) once ``min_points`` (default 3) are known. On held-out boosting
  curves (``benchmarks/curve_error.py``) 0.25 saved 51 % of the iterations for a 0.075 % mean
  loss in the best final score; 0.05 saved 34 % with no loss.

Example:
    >>> from automl_bridge.search.strategies import StrategyContext, random_strategy
    >>> s = apply_estimation(random_strategy(StrategyContext()), "low_fidelity",
    ...                      {"fraction": 0.25})
    >>> s.plan.final_fraction
    0.25
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl_bridge.engine.fidelity import linear_plan, single_plan
from automl_bridge.search.strategies import Strategy

#: Default probability of beating the best under which a trial is stopped.
DEFAULT_THRESHOLD = 0.25


def metric_bounds(metric: str | None) -> tuple[float | None, float | None] | None:
    """The range of a metric's values (helps the curve fits), ``None`` when unknown."""
    from automl_bridge.metrics import METRICS

    m = METRICS.get(metric or "")
    if m is None:
        return None
    if m.direction == "minimize":
        return (0.0, None)
    return (None, 1.0) if m.task == "regression" else (0.0, 1.0)


def apply_estimation(strategy: Strategy, method: str | None, options: Mapping[str, Any],
                     *, metric: str | None = None) -> Strategy:
    """``strategy`` with the fidelity plan (and pruner) of the estimation ``method``."""
    if method is None:
        return strategy
    if method == "low_fidelity":
        fraction = float(options.get("fraction", 0.33))
        strategy.plan = single_plan(fraction)
        strategy.notes.append(
            f"estimation='low_fidelity': trials were scored at {fraction:.0%} of their resource "
            "(iterations, trees or rows); the final model is refit at full fidelity.")
        return strategy
    from automl_bridge.search.pruners import LearningCurvePruner

    plan = linear_plan(int(options.get("points", 10)))
    strategy.plan = plan
    strategy.pruner = LearningCurvePruner(
        min_points=int(options.get("min_points", 3)), max_resource=plan.max_step,
        confidence=float(options.get("threshold", DEFAULT_THRESHOLD)),
        bounds=metric_bounds(metric))
    return strategy
