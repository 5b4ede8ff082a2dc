"""Performance estimation, combinable with any single-objective strategy (``estimation=``).

- ``"low_fidelity"``: every trial is evaluated once at a lower fidelity (``fraction`` of its
  resource: boosting iterations or trees for those families, training rows for the others;
  default 0.33). Candidates are ranked by that estimate; the final model is the best one
  refit at full fidelity (see :mod:`automl_bridge.engine.fidelity`).
- ``"learning_curve"``: every trial reports its validation score at ``points`` evenly spaced
  fidelities (default 10); the learning-curve pruner extrapolates the partial curve and stops
  the trial when its final score is unlikely to beat the best so far (probability below
  ``threshold``, default 0.05) once ``min_points`` (default 3) are known.

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


def apply_estimation(strategy: Strategy, method: str | None, options: Mapping[str, Any]
                     ) -> Strategy:
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
        confidence=float(options.get("threshold", 0.05)))
    return strategy
