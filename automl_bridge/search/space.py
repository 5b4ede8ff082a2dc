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


def sample(trial: Trial, space: Sequence[Param], prefix: str = "") -> dict[str, Any]:
    """Draw every parameter of ``space`` through ``trial``; names are prefixed in the trial."""
    return {p.name: p.suggest(trial, f"{prefix}{p.name}") for p in space}


def strip_prefix(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The parameters of one family, without the ``"<family>."`` prefix."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
