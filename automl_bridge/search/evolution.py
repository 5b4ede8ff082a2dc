"""Regularized (aging) evolution as an Optuna sampler (Real et al. 2019, "AmoebaNet").

The population is the ``population_size`` most recently *completed* trials (by trial number):
the oldest member dies whatever its score (aging). Until the population is full, trials are
drawn at random. Then each new trial draws ``sample_size`` members uniformly at random (without
replacement); the best of them (feasible first, then by value in the study's direction) is the
parent, and the child is the parent with exactly one parameter mutated, chosen uniformly among
the parameters the parent has:

* a categorical takes a different value, uniformly among the other choices;
* a numeric parameter, with probability 1/2, is redrawn uniformly over its (log-)range, and
  otherwise takes a Gaussian step of standard deviation 0.15 of its (log-)range, reflected at
  the bounds; an integer (or stepped float) that would keep its value moves to another grid
  value (a neighbour for a step, any other value for a redraw), so the child always differs.

Parameters are drawn one by one through ``sample_independent``, so conditional spaces work
without knowing the space: the child keeps the parent's value for every parameter the parent
had (with a compatible distribution) except the mutated one, and draws at random the parameters
the parent lacked (the mutated parameter opened another branch: ``model`` changed, or
``n_layers`` grew). Fixed (enqueued) parameters are applied by Optuna before the sampler is
asked; the sampler then follows whatever branch they lead to.

The sampler holds no state that the study cannot rebuild: the decision for a trial (population,
parent, mutated parameter) is computed in ``before_trial`` from the completed trials and a
generator seeded from ``(seed, trial number)``, and recorded in the trial's system attribute
:data:`DECISION_ATTR`; the only memory kept is a cache of the running trials' decisions. Several
threads, processes or a new sampler object on the same storage therefore propose the same
trials given the same history.

Example:
    >>> import optuna
    >>> from automl_bridge.search.evolution import RegularizedEvolutionSampler, DECISION_ATTR
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> sampler = RegularizedEvolutionSampler(population_size=5, sample_size=2, seed=0)
    >>> study = optuna.create_study(sampler=sampler)
    >>> study.optimize(lambda t: (t.suggest_float("x", -4, 4) - 1) ** 2, n_trials=40)
    >>> study.best_value < 0.05
    True
    >>> decision = study.trials[-1].system_attrs[DECISION_ATTR]
    >>> decision["mutated"], len(decision["population"])
    ('x', 5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from automl_bridge.exceptions import SpecError
from automl_bridge.search.sampling import PerParameterSampler, seeded_rng, trial_key
from automl_bridge.search.space import Node, parameters
from automl_bridge.search.strategies import (
    Strategy,
    StrategyContext,
    _check_options,
    constraint_values,
)

#: Trial system attribute holding the evolution decision of a trial:
#: ``{"population": [trial numbers], "tournament": [trial numbers], "parent": number or None,
#: "mutated": name or None}`` (``parent`` is ``None`` while the population is not full).
DECISION_ATTR = "automl_bridge:evolution"

#: Probability that a mutated numeric parameter is redrawn uniformly (else: a Gaussian step).
_REDRAW_PROBABILITY = 0.5
#: Standard deviation of the Gaussian step, as a fraction of the (log-)range.
_STEP_SCALE = 0.15


class _Decision:
    """What a trial does: its population, its parent (``None``: random) and mutated name."""

    __slots__ = ("mutated", "parent", "parent_distributions", "parent_params", "population",
                 "tournament")

    def __init__(self, population: list[int], tournament: list[int],
                 parent: FrozenTrial | None, mutated: str | None) -> None:
        self.population = population
        self.tournament = tournament
        self.parent = None if parent is None else parent.number
        self.parent_params: dict[str, Any] = {} if parent is None else dict(parent.params)
        self.parent_distributions: dict[str, BaseDistribution] = (
            {} if parent is None else dict(parent.distributions))
        self.mutated = mutated

    def record(self) -> dict[str, Any]:
        return {"population": self.population, "tournament": self.tournament,
                "parent": self.parent, "mutated": self.mutated}


class RegularizedEvolutionSampler(PerParameterSampler):
    """Regularized (aging) evolution; see the module docstring for the algorithm.

    Args:
        population_size: completed trials in the population (the most recent ones), >= 2.
        sample_size: members drawn for each tournament, 1..``population_size``.
        seed: seed of every random draw (with the trial number and the parameter name).
        space: the search space, optional; when given, only its parameters are mutated (a
            parent with none of them has any of its parameters mutated).

    Raises:
        SpecError: ``population_size`` or ``sample_size`` is out of range.
    """

    def __init__(self, *, population_size: int = 20, sample_size: int = 5, seed: int = 0,
                 space: Sequence[Node] | None = None) -> None:
        _check_sizes(population_size, sample_size)
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.seed = int(seed)
        self._names = None if space is None else frozenset(parameters(space))
        self._decisions: dict[tuple[int, int, int], _Decision] = {}

    # --- Optuna interface ---------------------------------------------------------------------

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._decision(study, trial, fresh=True)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        decision = self._decision(study, trial)
        rng = self._rng(trial.number, param_name)
        if decision.parent is not None and param_name in decision.parent_params:
            value = decision.parent_params[param_name]
            same = _compatible(decision.parent_distributions[param_name], param_distribution)
            if same and _contains(param_distribution, value):
                if param_name == decision.mutated:
                    return _mutate(param_distribution, value, rng)
                return value
        return _draw(param_distribution, rng)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._decisions.pop(trial_key(study, trial), None)

    # --- decisions ----------------------------------------------------------------------------

    def _rng(self, number: int, name: str = "") -> np.random.Generator:
        return seeded_rng(self.seed, number, name)

    def _decision(self, study: Study, trial: FrozenTrial, fresh: bool = False) -> _Decision:
        """The trial's decision: cached, else as recorded in the storage, else computed.

        ``fresh``: ``trial`` was just read from the storage (its system attributes are current).
        """
        key = trial_key(study, trial)
        if key in self._decisions:
            return self._decisions[key]
        if len(study.directions) > 1:
            raise SpecError(
                "The sampler RegularizedEvolutionSampler optimizes one objective; the study "
                f"has {len(study.directions)}. Use the search strategy 'nsga2', 'tpe' or "
                "'random' for several objectives.")
        attrs = (trial.system_attrs if fresh
                 else study._storage.get_trial_system_attrs(trial._trial_id))
        recorded = attrs.get(DECISION_ATTR)
        decision = (self._recall(study, recorded) if isinstance(recorded, dict)
                    else None)
        if decision is None:
            decision = self._decide(study, trial)
            study._storage.set_trial_system_attr(trial._trial_id, DECISION_ATTR,
                                                 decision.record())
        self._decisions[key] = decision
        return decision

    def _recall(self, study: Study, recorded: Mapping[str, Any]) -> _Decision | None:
        parent: FrozenTrial | None = None
        if recorded.get("parent") is not None:
            try:
                parent_id = study._storage.get_trial_id_from_study_id_trial_number(
                    study._study_id, int(recorded["parent"]))
                parent = study._storage.get_trial(parent_id)
            except (KeyError, ValueError):
                return None
        return _Decision(list(recorded.get("population", [])),
                         list(recorded.get("tournament", [])), parent, recorded.get("mutated"))

    def _decide(self, study: Study, trial: FrozenTrial) -> _Decision:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        members = sorted((t for t in done if t.number != trial.number),
                         key=lambda t: t.number)[-self.population_size:]
        population = [t.number for t in members]
        if len(members) < self.population_size:
            return _Decision(population, [], None, None)
        rng = self._rng(trial.number)
        picks = rng.choice(len(members), size=self.sample_size, replace=False)
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        tournament = [members[int(i)] for i in picks]
        parent = min(tournament, key=lambda t: _rank(t, sign))
        names = sorted(name for name, dist in parent.distributions.items() if not dist.single())
        if self._names is not None:  # names outside the space (if any are left) stay as they are
            names = [name for name in names if name in self._names] or names
        mutated = names[int(rng.integers(len(names)))] if names else None
        return _Decision(population, [t.number for t in tournament], parent, mutated)


def _rank(trial: FrozenTrial, sign: float) -> tuple[int, float, float, int]:
    """Sort key, smaller is better: feasible first, then value; ties: newer first."""
    violation = sum(max(0.0, float(c)) for c in constraint_values(trial))
    value = trial.value if trial.value is not None else math.nan
    score = sign * float(value)
    if math.isnan(score):
        score = math.inf
    return int(violation > 0), violation, score, -trial.number


def _check_sizes(population_size: Any, sample_size: Any) -> None:
    for name, value in (("population_size", population_size), ("sample_size", sample_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"The option {name!r} of search strategy 'evolution' must be int. "
                            f"Got {value!r}.")
    if population_size < 2:
        raise SpecError("The option 'population_size' of search strategy 'evolution' must be "
                        f">= 2. Got {population_size}.")
    if not 1 <= sample_size <= population_size:
        raise SpecError("The option 'sample_size' of search strategy 'evolution' must be "
                        f"between 1 and population_size ({population_size}). Got {sample_size}."
                        " Lower sample_size or raise population_size.")


# --- distributions ------------------------------------------------------------------------------


def _compatible(a: BaseDistribution, b: BaseDistribution) -> bool:
    if isinstance(a, CategoricalDistribution) or isinstance(b, CategoricalDistribution):
        return a == b
    return type(a) is type(b)


def _contains(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _other_index(rng: np.random.Generator, n: int, index: int) -> int:
    """A uniform index in ``range(n)`` other than ``index`` (``n >= 2``)."""
    k = int(rng.integers(n - 1))
    return k + 1 if k >= index else k


def _reflect(u: float) -> float:
    u = u % 2.0
    return 2.0 - u if u > 1.0 else u


def _grid(dist: IntDistribution | FloatDistribution) -> tuple[float, int] | None:
    """``(step, number of values - 1)`` of a linear grid, ``None`` for a continuous range."""
    if isinstance(dist, IntDistribution) and not dist.log:
        return float(dist.step), (dist.high - dist.low) // dist.step
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        return float(dist.step), round((dist.high - dist.low) / dist.step)
    return None


def _draw(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """A uniform draw over the (log-)range of ``dist``."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    if not isinstance(dist, IntDistribution | FloatDistribution):
        raise TypeError(f"RegularizedEvolutionSampler cannot draw from {dist!r}.")
    grid = _grid(dist)
    if grid is not None:
        step, n = grid
        return _grid_value(dist, int(rng.integers(n + 1)), step)
    if isinstance(dist, IntDistribution):  # log-scaled integer
        v = math.exp(rng.uniform(math.log(dist.low - 0.5), math.log(dist.high + 0.5)))
        return int(min(max(round(v), dist.low), dist.high))
    if dist.log:
        return float(min(max(math.exp(rng.uniform(math.log(dist.low), math.log(dist.high))),
                             dist.low), dist.high))
    return float(rng.uniform(dist.low, dist.high))


def _grid_value(dist: IntDistribution | FloatDistribution, k: int, step: float) -> Any:
    if isinstance(dist, IntDistribution):
        return int(dist.low + k * dist.step)
    return float(min(dist.low + k * step, dist.high))


def _mutate(dist: BaseDistribution, value: Any, rng: np.random.Generator) -> Any:
    """A value of ``dist`` different from ``value`` (see the module docstring)."""
    if dist.single():
        return value
    if isinstance(dist, CategoricalDistribution):
        index = int(dist.to_internal_repr(value))
        return dist.choices[_other_index(rng, len(dist.choices), index)]
    if not isinstance(dist, IntDistribution | FloatDistribution):
        raise TypeError(f"RegularizedEvolutionSampler cannot mutate {dist!r}.")
    redraw = bool(rng.random() < _REDRAW_PROBABILITY)
    step_size = float(rng.normal(0.0, _STEP_SCALE))
    grid = _grid(dist)
    if grid is not None:
        step, n = grid
        k = round((float(value) - dist.low) / step)
        if redraw:
            return _grid_value(dist, _other_index(rng, n + 1, k), step)
        new = round(_reflect(k / n + step_size) * n)
        if new == k:
            new = k + (1 if step_size > 0 else -1)
            new = new if 0 <= new <= n else 2 * k - new
        return _grid_value(dist, new, step)
    if redraw:
        new_value = _draw(dist, rng)
    else:
        lo, hi, x = float(dist.low), float(dist.high), float(value)
        if dist.log:
            if isinstance(dist, IntDistribution):
                lo, hi = lo - 0.5, hi + 0.5
            lo, hi, x = math.log(lo), math.log(hi), math.log(x)
        u = _reflect((x - lo) / (hi - lo) + step_size)
        y = lo + u * (hi - lo)
        new_value = math.exp(y) if dist.log else y
        if isinstance(dist, IntDistribution):
            new_value = int(min(max(round(new_value), dist.low), dist.high))
        else:
            new_value = float(min(max(new_value, dist.low), dist.high))
    if new_value == value:  # a log integer that rounds back, or a float redrawn equal
        if isinstance(dist, IntDistribution):
            return value + 1 if value < dist.high else value - 1
        return _draw(dist, rng) if dist.high > dist.low else value
    return new_value


# --- strategy -----------------------------------------------------------------------------------


def evolution_strategy(ctx: StrategyContext) -> Strategy:
    """Regularized (aging) evolution over the search space (single objective).

    Options:
        population_size (int): completed trials in the population, >= 2 (default 20).
        sample_size (int): tournament size, 1..population_size (default 5).

    Raises:
        SpecError: an unknown or invalid option, or several objectives.

    Example:
        >>> from automl_bridge.search.strategies import StrategyContext
        >>> s = evolution_strategy(StrategyContext(options={"population_size": 10}))
        >>> s.sampler.population_size, s.sampler.sample_size
        (10, 5)
    """
    _check_options("evolution", ctx.options, {"population_size": int, "sample_size": int})
    if ctx.multi_objective:
        raise SpecError(
            f"The search strategy 'evolution' optimizes one objective; the job has "
            f"{len(ctx.directions)} ({', '.join(ctx.directions)}). Use the search strategy "
            "'nsga2', 'tpe' or 'random' for several objectives.")
    population_size = ctx.options.get("population_size", 20)
    sample_size = ctx.options.get("sample_size", min(5, population_size)
                                  if isinstance(population_size, int) else 5)
    _check_sizes(population_size, sample_size)
    sampler = RegularizedEvolutionSampler(population_size=population_size,
                                          sample_size=sample_size, seed=ctx.seed,
                                          space=ctx.space)
    notes = []
    if ctx.max_trials is not None and ctx.max_trials <= population_size:
        notes.append(f"evolution: max_trials ({ctx.max_trials}) <= population_size "
                     f"({population_size}); every trial is random.")
    return Strategy("evolution", sampler, notes=notes)
