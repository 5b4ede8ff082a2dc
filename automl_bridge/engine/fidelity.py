"""Fidelity: how much of its full training a trial gets at each rung.

A trial's fidelity is an explicit resource between 0 and 1 (the *fraction*), reported to the
study as an integer *step* out of ``max_step``. Evaluators honour it per family:

- families with a resource parameter (``Family.resource``: boosting iterations of
  ``hist_gradient_boosting``, trees of the forests, epochs of networks) get that parameter
  scaled by the fraction, and a trial that survives a rung *continues* from its fitted state
  (``warm_start``) instead of starting again;
- every other family (linear, k-NN, SVM) trains on that fraction of its training rows (a seeded
  subset, at least :data:`MIN_ROWS` rows or every row), scored on the full validation rows.

A :class:`Plan` lists the rungs of one trial. Multi-fidelity strategies (``hyperband``,
``successive_halving``, ``bohb``) use a geometric plan and their pruner stops trials between
rungs; ``estimation="learning_curve"`` uses evenly spaced rungs and the learning-curve
pruner; ``estimation="low_fidelity"`` evaluates every trial at one lower fidelity.

**Final model rule.** Candidates are ranked by the score of the highest fidelity they reached;
only trials that reached fidelity 1 (or, with ``estimation="low_fidelity"``, the configured
fidelity) compete for the final model, which is always refit at full fidelity (the sampled
resource, all training rows).

Example:
    >>> plan = geometric_plan(min_fraction=1 / 9, reduction_factor=3)
    >>> plan.steps, plan.max_step
    ((1, 3, 9), 9)
    >>> scaled_resource(300, 1 / 9)
    33
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Fewest training rows a row-subset fidelity uses (or all rows when there are fewer).
MIN_ROWS = 100


@dataclass(frozen=True)
class Plan:
    """The rungs of a trial: steps (reported to the study) out of ``max_step``."""

    steps: tuple[int, ...]
    max_step: int

    def fraction(self, step: int) -> float:
        """The fidelity of ``step``."""
        return min(1.0, step / self.max_step)

    @property
    def final_fraction(self) -> float:
        """The fidelity of the last rung (1.0 except for low-fidelity estimation)."""
        return self.fraction(self.steps[-1])

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (stored with the run)."""
        return {"steps": list(self.steps), "max_step": self.max_step}


def geometric_plan(*, min_fraction: float, reduction_factor: int) -> Plan:
    """Rungs at ``min_fraction * reduction_factor**k`` up to 1 (Hyperband / ASHA rungs)."""
    max_step = max(1, round(1.0 / min_fraction))
    steps = []
    step = 1
    while step < max_step:
        steps.append(step)
        step *= reduction_factor
    steps.append(max_step)
    return Plan(tuple(steps), max_step)


def linear_plan(n_points: int, *, max_step: int = 100) -> Plan:
    """``n_points`` evenly spaced rungs ending at full fidelity (learning curves)."""
    steps = sorted({max(1, round(max_step * (i + 1) / n_points)) for i in range(n_points)})
    return Plan(tuple(steps), max_step)


def single_plan(fraction: float) -> Plan:
    """One rung at ``fraction`` (low-fidelity estimation)."""
    max_step = 1000
    return Plan((max(1, round(fraction * max_step)),), max_step)


def scaled_resource(full: int, fraction: float) -> int:
    """The resource parameter's value at ``fraction`` of its sampled ``full`` value."""
    return max(1, min(int(full), round(full * fraction)))


def row_subset(train_idx: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """A seeded subset of ``train_idx`` holding ``fraction`` of it (at least ``MIN_ROWS``)."""
    n = len(train_idx)
    k = min(n, max(MIN_ROWS, math.ceil(n * fraction)))
    if k >= n:
        return train_idx
    order = np.random.default_rng(seed).permutation(n)[:k]
    return np.sort(train_idx[order])
