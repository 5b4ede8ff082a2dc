"""Search strategies: what to try next (an Optuna sampler) and how much to spend (a pruner).

Each strategy is a factory registered by name in :mod:`automl_bridge.registry`. A factory takes
the seed, the number of parallel workers and the strategy's options from the spec, and returns
a :class:`Strategy`. Unknown options are a :class:`~automl_bridge.exceptions.SpecError`.

Example:
    >>> from automl_bridge.search.strategies import tpe_strategy
    >>> s = tpe_strategy(seed=0, n_jobs=1, options={"n_startup_trials": 5})
    >>> type(s.sampler).__name__
    'TPESampler'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automl_bridge.exceptions import SpecError


@dataclass
class Strategy:
    """A sampler plus an optional pruner."""

    name: str
    sampler: Any
    pruner: Any = None


def _check_options(name: str, options: Mapping[str, Any], allowed: Mapping[str, type]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise SpecError(
            f"The search strategy {name!r} has no option(s) {unknown}. "
            f"Its options are {sorted(allowed) or 'none'}."
        )
    for key, kind in allowed.items():
        if key in options and not isinstance(options[key], kind):
            raise SpecError(
                f"The option {key!r} of search strategy {name!r} must be {kind.__name__}. "
                f"Got {options[key]!r}."
            )


def random_strategy(*, seed: int, n_jobs: int, options: Mapping[str, Any]) -> Strategy:
    """Uniform random sampling over the space."""
    import optuna

    _check_options("random", options, {})
    return Strategy("random", optuna.samplers.RandomSampler(seed=seed))


def tpe_strategy(*, seed: int, n_jobs: int, options: Mapping[str, Any]) -> Strategy:
    """Multivariate TPE with grouping for the conditional family spaces.

    Options:
        n_startup_trials (int): random trials before TPE takes over (default 10).
        multivariate (bool): model parameters jointly (default True).
    """
    import warnings

    import optuna

    _check_options("tpe", options, {"n_startup_trials": int, "multivariate": bool})
    multivariate = bool(options.get("multivariate", True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=int(options.get("n_startup_trials", 10)),
            multivariate=multivariate,
            group=multivariate,
            constant_liar=n_jobs > 1,
        )
    return Strategy("tpe", sampler)


def make_strategy(name: str, *, seed: int, n_jobs: int, options: Mapping[str, Any]) -> Strategy:
    """Build the registered strategy ``name``."""
    from automl_bridge.registry import registry_for

    factory = registry_for("strategies").get(name)
    strategy: Strategy = factory(seed=seed, n_jobs=n_jobs, options=dict(options))
    return strategy
