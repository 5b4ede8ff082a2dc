"""Search strategies: what to try next (an Optuna sampler) and how much to spend (a pruner).

Each strategy is a factory registered by name in :mod:`automl_bridge.registry`. A factory takes
one :class:`StrategyContext` (seed, parallel workers, the strategy's options from the spec, the
directions of the objectives, the search space, the budget) and returns a :class:`Strategy`.
Unknown options are a :class:`~automl_bridge.exceptions.SpecError`.

Example:
    >>> from automl_bridge.search.strategies import StrategyContext, tpe_strategy
    >>> s = tpe_strategy(StrategyContext(options={"n_startup_trials": 5}))
    >>> type(s.sampler).__name__
    'TPESampler'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.engine.fidelity import Plan
from automl_bridge.exceptions import SpecError
from automl_bridge.search.space import Node

#: User attribute holding a trial's constraint values (<= 0 means satisfied), set before the
#: trial is told. The engine also sets them with ``trial.set_constraint`` (Optuna >= 5), which
#: Optuna's own samplers (TPE, NSGA-II, GP) read without a ``constraints_func``.
CONSTRAINTS_ATTR = "automl_bridge:constraints"
#: User attribute marking a failed trial told to the sampler as the worst complete value (a
#: "crash cost", as SMAC does), so samplers learn to avoid configurations that fail.
CRASH_COST_ATTR = "automl_bridge:crash_cost"


def constraint_values(trial: Any) -> Sequence[float]:
    """The constraint values the engine recorded on ``trial`` (empty when unconstrained)."""
    return list(trial.user_attrs.get(CONSTRAINTS_ATTR, ()))


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy factory may use to build its sampler and pruner.

    Attributes:
        seed: seed of the search.
        n_jobs: trials evaluated at the same time (samplers should not all propose one point).
        options: the strategy's options from the spec (``search={"strategy": ..., **options}``).
        directions: ``"maximize"``/``"minimize"`` per objective (several: multi-objective).
        space: the whole search space (a conditional on ``model`` for the engine); ``None``
            where the caller has none to give (then space-bound strategies refuse to run).
        max_trials: trial budget of the run, if any.
        time_budget_s: time budget of the run, if any.
        n_rows: training rows (portfolio choices depend on it).
        constrained: whether trials carry constraint values (see :data:`CONSTRAINTS_ATTR`).
        resumed_trials: trials already in the study when this session starts (a resumed run).
            Optuna's samplers keep their random state in memory; seeding them with
            :attr:`rng_seed` keeps a resumed session from proposing the first session's
            configurations again. Our own samplers seed per trial and ignore it.
        salt: tells apart processes that sample the same study at once (workers on a shared
            storage): mixed into :attr:`rng_seed`, so they do not propose the same
            configurations. 0 for a run of one process.
    """

    seed: int = 0
    n_jobs: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)
    directions: tuple[str, ...] = ("maximize",)
    space: Sequence[Node] | None = None
    max_trials: int | None = None
    time_budget_s: float | None = None
    n_rows: int = 0
    constrained: bool = False
    resumed_trials: int = 0
    salt: int = 0

    @property
    def rng_seed(self) -> int:
        """Seed for samplers with in-memory random state: ``seed`` for a new run, derived from
        the seed and the trials already run for a resumed one."""
        if self.resumed_trials == 0 and self.salt == 0:
            return self.seed
        return (self.seed * 1_000_003 + self.resumed_trials * 7_919
                + self.salt * 104_729) % (2**31 - 1)

    @property
    def multi_objective(self) -> bool:
        """Whether there is more than one objective."""
        return len(self.directions) > 1

    @property
    def constraints_func(self) -> Callable[[Any], Sequence[float]] | None:
        """Reads the engine's constraint values (for our own samplers; Optuna's read
        ``trial.constraints``). ``None`` when the run is unconstrained."""
        return constraint_values if self.constrained else None


@dataclass
class Strategy:
    """A sampler plus an optional pruner.

    Attributes:
        name: registered name.
        sampler: the Optuna sampler (what to try next).
        pruner: the Optuna pruner (how much to spend on it), or ``None``.
        plan: the fidelity rungs of each trial (multi-fidelity strategies; see
            :mod:`automl_bridge.engine.fidelity`), ``None`` for full fidelity.
        exhausted: ``exhausted(study)`` is true when the sampler has nothing left to propose
            (a finished grid); the search then stops.
        warm_start: whether the engine may enqueue strong default configurations first.
        notes: what the strategy chose (for the portfolio ``auto``), recorded in the result.
        inherit_weights: network trials save their trained weights and the sampler's children
            start from their parent's, morphed (the ``morphism`` strategy).
    """

    name: str
    sampler: Any
    pruner: Any = None
    plan: Plan | None = None
    exhausted: Callable[[Any], bool] | None = None
    warm_start: bool = True
    notes: list[str] = field(default_factory=list)
    inherit_weights: bool = False

    @property
    def multi_fidelity(self) -> bool:
        """Whether trials run rung by rung (and may be stopped by the pruner)."""
        return self.plan is not None and len(self.plan.steps) > 1


def _check_options(name: str, options: Mapping[str, Any],
                   allowed: Mapping[str, type | tuple[type, ...]]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise SpecError(
            f"The search strategy {name!r} has no option(s) {unknown}. "
            f"Its options are {sorted(allowed) or 'none'}."
        )
    for key, kind in allowed.items():
        kinds = kind if isinstance(kind, tuple) else (kind,)
        value = options.get(key)
        if key in options and (not isinstance(value, kinds) or
                               (isinstance(value, bool) and bool not in kinds)):
            names = " or ".join(k.__name__ for k in kinds)
            raise SpecError(
                f"The option {key!r} of search strategy {name!r} must be {names}. "
                f"Got {value!r}."
            )


def random_strategy(ctx: StrategyContext) -> Strategy:
    """Uniform random sampling over the space."""
    import optuna

    _check_options("random", ctx.options, {})
    return Strategy("random", optuna.samplers.RandomSampler(seed=ctx.rng_seed))


def tpe_strategy(ctx: StrategyContext) -> Strategy:
    """Multivariate TPE with grouping for the conditional family spaces.

    Options:
        n_startup_trials (int): random trials before TPE takes over (default 10).
        multivariate (bool): model parameters jointly (default True).
    """
    import warnings

    import optuna

    _check_options("tpe", ctx.options, {"n_startup_trials": int, "multivariate": bool})
    multivariate = bool(ctx.options.get("multivariate", True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=ctx.rng_seed,
            n_startup_trials=int(ctx.options.get("n_startup_trials", 10)),
            multivariate=multivariate,
            group=multivariate,
            constant_liar=ctx.n_jobs > 1 or ctx.salt != 0,
        )
    return Strategy("tpe", sampler)


def make_strategy(name: str, ctx: StrategyContext) -> Strategy:
    """Build the registered strategy ``name``."""
    from automl_bridge.registry import registry_for

    factory = registry_for("strategies").get(name)
    strategy: Strategy = factory(ctx)
    return strategy


def _ranged(name: str, options: Mapping[str, Any], key: str, default: Any, low: float,
            high: float | None = None) -> Any:
    """``options[key]`` (or ``default``), refused outside ``[low, high]``."""
    value = options.get(key, default)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise SpecError(f"The option {key!r} of search strategy {name!r} must be {bound}. "
                        f"Got {value!r}.")
    return value


def gp_strategy(ctx: StrategyContext) -> Strategy:
    """Gaussian-process Bayesian optimisation (Optuna's ``GPSampler``; needs the torch extra).

    Best for small trial budgets (10-100 trials) on numeric spaces.

    Options:
        n_startup_trials (int): random trials before the GP takes over (default 10).
    """
    import optuna

    _check_options("gp", ctx.options, {"n_startup_trials": int})
    n_startup = _ranged("gp", ctx.options, "n_startup_trials", 10, 1)
    def make() -> Any:
        return optuna.samplers.GPSampler(
            seed=ctx.rng_seed, n_startup_trials=n_startup,
            independent_sampler=optuna.samplers.RandomSampler(seed=ctx.rng_seed),
            warn_independent_sampling=False)

    return Strategy("gp", branchwise(make, ctx))


def cmaes_strategy(ctx: StrategyContext) -> Strategy:
    """CMA-ES over the numeric parameters (Optuna's ``CmaEsSampler``), one per model family.

    Best for long runs (hundreds to thousands of trials) on continuous spaces. Single
    objective; categorical parameters are drawn by TPE.

    Options:
        popsize (int): population size (default: CMA-ES's 4 + 3 ln(d)).
        restart_strategy (str): ``"ipop"`` or ``"bipop"`` restarts with growing populations.
        n_startup_trials (int): random trials first (default 1).
    """
    import optuna

    _check_options("cmaes", ctx.options, {"popsize": int, "restart_strategy": str,
                                          "n_startup_trials": int})
    if ctx.multi_objective:
        raise SpecError("The search strategy 'cmaes' takes one objective. Use 'nsga2', 'tpe' "
                        "or 'random' for several objectives.")
    restart = ctx.options.get("restart_strategy")
    if restart not in (None, "ipop", "bipop"):
        raise SpecError("The option 'restart_strategy' of search strategy 'cmaes' must be "
                        f"'ipop' or 'bipop'. Got {restart!r}.")
    popsize = ctx.options.get("popsize")
    if popsize is not None:
        _ranged("cmaes", ctx.options, "popsize", popsize, 2)
    n_startup = _ranged("cmaes", ctx.options, "n_startup_trials", 1, 0)
    def make() -> Any:
        independent = optuna.samplers.TPESampler(seed=ctx.rng_seed, n_startup_trials=10)
        return optuna.samplers.CmaEsSampler(
            seed=ctx.rng_seed, popsize=popsize, restart_strategy=restart,
            n_startup_trials=n_startup, independent_sampler=independent,
            warn_independent_sampling=False)

    return Strategy("cmaes", branchwise(make, ctx))


def nsga2_strategy(ctx: StrategyContext) -> Strategy:
    """NSGA-II, the genetic algorithm for (multi-objective) Pareto search.

    Options:
        population_size (int): individuals per generation (default 20; Optuna's is 50).
        crossover_prob (float): probability of crossover (default 0.9).
        mutation_prob (float): per-parameter mutation probability (default 1/params).
    """
    import optuna

    _check_options("nsga2", ctx.options, {"population_size": int, "crossover_prob": float,
                                          "mutation_prob": float})
    pop = _ranged("nsga2", ctx.options, "population_size", 20, 2)
    cross = _ranged("nsga2", ctx.options, "crossover_prob", 0.9, 0.0, 1.0)
    mut = ctx.options.get("mutation_prob")
    if mut is not None:
        _ranged("nsga2", ctx.options, "mutation_prob", mut, 0.0, 1.0)
    sampler = optuna.samplers.NSGAIISampler(
        seed=ctx.rng_seed, population_size=pop, crossover_prob=cross, mutation_prob=mut)
    return Strategy("nsga2", sampler)


_MF_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "min_fraction": (float, int), "reduction_factor": int}


def _plan_options(name: str, ctx: StrategyContext) -> tuple[Plan, int]:
    from automl_bridge.engine.fidelity import geometric_plan

    if ctx.multi_objective:
        raise SpecError(f"The search strategy {name!r} stops trials by one score and takes one "
                        "objective. Use 'nsga2', 'tpe' or 'random' for several objectives.")
    frac = float(_ranged(name, ctx.options, "min_fraction", 1 / 27, 1e-4, 0.5))
    eta = int(_ranged(name, ctx.options, "reduction_factor", 3, 2))
    return geometric_plan(min_fraction=frac, reduction_factor=eta), eta


def successive_halving_strategy(ctx: StrategyContext) -> Strategy:
    """Asynchronous successive halving (ASHA): random configurations, the best 1/eta of each
    rung promoted to eta times the resource, without waiting for a full rung.

    Options:
        min_fraction (float): fidelity of the first rung (default 1/27).
        reduction_factor (int): eta, the promotion ratio between rungs (default 3).
    """
    import optuna

    _check_options("successive_halving", ctx.options, _MF_OPTIONS)
    plan, eta = _plan_options("successive_halving", ctx)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=plan.steps[0],
                                                    reduction_factor=eta)
    return Strategy("successive_halving", optuna.samplers.RandomSampler(seed=ctx.rng_seed),
                    pruner=pruner, plan=plan)


def hyperband_strategy(ctx: StrategyContext) -> Strategy:
    """Hyperband: successive halving in several brackets with different first-rung budgets,
    hedging between many cheap and few expensive evaluations. Random configurations.

    Options:
        min_fraction (float): fidelity of the most aggressive bracket's first rung (1/27).
        reduction_factor (int): eta (default 3).
    """
    import optuna

    _check_options("hyperband", ctx.options, _MF_OPTIONS)
    plan, eta = _plan_options("hyperband", ctx)
    pruner = optuna.pruners.HyperbandPruner(min_resource=plan.steps[0],
                                            max_resource=plan.max_step, reduction_factor=eta)
    return Strategy("hyperband", optuna.samplers.RandomSampler(seed=ctx.rng_seed), pruner=pruner,
                    plan=plan)


def bohb_strategy(ctx: StrategyContext) -> Strategy:
    """BOHB: Hyperband's brackets with TPE (a kernel-density model) proposing configurations.

    Options:
        min_fraction, reduction_factor: as for ``hyperband``.
        n_startup_trials (int): random trials before TPE takes over (default 10).
    """
    import warnings

    import optuna

    _check_options("bohb", ctx.options, {**_MF_OPTIONS, "n_startup_trials": int})
    plan, eta = _plan_options("bohb", ctx)
    n_startup = _ranged("bohb", ctx.options, "n_startup_trials", 10, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=ctx.rng_seed, n_startup_trials=n_startup,
                                             multivariate=True, group=True,
                                             constant_liar=ctx.n_jobs > 1 or ctx.salt != 0,
                                             constraints_func=ctx.constraints_func)
    pruner = optuna.pruners.HyperbandPruner(min_resource=plan.steps[0],
                                            max_resource=plan.max_step, reduction_factor=eta)
    return Strategy("bohb", sampler, pruner=pruner, plan=plan)


#: Training rows from which ``auto`` turns to multi-fidelity search.
AUTO_MULTI_FIDELITY_ROWS = 10_000


def auto_strategy(ctx: StrategyContext) -> Strategy:
    """The default portfolio: picks a strategy for the data size and the objectives.

    - several objectives: ``tpe`` (multi-objective TPE, constraint-aware);
    - at least :data:`AUTO_MULTI_FIDELITY_ROWS` training rows: ``bohb`` (cheap low-fidelity
      rungs weed out poor configurations before they cost a full fit);
    - otherwise: ``tpe``.

    The choice and its reason are recorded in the result's warnings. Takes no options.
    """
    _check_options("auto", ctx.options, {})
    if ctx.multi_objective:
        chosen, why = "tpe", "several objectives"
    elif ctx.n_rows >= AUTO_MULTI_FIDELITY_ROWS:
        chosen, why = "bohb", f"{ctx.n_rows} training rows (>= {AUTO_MULTI_FIDELITY_ROWS})"
    else:
        chosen, why = "tpe", f"{ctx.n_rows} training rows (< {AUTO_MULTI_FIDELITY_ROWS})"
    strategy = make_strategy(chosen, ctx)
    strategy.notes.append(f"search='auto' chose {chosen!r}: {why}.")
    strategy.name = chosen
    return strategy


def branchwise(make: Callable[[], Any], ctx: StrategyContext) -> Any:
    """``make()`` on a flat space; one per branch on a conditional space (the engine's
    choice of family), so joint-space samplers model each family's parameters."""
    from automl_bridge.search.branching import BranchSampler, branch_param

    param = branch_param(ctx.space)
    if param is None:
        return make()
    return BranchSampler(make_inner=make, branch_param=param, seed=ctx.rng_seed)
