"""A reinforcement-learning search controller (a simplified Zoph & Le NAS controller) in numpy.

The controller emits a configuration decision by decision as a string of tokens and learns from
the rewards of the configurations it emitted with REINFORCE.

Policy:
    A factorised softmax: one logit vector per decision, keyed by the decision's name and its
    distribution, so the same name with a different range never shares logits. A decision that
    is absent from a configuration (a parameter of a family that was not chosen, a layer beyond
    ``n_layers``) contributes nothing to that configuration's probability or update, so
    conditional and variable-length spaces need no special handling. Decisions are not
    conditioned on the previous token: the engine's names already carry the structure that
    matters (``"<family>.<param>"``, ``"layer<i>.<param>"``), and a (name, previous token)
    table would multiply the logits to learn by the vocabulary size, which slows learning over
    the few hundred trials a search gets.

Vocabulary of one decision (see :class:`Decision`):
    * categorical: one token per choice, labelled with the choice (``model=extra_trees``);
    * integers (and stepped floats) with at most ``n_bins`` values: one token per value
      (``n_layers=3``);
    * other integers and floats: ``n_bins`` (default 8) equal bins of the range, on the log scale
      for log distributions, labelled ``b0`` ... ``b7``; the value is drawn uniformly inside the
      chosen bin (log-uniformly for log distributions). Integer bins that would hold no integer
      are dropped.

Learning (:meth:`Controller.update`): ``logits += learning_rate * ((reward - baseline) *
grad log pi(tokens) + entropy_weight * grad entropy)``, where ``baseline`` is a moving average of
the rewards (``baseline = decay * baseline + (1 - decay) * reward``, started at the first reward).

Optuna (:class:`RLControllerSampler`): each parameter is drawn from the policy. The policy is
never stored: it is rebuilt deterministically by replaying the updates over the study's complete
trials in trial-number order, so several workers and a resumed run with a new sampler object all
agree; replayed prefixes are cached (checkpoints keyed by the number of replayed trials) so a
1,000-trial study costs one update per new trial.

Example:
    >>> from automl_bridge.search.rl_controller import Controller, token_string
    >>> c = Controller(learning_rate=0.5, seed=0)
    >>> decisions = [("op", 3), ("size", 2)]
    >>> for _ in range(300):
    ...     tokens = c.sample(decisions)
    ...     _ = c.update(tokens, float(token_string(tokens) == "op=2|size=0"))
    >>> token_string(c.most_likely(decisions))
    'op=2|size=0'
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from automl_bridge.exceptions import SpecError
from automl_bridge.search.sampling import PerParameterSampler, seeded_rng
from automl_bridge.search.strategies import Strategy, StrategyContext, _check_options

#: System attribute holding the token string of a trial (for reading only; never used to learn).
TOKENS_ATTR = "automl_bridge:tokens"

_STRATEGY = "rl"


class Token(NamedTuple):
    """One emitted decision.

    Attributes:
        name: the decision's name (the parameter's name).
        label: readable label of the chosen token (a choice, an integer, or ``b<k>`` for a bin).
        choice: index of the chosen token in the decision's vocabulary.
        key: key of the decision's logits (name plus distribution).
    """

    name: str
    label: str
    choice: int
    key: str


def token_string(tokens: Sequence[Token]) -> str:
    """The readable form of a token sequence: ``"name=label|name=label|..."``."""
    return "|".join(f"{t.name}={t.label}" for t in tokens)


class Decision:
    """One decision of the controller: a name and a vocabulary of tokens.

    ``Decision(name, n_choices)`` is a plain decision between ``n_choices`` tokens labelled
    ``"0"`` ... ``str(n_choices - 1)``; :meth:`from_distribution` derives the vocabulary of an
    Optuna distribution and maps values to tokens (:meth:`index_of`) and back (:meth:`draw`).

    Example:
        >>> import numpy as np
        >>> from optuna.distributions import FloatDistribution
        >>> d = Decision.from_distribution("lr", FloatDistribution(1e-4, 1.0, log=True), n_bins=4)
        >>> d.labels
        ('b0', 'b1', 'b2', 'b3')
        >>> d.index_of(0.05)
        2
        >>> 0.01 <= d.draw(2, np.random.default_rng(0)) <= 0.1
        True
    """

    def __init__(self, name: str, n_choices: int, *, labels: Sequence[str] | None = None,
                 key: str | None = None) -> None:
        if n_choices < 1:
            raise ValueError(f"The decision {name!r} needs at least one choice. Got {n_choices}.")
        self.name = name
        self.labels: tuple[str, ...] = (tuple(labels) if labels is not None
                                        else tuple(str(i) for i in range(n_choices)))
        if len(self.labels) != n_choices:
            raise ValueError(f"The decision {name!r} has {n_choices} choices but "
                             f"{len(self.labels)} labels.")
        self.key = key if key is not None else f"{name}#{n_choices}"
        self.distribution: Any = None
        # Value mapping (set by from_distribution).
        self._kind = "plain"
        self._low = 0.0
        self._high = 0.0
        self._step = 1.0
        self._log = False
        self._int = False
        self._n_steps = 0
        self._starts: list[int] = []  # grid: first step index of each token

    def __repr__(self) -> str:
        return f"Decision({self.name!r}, {len(self.labels)}, key={self.key!r})"

    def token(self, choice: int) -> Token:
        """The token of choice ``choice``."""
        return Token(self.name, self.labels[choice], choice, self.key)

    @property
    def n_choices(self) -> int:
        """Size of the vocabulary."""
        return len(self.labels)

    @classmethod
    def from_distribution(cls, name: str, distribution: Any, *, n_bins: int = 8) -> Decision:
        """The decision drawing parameter ``name`` from an Optuna distribution.

        Args:
            name: the parameter's name.
            distribution: a ``CategoricalDistribution``, ``IntDistribution`` or
                ``FloatDistribution``.
            n_bins: bins of a numeric range with more than ``n_bins`` values (>= 2).
        """
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2. Got {n_bins}.")
        key = f"{name}#{distribution_to_json(distribution)}#{n_bins}"
        if isinstance(distribution, CategoricalDistribution):
            labels = [str(c) for c in distribution.choices]
            if len(set(labels)) < len(labels):
                labels = [f"c{i}" for i in range(len(labels))]
            d = cls(name, len(labels), labels=labels, key=key)
            d._kind = "categorical"
        elif isinstance(distribution, IntDistribution | FloatDistribution):
            is_int = isinstance(distribution, IntDistribution)
            low, high = float(distribution.low), float(distribution.high)
            step = distribution.step
            if is_int or step is not None:
                step_f = float(step if step is not None else 1)
                n_steps = max(round((high - low) / step_f), 0)
                if n_steps + 1 <= n_bins:  # one token per value
                    starts = list(range(n_steps + 1))
                    values = [low + k * step_f for k in starts]
                    labels = [str(round(v)) if is_int else f"{v:.12g}" for v in values]
                    if len(set(labels)) < len(labels):
                        labels = [f"v{k}" for k in starts]
                else:
                    starts = _grid_starts(low, step_f, n_steps, distribution.log, n_bins)
                    labels = [f"b{j}" for j in range(len(starts))]
                d = cls(name, len(starts), labels=labels, key=key)
                d._kind = "grid"
                d._step, d._n_steps, d._starts = step_f, n_steps, starts
            else:
                n = n_bins if high > low else 1
                d = cls(name, n, labels=[f"b{j}" for j in range(n)], key=key)
                d._kind = "float"
            d._low, d._high, d._log = low, high, bool(distribution.log)
            d._int = is_int
        else:
            raise TypeError(f"Unsupported distribution for {name!r}: {distribution!r}.")
        d.distribution = distribution
        return d

    def index_of(self, value: Any) -> int:
        """The token of ``value`` (a value of the distribution)."""
        if self._kind == "categorical":
            return int(self.distribution.to_internal_repr(value))
        if self._kind == "grid":
            k = round((float(value) - self._low) / self._step)
            k = min(max(k, 0), self._n_steps)
            return bisect.bisect_right(self._starts, k) - 1
        if self._kind == "float":
            n = self.n_choices
            if n == 1:
                return 0
            t_low, t_high = self._t(self._low), self._t(self._high)
            t = self._t(min(max(float(value), self._low), self._high))
            return min(max(math.floor((t - t_low) / (t_high - t_low) * n), 0), n - 1)
        return int(value)

    def draw(self, index: int, rng: np.random.Generator) -> Any:
        """A value of the distribution inside token ``index``, drawn with ``rng``."""
        if self._kind == "categorical":
            return self.distribution.choices[index]
        if self._kind == "grid":
            first = self._starts[index]
            last = (self._starts[index + 1] if index + 1 < len(self._starts)
                    else self._n_steps + 1) - 1
            if first == last:
                k = first
            else:
                # Half a step either side, so the end values are as likely as the inner ones
                # (log integers have low >= 1, so a >= 0.5 > 0).
                a = self._low + (first - 0.5) * self._step
                b = self._low + (last + 0.5) * self._step
                v = self._inv(rng.uniform(self._t(a), self._t(b)))
                k = min(max(round((v - self._low) / self._step), first), last)
            value = min(self._low + k * self._step, self._high)
            return round(value) if self._int else float(value)
        if self._kind == "float":
            n = self.n_choices
            t_low, t_high = self._t(self._low), self._t(self._high)
            width = (t_high - t_low) / n
            v = self._inv(rng.uniform(t_low + index * width, t_low + (index + 1) * width))
            return float(min(max(v, self._low), self._high))
        return index

    def _t(self, v: float) -> float:
        return math.log(v) if self._log else v

    def _inv(self, t: float) -> float:
        return math.exp(t) if self._log else t


def _grid_starts(low: float, step: float, n_steps: int, log: bool, n_bins: int) -> list[int]:
    """First step index of each non-empty bin of a grid of ``n_steps + 1`` values."""
    t = math.log if log else (lambda v: v)
    t_low, t_high = t(low), t(low + n_steps * step)

    def bin_of(k: int) -> int:
        pos = (t(low + k * step) - t_low) / (t_high - t_low) * n_bins
        return min(max(math.floor(pos), 0), n_bins - 1)

    starts = []
    for b in range(n_bins):
        lo, hi = 0, n_steps + 1  # first k with bin_of(k) >= b, by bisection
        while lo < hi:
            mid = (lo + hi) // 2
            if bin_of(mid) >= b:
                hi = mid
            else:
                lo = mid + 1
        if lo <= n_steps and bin_of(lo) == b:
            starts.append(lo)
    return starts


DecisionLike = Decision | tuple[str, int]
#: Decisions to emit: a fixed sequence, or a function of the tokens emitted so far returning the
#: next decision (``None`` when the configuration is complete), for conditional spaces.
Decisions = Sequence[DecisionLike] | Callable[[Sequence[Token]], DecisionLike | None]


def _as_decision(d: DecisionLike) -> Decision:
    return d if isinstance(d, Decision) else Decision(d[0], int(d[1]))


def _iter_decisions(decisions: Decisions, choose: Callable[[Decision], Token]) -> list[Token]:
    tokens: list[Token] = []
    if callable(decisions):
        while (nxt := decisions(tokens)) is not None:
            tokens.append(choose(_as_decision(nxt)))
    else:
        tokens.extend(choose(_as_decision(d)) for d in decisions)
    return tokens


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    out: np.ndarray = z / z.sum()
    return out


class Controller:
    """A REINFORCE controller over token strings with a factorised softmax policy.

    Args:
        learning_rate: step size of the updates on the logits (> 0).
        baseline_decay: decay of the moving-average reward baseline, in ``[0, 1)``.
        entropy_weight: weight of the entropy bonus (>= 0; keeps the policy exploring).
        seed: seed of :meth:`sample` when no generator is given.

    Example:
        >>> c = Controller(seed=0)
        >>> tokens = c.sample([("a", 4), ("b", 2)])
        >>> [t.name for t in tokens], round(c.log_prob(tokens), 4)
        (['a', 'b'], -2.0794)
    """

    def __init__(self, *, learning_rate: float = 0.1, baseline_decay: float = 0.9,
                 entropy_weight: float = 0.01, seed: int = 0) -> None:
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0. Got {learning_rate}.")
        if not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay must be in [0, 1). Got {baseline_decay}.")
        if not entropy_weight >= 0:
            raise ValueError(f"entropy_weight must be >= 0. Got {entropy_weight}.")
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.seed = seed
        #: Logits of each decision, by key.
        self.logits: dict[str, np.ndarray] = {}
        #: Moving average of the rewards (``None`` before the first update).
        self.baseline: float | None = None
        self._labels: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return (f"Controller(learning_rate={self.learning_rate}, baseline_decay="
                f"{self.baseline_decay}, entropy_weight={self.entropy_weight}, seed={self.seed}, "
                f"decisions={len(self._labels)})")

    def copy(self) -> Controller:
        """An independent copy of the policy (same logits and baseline)."""
        c = Controller(learning_rate=self.learning_rate, baseline_decay=self.baseline_decay,
                       entropy_weight=self.entropy_weight, seed=self.seed)
        c.logits = {k: v.copy() for k, v in self.logits.items()}
        c.baseline = self.baseline
        c._labels = dict(self._labels)
        c._names = dict(self._names)
        return c

    def distribution(self, decision: DecisionLike) -> np.ndarray:
        """Probabilities of the tokens of ``decision`` (uniform when never updated)."""
        d = _as_decision(decision)
        logits = self.logits.get(d.key)
        return _softmax(logits) if logits is not None else np.full(d.n_choices, 1 / d.n_choices)

    def sample_one(self, decision: DecisionLike, rng: np.random.Generator | None = None) -> Token:
        """Draw one token of ``decision``."""
        d = self.register(decision)
        p = self.distribution(d)
        i = int((rng or self._rng).choice(d.n_choices, p=p))
        return d.token(i)

    def sample(self, decisions: Decisions, rng: np.random.Generator | None = None) -> list[Token]:
        """Draw a token string, decision by decision.

        Args:
            decisions: a sequence of :class:`Decision` or ``(name, n_choices)``, or a function
                of the tokens drawn so far returning the next decision (``None``: done).
            rng: generator to draw with (default: the controller's, seeded by ``seed``).
        """
        return _iter_decisions(decisions, lambda d: self.sample_one(d, rng))

    def most_likely(self, decisions: Decisions) -> list[Token]:
        """The greedy token string: the most likely token of each decision in turn."""
        def best(d: Decision) -> Token:
            i = int(np.argmax(self.distribution(d)))
            return d.token(i)

        return _iter_decisions(decisions, best)

    def _n_choices(self, t: Token) -> int:
        labels = self._labels.get(t.key)
        if labels is None:
            raise KeyError(f"The controller does not know the decision {t.key!r} of token "
                           f"{t.name}={t.label}: sample() or register() it first.")
        return len(labels)

    def log_prob(self, tokens: Sequence[Token]) -> float:
        """``log pi(tokens)``: the sum of the log probabilities of the tokens."""
        total = 0.0
        for t in tokens:
            logits = self.logits.get(t.key)
            if logits is None:
                total -= math.log(self._n_choices(t))
            else:
                z = logits - logits.max()
                total += float(z[t.choice] - math.log(np.exp(z).sum()))
        return total

    def update(self, tokens: Sequence[Token], reward: float) -> float:
        """One REINFORCE step on ``tokens`` with ``reward``; returns the advantage used.

        ``logits += lr * ((reward - baseline) * grad log pi(tokens) + entropy_weight * grad H)``
        for each decision present in ``tokens`` (``H``: entropy of that decision's softmax);
        the baseline then moves toward ``reward``.
        """
        reward = float(reward)
        if self.baseline is None:
            self.baseline = reward
        advantage = reward - self.baseline
        for t in tokens:
            logits = self.logits.get(t.key)
            if logits is None:
                logits = self.logits[t.key] = np.zeros(self._n_choices(t))
            p = _softmax(logits)
            grad = -advantage * p
            grad[t.choice] += advantage
            if self.entropy_weight:
                logp = np.log(np.maximum(p, 1e-300))
                entropy = -float(p @ logp)
                grad -= self.entropy_weight * p * (logp + entropy)
            logits += self.learning_rate * grad
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        return advantage

    def register(self, decision: DecisionLike) -> Decision:
        """Make ``decision`` known (uniform logits) so tokens of it can be updated."""
        d = _as_decision(decision)
        if d.key not in self._labels:
            self._labels[d.key] = d.labels
            self._names[d.key] = d.name
        return d

    def probabilities(self, name: str | DecisionLike) -> dict[str, float]:
        """Probability of each token of a decision, by label.

        Args:
            name: a decision, or the name of a decision this controller has seen (with one
                distribution).
        """
        if isinstance(name, str):
            keys = [k for k, n in self._names.items() if n == name]
            if len(keys) != 1:
                raise KeyError(f"The controller knows {len(keys)} decisions named {name!r}; "
                               "pass the Decision itself.")
            key = keys[0]
            labels = self._labels[key]
            logits = self.logits.get(key)
            p = _softmax(logits) if logits is not None else np.full(len(labels), 1 / len(labels))
        else:
            d = _as_decision(name)
            labels, p = d.labels, self.distribution(d)
        return {label: float(q) for label, q in zip(labels, p, strict=True)}

    def expected_reward(self, reward_fn: Callable[[Sequence[Token]], float],
                        decisions: Decisions, *, limit: int = 200_000) -> float:
        """Exact expected reward of the policy, by enumerating every token string.

        Args:
            reward_fn: reward of a token string.
            decisions: as in :meth:`sample`.
            limit: most token strings to enumerate.

        Raises:
            ValueError: there are more than ``limit`` token strings.
        """
        count = [0]

        def walk(prefix: list[Token], prob: float) -> float:
            if callable(decisions):
                nxt = decisions(prefix)
            else:
                nxt = decisions[len(prefix)] if len(prefix) < len(decisions) else None
            if nxt is None:
                count[0] += 1
                if count[0] > limit:
                    raise ValueError(f"More than {limit} token strings to enumerate.")
                return prob * float(reward_fn(prefix))
            d = _as_decision(nxt)
            p = self.distribution(d)
            return sum(walk([*prefix, d.token(i)], prob * p[i])
                       for i in range(d.n_choices) if p[i] > 0)

        return float(walk([], 1.0))


# --- Optuna sampler --------------------------------------------------------------------------


@dataclass
class _Replay:
    """Policy and reward-normalisation state after replaying a prefix of complete trials."""

    controller: Controller
    n: int = 0  # trials replayed
    sorted_feasible: list[float] = field(default_factory=list)  # rank: previous feasible values
    n_infeasible: int = 0
    count: int = 0  # value: running stats of feasible values (Welford)
    mean: float = 0.0
    m2: float = 0.0

    def copy(self) -> _Replay:
        return _Replay(self.controller.copy(), self.n, list(self.sorted_feasible),
                       self.n_infeasible, self.count, self.mean, self.m2)


@dataclass
class _StudyCache:
    numbers: list[int] = field(default_factory=list)  # trial numbers replayed, in order
    checkpoints: list[_Replay] = field(default_factory=list)  # at multiples of _CHECKPOINT
    latest: _Replay | None = None


_CHECKPOINT = 32  # replayed states kept every 32 trials (trials may complete out of order)
_PER_TRIAL_CACHE = 256  # policies of the trials being sampled
_Z_CLIP = 3.0


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    return next(i for i in range(n) if a[i] != b[i])


class RLControllerSampler(PerParameterSampler):
    """Optuna sampler drawing each parameter from a REINFORCE-trained controller.

    The policy is rebuilt deterministically from the study: one :meth:`Controller.update` per
    COMPLETE trial in trial-number order, with the tokens recomputed from ``trial.params`` and
    ``trial.distributions`` (so enqueued trials and trials proposed by other samplers count
    too). Failed, pruned and running trials are ignored. A trial draws every parameter from
    the policy replayed over the trials complete when its first parameter was drawn, with a
    generator seeded by ``(seed, trial.number, parameter name)``.

    Rewards (``reward=``):
        * ``"rank"`` (default): the fraction of the previously replayed trials the trial beats
          (ties count half; the first trial gets 0.5), in ``[0, 1]``; independent of the scale
          of the objective and robust to outliers.
        * ``"value"``: the z-score of the value against the mean and standard deviation of the
          previously replayed feasible values (0 until two are known), clipped to ``[-3, 3]``.

        Values are sign-flipped for minimisation. An infeasible trial (a constraint value > 0
        from ``constraints_func``) gets the worst reward (0, or -3) and beats nothing.

    Args:
        seed: seed of the draws.
        learning_rate: controller step size (> 0).
        baseline_decay: decay of the reward baseline, in ``[0, 1)``.
        entropy_weight: entropy bonus weight (>= 0).
        n_bins: bins of a numeric range (>= 2); ranges with at most ``n_bins`` values get one
            token per value.
        n_startup_trials: complete trials before the policy is used; earlier trials draw from
            the uniform policy (uniform random search). They are replayed all the same.
        reward: ``"rank"`` or ``"value"``.
        constraints_func: constraint values of a frozen trial (> 0: violated), or ``None``.
    """

    def __init__(self, *, seed: int = 0, learning_rate: float = 0.5, baseline_decay: float = 0.9,
                 entropy_weight: float = 0.01, n_bins: int = 8, n_startup_trials: int = 5,
                 reward: str = "rank",
                 constraints_func: Callable[[Any], Sequence[float]] | None = None) -> None:
        if reward not in ("rank", "value"):
            raise ValueError(f"reward must be 'rank' or 'value'. Got {reward!r}.")
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2. Got {n_bins}.")
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0. Got {n_startup_trials}.")
        Controller(learning_rate=learning_rate, baseline_decay=baseline_decay,
                   entropy_weight=entropy_weight)  # validates
        self.seed = int(seed)
        self.learning_rate = float(learning_rate)
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = float(entropy_weight)
        self.n_bins = int(n_bins)
        self.n_startup_trials = int(n_startup_trials)
        self.reward = reward
        self.constraints_func = constraints_func
        self._lock = threading.RLock()
        self._decisions: dict[str, Decision] = {}
        self._studies: dict[tuple[str, int], _StudyCache] = {}
        self._per_trial: OrderedDict[tuple[str, int, int], Controller] = OrderedDict()

    # -- Optuna's sampler interface -------------------------------------------------------

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """Draw ``param_name``: a token from the policy, then a value inside that token."""
        self._raise_error_if_multi_objective(study)
        decision = self._decision(param_name, param_distribution)
        rng = seeded_rng(self.seed, trial.number, param_name)
        if decision.n_choices == 1:
            return decision.draw(0, rng)
        p = self._policy_for(study, trial).distribution(decision)
        return decision.draw(int(rng.choice(decision.n_choices, p=p)), rng)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        """Record the trial's token string in its system attributes (for reading only)."""
        with contextlib.suppress(Exception):  # a readability aid must never fail a trial
            study._storage.set_trial_system_attr(trial._trial_id, TOKENS_ATTR,
                                                 token_string(self.tokens_of(trial)))
        with self._lock:
            for key in [k for k in self._per_trial if k[-1] == trial._trial_id]:
                del self._per_trial[key]

    def reseed_rng(self) -> None:
        """Draws are seeded by ``(seed, trial number, name)``: nothing to reseed."""

    # -- policy ------------------------------------------------------------------------------

    def tokens_of(self, trial: FrozenTrial) -> list[Token]:
        """The tokens of a trial, recomputed from its params and distributions.

        Parameters with a single possible value are not decisions and give no token.
        """
        return [d.token(i) for d, i in self._decided(trial)]

    def _decided(self, trial: FrozenTrial) -> list[tuple[Decision, int]]:
        out = []
        for name, value in trial.params.items():
            dist = trial.distributions.get(name)
            if dist is not None and not dist.single():
                d = self._decision(name, dist)
                out.append((d, d.index_of(value)))
        return out

    def policy(self, study: Study) -> Controller:
        """A copy of the controller replayed over the study's complete trials."""
        return self._replayed(study).controller.copy()

    def _decision(self, name: str, dist: BaseDistribution) -> Decision:
        key = f"{name}#{distribution_to_json(dist)}"
        with self._lock:
            d = self._decisions.get(key)
            if d is None:
                d = Decision.from_distribution(name, dist, n_bins=self.n_bins)
                self._decisions[key] = d
        return d

    @staticmethod
    def _study_key(study: Study) -> tuple[Any, ...]:
        # A Hyperband bracket sees a subset of the trials: it gets its own replay.
        return (study.study_name, study._study_id, getattr(study, "_bracket_id", None))

    def _policy_for(self, study: Study, trial: FrozenTrial) -> Controller:
        """The policy of a trial: fixed at its first drawn parameter."""
        key = (*self._study_key(study), trial._trial_id)
        with self._lock:
            cached = self._per_trial.get(key)
        if cached is not None:
            return cached
        replay = self._replayed(study)
        controller = replay.controller if replay.n >= self.n_startup_trials else self._fresh(
            ).controller
        with self._lock:
            self._per_trial[key] = controller
            while len(self._per_trial) > _PER_TRIAL_CACHE:
                self._per_trial.popitem(last=False)
        return controller

    def _replayed(self, study: Study) -> _Replay:
        """The state after replaying every complete trial, reusing the cached prefix."""
        trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                        key=lambda t: t.number)
        numbers = [t.number for t in trials]
        with self._lock:
            cache = self._studies.setdefault(self._study_key(study), _StudyCache())
            if cache.latest is not None and cache.numbers == numbers:
                return cache.latest
            common = _common_prefix(cache.numbers, numbers)
            if cache.latest is not None and cache.latest.n <= common:
                start = cache.latest
            else:
                usable = [c for c in cache.checkpoints if c.n <= common]
                start = usable[-1] if usable else self._fresh()
            cache.checkpoints = [c for c in cache.checkpoints if c.n <= start.n]
            state = start.copy()
            maximize = study.direction == StudyDirection.MAXIMIZE
            for t in trials[state.n:]:
                self._replay_one(state, t, maximize)
                if state.n % _CHECKPOINT == 0:
                    cache.checkpoints.append(state.copy())
            cache.numbers = numbers
            cache.latest = state
            return state

    def _fresh(self) -> _Replay:
        return _Replay(Controller(learning_rate=self.learning_rate,
                                  baseline_decay=self.baseline_decay,
                                  entropy_weight=self.entropy_weight, seed=self.seed))

    def _replay_one(self, state: _Replay, trial: FrozenTrial, maximize: bool) -> None:
        decided = self._decided(trial)
        tokens = [state.controller.register(d).token(i) for d, i in decided]
        feasible = True
        if self.constraints_func is not None:
            feasible = all(float(c) <= 0 for c in self.constraints_func(trial))
        value = float(trial.values[0]) if maximize else -float(trial.values[0])
        if self.reward == "rank":
            previous = len(state.sorted_feasible) + state.n_infeasible
            if not feasible:
                reward = 0.0
                state.n_infeasible += 1
            else:
                if previous == 0:
                    reward = 0.5
                else:
                    below = bisect.bisect_left(state.sorted_feasible, value)
                    ties = bisect.bisect_right(state.sorted_feasible, value) - below
                    reward = (state.n_infeasible + below + 0.5 * ties) / previous
                bisect.insort(state.sorted_feasible, value)
        else:
            if not feasible:
                reward = -_Z_CLIP
            else:
                if state.count >= 2:
                    std = math.sqrt(state.m2 / (state.count - 1))
                    z = (value - state.mean) / std if std > 0 else 0.0
                    reward = float(np.clip(z, -_Z_CLIP, _Z_CLIP))
                else:
                    reward = 0.0
                if math.isfinite(value):
                    state.count += 1
                    delta = value - state.mean
                    state.mean += delta / state.count
                    state.m2 += delta * (value - state.mean)
        if tokens:
            state.controller.update(tokens, reward)
        state.n += 1


def rl_strategy(ctx: StrategyContext) -> Strategy:
    """Search strategy ``rl``: a REINFORCE controller (:class:`RLControllerSampler`).

    Options:
        learning_rate (float > 0): controller step size (default 0.5).
        n_bins (int >= 2): bins of a numeric range (default 8).
        baseline_decay (float in [0, 1)): decay of the reward baseline (default 0.9).
        entropy_weight (float >= 0): entropy bonus (default 0.01).

    Example:
        >>> s = rl_strategy(StrategyContext(options={"n_bins": 4}))
        >>> s.name, s.sampler.n_bins
        ('rl', 4)
    """
    opts = ctx.options
    _check_options(_STRATEGY, opts, {"learning_rate": object, "n_bins": int,
                                     "baseline_decay": object, "entropy_weight": object})
    if ctx.multi_objective:
        raise SpecError(
            f"The search strategy {_STRATEGY!r} optimises a single objective; the spec has "
            f"{len(ctx.directions)} ({', '.join(ctx.directions)}). Use 'nsga2', 'tpe' or "
            "'random' for multi-objective search."
        )

    def number(key: str, default: float, ok: Callable[[float], bool], rule: str) -> float:
        value = opts.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not ok(float(value)):
            raise SpecError(f"The option {key!r} of search strategy {_STRATEGY!r} must be a "
                            f"number {rule}. Got {value!r}.")
        return float(value)

    learning_rate = number("learning_rate", 0.5, lambda v: v > 0 and math.isfinite(v), "> 0")
    baseline_decay = number("baseline_decay", 0.9, lambda v: 0 <= v < 1, "in [0, 1)")
    entropy_weight = number("entropy_weight", 0.01, lambda v: 0 <= v < math.inf, ">= 0")
    n_bins = opts.get("n_bins", 8)
    if isinstance(n_bins, bool) or n_bins < 2:
        raise SpecError(f"The option 'n_bins' of search strategy {_STRATEGY!r} must be an "
                        f"integer >= 2. Got {n_bins!r}.")
    sampler = RLControllerSampler(
        seed=ctx.seed, learning_rate=learning_rate, baseline_decay=baseline_decay,
        entropy_weight=entropy_weight, n_bins=int(n_bins),
        constraints_func=ctx.constraints_func,
    )
    return Strategy(_STRATEGY, sampler)


__all__ = [
    "TOKENS_ATTR",
    "Controller",
    "Decision",
    "Decisions",
    "RLControllerSampler",
    "Token",
    "rl_strategy",
    "token_string",
]
