"""The base of our own samplers: every parameter is drawn one by one.

Optuna's relative sampling models the parameters every trial shares; our samplers (grid,
evolution, RL controller, surrogate) decide a whole configuration themselves (in
``before_trial`` or parameter by parameter) and hand each value out in
``sample_independent``, so conditional and variable-length spaces work as they are.

Example:
    >>> import optuna
    >>> class Half(PerParameterSampler):
    ...     def sample_independent(self, study, trial, name, dist):
    ...         return (dist.low + dist.high) / 2
    >>> study = optuna.create_study(sampler=Half())
    >>> study.ask().suggest_float("x", 0.0, 1.0)
    0.5
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from optuna.samplers import BaseSampler


def seeded_rng(seed: int, number: int, name: str = "") -> np.random.Generator:
    """The generator of one draw: seeded by the sampler's seed, the trial number and the
    parameter name, so a proposal depends on nothing but the seed and the study."""
    return np.random.default_rng([seed & 0xFFFFFFFF, number, zlib.crc32(name.encode())])


def trial_key(study: Any, trial: Any) -> tuple[int, int, int]:
    """A key for per-trial caches that tells apart studies and storages in one process."""
    return id(study._storage), study._study_id, trial.number


class PerParameterSampler(BaseSampler):
    """A sampler that samples nothing jointly; subclasses implement ``sample_independent``."""

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        """No joint sampling: every value comes from ``sample_independent``."""
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]
                        ) -> dict[str, Any]:
        """Nothing is sampled jointly."""
        return {}
