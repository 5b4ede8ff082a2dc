"""Grid search: every configuration of a (conditional) search space, each run once.

The grid of a space is built node by node (``levels`` is the option of the same name,
default 5):

* :class:`~automl_bridge.search.space.Choice`: every value (never thinned).
* :class:`~automl_bridge.search.space.Fixed`: its value.
* :class:`~automl_bridge.search.space.Int` and stepped
  :class:`~automl_bridge.search.space.Float`: every step when the range holds at most
  ``levels`` values; otherwise ``levels`` values evenly spaced on the step grid (both ends
  included), or geometrically spaced and rounded to integers for a log ``Int`` (values that
  round to the same integer are kept once, so a log ``Int`` may get fewer than ``levels``).
* :class:`~automl_bridge.search.space.Float` without step: ``levels`` values from ``low`` to
  ``high``, evenly spaced (geometrically for ``log=True``).
* An ``Int`` or ``Float`` with ``high <= low``: ``low``.
* :class:`~automl_bridge.search.space.Conditional`: for each grid value of the deciding
  parameter (the rule above), that value followed by the grid of its branch. The grid of the
  engine's space (a choice of model family) is therefore the *sum* over families of each
  family's product, not the product of every family's parameters.

A grid point is a dict of full parameter names (as named in the space) to values: exactly what
:func:`~automl_bridge.search.space.sample` returns for that configuration, in drawing order.
Points are numbered in enumeration order (the last parameter varies fastest); the number is the
point's *grid id*.

:class:`GridSampler` hands each new trial the next unclaimed point of a seeded shuffled order
(so a truncated grid is a representative subset), recording the point's grid id in the trial's
system attribute :data:`GRID_ATTR`. Everything it needs is read back from the study, so a
resumed run (a new sampler on the same storage) continues with the points not yet run.

Example:
    >>> from automl_bridge.search.space import Choice, Conditional, Float, Int
    >>> space = [Conditional(Choice("model", ["a", "b"]), {
    ...     "a": [Int("a.depth", 1, 3)],
    ...     "b": [Float("b.lr", 0.01, 1.0, log=True), Choice("b.loss", ["l1", "l2"])]})]
    >>> grid_size(space, levels=3)
    9
    >>> grid_points(space, levels=3)[:2]
    [{'model': 'a', 'a.depth': 1}, {'model': 'a', 'a.depth': 2}]
    >>> grid_points(space, levels=3)[3]
    {'model': 'b', 'b.lr': 0.01, 'b.loss': 'l1'}
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from automl_bridge.exceptions import SpecError
from automl_bridge.search.sampling import PerParameterSampler, seeded_rng
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
    parameters,
)
from automl_bridge.search.strategies import Strategy, StrategyContext, _check_options

#: Trial system attribute holding the grid id of the point a trial runs.
GRID_ATTR = "automl_bridge:grid_id"
#: User attribute holding a trial's candidate record (JSON); ``"state": "interrupted"`` on a
#: failed trial releases its grid point (same key as ``automl_bridge.engine.study.TRIAL_ATTR``).
CANDIDATE_ATTR = "automl_bridge:candidate"
#: The engine's minimum time per trial, used to turn a time budget into a trial count.
MIN_TRIAL_S = 0.25
#: Enqueued trials that fix only some parameters take the first unclaimed grid point that
#: agrees with them among this many points of the order (beyond: no point is claimed).
PARTIAL_SCAN = 10_000
_ROUNDS = 6


# ---------------------------------------------------------------------------------------------
# The grid of a space


@dataclass(frozen=True)
class _Leaf:
    name: str
    values: tuple[Any, ...]
    kind: str  # "int", "float", "cat" or "const"
    searched: bool  # drawn through the trial (appears in trial.params)

    @property
    def size(self) -> int:
        return len(self.values)

    def index(self, value: Any) -> int | None:
        """Position of ``value`` among the levels, or ``None``."""
        for i, level in enumerate(self.values):
            if _same(self.kind, value, level):
                return i
        return None


@dataclass(frozen=True)
class _Seq:
    nodes: tuple[_Leaf | _Cond, ...]
    size: int


@dataclass(frozen=True)
class _Cond:
    leaf: _Leaf
    branches: tuple[_Seq, ...]
    offsets: tuple[int, ...]  # start of each branch's block; offsets[-1] == size
    size: int


def _same(kind: str, value: Any, level: Any) -> bool:
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isclose(float(value), level, rel_tol=1e-9, abs_tol=1e-12)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return float(value) == level
    return bool(value is level or (value == level
                                   and isinstance(value, bool) == isinstance(level, bool)))


def _check_levels(levels: Any, where: str) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 2:
        raise SpecError(f"The option 'levels' of {where} must be an int >= 2 (values per "
                        f"numeric parameter). Got {levels!r}.")
    return int(levels)


def _int_levels(p: Int, levels: int) -> tuple[int, ...]:
    step = max(int(p.step), 1)
    n = (p.high - p.low) // step + 1
    if n <= levels:
        return tuple(p.low + step * k for k in range(n))
    if p.log and p.low >= 1 and step == 1:
        geo = np.geomspace(p.low, p.high, levels)
        vals = sorted({min(max(round(float(v)), p.low), p.high) for v in geo})
        return tuple(vals)
    # round(k * (n - 1) / (levels - 1)), half up, in integers: distinct since n > levels.
    return tuple(p.low + step * ((2 * k * (n - 1) + levels - 1) // (2 * (levels - 1)))
                 for k in range(levels))


def _float_levels(p: Float, levels: int) -> tuple[float, ...]:
    low, high = float(p.low), float(p.high)
    if p.step is not None:
        step = float(p.step)
        n = math.floor((high - low) / step + 1e-9) + 1
        ks = (range(n) if n <= levels
              else [round(k * (n - 1) / (levels - 1)) for k in range(levels)])
        return tuple(min(low + step * k, high) for k in ks)
    grid = np.geomspace(low, high, levels) if p.log else np.linspace(low, high, levels)
    return tuple(min(max(float(v), low), high) for v in grid)


def _leaf(p: Param, levels: int) -> _Leaf:
    if isinstance(p, Fixed):
        return _Leaf(p.name, (p.value,), "const", False)
    if isinstance(p, Choice):
        values: list[Any] = []
        for c in p.choices:
            if not any(_same("cat", c, v) for v in values):
                values.append(c)
        return _Leaf(p.name, tuple(values), "cat", len(p.choices) > 1)
    if p.high <= p.low:
        return _Leaf(p.name, (p.low,), "const", False)
    if isinstance(p, Int):
        return _Leaf(p.name, _int_levels(p, levels), "int", True)
    return _Leaf(p.name, _float_levels(p, levels), "float", True)


def _compile(space: Sequence[Node], levels: int) -> _Seq:
    nodes: list[_Leaf | _Cond] = []
    size = 1
    for node in space:
        compiled: _Leaf | _Cond
        if isinstance(node, Conditional):
            leaf = _leaf(node.param, levels)
            branches = tuple(_compile(_branch(node, v), levels) for v in leaf.values)
            offsets = [0]
            for b in branches:
                offsets.append(offsets[-1] + b.size)
            compiled = _Cond(leaf, branches, tuple(offsets), offsets[-1])
        else:
            compiled = _leaf(node, levels)
        nodes.append(compiled)
        size *= compiled.size
    return _Seq(tuple(nodes), size)


def _branch(node: Conditional, value: Any) -> Sequence[Node]:
    kind = "cat" if isinstance(node.param, Choice) else "int"
    for key, branch in node.branches.items():
        if _same(kind, key, value):
            return branch
    return ()


def _decode(seq: _Seq, index: int, out: dict[str, Any]) -> None:
    digits: list[int] = []
    for node in reversed(seq.nodes):
        index, r = divmod(index, node.size)
        digits.append(r)
    for node, r in zip(seq.nodes, reversed(digits), strict=True):
        if isinstance(node, _Leaf):
            out[node.name] = node.values[r]
        else:
            k = bisect.bisect_right(node.offsets, r) - 1
            out[node.leaf.name] = node.leaf.values[k]
            _decode(node.branches[k], r - node.offsets[k], out)


def _encode(seq: _Seq, values: Mapping[str, Any], seen: set[str]) -> int | None:
    index = 0
    for node in seq.nodes:
        leaf = node if isinstance(node, _Leaf) else node.leaf
        if not leaf.searched:
            r: int | None = 0
        elif leaf.name in values:
            r = leaf.index(values[leaf.name])
            seen.add(leaf.name)
        else:
            return None
        if r is None:
            return None
        if isinstance(node, _Cond):
            sub = _encode(node.branches[r], values, seen)
            if sub is None:
                return None
            r = node.offsets[r] + sub
        index = index * node.size + r
    return index


class _Grid:
    """A compiled grid: size, id -> point and point -> id without enumerating."""

    def __init__(self, space: Sequence[Node], levels: int) -> None:
        try:
            params = parameters(space)
        except ValueError as exc:
            raise SpecError(f"The grid search space is invalid: {exc}") from exc
        self.root = _compile(space, levels)
        self.size = self.root.size
        self.searched = {n for n, p in params.items() if distribution(p) is not None}
        self.kinds = {n: _leaf(p, levels).kind for n, p in params.items()}

    def point(self, grid_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _decode(self.root, grid_id, out)
        return out

    def find(self, values: Mapping[str, Any]) -> int | None:
        """The id of the point whose searched parameters are exactly ``values``."""
        seen: set[str] = set()
        grid_id = _encode(self.root, values, seen)
        if grid_id is None or (self.searched & set(values)) - seen:
            return None
        return grid_id

    def agrees(self, grid_id: int, values: Mapping[str, Any]) -> bool:
        """Whether the point holds every searched parameter of ``values`` with its value."""
        point = self.point(grid_id)
        return all(name in point and _same(self.kinds[name], v, point[name])
                   for name, v in values.items() if name in self.searched)


def grid_size(space: Sequence[Node], levels: int = 5) -> int:
    """Number of grid points of ``space``, computed without enumerating them.

    Example:
        >>> from automl_bridge.search.space import Float, Int
        >>> grid_size([Float(f"x{i}", 0.0, 1.0) for i in range(40)], levels=5) == 5 ** 40
        True
    """
    return _compile(space, _check_levels(levels, "grid_size")).size


def grid_points(space: Sequence[Node], *, levels: int = 5) -> list[dict[str, Any]]:
    """Every configuration of ``space`` in enumeration order (see the module's rules).

    Each point holds exactly the parameters :func:`~automl_bridge.search.space.sample` would
    return for it, in drawing order. Check :func:`grid_size` first for spaces that may be huge.
    """
    root = _compile(space, _check_levels(levels, "grid_points"))
    out: list[dict[str, Any]] = []
    for i in range(root.size):
        point: dict[str, Any] = {}
        _decode(root, i, point)
        out.append(point)
    return out


# ---------------------------------------------------------------------------------------------
# A seeded shuffle of range(n) that needs no memory: a Feistel permutation with cycle walking.


class _Shuffle:
    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed
        self.half = max(1, ((n - 1).bit_length() + 1) // 2)
        self.mask = (1 << self.half) - 1

    def _f(self, r: int, x: int) -> int:
        digest = hashlib.shake_256(f"{self.seed}:{r}:{x}".encode()).digest((self.half + 7) // 8)
        return int.from_bytes(digest, "big") & self.mask

    def _enc(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for r in range(_ROUNDS):
            left, right = right, left ^ self._f(r, right)
        return (left << self.half) | right

    def _dec(self, x: int) -> int:
        left, right = x >> self.half, x & self.mask
        for r in reversed(range(_ROUNDS)):
            left, right = right ^ self._f(r, left), left
        return (left << self.half) | right

    def forward(self, position: int) -> int:
        """The grid id at ``position`` of the order."""
        if self.n <= 1:
            return position
        x = self._enc(position)
        while x >= self.n:
            x = self._enc(x)
        return x

    def inverse(self, grid_id: int) -> int:
        """The position of ``grid_id`` in the order."""
        if self.n <= 1:
            return grid_id
        x = self._dec(grid_id)
        while x >= self.n:
            x = self._dec(x)
        return x


# ---------------------------------------------------------------------------------------------
# The sampler


def _released(trial: Any) -> bool:
    """A failed trial recorded as interrupted: its point is run again."""
    if trial.state != optuna.trial.TrialState.FAIL:
        return False
    rec = trial.user_attrs.get(CANDIDATE_ATTR)
    if isinstance(rec, str):
        try:
            rec = json.loads(rec)
        except ValueError:
            return False
    return isinstance(rec, dict) and rec.get("state") == "interrupted"


class GridSampler(PerParameterSampler):
    """An Optuna sampler that runs each point of the grid of ``space`` once.

    Each new trial claims the next unclaimed point (seeded shuffled order when ``shuffle``,
    enumeration order otherwise) in its system attribute :data:`GRID_ATTR`. A point is claimed
    while any trial holds it, except a failed trial whose candidate record (user attribute
    :data:`CANDIDATE_ATTR`) says ``"interrupted"``: such points are handed out again. Points
    that enqueued, still waiting trials will run are skipped by new trials. An enqueued trial
    whose fixed parameters equal a grid point claims that point; one that fixes only some
    parameters claims the first unclaimed point that agrees with them (looking at the first
    :data:`PARTIAL_SCAN` points of the order), otherwise none (its free parameters are drawn
    at random). When every point is claimed, :meth:`exhausted` is true; a trial asked anyway
    repeats a random point (seeded by the trial number) and a warning is issued once.

    Claims are read from the study, so a new sampler on the same storage resumes the grid.
    Trials asked concurrently must be asked under one lock (as the engine does); processes
    sharing a database without one may, rarely, claim one point twice.

    Args:
        space: the search space (nodes of :mod:`automl_bridge.search.space`).
        levels: values per thinned numeric parameter (see the module's rules), >= 2.
        shuffle: hand points out in a seeded shuffled order (else in enumeration order).
        seed: seed of the order and of the random fallbacks.
    """

    def __init__(self, *, space: Sequence[Node], levels: int = 5, shuffle: bool = True,
                 seed: int = 0) -> None:
        self.levels = _check_levels(levels, "GridSampler")
        self.grid = _Grid(space, self.levels)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self._order = _Shuffle(self.grid.size, self.seed)
        self._positions: dict[int, int] = {}  # grid id -> position (a pure function, cached)
        self._warned = False

    # Optuna sampler interface ------------------------------------------------------------

    def before_trial(self, study: Any, trial: Any) -> None:
        """Claim a grid point for ``trial`` (see the class docstring)."""
        if GRID_ATTR in trial.system_attrs:
            return
        fixed = trial.system_attrs.get("fixed_params") or {}
        held, waiting = self._claims(study, exclude=trial.number)
        grid_id: int | None
        if fixed:
            grid_id = self.grid.find(fixed)
            if grid_id is None:
                grid_id = self._first_agreeing(fixed, held | waiting)
            if grid_id is None:
                return
        else:
            grid_id = self._next_free(held | waiting)
            if grid_id is None:
                grid_id = self._next_free(held)
            if grid_id is None:
                grid_id = self._repeat(trial.number)
        study._storage.set_trial_system_attr(trial._trial_id, GRID_ATTR, grid_id)

    def sample_independent(self, study: Any, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        """The claimed point's value of ``param_name`` (random where there is none)."""
        grid_id = trial.system_attrs.get(GRID_ATTR)
        if isinstance(grid_id, int) and 0 <= grid_id < self.grid.size:
            point = self.grid.point(grid_id)
            if param_name in point:
                value = point[param_name]
                if _fits(param_distribution, value):
                    return value
            warnings.warn(
                f"GridSampler: the grid point of trial {trial.number} has no value of "
                f"{param_name!r} inside {param_distribution}; the search space the trial "
                "draws from differs from the grid's space. Drawing it at random.",
                RuntimeWarning, stacklevel=2)
        rng = seeded_rng(self.seed, trial.number, param_name)
        return _random_value(param_distribution, rng)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Nothing to do: claims live in the trials."""

    def reseed_rng(self) -> None:
        """Nothing to reseed: every draw is seeded from the seed and the trial number."""

    # Grid state ---------------------------------------------------------------------------

    def exhausted(self, study: Any) -> bool:
        """Whether every grid point is held by a started trial (the search should stop)."""
        held, _ = self._claims(study, exclude=None)
        return len(held) >= self.grid.size

    def _claims(self, study: Any, exclude: int | None) -> tuple[set[int], set[int]]:
        """Grid ids held by started trials, and those enqueued waiting trials will run."""
        held: set[int] = set()
        waiting: set[int] = set()
        for t in study.get_trials(deepcopy=False):
            if t.number == exclude:
                continue
            if t.state == optuna.trial.TrialState.WAITING:
                fixed = t.system_attrs.get("fixed_params")
                grid_id = self.grid.find(fixed) if fixed else None
                if grid_id is not None:
                    waiting.add(grid_id)
                continue
            grid_id = t.system_attrs.get(GRID_ATTR)
            if (isinstance(grid_id, int) and 0 <= grid_id < self.grid.size
                    and not _released(t)):
                held.add(grid_id)
        return held, waiting

    def _position(self, grid_id: int) -> int:
        if not self.shuffle:
            return grid_id
        pos = self._positions.get(grid_id)
        if pos is None:
            pos = self._positions[grid_id] = self._order.inverse(grid_id)
        return pos

    def _at(self, position: int) -> int:
        return self._order.forward(position) if self.shuffle else position

    def _next_free(self, taken: set[int]) -> int | None:
        if len(taken) >= self.grid.size:
            return None
        positions = {self._position(g) for g in taken}
        p = 0
        while p in positions:
            p += 1
        return self._at(p)

    def _first_agreeing(self, fixed: Mapping[str, Any], taken: set[int]) -> int | None:
        for p in range(min(self.grid.size, PARTIAL_SCAN)):
            grid_id = self._at(p)
            if grid_id not in taken and self.grid.agrees(grid_id, fixed):
                return grid_id
        return None

    def _repeat(self, number: int) -> int:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"GridSampler: all {self.grid.size} grid points are claimed; trial {number} "
                "repeats a random point. Stop the search when exhausted(study) is true.",
                RuntimeWarning, stacklevel=3)
        rng = np.random.default_rng([self.seed, number])
        nbytes = max(1, (self.grid.size.bit_length() + 71) // 8)
        return int.from_bytes(rng.bytes(nbytes), "big") % self.grid.size


def _fits(dist: Any, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _random_value(dist: Any, rng: np.random.Generator) -> Any:
    import optuna.distributions as d

    draw = RandomTrial(rng)
    if isinstance(dist, d.CategoricalDistribution):
        return draw.suggest_categorical("", list(dist.choices))
    if isinstance(dist, d.IntDistribution):
        return draw.suggest_int("", dist.low, dist.high, step=dist.step, log=dist.log)
    return draw.suggest_float("", dist.low, dist.high, step=dist.step, log=dist.log)


# ---------------------------------------------------------------------------------------------
# The strategy


def grid_strategy(ctx: StrategyContext) -> Strategy:
    """Exhaustive search: every point of the grid of ``ctx.space``, each once.

    Options:
        levels (int): values per thinned numeric parameter, >= 2 (default 5; see the module).
        shuffle (bool): run the points in a seeded shuffled order (default True), so a run cut
            short has tried a representative subset.
        allow_truncation (bool): accept a grid larger than the budget can run (default False).

    Budget rule: the budget can run ``ctx.max_trials`` trials when given; otherwise
    ``floor(ctx.time_budget_s / 0.25)`` (the engine's minimum time per trial); with neither,
    no limit. A larger grid is refused unless ``allow_truncation=True`` (then the notes say how
    many points may run). The search stops once every point has been claimed
    (``Strategy.exhausted``). Grid search ignores scores, so any number of objectives and
    constraints are accepted. Warm-starting with default configurations does not fit a grid
    (those trials claim no point unless they equal one).

    Raises:
        SpecError: bad options, no space given, or a grid larger than the budget.
    """
    _check_options("grid", ctx.options,
                   {"levels": int, "shuffle": bool, "allow_truncation": bool})
    levels = _check_levels(ctx.options.get("levels", 5), "search strategy 'grid'")
    shuffle = bool(ctx.options.get("shuffle", True))
    allow = bool(ctx.options.get("allow_truncation", False))
    if ctx.space is None:
        raise SpecError("The search strategy 'grid' needs the search space up front to "
                        "enumerate its points, and none was given (StrategyContext.space is "
                        "None). Pass the space, or use the strategy 'random' or 'tpe'.")
    sampler = GridSampler(space=ctx.space, levels=levels, shuffle=shuffle, seed=ctx.seed)
    size = sampler.grid.size
    notes = [f"grid: {size} points (levels={levels}, "
             f"{'seeded shuffled' if shuffle else 'enumeration'} order)"]
    limit: int | None = None
    why = ""
    if ctx.max_trials is not None:
        limit = int(ctx.max_trials)
        why = f"max_trials={limit} allows at most {limit} trials"
    elif ctx.time_budget_s is not None:
        limit = math.floor(float(ctx.time_budget_s) / MIN_TRIAL_S + 1e-9)
        why = (f"at most {limit} trials fit in {ctx.time_budget_s:g} s even at "
               f"{MIN_TRIAL_S} s per trial")
    if limit is not None and size > limit:
        if not allow:
            raise SpecError(
                f"The search strategy 'grid' has {size} grid points (levels={levels}), but "
                f"{why}. Use fewer levels (option 'levels', >= 2), fewer models, a larger "
                "max_trials or time budget, or set the option allow_truncation=True to run "
                "a shuffled subset.")
        notes.append(f"grid truncated: only {limit} of {size} points may run ({why})")
    # default configurations rarely lie on the grid: they would only add trials
    return Strategy("grid", sampler, exhausted=sampler.exhausted, warm_start=False, notes=notes)
