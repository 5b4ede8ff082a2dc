"""Keras-Tuner-style hyperparameters, drawn define-by-run through an Optuna trial.

A :class:`HyperParameters` object is handed to the user's ``build(hp)``. Each declaration
(``hp.Int``, ``hp.Float``, ``hp.Choice``, ``hp.Boolean``, ``hp.Fixed``) records the parameter
in the space and returns its value:

- during a tuner's trial, the value is drawn through the Optuna trial, so every search strategy
  of :mod:`automl_bridge.registry` (random, grid, TPE, GP, Hyperband, evolution, ...) samples it;
- with stored values (``get_best_hyperparameters()``), the stored value;
- otherwise (a fresh ``HyperParameters()``), the default: ``min_value`` for ``Int`` and
  ``Float``, the first value for ``Choice``, ``False`` for ``Boolean``.

Parameters declared inside :meth:`HyperParameters.conditional_scope` are active only when the
parent's value is one of the given values; inactive parameters are not drawn and return
``None`` (as in Keras Tuner). Each declaration maps to a node of
:mod:`automl_bridge.search.space` (:meth:`HyperParameters.nodes`), scopes to
:class:`~automl_bridge.search.space.Conditional` nodes.

Example:
    >>> hp = HyperParameters()
    >>> hp.Int("units", 16, 512, step=16)
    16
    >>> with hp.conditional_scope("units", [16, 32]):
    ...     hp.Boolean("wide")
    False
    >>> hp.values
    {'units': 16, 'wide': False}
    >>> [n.name for n in hp.nodes()]
    ['units']
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from automl_bridge.exceptions import SpecError
from automl_bridge.search.space import Choice as ChoiceNode
from automl_bridge.search.space import Conditional, Node, Trial
from automl_bridge.search.space import Fixed as FixedNode
from automl_bridge.search.space import Int as IntNode
from automl_bridge.tuners.declarations import Condition, HyperParameter, same_value

_SAMPLINGS = ("linear", "log")


class HyperParameters:
    """The hyperparameters of one build: the declared space and the current values.

    Attributes:
        values: name -> value of every active parameter declared or stored so far.
    """

    def __init__(self) -> None:
        self._space: dict[str, HyperParameter] = {}
        self.values: dict[str, Any] = {}
        self._scopes: list[Condition] = []
        self._trial: Trial | None = None

    # --- construction helpers ---------------------------------------------------------------

    @classmethod
    def from_trial(cls, trial: Trial, space: HyperParameters | None = None) -> HyperParameters:
        """Hyperparameters that draw their values through ``trial`` (``space`` seeds the
        declarations, so a redefinition is caught)."""
        hp = cls()
        if space is not None:
            hp._space = dict(space._space)
        hp._trial = trial
        return hp

    @classmethod
    def from_values(cls, values: Mapping[str, Any],
                    space: HyperParameters | None = None) -> HyperParameters:
        """Hyperparameters returning ``values`` (e.g. a trial's), defaults for the rest."""
        hp = cls()
        if space is not None:
            hp._space = dict(space._space)
        hp.values = dict(values)
        return hp

    def copy(self) -> HyperParameters:
        """An independent copy (space and values)."""
        return HyperParameters.from_values(self.values, self)

    def merge(self, other: HyperParameters) -> None:
        """Add the declarations of ``other`` (and their scopes) to this space."""
        for hp in other._space.values():
            self._record(hp)

    # --- declarations -----------------------------------------------------------------------

    def Int(self, name: str, min_value: int, max_value: int, step: int | None = None,
            sampling: str = "linear", default: int | None = None, *,
            parent_name: str | None = None, parent_values: Any = None) -> Any:
        """An integer in ``[min_value, max_value]`` (both included).

        ``step`` is the distance between values (``sampling="linear"``) or, with
        ``sampling="log"``, the factor between them (``Int("b", 2, 32, step=2,
        sampling="log")`` draws one of 2, 4, 8, 16, 32).
        """
        for arg, v in (("min_value", min_value), ("max_value", max_value), ("step", step),
                       ("default", default)):
            if v is not None and (isinstance(v, bool) or int(v) != v):
                raise SpecError(f"The {arg!r} of hyperparameter Int {name!r} must be an "
                                f"integer. Got {v!r}.")
        lo, hi = int(min_value), int(max_value)
        self._check_range("Int", name, lo, hi, step, sampling)
        value = int(default) if default is not None else lo
        self._check_default("Int", name, value, lo, hi)
        config = {"min_value": lo, "max_value": hi,
                  "step": int(step) if step is not None else None, "sampling": sampling,
                  "default": value}
        return self._declare(name, "Int", config, parent_name, parent_values)

    def Float(self, name: str, min_value: float, max_value: float,
              step: float | None = None, sampling: str = "linear",
              default: float | None = None, *, parent_name: str | None = None,
              parent_values: Any = None) -> Any:
        """A float in ``[min_value, max_value]``; ``step`` as for :meth:`Int`."""
        lo, hi = float(min_value), float(max_value)
        self._check_range("Float", name, lo, hi, step, sampling)
        fvalue = float(default) if default is not None else lo
        self._check_default("Float", name, fvalue, lo, hi)
        config = {"min_value": lo, "max_value": hi,
                  "step": float(step) if step is not None else None, "sampling": sampling,
                  "default": fvalue}
        return self._declare(name, "Float", config, parent_name, parent_values)

    def Choice(self, name: str, values: Sequence[Any], ordered: bool | None = None,
               default: Any = None, *, parent_name: str | None = None,
               parent_values: Any = None) -> Any:
        """One of ``values`` (all of one type: int, float, str or bool)."""
        vals = list(values)
        if not vals:
            raise SpecError(f"The 'values' of hyperparameter Choice {name!r} must not be "
                            "empty. Got [].")
        types = {type(v) for v in vals}
        if not types <= {int, float, str, bool} or (len(types) > 1 and types != {int, float}):
            raise SpecError(f"The 'values' of hyperparameter Choice {name!r} must all be of "
                            f"one type: int, float, str or bool. Got {vals!r}.")
        if len({repr(v) for v in vals}) != len(vals):
            raise SpecError(f"The 'values' of hyperparameter Choice {name!r} must be unique. "
                            f"Got {vals!r}.")
        numeric = types <= {int, float}
        if ordered is None:
            ordered = numeric
        elif ordered and not numeric:
            raise SpecError(f"The 'ordered' of hyperparameter Choice {name!r} may be True "
                            f"only for int or float values. Got values {vals!r}.")
        if default is None:
            default = vals[0]
        elif not any(same_value(default, v) for v in vals):
            raise SpecError(f"The 'default' of hyperparameter Choice {name!r} must be one of "
                            f"{vals!r}. Got {default!r}.")
        config = {"values": vals, "ordered": bool(ordered), "default": default}
        return self._declare(name, "Choice", config, parent_name, parent_values)

    def Boolean(self, name: str, default: bool = False, *, parent_name: str | None = None,
                parent_values: Any = None) -> Any:
        """``True`` or ``False``."""
        if not isinstance(default, bool):
            raise SpecError(f"The 'default' of hyperparameter Boolean {name!r} must be True "
                            f"or False. Got {default!r}.")
        return self._declare(name, "Boolean", {"default": default}, parent_name, parent_values)

    def Fixed(self, name: str, value: Any, *, parent_name: str | None = None,
              parent_values: Any = None) -> Any:
        """A constant recorded with the hyperparameters (never searched)."""
        if not isinstance(value, int | float | str | bool) and value is not None:
            raise SpecError(f"The 'value' of hyperparameter Fixed {name!r} must be an int, "
                            f"float, str, bool or None. Got {value!r}.")
        return self._declare(name, "Fixed", {"value": value, "default": value}, parent_name,
                             parent_values)

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Parameters declared inside are active only when ``parent_name`` has one of
        ``parent_values`` (a value or a list). Scopes nest (all must hold).

        Raises:
            SpecError: the parent is not declared yet, or is a ``Float``.
        """
        self._scopes.append(self._condition(parent_name, parent_values))
        try:
            yield
        finally:
            self._scopes.pop()

    # --- reading ----------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The current value of ``name``.

        Raises:
            KeyError: ``name`` is not declared.
            SpecError: ``name`` is declared but inactive in this build.
        """
        if name in self.values:
            return self.values[name]
        if name in self._space:
            raise SpecError(f"The hyperparameter {name!r} is inactive (its conditional scope "
                            "does not hold), so it has no value.")
        raise KeyError(f"No hyperparameter {name!r}. Declared: {sorted(self._space)}.")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._space

    @property
    def space(self) -> list[HyperParameter]:
        """Every declared hyperparameter, in declaration order."""
        return list(self._space.values())

    def is_active(self, name: str) -> bool:
        """Whether ``name`` has a value in this build."""
        return name in self.values

    def nodes(self) -> list[Node]:
        """The space as :mod:`automl_bridge.search.space` nodes: scoped parameters sit in
        the branches of a :class:`~automl_bridge.search.space.Conditional` on their parent."""
        children: dict[str, dict[Any, list[HyperParameter]]] = {}
        top: list[HyperParameter] = []
        for hp in self._space.values():
            alts = [alt for alt in hp.conditions]
            if not alts or any(not alt for alt in alts):
                top.append(hp)
                continue
            for alt in alts:
                cond = alt[-1]
                for value in cond.values:
                    branch = children.setdefault(cond.parent, {}).setdefault(value, [])
                    if hp not in branch:
                        branch.append(hp)

        def emit(hp: HyperParameter, seen: frozenset[str]) -> Node:
            node = hp.node()
            kids = children.get(hp.name)
            if not kids or hp.name in seen:
                return node
            param = node if isinstance(node, ChoiceNode | IntNode) else \
                ChoiceNode(node.name, [node.value] if isinstance(node, FixedNode) else [])
            branches: dict[Any, Sequence[Node]] = {
                v: [emit(k, seen | {hp.name}) for k in ks] for v, ks in kids.items()}
            return Conditional(param, branches)

        return [emit(hp, frozenset()) for hp in top]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The space as JSON-ready dicts (see :meth:`HyperParameter.to_dict`)."""
        return [hp.to_dict() for hp in self._space.values()]

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"

    # --- internals --------------------------------------------------------------------------

    def _condition(self, parent_name: str, parent_values: Any) -> Condition:
        if parent_name not in self._space:
            raise SpecError(f"The conditional scope's parent {parent_name!r} is not declared. "
                            "Declare it (hp.Choice, hp.Int, hp.Boolean or hp.Fixed) before the "
                            "scope.")
        if self._space[parent_name].kind == "Float":
            raise SpecError(f"The conditional scope's parent {parent_name!r} is a Float; a "
                            "parent must be a Choice, Int, Boolean or Fixed.")
        if isinstance(parent_values, list | tuple | set):
            values = tuple(parent_values)
        else:
            values = (parent_values,)
        return Condition(parent_name, values)

    def _declare(self, name: str, kind: str, config: dict[str, Any], parent_name: str | None,
                 parent_values: Any) -> Any:
        if not isinstance(name, str) or not name:
            raise SpecError(f"A hyperparameter name must be a non-empty string. Got {name!r}.")
        scopes = list(self._scopes)
        if parent_name is not None:
            scopes.append(self._condition(parent_name, parent_values))
        hp = HyperParameter(name, kind, config, (tuple(scopes),))
        self._record(hp)
        if name in self.values:
            return self.values[name]
        if not all(c.holds(self.values) for c in scopes):
            return None
        value = hp.node().suggest(self._trial, name) if self._trial is not None else hp.default
        self.values[name] = value
        return value

    def _record(self, hp: HyperParameter) -> None:
        old = self._space.get(hp.name)
        if old is None:
            self._space[hp.name] = hp
            return
        if not old.same_definition(hp):
            raise SpecError(
                f"The hyperparameter {hp.name!r} is declared twice, differently: "
                f"{old.kind}({_args(old.config)}) and then {hp.kind}({_args(hp.config)}). "
                "A name must keep one definition; use another name for the second.")
        new_alts = [alt for alt in hp.conditions if alt not in old.conditions]
        if new_alts:
            self._space[hp.name] = HyperParameter(old.name, old.kind, old.config,
                                                  old.conditions + tuple(new_alts))

    @staticmethod
    def _check_range(kind: str, name: str, lo: float, hi: float, step: float | None,
                     sampling: str) -> None:
        where = f"hyperparameter {kind} {name!r}"
        if sampling not in _SAMPLINGS:
            hint = (" 'reverse_log' is not supported: use 'log'." if sampling == "reverse_log"
                    else "")
            raise SpecError(f"The 'sampling' of {where} must be 'linear' or 'log'. "
                            f"Got {sampling!r}.{hint}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
            raise SpecError(f"The range of {where} must have min_value <= max_value. "
                            f"Got min_value={lo!r}, max_value={hi!r}.")
        if sampling == "log" and lo <= 0:
            raise SpecError(f"The 'min_value' of {where} must be > 0 with sampling='log'. "
                            f"Got {lo!r}.")
        if step is not None and (not step > 0 or (sampling == "log" and step < 1)):
            bound = ">= 1 (a factor) with sampling='log'" if sampling == "log" else "> 0"
            raise SpecError(f"The 'step' of {where} must be {bound}. Got {step!r}.")

    @staticmethod
    def _check_default(kind: str, name: str, default: float, lo: float, hi: float) -> None:
        if not lo <= default <= hi:
            raise SpecError(f"The 'default' of hyperparameter {kind} {name!r} must lie in "
                            f"[{lo}, {hi}]. Got {default!r}.")


def discover_space(build: Callable[[HyperParameters], Any], *,
                   max_builds: int = 32) -> HyperParameters:
    """The space of ``build``, found by building with the defaults, then with each other value
    of every ``Choice``/``Boolean`` and of every scope's parent forced (at most
    ``max_builds`` builds), so parameters behind an ``if`` on a choice are recorded too.

    Raises:
        Exception: whatever the first (default) build raises.

    Example:
        >>> def build(hp):
        ...     if hp.Choice("kind", ["a", "b"]) == "b":
        ...         with hp.conditional_scope("kind", "b"):
        ...             hp.Int("depth", 1, 3)
        >>> [p.name for p in discover_space(build).space]
        ['kind', 'depth']
    """
    space = HyperParameters()
    tried: set[tuple[str, str]] = set()
    queue: list[dict[str, Any]] = [{}]
    builds = 0
    while queue and builds < max_builds:
        forced = queue.pop(0)
        hp = HyperParameters.from_values(forced, space)
        try:
            build(hp)
        except Exception:
            if builds == 0:
                raise
        builds += 1
        space.merge(hp)
        tried.update((k, repr(v)) for k, v in hp.values.items())
        for decl in space.space:
            options: list[tuple[dict[str, Any], str, Any]] = []
            if decl.kind in ("Choice", "Boolean"):
                values = decl.config["values"] if decl.kind == "Choice" else [False, True]
                own = decl.conditions[0] if decl.conditions else ()
                base = {c.parent: c.values[0] for c in own if c.values}
                options += [(base, decl.name, v) for v in values]
            for alt in decl.conditions:
                if alt:
                    base = {c.parent: c.values[0] for c in alt[:-1] if c.values}
                    options += [(base, alt[-1].parent, v) for v in alt[-1].values]
            for base, parent, value in options:
                key = (parent, repr(value))
                if key not in tried:
                    tried.add(key)
                    queue.append({**base, parent: value})
    return space


def _args(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


__all__ = ["Condition", "HyperParameter", "HyperParameters", "discover_space"]
