"""The contract of a search strategy, as reusable checks on synthetic problems.

A strategy (see :mod:`automl_bridge.search.strategies`) is driven here as the engine drives it,
without fitting any model: :func:`run_strategy` builds it with :func:`make_strategy`, then asks
the study for a trial, draws the configuration with
:func:`~automl_bridge.search.space.sample`, evaluates a synthetic :class:`Problem` and tells the
study the value (or ``FAIL``). For a multi-fidelity strategy (a plan with several rungs) each
trial reports its value rung by rung, biased at low fidelity, and stops when the pruner says
so; the fidelity spent (the *compute*: the sum of the fractions of the rungs evaluated, as for
families that train again on a larger row subset at each rung) is counted, so such a strategy
can be compared with random search at equal compute. ``n_jobs > 1`` runs threads that share
one lock around ask/sample/report/tell, as the engine's slots do.

A strategy registered by a plugin (entry-point group ``automl_bridge.strategies``) can be held
to the same contract in the plugin's own tests, e.g.
``check_seed("mine", conditional(), n_trials=20)``; automl_bridge's ``tests/
test_strategy_contract.py`` runs every check on every registered strategy.

The checks (each raises :class:`AssertionError` with a message saying what went wrong):

- :func:`check_beats_random` / :func:`check_not_worse_than_random`: mean best loss over seeds
  against random search (at equal compute for multi-fidelity strategies);
- :func:`check_seed`: the same seed gives the same trials, another seed other trials;
- :func:`check_resume`: a run killed (between or during trials) and resumed with a new strategy
  object on the same storage ends with exactly the planned trials (and, for strategies whose
  proposals depend only on the seed and the study, the same trials as an uninterrupted run);
- :func:`check_valid_configs`: every trial is one valid configuration of a conditional space;
- :func:`check_failures`: failing configurations do not stop the search from finding good ones;
- :func:`check_threads`: two threads, no errors, every trial finished;
- :func:`check_exhausts`: a finite strategy (grid) says when it has proposed everything;
- :func:`check_multi_objective` / :func:`check_refuses_multi_objective`.

Problems (losses are >= 0 and minimised; a ``"maximize"`` direction tells the study
``-loss``): :func:`sphere`, :func:`rosenbrock`, :func:`conditional` (shaped like the engine's
space: a choice of ``model``, then that family's parameters named ``"<family>.<param>"``),
:func:`layers` (a variable number of layers), :func:`small_grid`, :func:`tiny_conditional`,
:func:`two_objectives`.

Example:
    >>> from automl_bridge.testing.strategies import (
    ...     check_valid_configs, conditional, run_strategy, sphere)
    >>> run = run_strategy("random", sphere(dims=2), n_trials=5, seed=0)
    >>> run.n_finished, run.best_loss > 0
    (5, True)
    >>> check_valid_configs("random", conditional(), n_trials=5).n_complete
    5
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from automl_bridge.exceptions import SpecError
from automl_bridge.search.space import (
    Choice,
    Conditional,
    Fixed,
    Float,
    Int,
    Node,
    Param,
    RandomTrial,
    distribution,
    sample,
)
from automl_bridge.search.strategies import (
    CRASH_COST_ATTR,
    Strategy,
    StrategyContext,
    make_strategy,
)

#: User attribute holding the configuration a trial drew (JSON; Fixed values included).
CONFIG_ATTR = "automl_bridge.testing:config"
#: User attribute set on a trial left running by a killed session and failed on resume.
SWEPT_ATTR = "automl_bridge.testing:interrupted"

Losses = tuple[float, ...]


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """A synthetic search problem.

    Attributes:
        name: for messages.
        space: the search space.
        losses: ``losses(config)``, one loss (>= 0, lower is better) per objective.
        directions: per objective, how the study is told: ``"minimize"`` tells the loss,
            ``"maximize"`` tells ``-loss`` (so both directions are exercised).
        optimum: the smallest loss of a single-objective problem (for messages).
        fails: ``fails(config)`` is true for configurations whose trial fails (``None``: none).
        fidelity_noise: at fraction ``f`` of the full fidelity, a loss ``L`` is reported as
            ``L + (1 - f) * (L * (1 + noise * w) + 0.1)``, where ``w`` in ``[-1, 1]`` is a
            deterministic function of the configuration: worse at low fidelity, exact at full
            fidelity, and rank-preserving except between configurations whose losses are
            within about ``noise`` of each other (relative).
        reference: loss-space reference point for the hypervolume (multi-objective).
        best_hypervolume: the hypervolume of the true Pareto front (multi-objective).
    """

    name: str
    space: tuple[Node, ...]
    losses: Callable[[Mapping[str, Any]], Losses]
    directions: tuple[str, ...] = ("minimize",)
    optimum: float = 0.0
    fails: Callable[[Mapping[str, Any]], bool] | None = None
    fidelity_noise: float = 0.3
    reference: Losses | None = None
    best_hypervolume: float | None = None

    def loss(self, config: Mapping[str, Any]) -> float:
        """The loss of a single-objective problem."""
        values = self.losses(config)
        if len(values) != 1:
            raise ValueError(f"The problem {self.name!r} has {len(values)} objectives; "
                             "use losses().")
        return values[0]

    def value(self, config: Mapping[str, Any], fraction: float = 1.0) -> float | list[float]:
        """What the study is told for ``config`` evaluated at ``fraction`` of full fidelity."""
        bias = max(0.0, 1.0 - fraction)
        w = _wobble(config)
        out = []
        for loss, direction in zip(self.losses(config), self.directions, strict=True):
            at = loss + bias * (loss * (1.0 + self.fidelity_noise * w) + 0.1)
            out.append(-at if direction == "maximize" else at)
        return out[0] if len(out) == 1 else out

    def to_losses(self, values: Sequence[float]) -> Losses:
        """Study values back to losses (undo the sign of ``"maximize"`` objectives)."""
        return tuple(-v if d == "maximize" else v
                     for v, d in zip(values, self.directions, strict=True))

    def with_failures(self, fails: Callable[[Mapping[str, Any]], bool]) -> Problem:
        """The same problem where ``fails(config)`` configurations fail."""
        return dataclasses.replace(self, name=f"{self.name}+failures", fails=fails)


def _wobble(config: Mapping[str, Any]) -> float:
    """A deterministic pseudo-random number in ``[-1, 1]`` for a configuration."""
    acc = 0.0
    for i, (key, v) in enumerate(sorted(config.items())):
        if isinstance(v, bool) or not isinstance(v, int | float):
            x = zlib.crc32(f"{key}={v!r}".encode()) % 1000 / 1000.0
        else:
            x = float(v)
        acc += (i + 1) * 1.618 * x
    return math.sin(7.3 * acc)


def _unit(param: Param, value: Any) -> float:
    """``value`` of a numeric parameter mapped to ``[0, 1]`` (log-scaled where it is)."""
    assert isinstance(param, Int | Float)
    low, high, v = float(param.low), float(param.high), float(value)
    if param.log:
        low, high, v = math.log(low), math.log(high), math.log(v)
    return (v - low) / (high - low) if high > low else 0.0


def _quadratic(params: Sequence[Param], target: Mapping[str, Any], *, mismatch: float = 0.2
               ) -> Callable[[Mapping[str, Any]], float]:
    """Squared distance to ``target`` in unit coordinates; ``mismatch`` per wrong choice."""
    by_name = {p.name: p for p in params}

    def loss(config: Mapping[str, Any]) -> float:
        out = 0.0
        for name, want in target.items():
            p = by_name[name]
            if isinstance(p, Choice):
                out += 0.0 if config[name] == want else mismatch
            else:
                out += (_unit(p, config[name]) - _unit(p, want)) ** 2
        return out

    return loss


def sphere(*, dims: int = 4, low: float = -5.0, high: float = 5.0) -> Problem:
    """A shifted sphere ``sum((x - s)**2)`` on a flat space of floats ``x0..x{dims-1}``.

    The optimum (loss 0) is at ``s_i = 0.3 * (high - low) * sin(2.1 i + 0.7)``.
    """
    shift = [0.3 * (high - low) * math.sin(2.1 * i + 0.7) for i in range(dims)]
    space = tuple(Float(f"x{i}", low, high) for i in range(dims))

    def losses(config: Mapping[str, Any]) -> Losses:
        return (float(sum((config[f"x{i}"] - s) ** 2 for i, s in enumerate(shift))),)

    return Problem(f"sphere{dims}", space, losses)


def rosenbrock(*, dims: int = 3) -> Problem:
    """Rosenbrock's valley on ``[-2, 2]**dims`` (optimum 0 at all ones; curved, ill-conditioned).
    """
    space = tuple(Float(f"x{i}", -2.0, 2.0) for i in range(dims))

    def losses(config: Mapping[str, Any]) -> Losses:
        x = [config[f"x{i}"] for i in range(dims)]
        return (float(sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
                          for i in range(dims - 1))),)

    return Problem(f"rosenbrock{dims}", space, losses)


def _families() -> dict[str, tuple[float, tuple[Param, ...], dict[str, Any]]]:
    """Families of :func:`conditional`: (loss at the family's optimum, parameters, optimum)."""
    return {
        "linear": (0.30, (Float("linear.C", 1e-3, 1e3, log=True),
                          Float("linear.l1_ratio", 0.0, 1.0)),
                   {"linear.C": 3.0, "linear.l1_ratio": 0.8}),
        "knn": (0.15, (Int("knn.n_neighbors", 1, 50, log=True),
                       Choice("knn.weights", ["uniform", "distance"]),
                       Float("knn.p", 1.0, 2.0)),
                {"knn.n_neighbors": 12, "knn.weights": "distance", "knn.p": 1.5}),
        "forest": (0.0, (Int("forest.n_estimators", 10, 500, log=True),
                         Float("forest.max_features", 0.1, 1.0),
                         Int("forest.max_depth", 2, 24),
                         Choice("forest.criterion", ["gini", "entropy", "log_loss"]),
                         Fixed("forest.n_jobs", 1)),
                   {"forest.n_estimators": 200, "forest.max_features": 0.35,
                    "forest.max_depth": 9, "forest.criterion": "entropy"}),
    }


def conditional(*, direction: str = "maximize") -> Problem:
    """Shaped like the engine's space: ``Conditional(Choice("model", families), {family:
    [params named "family.param"]})`` with floats, log-scaled ints, choices and a constant.
    Every family has a float parameter, so two trials share a configuration only when a
    sampler proposes it twice (see :class:`ResumeOutcome`).

    Each family has its own optimum: ``forest`` 0.0 (the best), ``knn`` 0.15, ``linear``
    0.30; the loss grows with the squared distance to the optimum in unit coordinates. The
    default direction is ``"maximize"`` (the study is told ``-loss``), like a metric such as
    ROC AUC.
    """
    families = _families()
    branches: dict[Any, Sequence[Node]] = {name: list(params)
                                       for name, (_, params, _) in families.items()}
    space = (Conditional(Choice("model", list(families)), branches),)
    scorers = {name: (offset, _quadratic(params, target))
               for name, (offset, params, target) in families.items()}

    def losses(config: Mapping[str, Any]) -> Losses:
        offset, scorer = scorers[config["model"]]
        return (offset + scorer(config),)

    return Problem("conditional", space, losses, directions=(direction,))


def layers(*, max_layers: int = 3) -> Problem:
    """A variable-length (neural-architecture-like) space: ``Conditional(Int("n_layers", 1,
    max_layers), {k: [layer0.units, layer0.activation, ..., layer{k-1}.*]})`` then ``lr``.

    Optimum 0: two layers of 64 then 32 units, ``relu``, ``lr = 3e-3``.
    """
    def layer(i: int) -> list[Param]:
        return [Int(f"layer{i}.units", 8, 512, log=True),
                Choice(f"layer{i}.activation", ["relu", "tanh", "sigmoid"])]

    branches: dict[Any, Sequence[Node]] = {
        k: [node for i in range(k) for node in layer(i)] for k in range(1, max_layers + 1)}
    lr = Float("lr", 1e-4, 1e-1, log=True)
    space = (Conditional(Int("n_layers", 1, max_layers), branches), lr)
    units = [Int(f"layer{i}.units", 8, 512, log=True) for i in range(max_layers)]

    def losses(config: Mapping[str, Any]) -> Losses:
        k = int(config["n_layers"])
        out = 0.15 * abs(k - 2) + (_unit(lr, config["lr"]) - _unit(lr, 3e-3)) ** 2
        for i in range(k):
            want = 64 if i == 0 else 32
            out += (_unit(units[i], config[f"layer{i}.units"]) - _unit(units[i], want)) ** 2
            out += 0.0 if config[f"layer{i}.activation"] == "relu" else 0.1
        return (float(out),)

    return Problem("layers", space, losses)


def small_grid() -> Problem:
    """A small discrete flat space of 24 configurations (``a`` in 0..3, ``b`` in x/y/z,
    ``c`` in 1..2) with one optimum (loss 0 at ``a=2, b="y", c=1``): a grid runs all 24."""
    space = (Int("a", 0, 3), Choice("b", ["x", "y", "z"]), Int("c", 1, 2))

    def losses(config: Mapping[str, Any]) -> Losses:
        return (float((config["a"] - 2) ** 2 + 1.5 * (config["b"] != "y")
                      + 0.7 * (config["c"] - 1)),)

    return Problem("small_grid", space, losses)


def tiny_conditional() -> Problem:
    """Five configurations: ``model="a"`` with ``a.k`` in 1..3, ``model="b"`` with ``b.c`` in
    u/v (and a constant ``b.seed``)."""
    space = (Conditional(Choice("model", ["a", "b"]), {
        "a": [Int("a.k", 1, 3)], "b": [Choice("b.c", ["u", "v"]), Fixed("b.seed", 0)]}),)

    def losses(config: Mapping[str, Any]) -> Losses:
        if config["model"] == "a":
            return (float(abs(config["a.k"] - 2)),)
        return (0.5 if config["b.c"] == "u" else 1.5,)

    return Problem("tiny_conditional", space, losses)


def two_objectives() -> Problem:
    """Two objectives on ``(x, y)`` in ``[-2, 2]**2``: squared distances to ``(-1, 0)`` (told
    maximised, as ``-loss``) and to ``(1, 0)`` (minimised). The Pareto set is the segment
    between the two points; the hypervolume reference point is ``(4, 4)`` in losses."""
    space = (Float("x", -2.0, 2.0), Float("y", -2.0, 2.0))

    def losses(config: Mapping[str, Any]) -> Losses:
        x, y = float(config["x"]), float(config["y"])
        return ((x + 1.0) ** 2 + y ** 2, (x - 1.0) ** 2 + y ** 2)

    reference = (4.0, 4.0)
    t = np.linspace(0.0, 1.0, 2001)
    front = [(4.0 * a * a, 4.0 * (1.0 - a) ** 2) for a in t]
    return Problem("two_objectives", space, losses, directions=("maximize", "minimize"),
                   reference=reference, best_hypervolume=hypervolume_2d(front, reference))


def hypervolume_2d(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The area dominated by ``points`` (two losses, minimised) and bounded by ``reference``.

    Example:
        >>> hypervolume_2d([(1.0, 2.0), (2.0, 1.0)], (3.0, 3.0))
        3.0
    """
    r0, r1 = float(reference[0]), float(reference[1])
    area, floor = 0.0, r1
    for f0, f1 in sorted((float(p[0]), float(p[1])) for p in points):
        if f0 < r0 and f1 < floor:
            area += (r0 - f0) * (floor - f1)
            floor = f1
    return area


# ---------------------------------------------------------------------------------------------
# Valid configurations


def _fixed_value(p: Param) -> Any:
    """The value of a parameter that is never asked to the trial (no distribution)."""
    if isinstance(p, Fixed):
        return p.value
    if isinstance(p, Choice):
        return p.choices[0]
    return p.low


def _value_error(p: Param, value: Any) -> str | None:
    """Why ``value`` is not a value of ``p`` (``None`` when it is)."""
    dist = distribution(p)
    if dist is None:
        return None if value == _fixed_value(p) else f"is the constant {_fixed_value(p)!r}"
    if isinstance(p, Int) and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        return f"must be an int of {dist}"
    if isinstance(p, Float) and (isinstance(value, bool)
                                 or not isinstance(value, int | float | np.number)):
        return f"must be a float of {dist}"
    try:
        ok = dist._contains(dist.to_internal_repr(value))
    except (ValueError, TypeError):
        ok = False
    return None if ok else f"is outside {dist}"


def config_errors(space: Sequence[Node], params: Mapping[str, Any]) -> list[str]:
    """What makes ``params`` not exactly one configuration of ``space`` (empty when valid).

    ``params`` may be :func:`~automl_bridge.search.space.sample`'s output or a trial's
    ``params`` (which lack the constants). Every parameter of the branches taken must be
    there with a value of its distribution; no other parameter may be.

    Example:
        >>> space = [Conditional(Choice("m", ["a", "b"]), {"a": [Int("a.k", 1, 3)]})]
        >>> config_errors(space, {"m": "a", "a.k": 2})
        []
        >>> config_errors(space, {"m": "b", "a.k": 9})
        ["'a.k' is not a parameter of the branches taken"]
    """
    errors: list[str] = []
    expected: set[str] = set()

    def walk(nodes: Sequence[Node]) -> None:
        for node in nodes:
            p = node.param if isinstance(node, Conditional) else node
            expected.add(p.name)
            if p.name in params:
                value = params[p.name]
                why = _value_error(p, value)
                if why is not None:
                    errors.append(f"{p.name!r}={value!r} {why}")
                    continue
            elif distribution(p) is None:
                value = _fixed_value(p)
            else:
                errors.append(f"{p.name!r} is missing")
                continue
            if isinstance(node, Conditional):
                walk(node.branches.get(value, ()))

    walk(space)
    errors.extend(f"{name!r} is not a parameter of the branches taken"
                  for name in sorted(set(params) - expected))
    return errors


# ---------------------------------------------------------------------------------------------
# The driver


def journal_storage(path: str | Path) -> Any:
    """An Optuna journal-file storage at ``path`` (a new object on every call, as a new process
    would open it)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def _states() -> tuple[Any, Any, Any]:
    from optuna.trial import TrialState

    return TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL


@dataclass
class StrategyRun:
    """A study run by :func:`run_strategy` (everything is read back from the study).

    Attributes:
        name: the strategy's registered name, as asked for.
        problem: the problem.
        strategy: the strategy built for the last session.
        study: the study.
        compute: fidelity spent in the last session (sum of rung fractions; 1 per full trial).
    """

    name: str
    problem: Problem
    strategy: Strategy
    study: Any
    compute: float = 0.0

    def trials(self) -> list[Any]:
        """Every trial, by number."""
        return sorted(self.study.get_trials(deepcopy=False), key=lambda t: t.number)

    def finished(self) -> list[Any]:
        """Trials completed, pruned or failed (not those failed for a killed session)."""
        return [t for t in self.trials() if t.state in _states()
                and not t.user_attrs.get(SWEPT_ATTR)]

    @property
    def n_finished(self) -> int:
        """Finished trials (the trial budget counts these)."""
        return len(self.finished())

    def _count(self, state: Any) -> int:
        return sum(_state(t) == state for t in self.finished())

    @property
    def n_complete(self) -> int:
        """Completed trials."""
        return self._count(_states()[0])

    @property
    def n_pruned(self) -> int:
        """Pruned trials."""
        return self._count(_states()[1])

    @property
    def n_failed(self) -> int:
        """Failed trials."""
        return self._count(_states()[2])

    def params(self) -> list[dict[str, Any]]:
        """Each trial's ``params`` (as stored by Optuna), by number."""
        return [dict(t.params) for t in self.trials()]

    def history(self) -> list[tuple[int, str, dict[str, Any]]]:
        """``(number, state, params)`` of every trial: what a seeded run must reproduce."""
        return [(t.number, t.state.name, dict(t.params)) for t in self.trials()]

    def config(self, trial: Any) -> dict[str, Any]:
        """The configuration ``trial`` drew (constants included)."""
        raw = trial.user_attrs.get(CONFIG_ATTR)
        return dict(json.loads(raw)) if raw is not None else dict(trial.params)

    def completed_losses(self) -> list[Losses]:
        """The full-fidelity losses of the completed trials."""
        return [self.problem.losses(self.config(t)) for t in self.finished()
                if _state(t) == _states()[0]]

    @property
    def best_loss(self) -> float:
        """The smallest loss of a completed trial (``inf`` when none completed)."""
        return min((v[0] for v in self.completed_losses()), default=math.inf)


def run_strategy(name: str, problem: Problem, *, n_trials: int, seed: int = 0, n_jobs: int = 1,
                 storage: Any = None, options: Mapping[str, Any] | None = None,
                 study_name: str = "contract", max_trials: int | None = None,
                 compute_budget: float | None = None, leave_running: bool = False
                 ) -> StrategyRun:
    """Run the registered strategy ``name`` on ``problem`` like the engine does.

    The strategy is built with :func:`make_strategy` from a :class:`StrategyContext` (space,
    directions, seed, ``n_jobs``, ``options``, ``max_trials``). The study is created (or, on a
    storage that holds it, loaded: a resumed run) with the strategy's sampler and pruner.
    Trials a killed session left running are failed and their parameters enqueued again (as the
    engine does); then trials run until the study holds ``n_trials`` finished ones, the
    strategy is exhausted, or ``compute_budget`` is spent.

    Args:
        name: registered strategy name.
        problem: what to optimise.
        n_trials: finished trials the study should hold at the end.
        seed: the search seed.
        n_jobs: threads asking and telling concurrently (one lock, as the engine's slots).
        storage: an Optuna storage or URL (``None``: in memory).
        options: the strategy's options.
        study_name: the study's name in ``storage``.
        max_trials: ``StrategyContext.max_trials`` (default ``n_trials``).
        compute_budget: stop starting trials once this much fidelity was spent.
        leave_running: after the last trial, ask and draw one more and leave it running (a
            session killed during a trial).

    Returns:
        The :class:`StrategyRun`.
    """
    import optuna

    ctx = StrategyContext(seed=seed, n_jobs=n_jobs, options=dict(options or {}),
                          directions=tuple(problem.directions), space=problem.space,
                          max_trials=n_trials if max_trials is None else max_trials,
                          resumed_trials=_stored_trials(storage, study_name))
    strategy = make_strategy(name, ctx)
    study = optuna.create_study(storage=storage, sampler=strategy.sampler,
                                pruner=strategy.pruner, study_name=study_name,
                                directions=list(problem.directions),  # type: ignore[arg-type]
                                load_if_exists=True)
    run = StrategyRun(name, problem, strategy, study)
    _sweep(study)
    lock = threading.Lock()
    todo = n_trials - run.n_finished
    started = 0
    errors: list[BaseException] = []

    def next_trial() -> tuple[Any, dict[str, Any]] | None:
        nonlocal started
        with lock:
            if started >= todo or errors:
                return None
            if compute_budget is not None and run.compute >= compute_budget:
                return None
            if strategy.exhausted is not None and strategy.exhausted(study):
                return None
            started += 1
            trial = study.ask()
            config = sample(trial, problem.space)
            trial.set_user_attr(CONFIG_ATTR, json.dumps(config))
            return trial, config

    def slot() -> None:
        try:
            while (got := next_trial()) is not None:
                _evaluate(run, lock, *got)
        except BaseException as exc:  # re-raised in the caller's thread
            with lock:
                errors.append(exc)

    if n_jobs == 1:
        slot()
    else:
        threads = [threading.Thread(target=slot, name=f"contract-slot-{i}")
                   for i in range(n_jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    if leave_running:
        trial = study.ask()
        trial.set_user_attr(CONFIG_ATTR, json.dumps(sample(trial, problem.space)))
    return run


def _stored_trials(storage: Any, study_name: str) -> int:
    """Trials already stored for ``study_name`` (a resumed run), as the engine counts them."""
    from automl_bridge.engine.study import stored_trials

    if storage is None or isinstance(storage, str):
        return 0
    return stored_trials(storage, study_name)


def _sweep(study: Any) -> None:
    """Fail the trials a killed session left running and enqueue their parameters again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, SWEPT_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(dict(trial.params))


def _state(trial: Any) -> Any:
    """A trial's state, with a failure told to the sampler as its crash cost counted FAIL."""
    from optuna.trial import TrialState

    return TrialState.FAIL if trial.user_attrs.get(CRASH_COST_ATTR) else trial.state


def crash_cost(study: Any) -> float | list[float] | None:
    """The worst value(s) of the study's real complete trials (``None`` before any)."""
    from optuna.trial import TrialState

    done = [t.values for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not t.user_attrs.get(CRASH_COST_ATTR)]
    if not done:
        return None
    worst = [min(col) if d.name == "MAXIMIZE" else max(col)
             for col, d in zip(zip(*done, strict=True), study.directions, strict=True)]
    return worst[0] if len(worst) == 1 else worst


def _evaluate(run: StrategyRun, lock: threading.Lock, trial: Any, config: dict[str, Any]
              ) -> None:
    """Evaluate one trial rung by rung; tell the study (complete, pruned or failed)."""
    from optuna.trial import TrialState

    problem, strategy, study = run.problem, run.strategy, run.study
    if problem.fails is not None and problem.fails(config):
        with lock:  # as the engine: the worst complete value so far, or FAIL before any
            cost = crash_cost(study)
            if cost is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                trial.set_user_attr(CRASH_COST_ATTR, True)
                study.tell(trial, cost)
        return
    plan = strategy.plan
    steps: tuple[int | None, ...] = plan.steps if plan is not None else (None,)
    value: float | list[float] = math.nan
    for i, step in enumerate(steps):
        fraction = 1.0 if plan is None or step is None else plan.fraction(step)
        value = problem.value(config, fraction)
        with lock:
            run.compute += fraction
            if strategy.multi_fidelity and i < len(steps) - 1:
                trial.report(value, step)  # several objectives: Optuna raises
                if trial.should_prune():
                    study.tell(trial, state=TrialState.PRUNED)
                    return
    with lock:
        study.tell(trial, value)


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Comparison:
    """Best losses of a strategy and of random search over the same seeds.

    Attributes:
        strategy: the strategy's name.
        problem: the problem's name.
        seeds: the seeds run.
        best: the strategy's best loss per seed.
        random_best: random search's best loss per seed.
        n_trials: random search's trials per seed (its compute).
        compute: the strategy's compute per seed.
    """

    strategy: str
    problem: str
    seeds: tuple[int, ...]
    best: tuple[float, ...]
    random_best: tuple[float, ...]
    n_trials: int
    compute: tuple[float, ...] = field(default=())

    @property
    def mean(self) -> float:
        """The strategy's mean best loss."""
        return float(np.mean(self.best))

    @property
    def random_mean(self) -> float:
        """Random search's mean best loss."""
        return float(np.mean(self.random_best))

    @property
    def ratio(self) -> float:
        """``mean / random_mean`` (below 1: better than random search)."""
        return self.mean / self.random_mean if self.random_mean > 0 else math.inf

    def __str__(self) -> str:
        return (f"{self.strategy} on {self.problem}: mean best loss {self.mean:.4g} vs random "
                f"{self.random_mean:.4g} (ratio {self.ratio:.3f}) over seeds "
                f"{list(self.seeds)} at {self.n_trials} trials"
                + (f" of compute (spent {np.mean(self.compute):.1f})" if self.compute else ""))


def random_baseline(problem: Problem, *, seeds: Sequence[int], n_trials: int
                    ) -> tuple[float, ...]:
    """Random search's best loss per seed after ``n_trials`` trials."""
    return tuple(run_strategy("random", problem, n_trials=n_trials, seed=s).best_loss
                 for s in seeds)


def compare_to_random(name: str, problem: Problem, *, seeds: Sequence[int], n_trials: int,
                      options: Mapping[str, Any] | None = None,
                      random_best: Sequence[float] | None = None,
                      max_trials_factor: int = 30) -> Comparison:
    """Best losses of ``name`` and of random search (``random_best`` if already known).

    A multi-fidelity strategy gets random search's compute (``n_trials`` full trials) and up to
    ``max_trials_factor * n_trials`` trials to spend it on; the others get ``n_trials`` trials.
    """
    best, compute = [], []
    for s in seeds:
        ctx = StrategyContext(seed=s, options=dict(options or {}),
                              directions=tuple(problem.directions), space=problem.space)
        if make_strategy(name, ctx).multi_fidelity:
            run = run_strategy(name, problem, n_trials=max_trials_factor * n_trials, seed=s,
                               options=options, compute_budget=float(n_trials))
        else:
            run = run_strategy(name, problem, n_trials=n_trials, seed=s, options=options)
        best.append(run.best_loss)
        if run.strategy.multi_fidelity:
            compute.append(run.compute)
    if random_best is None:
        random_best = random_baseline(problem, seeds=seeds, n_trials=n_trials)
    return Comparison(name, problem.name, tuple(seeds), tuple(best), tuple(random_best),
                      n_trials, tuple(compute))


def check_beats_random(name: str, problem: Problem, *, seeds: Sequence[int], n_trials: int,
                       options: Mapping[str, Any] | None = None,
                       random_best: Sequence[float] | None = None,
                       max_ratio: float = 1.0) -> Comparison:
    """The strategy's mean best loss is below ``max_ratio`` times random search's.

    Raises:
        AssertionError: it is not.
    """
    cmp = compare_to_random(name, problem, seeds=seeds, n_trials=n_trials, options=options,
                            random_best=random_best)
    if not cmp.mean < max_ratio * cmp.random_mean:
        raise AssertionError(f"Expected {name!r} to beat random search (ratio < {max_ratio}): "
                             f"{cmp}. Per seed: {cmp.best} vs {cmp.random_best}.")
    return cmp


def check_not_worse_than_random(name: str, problem: Problem, *, seeds: Sequence[int],
                                n_trials: int, tolerance: float = 0.5,
                                options: Mapping[str, Any] | None = None,
                                random_best: Sequence[float] | None = None) -> Comparison:
    """The strategy's mean best loss is at most ``1 + tolerance`` times random search's.

    Raises:
        AssertionError: it is more.
    """
    cmp = compare_to_random(name, problem, seeds=seeds, n_trials=n_trials, options=options,
                            random_best=random_best)
    if not cmp.mean <= (1.0 + tolerance) * cmp.random_mean:
        raise AssertionError(f"Expected {name!r} to be at most {tolerance:.0%} worse than random "
                             f"search: {cmp}. Per seed: {cmp.best} vs {cmp.random_best}.")
    return cmp


def _first_difference(a: Sequence[Any], b: Sequence[Any]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"trial {i}: {x} != {y}"
    return f"lengths {len(a)} != {len(b)}"


def check_seed(name: str, problem: Problem, *, n_trials: int, seed: int = 0, other_seed: int = 1,
               options: Mapping[str, Any] | None = None) -> StrategyRun:
    """The same seed gives the same trials (parameters and states); another seed other ones.

    Raises:
        AssertionError: two runs with ``seed`` differ, or ``other_seed`` repeats ``seed``.
    """
    a = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options)
    b = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options)
    if a.history() != b.history():
        raise AssertionError(f"{name!r} is not reproducible: two runs with seed={seed} on "
                             f"{problem.name} differ at "
                             f"{_first_difference(a.history(), b.history())}.")
    c = run_strategy(name, problem, n_trials=n_trials, seed=other_seed, options=options)
    if a.params() == c.params():
        raise AssertionError(f"{name!r} ignores the seed: seeds {seed} and {other_seed} gave the "
                             f"same {n_trials} trials on {problem.name}.")
    return a


@dataclass(frozen=True)
class ResumeOutcome:
    """What a killed-and-resumed run did.

    Attributes:
        run: the resumed run.
        same_as_uninterrupted: its trials equal an uninterrupted run's (``None``: not compared,
            as after a kill during a trial, whose trial is run again).
        repeats: trials of the second session whose parameters repeat a first-session trial's
            (re-run interrupted trials excluded): a sampler whose random state restarts with
            the seed proposes the first session's configurations again.
    """

    run: StrategyRun
    same_as_uninterrupted: bool | None
    repeats: int


def check_resume(name: str, problem: Problem, *, directory: str | Path, n_trials: int,
                 interrupt_at: int, seed: int = 0, during_trial: bool = False,
                 options: Mapping[str, Any] | None = None,
                 expect_same: bool = False) -> ResumeOutcome:
    """Kill a run after ``interrupt_at`` trials and resume it with a new strategy object.

    The run uses a journal file in ``directory``. The first session runs ``interrupt_at``
    trials (``during_trial``: and leaves one more running, which the second session fails and
    runs again); every object is then dropped and a second session builds the strategy anew,
    loads the study from a new storage object and runs to ``n_trials`` finished trials.

    Raises:
        AssertionError: an error, not exactly ``n_trials`` finished trials, a trial left
            running, or (``expect_same``) trials that differ from an uninterrupted run.
    """
    path = Path(directory) / f"{name}-{seed}-{'during' if during_trial else 'between'}.log"
    first = run_strategy(name, problem, n_trials=interrupt_at, seed=seed, options=options,
                         storage=journal_storage(path), max_trials=n_trials,
                         leave_running=during_trial)
    before = {json.dumps(p, sort_keys=True) for p in first.params()[:interrupt_at]}
    del first
    run = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options,
                       storage=journal_storage(path), max_trials=n_trials)
    trials = run.trials()
    running = [t.number for t in trials if not t.state.is_finished()]
    if running or run.n_finished != n_trials:
        raise AssertionError(f"{name!r} resumed on {problem.name}: expected {n_trials} finished "
                             f"trials, got {run.n_finished} (running: {running}).")
    rerun = {json.dumps(t.params, sort_keys=True) for t in trials if t.user_attrs.get(SWEPT_ATTR)}
    repeats = sum(json.dumps(t.params, sort_keys=True) in before - rerun
                  for t in trials[interrupt_at:] if not t.user_attrs.get(SWEPT_ATTR))
    same = None
    if not during_trial:
        whole = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options)
        same = whole.history() == run.history()
        if expect_same and not same:
            raise AssertionError(
                f"{name!r} resumed after {interrupt_at} trials on {problem.name} differs from an "
                f"uninterrupted run at {_first_difference(whole.history(), run.history())}.")
    return ResumeOutcome(run, same, repeats)


def check_valid_configs(name: str, problem: Problem | None = None, *, n_trials: int = 30,
                        seed: int = 0, n_jobs: int = 1,
                        options: Mapping[str, Any] | None = None) -> StrategyRun:
    """Every trial is exactly one valid configuration of the space: the parameters of the
    branches its deciding values chose, each inside its distribution, and nothing else (both
    in the trial's ``params`` and in the configuration drawn).

    Raises:
        AssertionError: a trial that is not.
    """
    problem = problem if problem is not None else conditional()
    run = run_strategy(name, problem, n_trials=n_trials, seed=seed, n_jobs=n_jobs,
                       options=options)
    for t in run.trials():
        for what, params in (("params", t.params), ("configuration", run.config(t))):
            errors = config_errors(problem.space, params)
            if errors:
                raise AssertionError(f"{name!r} on {problem.name}: trial {t.number}'s {what} "
                                     f"{params} is not a configuration of the space: "
                                     f"{'; '.join(errors)}.")
    return run


def good_loss(problem: Problem, *, quantile: float = 0.25, n: int = 4000, seed: int = 0
              ) -> float:
    """The ``quantile`` of the loss of random configurations that do not fail."""
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(n):
        config = sample(RandomTrial(rng), problem.space)
        if problem.fails is None or not problem.fails(config):
            losses.append(problem.loss(config))
    return float(np.quantile(losses, quantile))


def check_failures(name: str, problem: Problem, *, n_trials: int, seed: int = 0,
                   options: Mapping[str, Any] | None = None, quantile: float = 0.25,
                   max_failed_share: float | None = 0.5) -> StrategyRun:
    """With some configurations failing (``problem.fails``), the search runs all its trials,
    its best completed trial is a good one (below the ``quantile`` of the loss of random
    configurations that do not fail), and failures do not take the search over: at most
    ``max_failed_share`` of the second half of the trials fail (``None``: not checked; a
    strategy that ignores scores, such as a grid, fails as often as the failing share of its
    points).

    Raises:
        AssertionError: an error, missing trials, nothing failed or completed, a best loss
            above that quantile, or too many failures late in the search.
    """
    if problem.fails is None:
        raise ValueError(f"The problem {problem.name!r} has no failing configurations.")
    run = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options)
    threshold = good_loss(problem, quantile=quantile)
    if run.n_finished != n_trials or run.n_failed == 0 or run.n_complete == 0:
        raise AssertionError(f"{name!r} on {problem.name}: expected {n_trials} finished trials, "
                             f"some failed and some completed; got {run.n_finished} "
                             f"({run.n_failed} failed, {run.n_complete} completed).")
    if not run.best_loss <= threshold:
        raise AssertionError(f"{name!r} on {problem.name}: best loss {run.best_loss:.4g} after "
                             f"{n_trials} trials ({run.n_failed} failed) is above the "
                             f"{quantile:.0%} quantile of random working configurations "
                             f"({threshold:.4g}).")
    late = run.finished()[n_trials // 2:]
    failed = sum(_state(t) == _states()[2] for t in late)
    if max_failed_share is not None and failed > max_failed_share * len(late):
        raise AssertionError(f"{name!r} on {problem.name}: {failed} of the last {len(late)} "
                             f"trials failed (allowed: {max_failed_share:.0%}); it keeps "
                             "proposing configurations that fail instead of learning from "
                             "them. Trial states: "
                             f"{''.join(_state(t).name[0] for t in run.finished())}.")
    return run


def check_threads(name: str, problem: Problem, *, n_trials: int, n_jobs: int = 2, seed: int = 0,
                  options: Mapping[str, Any] | None = None, unique: bool = False
                  ) -> StrategyRun:
    """``n_jobs`` threads: no error, distinct trial numbers, every trial finished, exactly
    ``n_trials`` of them, each a valid configuration (``unique``: no configuration twice).

    Raises:
        AssertionError: any of these fails.
    """
    run = check_valid_configs(name, problem, n_trials=n_trials, seed=seed, n_jobs=n_jobs,
                              options=options)
    trials = run.trials()
    numbers = [t.number for t in trials]
    if len(set(numbers)) != len(numbers) or run.n_finished != n_trials \
            or len(trials) != n_trials:
        raise AssertionError(f"{name!r} with {n_jobs} threads on {problem.name}: expected "
                             f"{n_trials} finished trials with distinct numbers; got numbers "
                             f"{numbers}, states {[t.state.name for t in trials]}.")
    if unique:
        keys = [json.dumps(t.params, sort_keys=True) for t in trials]
        if len(set(keys)) != len(keys):
            raise AssertionError(f"{name!r} with {n_jobs} threads ran a configuration twice: "
                                 f"{sorted(k for k in keys if keys.count(k) > 1)}.")
    return run


def check_exhausts(name: str, problem: Problem, *, size: int,
                   options: Mapping[str, Any] | None = None) -> StrategyRun:
    """A finite strategy runs every one of the ``size`` configurations once, then says it is
    exhausted (the search stops although the trial budget allows more).

    Raises:
        AssertionError: no ``exhausted`` callback, exhausted too early, not after ``size``
            trials, or a configuration run twice.
    """
    run = run_strategy(name, problem, n_trials=3 * size, options=options)
    exhausted = run.strategy.exhausted
    if exhausted is None:
        raise AssertionError(f"{name!r} has no 'exhausted' callback.")
    keys = {json.dumps(run.config(t), sort_keys=True) for t in run.trials()}
    if run.n_finished != size or len(keys) != size or not exhausted(run.study):
        raise AssertionError(f"{name!r} on {problem.name} ({size} configurations): ran "
                             f"{run.n_finished} trials, {len(keys)} distinct, exhausted="
                             f"{exhausted(run.study)}.")
    return run


def check_multi_objective(name: str, problem: Problem | None = None, *, n_trials: int = 40,
                          seed: int = 0, options: Mapping[str, Any] | None = None,
                          min_front: int = 3, min_ratio: float = 0.5) -> StrategyRun:
    """Several objectives: the study's Pareto front has at least ``min_front`` trials, none
    dominated by a completed trial, and its hypervolume is at least ``min_ratio`` of the true
    front's.

    Raises:
        AssertionError: any of these fails.
    """
    problem = problem if problem is not None else two_objectives()
    assert problem.reference is not None and problem.best_hypervolume is not None
    run = run_strategy(name, problem, n_trials=n_trials, seed=seed, options=options)
    front = [problem.to_losses(t.values) for t in run.study.best_trials]
    every = run.completed_losses()
    dominated = [f for f in front if any(
        all(o <= v for o, v in zip(other, f, strict=True)) and other != f for other in every)]
    ratio = hypervolume_2d(front, problem.reference) / problem.best_hypervolume
    if len(front) < min_front or dominated or ratio < min_ratio:
        raise AssertionError(f"{name!r} on {problem.name} after {n_trials} trials: Pareto front "
                             f"of {len(front)} trials (want >= {min_front}), dominated: "
                             f"{dominated}, hypervolume {ratio:.3f} of the best (want >= "
                             f"{min_ratio}).")
    return run


def check_refuses_multi_objective(name: str, problem: Problem | None = None) -> SpecError:
    """The factory refuses several objectives with a :class:`SpecError`.

    Raises:
        AssertionError: it builds a strategy instead.
    """
    problem = problem if problem is not None else two_objectives()
    ctx = StrategyContext(directions=tuple(problem.directions), space=problem.space,
                          max_trials=10)
    try:
        strategy = make_strategy(name, ctx)
    except SpecError as exc:
        return exc
    raise AssertionError(f"{name!r} accepted {len(problem.directions)} objectives (sampler "
                         f"{type(strategy.sampler).__name__}, pruner "
                         f"{type(strategy.pruner).__name__}); a single-objective strategy "
                         "must raise SpecError from its factory.")


__all__ = [
    "CONFIG_ATTR",
    "SWEPT_ATTR",
    "Comparison",
    "Problem",
    "ResumeOutcome",
    "StrategyRun",
    "check_beats_random",
    "check_exhausts",
    "check_failures",
    "check_multi_objective",
    "check_not_worse_than_random",
    "check_refuses_multi_objective",
    "check_resume",
    "check_seed",
    "check_threads",
    "check_valid_configs",
    "compare_to_random",
    "conditional",
    "config_errors",
    "good_loss",
    "hypervolume_2d",
    "journal_storage",
    "layers",
    "random_baseline",
    "rosenbrock",
    "run_strategy",
    "small_grid",
    "sphere",
    "tiny_conditional",
    "two_objectives",
]
