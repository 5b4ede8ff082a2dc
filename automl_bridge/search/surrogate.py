"""Surrogate-guided progressive search (in the spirit of PNAS and SMAC's random forest).

After ``n_startup_trials`` random trials, every new trial is chosen by a model of the objective:

1. every COMPLETE trial's parameters are encoded into a fixed-width vector: numeric parameters
   scaled to ``[0, 1]`` (log-scaled ones in log space), categoricals one-hot (plus an ordinal
   column when every choice is a number), and parameters a configuration lacks (another branch
   of a conditional) set to the sentinel ``-1``;
2. an extremely randomised forest (16 scikit-learn trees, seeded, one thread) is fitted to
   the values, signed so that lower is better and mapped by rank to normal scores (outliers
   do not swamp the model); infeasible trials (a constraint value > 0, see
   :data:`~automl_bridge.search.strategies.CONSTRAINTS_ATTR`) get a value worse than every
   feasible one, the more violated the worse. At most ``max_train_size`` trials are used (the
   best half and the most recent others);
3. ``n_candidates`` configurations are generated: half drawn uniformly from the space, half
   local perturbations (Gaussian steps of several sizes, categorical switches) of the best
   ``_TOP_K`` configurations. Candidates within a small distance of a completed or running
   trial are dropped: no point is evaluated twice, and parallel workers (``n_jobs > 1``, or
   several machines on one storage) do not propose the same point at once;
4. each candidate is scored optimistically, ``mean - exploration * std`` over the trees, and
   the lowest score wins. One model-based trial in five (``_RANDOM_FRACTION``, as SMAC
   interleaves random configurations) is drawn uniformly from the space instead: a branch of a
   conditional space that the first trials made look poor still gets visited.

The whole configuration is decided in ``before_trial`` and recorded in the trial's system
attribute :data:`SURROGATE_ATTR`; ``sample_independent`` hands it out name by name. A name the
configuration lacks, or whose value does not fit the distribution asked, is drawn at random
(so is every parameter of the startup trials). Every random choice uses a generator seeded
from ``(seed, trial number)`` (and the name, for single draws): given the same seed and
history, any sampler object (a resumed run, another process sharing the storage) proposes the
same trials; with parallel workers the history includes which trials are running, so the
proposals depend on timing there. Failed, pruned and running trials are not learnt from.

With a ``space`` the candidates are drawn with :func:`~automl_bridge.search.space.sample`,
which keeps every candidate a valid path through the conditionals (a perturbation that switches
a branch redraws the new branch's parameters). Without one (``space=None``, or trials carrying
names the space does not define) the sampler learns the space from the completed trials: the
union of their distributions, and one *structure* per distinct set of parameter names. An
integer or categorical parameter that is constant within every structure but differs between
structures is taken to decide the branch and is kept at its structure's value; every other
parameter varies freely. Limitation of this inferred mode: only structures already seen in
completed trials are proposed (new branches come from the startup trials and from the random
fallback), and a deciding parameter whose several values share one structure is not detected
(a candidate may then predict for a branch the trial does not follow; the missing names are
drawn at random).

Example:
    >>> import optuna
    >>> from automl_bridge.search.space import Float
    >>> from automl_bridge.search.surrogate import SurrogateSampler, SURROGATE_ATTR
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> space = [Float("x", -4.0, 4.0), Float("y", -4.0, 4.0)]
    >>> sampler = SurrogateSampler(space=space, n_startup_trials=5, n_candidates=50, seed=0)
    >>> study = optuna.create_study(sampler=sampler)
    >>> study.optimize(lambda t: (t.suggest_float("x", -4, 4) - 1) ** 2
    ...                + t.suggest_float("y", -4, 4) ** 2, n_trials=25)
    >>> study.best_value < 0.3
    True
    >>> sorted(study.trials[-1].system_attrs[SURROGATE_ATTR]["config"])
    ['x', 'y']
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
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
from scipy.special import ndtr, ndtri

from automl_bridge.exceptions import SpecError
from automl_bridge.search.sampling import PerParameterSampler
from automl_bridge.search.space import Node, RandomTrial, distribution, parameters, sample
from automl_bridge.search.strategies import (
    Strategy,
    StrategyContext,
    _check_options,
    constraint_values,
)

#: Trial system attribute holding the surrogate's decision for a trial: ``config`` (name ->
#: value), ``source`` (``"random"`` or ``"local"`` candidate, or ``"interleaved random"``),
#: ``quantile`` (predicted fraction of the completed trials that beat it), ``predicted`` (the
#: objective value at that quantile of the completed trials) and ``std`` (the trees'
#: disagreement, in normal scores); the last three are ``None`` for an interleaved random one.
SURROGATE_ATTR = "automl_bridge:surrogate"

#: Configurations whose perturbations make the local half of the candidates.
_TOP_K = 5
#: Standard deviations of the local Gaussian steps, as fractions of the (log-)range.
_STEP_SCALES = (0.02, 0.05, 0.1, 0.2)
#: Probability that a parameter of the parent is perturbed (at least one always is).
_PERTURB_PROBABILITY = 0.5
#: Root-mean-square distance (encoded space) under which a candidate repeats a trial.
_DUPLICATE_RMS = 0.01
#: Value of an encoded feature the configuration lacks.
_ABSENT = -1.0
#: Trees of the surrogate.
_N_TREES = 16
#: Share of the model-based trials drawn uniformly at random instead (as in SMAC): keeps
#: exploring branches of a conditional space that the model wrote off too early.
_RANDOM_FRACTION = 0.2
#: Uniform draws of an interleaved random trial (the first that repeats no trial is taken).
_INTERLEAVED_DRAWS = 16
#: Running trials' decisions kept in memory (the storage holds them all).
_CACHE_SIZE = 256


class SurrogateSampler(PerParameterSampler):
    """Progressive search: a tree ensemble ranks candidates, the most promising is tried next.

    Args:
        space: the search space (a list of nodes, conditionals included) whose parameter names
            are the trials' names; ``None`` to learn it from the completed trials (see the
            module docstring for the limits of that mode).
        n_startup_trials: completed trials drawn at random before the model is used.
        n_candidates: configurations scored per trial (half random, half local).
        exploration: weight of the trees' disagreement in the optimistic score
            ``mean - exploration * std`` (0: pure exploitation).
        seed: seed of every random choice.
        max_train_size: most completed trials the model is fitted on (the best half and the
            most recent others), which keeps the time per trial bounded.
        constraints_func: constraint values of a trial (<= 0 each: feasible); by default the
            values the engine records in the trial's user attributes.

    Raises:
        SpecError: an argument is out of range.
    """

    def __init__(self, *, space: Sequence[Node] | None = None, n_startup_trials: int = 10,
                 n_candidates: int = 500, exploration: float = 1.0, seed: int = 0,
                 max_train_size: int = 500,
                 constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None
                 ) -> None:
        _check_numbers(n_startup_trials, n_candidates, exploration)
        if isinstance(max_train_size, bool) or not isinstance(max_train_size, int) \
                or max_train_size < 2:
            raise SpecError(f"The argument 'max_train_size' of SurrogateSampler must be an int "
                            f">= 2. Got {max_train_size!r}.")
        self._space = list(space) if space is not None else None
        self._space_dists: dict[str, BaseDistribution] | None = None
        if self._space is not None:
            dists = {name: distribution(p) for name, p in parameters(self._space).items()}
            self._space_dists = {k: v for k, v in dists.items() if v is not None}
        self._n_startup = n_startup_trials
        self._n_candidates = n_candidates
        self._exploration = float(exploration)
        self._seed = int(seed)
        self._max_train = max_train_size
        self._constraints = constraints_func or constraint_values
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, int], dict[str, Any] | None] = {}

    # --- the BaseSampler interface -----------------------------------------------------------

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Choose the trial's whole configuration and record it in its system attributes."""
        self._raise_error_if_multi_objective(study)
        decision = self._decide(study, trial)
        if decision is not None:
            study._storage.set_trial_system_attr(trial._trial_id, SURROGATE_ATTR, decision)
        self._remember(study, trial, None if decision is None else decision["config"])

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """The chosen configuration's value of ``param_name``, else a random one."""
        config = self._recall(study, trial)
        if config is not None and param_name in config:
            value = _fit_value(param_distribution, config[param_name])
            if value is not None:
                return value[0]
        rng = self._rng(trial.number, param_name)
        return _draw(param_distribution, rng)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        """Forget the finished trial's cached decision."""
        with self._lock:
            self._cache.pop(self._key(study, trial), None)

    # --- decisions ---------------------------------------------------------------------------

    def _key(self, study: Study, trial: FrozenTrial) -> tuple[int, int]:
        return (study._study_id, trial._trial_id)

    def _rng(self, number: int, name: str = "") -> np.random.Generator:
        salt = zlib.crc32(name.encode("utf-8"))
        return np.random.default_rng([self._seed & 0xFFFFFFFFFFFFFFFF, number, salt])

    def _remember(self, study: Study, trial: FrozenTrial, config: dict[str, Any] | None) -> None:
        with self._lock:
            self._cache[self._key(study, trial)] = config
            while len(self._cache) > _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))

    def _recall(self, study: Study, trial: FrozenTrial) -> dict[str, Any] | None:
        key = self._key(study, trial)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        recorded = trial.system_attrs.get(SURROGATE_ATTR)
        config = recorded.get("config") if isinstance(recorded, Mapping) else None
        config = dict(config) if isinstance(config, Mapping) else None
        self._remember(study, trial, config)
        return config

    def _decide(self, study: Study, trial: FrozenTrial) -> dict[str, Any] | None:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        done = sorted((t for t in done if t.number != trial.number), key=lambda t: t.number)
        if len(done) < self._n_startup:
            return None
        rng = self._rng(trial.number)
        fixed = dict(trial.system_attrs.get("fixed_params", {}) or {})
        space = self._space if self._fits_space(done) else None
        dists = self._space_dists if space is not None else _union_distributions(done)
        if not dists:
            return None
        maker = (_SpaceCandidates(space, dists, fixed) if space is not None
                 else _InferredCandidates(done, dists, fixed))
        encoder = _Encoder(dists)
        configs = [_config(t, dists) for t in done]
        encoded = encoder.encode_many(configs)
        running = [_running_config(t, dists) for t in study.get_trials(
            deepcopy=False, states=(TrialState.RUNNING,)) if t.number != trial.number]
        tried = np.vstack([encoded, encoder.encode_many(running)])

        if rng.random() < _RANDOM_FRACTION:
            drawn = [maker.random(rng) for _ in range(_INTERLEAVED_DRAWS)]
            fresh = ~_near_any(encoder.encode_many(drawn), tried, _DUPLICATE_RMS)
            return {"config": drawn[int(np.argmax(fresh))], "predicted": None, "std": None,
                    "quantile": None, "source": "interleaved random"}

        y = _targets(done, study.direction == StudyDirection.MINIMIZE, self._constraints)
        train = _training_rows(y, self._max_train)
        trees = _fit(encoded[train], _normal_scores(y[train]), int(rng.integers(2**31 - 1)))

        order = np.lexsort((np.arange(len(y)), y))
        parents = [configs[i] for i in order[:_TOP_K]]
        n_random = self._n_candidates // 2
        candidates = [maker.random(rng) for _ in range(n_random)]
        candidates += [maker.local(parents[i % len(parents)], rng)
                       for i in range(self._n_candidates - n_random)]
        X = encoder.encode_many(candidates)
        keep = ~_near_any(X, tried, _DUPLICATE_RMS)
        if not keep.any():  # everything is tried already (a small discrete space)
            keep[:] = True
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        per_tree = np.stack([tree.predict(X32, check_input=False) for tree in trees])
        mean, std = per_tree.mean(axis=0), per_tree.std(axis=0)
        best = int(np.argmin(np.where(keep, mean - self._exploration * std, np.inf)))
        quantile = float(ndtr(mean[best]))
        sign = 1.0 if study.direction == StudyDirection.MINIMIZE else -1.0
        return {"config": candidates[best],
                "predicted": sign * float(np.quantile(y[train], quantile)),
                "std": float(std[best]), "quantile": quantile,
                "source": "random" if best < n_random else "local"}

    def _fits_space(self, done: Sequence[FrozenTrial]) -> bool:
        """Whether the given space describes the trials (every name known)."""
        if self._space is None or self._space_dists is None:
            return False
        return all(name in self._space_dists for t in done for name in t.distributions)


# --- encoding --------------------------------------------------------------------------------


class _Encoder:
    """Configurations (name -> value) to fixed-width float vectors, column block by block."""

    def __init__(self, dists: Mapping[str, BaseDistribution]) -> None:
        self.dists = {name: dists[name] for name in sorted(dists)}
        self.slots: dict[str, int] = {}
        self.index: dict[str, dict[tuple[str, Any], int]] = {}
        width = 0
        for name, dist in self.dists.items():
            self.slots[name] = width
            width += _width(dist)
            if isinstance(dist, CategoricalDistribution):
                index: dict[tuple[str, Any], int] = {}
                for i, choice in enumerate(dist.choices):
                    index.setdefault(_key(choice), i)
                self.index[name] = index
        self.width = width

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.full((len(configs), self.width), _ABSENT)
        rows = np.arange(len(configs))
        for name, dist in self.dists.items():
            start = self.slots[name]
            values = [c.get(name, _MISSING) for c in configs]
            if isinstance(dist, CategoricalDistribution):
                k = len(dist.choices)
                idx = np.array([self._choice(name, dist, v) for v in values], dtype=int)
                present = idx >= 0
                out[present, start:start + k] = 0.0
                out[rows[present], start + idx[present]] = 1.0
                if _ordinal(dist):
                    out[present, start + k] = idx[present] / (k - 1)
            elif isinstance(dist, IntDistribution | FloatDistribution):
                x = np.array([_number(v) for v in values])
                lo, hi = _bounds(dist)
                with np.errstate(invalid="ignore", divide="ignore"):
                    if dist.log:
                        x = np.log(np.where(x > 0, x, np.nan))
                    unit = np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else x * 0 + 0.5
                out[:, start] = np.where(np.isfinite(unit), unit, _ABSENT)
        return out

    def _choice(self, name: str, dist: CategoricalDistribution, value: Any) -> int:
        if value is _MISSING:
            return -1
        try:
            return self.index[name][_key(value)]
        except (KeyError, TypeError):
            pass
        try:
            return int(dist.to_internal_repr(value))
        except (ValueError, TypeError):
            return -1


#: Marks a parameter a configuration lacks.
_MISSING = object()


def _key(value: Any) -> tuple[str, Any]:
    """A dict key telling ``True`` from ``1``."""
    return (type(value).__name__, value)


def _number(value: Any) -> float:
    if value is _MISSING or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ordinal(dist: CategoricalDistribution) -> bool:
    return len(dist.choices) > 2 and all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in dist.choices)


def _width(dist: BaseDistribution) -> int:
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices) + (1 if _ordinal(dist) else 0)
    return 1


def _bounds(dist: IntDistribution | FloatDistribution) -> tuple[float, float]:
    if dist.log:
        return math.log(dist.low), math.log(dist.high)
    return float(dist.low), float(dist.high)


def _to_unit(dist: BaseDistribution, value: Any) -> float | None:
    if not isinstance(dist, IntDistribution | FloatDistribution):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v) or (dist.log and v <= 0):
        return None
    lo, hi = _bounds(dist)
    if hi <= lo:
        return 0.5
    x = math.log(v) if dist.log else v
    return min(max((x - lo) / (hi - lo), 0.0), 1.0)


def _from_unit(dist: IntDistribution | FloatDistribution, unit: float) -> int | float:
    lo, hi = _bounds(dist)
    x = lo + min(max(unit, 0.0), 1.0) * (hi - lo)
    if dist.log:
        x = math.exp(x)
    step = dist.step
    if step is not None:
        k = round((x - dist.low) / step)
        k = min(max(k, 0), round((dist.high - dist.low) / step))
        x = dist.low + k * step
    if isinstance(dist, IntDistribution):
        return int(min(max(round(x), dist.low), dist.high))
    return float(min(max(x, dist.low), dist.high))


def _fit_value(dist: BaseDistribution, value: Any) -> tuple[Any] | None:
    """``(value,)`` in the form ``dist`` returns, or ``None`` when it does not fit ``dist``."""
    try:
        internal = dist.to_internal_repr(value)
        if not dist._contains(internal):
            return None
    except (ValueError, TypeError):
        return None
    if isinstance(dist, CategoricalDistribution):
        return (dist.choices[int(internal)],)
    if isinstance(dist, IntDistribution):
        return (int(value),)
    return (float(value),)


def _draw(dist: BaseDistribution, rng: np.random.Generator) -> Any:
    """A uniform draw from ``dist`` (in log space for log distributions)."""
    draw = RandomTrial(rng)
    if isinstance(dist, CategoricalDistribution):
        return draw.suggest_categorical("", list(dist.choices))
    if isinstance(dist, IntDistribution):
        return draw.suggest_int("", dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return draw.suggest_float("", dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"SurrogateSampler cannot draw from the distribution {dist!r}.")


def _perturb(config: Mapping[str, Any], free: Sequence[str],
             dists: Mapping[str, BaseDistribution], rng: np.random.Generator) -> dict[str, Any]:
    """``config`` with some of the ``free`` parameters moved (at least one)."""
    out = dict(config)
    if not free:
        return out
    chosen = [name for name in free if rng.random() < _PERTURB_PROBABILITY]
    if not chosen:
        chosen = [free[int(rng.integers(len(free)))]]
    scale = _STEP_SCALES[int(rng.integers(len(_STEP_SCALES)))]
    for name in chosen:
        dist = dists[name]
        if isinstance(dist, CategoricalDistribution):
            k = len(dist.choices)
            try:
                index = int(dist.to_internal_repr(out[name]))
            except (ValueError, TypeError):
                index = -1
            others = [i for i in range(k) if i != index]
            out[name] = dist.choices[others[int(rng.integers(len(others)))]]
        elif isinstance(dist, IntDistribution | FloatDistribution):
            unit = _to_unit(dist, out[name])
            unit = float(rng.random()) if unit is None else unit + float(rng.normal(0, scale))
            out[name] = _from_unit(dist, unit)
    return out


# --- candidates ------------------------------------------------------------------------------


class _SpaceCandidates:
    """Candidates drawn through the search space: always a valid path."""

    def __init__(self, space: Sequence[Node], dists: Mapping[str, BaseDistribution],
                 fixed: Mapping[str, Any]) -> None:
        self.space = space
        self.dists = dists
        self.fixed = dict(fixed)

    def _through_space(self, rng: np.random.Generator, values: Mapping[str, Any]
                       ) -> dict[str, Any]:
        drawn = sample(RandomTrial(rng, fixed={**values, **self.fixed}), self.space)
        return {k: _plain(v) for k, v in drawn.items() if k in self.dists}

    def random(self, rng: np.random.Generator) -> dict[str, Any]:
        return self._through_space(rng, {})

    def local(self, parent: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        free = [name for name in parent if name in self.dists and name not in self.fixed]
        return self._through_space(rng, _perturb(parent, free, self.dists, rng))


class _InferredCandidates:
    """Candidates from the structures (sets of names) seen in the completed trials."""

    def __init__(self, done: Sequence[FrozenTrial], dists: Mapping[str, BaseDistribution],
                 fixed: Mapping[str, Any]) -> None:
        self.dists = dists
        self.fixed = {k: v for k, v in fixed.items() if k in dists}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for t in done:
            config = _config(t, dists)
            groups.setdefault(tuple(sorted(config)), []).append(config)
        self.pinned = _pinned(groups, dists)
        # structures whose deciding values agree with the fixed (enqueued) parameters
        self.structures = [names for names in groups if self._agrees(names)] or list(groups)

    def _agrees(self, names: tuple[str, ...]) -> bool:
        pinned = self.pinned.get(names, {})
        return all(repr(pinned[k]) == repr(v) for k, v in self.fixed.items() if k in pinned)

    def _finish(self, config: dict[str, Any]) -> dict[str, Any]:
        config.update(self.fixed)
        return {k: _plain(v) for k, v in config.items()}

    def random(self, rng: np.random.Generator) -> dict[str, Any]:
        names = self.structures[int(rng.integers(len(self.structures)))]
        pinned = self.pinned.get(names, {})
        config = {name: pinned[name] if name in pinned else _draw(self.dists[name], rng)
                  for name in names}
        return self._finish(config)

    def local(self, parent: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        names = tuple(sorted(parent))
        if not self._agrees(names):  # a fixed parameter leads to another branch
            return self.random(rng)
        pinned = self.pinned.get(names, {})
        free = [name for name in parent if name not in pinned and name not in self.fixed]
        return self._finish(_perturb(parent, free, self.dists, rng))


def _pinned(groups: Mapping[tuple[str, ...], list[dict[str, Any]]],
            dists: Mapping[str, BaseDistribution]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per structure, the parameters taken to decide it, with their value there.

    A deciding parameter is an integer or categorical one, constant within every structure it
    occurs in, with different values in at least two structures.
    """
    candidates = {name for name, d in dists.items()
                  if isinstance(d, CategoricalDistribution | IntDistribution)}
    constant: dict[str, list[Any]] = {}
    for configs in groups.values():
        for name in list(candidates):
            if name not in configs[0]:
                continue
            values = {repr(c[name]) for c in configs}
            if len(values) > 1:
                candidates.discard(name)
                constant.pop(name, None)
            else:
                constant.setdefault(name, []).append(repr(configs[0][name]))
    deciding = {name for name in candidates if len(set(constant.get(name, []))) > 1}
    return {names: {n: configs[0][n] for n in names if n in deciding}
            for names, configs in groups.items()}


# --- learning --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar (numpy scalars converted)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _config(trial: FrozenTrial, dists: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    return {name: _plain(v) for name, v in trial.params.items() if name in dists}


def _running_config(trial: FrozenTrial, dists: Mapping[str, BaseDistribution]
                    ) -> dict[str, Any]:
    recorded = trial.system_attrs.get(SURROGATE_ATTR)
    if isinstance(recorded, Mapping) and isinstance(recorded.get("config"), Mapping):
        return {k: v for k, v in recorded["config"].items() if k in dists}
    return _config(trial, dists)


def _union_distributions(done: Sequence[FrozenTrial]) -> dict[str, BaseDistribution]:
    """Every distribution of the completed trials by name (the latest one wins)."""
    out: dict[str, BaseDistribution] = {}
    for t in done:
        for name, dist in t.distributions.items():
            if not dist.single():
                out[name] = dist
    return out


def _targets(done: Sequence[FrozenTrial], minimize: bool,
             constraints: Callable[[FrozenTrial], Sequence[float]]) -> np.ndarray:
    """Values to learn, lower is better; infeasible ones worse than every feasible one."""
    y = np.array([float(t.value) if t.value is not None else math.nan for t in done])
    if not minimize:
        y = -y
    violation = np.zeros(len(done))
    for i, t in enumerate(done):
        for c in constraints(t):
            c = float(c)
            violation[i] += c if c > 0 else (math.inf if math.isnan(c) else 0.0)
    feasible = (violation <= 0) & np.isfinite(y)
    if feasible.any():
        hi, lo = float(y[feasible].max()), float(y[feasible].min())
        spread = hi - lo if hi > lo else max(abs(hi), 1.0)
    else:
        hi, spread = 0.0, 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(np.isfinite(violation), violation / (1.0 + violation), 1.0)
    fraction = np.where(violation > 0, fraction, 1.0)  # non-finite values: the worst
    return np.where(feasible, y, hi + spread * (1.0 + fraction))


def _normal_scores(y: np.ndarray) -> np.ndarray:
    """``y`` by rank mapped to standard normal quantiles (outliers tamed, order kept)."""
    from scipy.stats import rankdata

    return np.asarray(ndtri((rankdata(y) - 0.5) / len(y)), dtype=float)


def _training_rows(y: np.ndarray, cap: int) -> np.ndarray:
    """Rows to fit on: all, or the best half of ``cap`` plus the most recent others."""
    n = len(y)
    if n <= cap:
        return np.arange(n)
    best = np.lexsort((np.arange(n), y))[: cap // 2]
    chosen = np.zeros(n, dtype=bool)
    chosen[best] = True
    recent = [i for i in range(n - 1, -1, -1) if not chosen[i]][: cap - len(best)]
    chosen[recent] = True
    return np.flatnonzero(chosen)


def _fit(X: np.ndarray, y: np.ndarray, seed: int) -> list[Any]:
    """An extremely randomised forest fitted to ``(X, y)``, as its list of trees.

    The trees are those :class:`~sklearn.ensemble.ExtraTreesRegressor` builds (random split
    thresholds, every feature, no bootstrap), fitted one by one: the ensemble's own per-tree
    overhead (cloning, joblib) cost more than the fits on a few hundred rows.
    """
    from sklearn.tree import DecisionTreeRegressor

    X32 = np.ascontiguousarray(X, dtype=np.float32)
    y64 = np.ascontiguousarray(y, dtype=np.float64)
    seeds = np.random.default_rng(seed).integers(2**31 - 1, size=_N_TREES)
    return [DecisionTreeRegressor(splitter="random", random_state=int(s)).fit(
        X32, y64, check_input=False) for s in seeds]


def _near_any(X: np.ndarray, refs: np.ndarray, rms: float) -> np.ndarray:
    """Rows of ``X`` within root-mean-square distance ``rms`` of a row of ``refs``."""
    near = np.zeros(len(X), dtype=bool)
    if len(refs) == 0 or X.shape[1] == 0:
        return near
    X32, R32 = X.astype(np.float32), refs.astype(np.float32)
    limit = rms * rms * X.shape[1]
    x2, r2 = (X32 * X32).sum(axis=1), (R32 * R32).sum(axis=1)
    for start in range(0, len(R32), 2048):
        block = R32[start:start + 2048]
        d2 = x2[:, None] + r2[None, start:start + 2048] - 2.0 * (X32 @ block.T)
        near |= (d2 < limit).any(axis=1)
    return near


# --- the strategy ----------------------------------------------------------------------------


def _check_numbers(n_startup_trials: Any, n_candidates: Any, exploration: Any) -> None:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(n_startup_trials) or n_startup_trials < 1:
        raise SpecError(f"The option 'n_startup_trials' of search strategy 'surrogate' must be "
                        f"an int >= 1. Got {n_startup_trials!r}.")
    if not is_int(n_candidates) or n_candidates < 1:
        raise SpecError(f"The option 'n_candidates' of search strategy 'surrogate' must be an "
                        f"int >= 1. Got {n_candidates!r}.")
    if (isinstance(exploration, bool) or not isinstance(exploration, int | float)
            or not math.isfinite(exploration) or exploration < 0):
        raise SpecError(f"The option 'exploration' of search strategy 'surrogate' must be a "
                        f"finite number >= 0 (0: pure exploitation). Got {exploration!r}.")


def surrogate_strategy(ctx: StrategyContext) -> Strategy:
    """Surrogate-guided search: a tree ensemble picks the most promising of many candidates.

    Options:
        n_startup_trials (int): random trials before the model is used (default 10, >= 1).
        n_candidates (int): candidates scored per trial (default 500, >= 1).
        exploration (float): weight of the trees' disagreement in the optimistic score
            ``mean - exploration * std`` (default 1.0, >= 0).

    Raises:
        SpecError: an unknown or invalid option, or several objectives.
    """
    _check_options("surrogate", ctx.options, {"n_startup_trials": int, "n_candidates": int,
                                              "exploration": object})
    if ctx.multi_objective:
        raise SpecError(f"The search strategy 'surrogate' optimises one objective. Got "
                        f"{len(ctx.directions)} directions {list(ctx.directions)}. Use 'nsga2', "
                        f"'tpe' or 'random' for a multi-objective search.")
    options = {"n_startup_trials": 10, "n_candidates": 500, "exploration": 1.0,
               **dict(ctx.options)}
    _check_numbers(options["n_startup_trials"], options["n_candidates"], options["exploration"])
    sampler = SurrogateSampler(
        space=ctx.space, n_startup_trials=options["n_startup_trials"],
        n_candidates=options["n_candidates"], exploration=float(options["exploration"]),
        seed=ctx.seed, constraints_func=ctx.constraints_func)
    return Strategy("surrogate", sampler)
