"""Search spaces as data: typed parameters, sampled through an Optuna trial.

A model family's search space is a list of parameters; the engine's space is a choice of family
(``model``) followed by the chosen family's parameters, each named ``"<family>.<param>"`` so the
same name always has the same distribution (what Optuna's samplers require).

Example:
    >>> from automl_bridge.search.space import Float, Int, Choice, sample
    >>> import optuna
    >>> space = [Int("n", 1, 8, log=True), Float("lr", 1e-3, 1.0, log=True), Choice("k", ["a"])]
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> params = sample(study.ask(), space)
    >>> sorted(params)
    ['k', 'lr', 'n']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Trial(Protocol):
    """The part of ``optuna.Trial`` the spaces use."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, optionally log-scaled or stepped."""

    name: str
    low: int
    high: int
    log: bool = False
    step: int = 1

    def suggest(self, trial: Trial, name: str) -> int:
        """Draw a value."""
        if self.high <= self.low:
            return self.low
        return int(trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log))


@dataclass(frozen=True)
class Float:
    """A float in ``[low, high]``, optionally log-scaled or stepped."""

    name: str
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Trial, name: str) -> float:
        """Draw a value."""
        if self.high <= self.low:
            return self.low
        return float(trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log))


@dataclass(frozen=True)
class Choice:
    """One of a list of values (str, int, float, bool or None)."""

    name: str
    choices: tuple[Any, ...]

    def __init__(self, name: str, choices: Sequence[Any]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "choices", tuple(choices))

    def suggest(self, trial: Trial, name: str) -> Any:
        """Draw a value."""
        if len(self.choices) == 1:
            return self.choices[0]
        return trial.suggest_categorical(name, list(self.choices))


@dataclass(frozen=True)
class Fixed:
    """A constant (recorded in the params, never searched)."""

    name: str
    value: Any

    def suggest(self, trial: Trial, name: str) -> Any:
        """Return the constant."""
        return self.value


Param = Int | Float | Choice | Fixed


@dataclass(frozen=True)
class Conditional:
    """A parameter whose value decides which further parameters exist.

    ``branches`` maps each value of ``param`` to the space drawn after it (values without a
    branch add nothing). The engine's space is ``Conditional(Choice("model", families),
    {family: <its parameters, named "<family>.<param>">})``; a chain of layers is
    ``Conditional(Int("n_layers", 1, 3), {1: [...layer 0...], 2: [...layers 0-1...], ...})``.
    A name must mean the same distribution in every branch it appears in.
    """

    param: Choice | Int
    branches: dict[Any, tuple[Node, ...]]

    def __init__(self, param: Choice | Int, branches: dict[Any, Sequence[Node]]) -> None:
        object.__setattr__(self, "param", param)
        object.__setattr__(self, "branches", {k: tuple(v) for k, v in branches.items()})

    @property
    def name(self) -> str:
        """The deciding parameter's name."""
        return self.param.name


Node = Int | Float | Choice | Fixed | Conditional
#: A search space: parameters and conditionals, drawn in order.
Space = Sequence[Node]


def sample(trial: Trial, space: Sequence[Node], prefix: str = "") -> dict[str, Any]:
    """Draw every parameter of ``space`` through ``trial``; names are prefixed in the trial.

    Conditionals draw their deciding parameter, then the branch of the value drawn; the result
    holds every drawn parameter (deciding ones included) in drawing order.
    """
    out: dict[str, Any] = {}
    for node in space:
        if isinstance(node, Conditional):
            value = node.param.suggest(trial, f"{prefix}{node.param.name}")
            out[node.param.name] = value
            out.update(sample(trial, node.branches.get(value, ()), prefix))
        else:
            out[node.name] = node.suggest(trial, f"{prefix}{node.name}")
    return out


def parameters(space: Sequence[Node]) -> dict[str, Param]:
    """Every parameter that can occur in ``space`` by name (deciding parameters included).

    Raises:
        ValueError: one name is given two different definitions.
    """
    out: dict[str, Param] = {}

    def add(p: Param) -> None:
        if p.name in out and out[p.name] != p:
            raise ValueError(f"The search space defines {p.name!r} twice, differently: "
                             f"{out[p.name]!r} and {p!r}. A name must mean one distribution.")
        out[p.name] = p

    for node in space:
        if isinstance(node, Conditional):
            add(node.param)
            for branch in node.branches.values():
                for p in parameters(branch).values():
                    add(p)
        else:
            add(node)
    return out


def distribution(param: Param) -> Any:
    """The Optuna distribution ``param`` draws from (``None`` for constants).

    Example:
        >>> distribution(Int("n", 1, 8, log=True))
        IntDistribution(high=8, log=True, low=1, step=1)
    """
    import optuna.distributions as d

    if isinstance(param, Fixed) or (isinstance(param, Choice) and len(param.choices) == 1):
        return None
    if isinstance(param, Choice):
        return d.CategoricalDistribution(list(param.choices))
    if param.high <= param.low:
        return None
    if isinstance(param, Int):
        return d.IntDistribution(param.low, param.high, log=param.log, step=param.step)
    return d.FloatDistribution(param.low, param.high, log=param.log, step=param.step)


class RandomTrial:
    """A stand-in for ``optuna.Trial`` that draws uniformly with a numpy generator.

    Samplers use it to draw whole configurations of a space without touching the study.

    Example:
        >>> import numpy as np
        >>> cfg = sample(RandomTrial(np.random.default_rng(0)), [Int("n", 1, 4)])
        >>> 1 <= cfg["n"] <= 4
        True
    """

    def __init__(self, rng: Any, fixed: dict[str, Any] | None = None) -> None:
        self.rng = rng
        self.fixed = dict(fixed or {})

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        if name in self.fixed:
            return int(self.fixed[name])
        if log:
            v = float(np.exp(self.rng.uniform(np.log(low), np.log(high + 1))))
            return int(min(max(int(v), low), high))
        return int(low + step * self.rng.integers(0, (high - low) // step + 1))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if name in self.fixed:
            return float(self.fixed[name])
        if step is not None:
            n = round((high - low) / step)
            return float(low + step * self.rng.integers(0, n + 1))
        if log:
            return float(np.exp(self.rng.uniform(np.log(low), np.log(high))))
        return float(self.rng.uniform(low, high))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        return choices[int(self.rng.integers(0, len(choices)))]


def prefixed(space: Sequence[Node], prefix: str) -> list[Node]:
    """``space`` with every parameter name (inside conditionals too) prefixed by ``prefix``.

    Example:
        >>> node = Conditional(Int("n_layers", 1, 2), {1: [Int("layer0.width", 8, 64)]})
        >>> [p for p in parameters(prefixed([node], "mlp."))]
        ['mlp.n_layers', 'mlp.layer0.width']
    """
    import dataclasses

    out: list[Node] = []
    for node in space:
        if isinstance(node, Conditional):
            out.append(Conditional(
                dataclasses.replace(node.param, name=f"{prefix}{node.param.name}"),
                {k: prefixed(v, prefix) for k, v in node.branches.items()}))
        else:
            out.append(dataclasses.replace(node, name=f"{prefix}{node.name}"))
    return out


def strip_prefix(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The parameters of one family, without the ``"<family>."`` prefix."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
