"""The records of declared hyperparameters and their scope conditions.

A :class:`HyperParameter` is what one ``hp.Int(...)``/``hp.Float``/``hp.Choice``/
``hp.Boolean``/``hp.Fixed`` declared: its kind, its arguments and the scopes it was declared
in. :meth:`HyperParameter.node` maps it to a node of :mod:`automl_bridge.search.space`.

Example:
    >>> HyperParameter("b", "Int", {"min_value": 2, "max_value": 32, "step": 2,
    ...                             "sampling": "log", "default": 2}).node()
    Choice(name='b', choices=(2, 4, 8, 16, 32))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.search.space import Choice as ChoiceNode
from automl_bridge.search.space import Fixed as FixedNode
from automl_bridge.search.space import Float as FloatNode
from automl_bridge.search.space import Int as IntNode
from automl_bridge.search.space import Param


@dataclass(frozen=True)
class Condition:
    """Active when the parameter ``parent`` has one of ``values``."""

    parent: str
    values: tuple[Any, ...]

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the condition holds for the active ``values``."""
        return self.parent in values and any(same_value(values[self.parent], v)
                                             for v in self.values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"parent": self.parent, "values": list(self.values)}


def same_value(a: Any, b: Any) -> bool:
    """Equal, where a bool only equals a bool (``True`` is not ``1`` here)."""
    return bool(a == b and isinstance(a, bool) == isinstance(b, bool))


@dataclass(frozen=True)
class HyperParameter:
    """One declared hyperparameter.

    Attributes:
        name: its name (unique in the space).
        kind: ``"Int"``, ``"Float"``, ``"Choice"``, ``"Boolean"`` or ``"Fixed"``.
        config: its arguments as given (``min_value``, ``max_value``, ``step``, ``sampling``,
            ``values``, ``ordered``, ``value``) and its ``default``.
        conditions: the scopes it was declared in; each entry is one way to be active (a
            conjunction of conditions); ``()`` or an empty entry means always active.
    """

    name: str
    kind: str
    config: Mapping[str, Any]
    conditions: tuple[tuple[Condition, ...], ...] = field(default=())

    @property
    def default(self) -> Any:
        """The value returned outside a trial."""
        return self.config["default"]

    def node(self) -> Param:
        """The :mod:`automl_bridge.search.space` parameter this declaration draws from."""
        c = self.config
        if self.kind == "Fixed":
            return FixedNode(self.name, c["value"])
        if self.kind == "Boolean":
            return ChoiceNode(self.name, [False, True])
        if self.kind == "Choice":
            return ChoiceNode(self.name, c["values"])
        low, high, step, log = c["min_value"], c["max_value"], c["step"], c["sampling"] == "log"
        if log and step is not None and step != 1:
            return ChoiceNode(self.name, _geometric(low, high, step, self.kind == "Int"))
        if self.kind == "Int":
            step = 1 if log else int(step or 1)
            return IntNode(self.name, low, low + step * ((high - low) // step), log=log,
                           step=step)
        if step is not None and not log:
            n = math.floor((high - low) / step + 1e-9)
            return FloatNode(self.name, low, low + step * n, step=step)
        return FloatNode(self.name, low, high, log=log)

    def summary_config(self) -> dict[str, Any]:
        """Keras-style configuration dict (printed by ``search_space_summary``)."""
        conditions = [[c.to_dict() for c in alt] for alt in self.conditions if alt]
        return {"default": self.default, "conditions": conditions,
                **{k: v for k, v in self.config.items() if k != "default"}}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with a tuner project to detect a changed space)."""
        return {"name": self.name, "kind": self.kind, **self.summary_config()}

    def same_definition(self, other: HyperParameter) -> bool:
        """Whether ``other`` declares the same distribution (conditions aside)."""
        return self.kind == other.kind and dict(self.config) == dict(other.config)


def _geometric(low: float, high: float, factor: float, integer: bool) -> list[Any]:
    out: list[Any] = []
    value = float(low)
    while value <= high * (1 + 1e-9):
        out.append(round(value) if integer else value)
        value *= factor
    return out


__all__ = ["Condition", "HyperParameter", "same_value"]
