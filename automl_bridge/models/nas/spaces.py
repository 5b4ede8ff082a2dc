"""Architecture search spaces as ordinary search-space nodes, and the architecture they draw.

:func:`macro_space` (a chain of layers) and :func:`micro_space` (a cell stacked ``n_cells``
times) return lists of :mod:`automl_bridge.search.space` nodes with unprefixed names, so every
search strategy (random, TPE, evolution, the RL controller, ...) drives them; the RL controller
emits them token by token (``n_layers=2|layer0.op=dense|layer0.width=b3|...``).
:func:`arch_from_params` turns drawn params into an :class:`~automl_bridge.models.nas.arch
.Architecture` (keys that are not architecture keys are ignored).

Macro names: ``n_layers``; ``layer<i>.op``, ``layer<i>.width`` (log-scaled integer),
``layer<i>.activation``, ``layer<i>.dropout`` for ``i < n_layers`` (a ``Conditional`` on
``n_layers``: branch ``k`` holds layers ``0 .. k-1``, and a name means the same distribution in
every branch).

Micro names: ``n_cells``, ``width``, ``activation``, ``dropout``; per node ``j = 1 .. n_nodes``:
``node<j>.input`` (one of ``0 .. j-1``; 0 is the cell's input), ``node<j>.input2`` (only with
``two_inputs=True``: ``None`` or one of ``0 .. j-1``; equal to ``input`` means one input) and
``node<j>.op``.

Example:
    >>> import numpy as np
    >>> from automl_bridge.search.space import RandomTrial, sample
    >>> params = sample(RandomTrial(np.random.default_rng(0)), macro_space(max_layers=3))
    >>> params["n_layers"] in (1, 2, 3)
    True
    >>> arch = arch_from_params({**params, "learning_rate": 0.01})
    >>> len(arch.layers) == params["n_layers"]
    True
    >>> str(arch_from_params({"n_cells": 2, "width": 32, "activation": "relu", "dropout": 0.0,
    ...     "node1.input": 0, "node1.op": "dense", "node2.input": 1, "node2.op": "identity"}))
    '2 x cell(32,relu,0.0) [1: dense(0); 2: identity(1)]'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas.arch import (
    ACTIVATIONS,
    MACRO_OPS,
    MAX_DROPOUT,
    MICRO_OPS,
    Architecture,
    CellNode,
    Layer,
    MacroArchitecture,
    MicroArchitecture,
)
from automl_bridge.search.space import Choice, Conditional, Float, Int, Node

#: Drawn dropout rates are rounded to this many decimals (hides float noise of stepped draws).
DROPOUT_DECIMALS = 6


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"The option {name!r} of the architecture space must be an integer "
                        f">= {low}. Got {value!r}.")
    return value


def _check_subset(name: str, values: Sequence[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad or len(set(values)) < len(values):
        raise SpecError(f"The option {name!r} of the architecture space must be distinct values "
                        f"among {list(allowed)}, at least one. Got {list(values)!r}.")
    return values


def _dropout(name: str, max_dropout: float, step: float | None) -> Float:
    if (isinstance(max_dropout, bool) or not isinstance(max_dropout, int | float)
            or not 0 <= max_dropout < MAX_DROPOUT):
        raise SpecError(f"The option 'max_dropout' of the architecture space must be in "
                        f"[0, {MAX_DROPOUT}). Got {max_dropout!r}.")
    if step is not None:
        n = max_dropout / step if step > 0 else math.nan
        if not (math.isfinite(n) and abs(n - round(n)) < 1e-9):
            raise SpecError(f"The option 'dropout_step' of the architecture space must be > 0 "
                            f"and divide max_dropout={max_dropout}. Got {step!r}; use None for "
                            "a continuous dropout.")
    return Float(name, 0.0, float(max_dropout), step=step if max_dropout > 0 else None)


def _widths(min_width: int, max_width: int) -> tuple[int, int]:
    _check_int("min_width", min_width, 1)
    _check_int("max_width", max_width, 1)
    if max_width < min_width:
        raise SpecError(f"The option 'max_width' of the architecture space must be >= "
                        f"min_width={min_width}. Got {max_width}.")
    return min_width, max_width


def macro_space(*, max_layers: int = 4, min_layers: int = 1, min_width: int = 16,
                max_width: int = 512, ops: Sequence[str] = MACRO_OPS,
                activations: Sequence[str] = ("relu", "gelu", "silu", "tanh"),
                max_dropout: float = 0.5, dropout_step: float | None = 0.05) -> list[Node]:
    """The chain-structured space: ``n_layers``, then op/width/activation/dropout per layer.

    Args:
        max_layers: most layers (>= min_layers).
        min_layers: fewest layers (>= 1).
        min_width: smallest layer width (>= 1).
        max_width: largest layer width (drawn on the log scale).
        ops: layer operations to choose from (among dense, dense_bn, dense_ln, residual).
        activations: activations to choose from (among relu, gelu, silu, tanh, elu).
        max_dropout: largest dropout rate, in ``[0, 0.9)``.
        dropout_step: grid step of the dropout rate (must divide ``max_dropout``), or ``None``
            for a continuous rate.

    Raises:
        SpecError: an option is out of range.
    """
    _check_int("min_layers", min_layers, 1)
    _check_int("max_layers", max_layers, min_layers)
    low, high = _widths(min_width, max_width)
    ops = _check_subset("ops", ops, MACRO_OPS)
    activations = _check_subset("activations", activations, ACTIVATIONS)
    layers: list[list[Node]] = []
    for i in range(max_layers):
        layers.append([Choice(f"layer{i}.op", ops), Int(f"layer{i}.width", low, high, log=True),
                       Choice(f"layer{i}.activation", activations),
                       _dropout(f"layer{i}.dropout", max_dropout, dropout_step)])
    branches: dict[Any, Sequence[Node]] = {k: [n for layer in layers[:k] for n in layer]
                for k in range(min_layers, max_layers + 1)}
    return [Conditional(Int("n_layers", min_layers, max_layers), branches)]


def micro_space(*, n_nodes: int = 3, max_cells: int = 4, min_cells: int = 1,
                min_width: int = 16, max_width: int = 512, ops: Sequence[str] = MICRO_OPS,
                activations: Sequence[str] = ("relu", "gelu", "silu", "tanh"),
                max_dropout: float = 0.5, dropout_step: float | None = 0.05,
                two_inputs: bool = False) -> list[Node]:
    """The cell space: ``n_cells``, ``width``, ``activation``, ``dropout``, then each node.

    Args:
        n_nodes: nodes per cell (>= 1).
        max_cells: most stacked cells (>= min_cells).
        min_cells: fewest stacked cells (>= 1).
        min_width: smallest cell width (>= 1).
        max_width: largest cell width (drawn on the log scale).
        ops: node operations (among dense, dense_bn, dense_ln, residual, identity).
        activations: activations to choose from.
        max_dropout: largest dropout rate, in ``[0, 0.9)``.
        dropout_step: grid step of the dropout rate, or ``None``.
        two_inputs: whether each node may average a second input (``node<j>.input2``).

    Raises:
        SpecError: an option is out of range.
    """
    _check_int("n_nodes", n_nodes, 1)
    _check_int("min_cells", min_cells, 1)
    _check_int("max_cells", max_cells, min_cells)
    low, high = _widths(min_width, max_width)
    ops = _check_subset("ops", ops, MICRO_OPS)
    activations = _check_subset("activations", activations, ACTIVATIONS)
    space: list[Node] = [Int("n_cells", min_cells, max_cells), Int("width", low, high, log=True),
                         Choice("activation", activations),
                         _dropout("dropout", max_dropout, dropout_step)]
    for j in range(1, n_nodes + 1):
        space.append(Choice(f"node{j}.input", list(range(j))))
        if two_inputs:
            space.append(Choice(f"node{j}.input2", [None, *range(j)]))
        space.append(Choice(f"node{j}.op", ops))
    return space


def _get(params: Mapping[str, Any], key: str) -> Any:
    if key not in params:
        raise SpecError(f"The architecture params lack {key!r} (given: {sorted(params)}). Draw "
                        "them from macro_space() or micro_space().")
    return params[key]


def _rate(params: Mapping[str, Any], key: str) -> float:
    value = _get(params, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"The architecture param {key!r} must be a number. Got {value!r}.")
    return round(float(value), DROPOUT_DECIMALS)


def arch_from_params(params: Mapping[str, Any]) -> Architecture:
    """The architecture drawn from :func:`macro_space` (``n_layers`` given) or
    :func:`micro_space` (``n_cells`` given); other keys are ignored.

    Raises:
        SpecError: neither ``n_layers`` nor ``n_cells`` is given, a needed key is missing or a
            value is invalid.
    """
    if "n_layers" in params:
        n = _get(params, "n_layers")
        layers = tuple(
            Layer(_get(params, f"layer{i}.op"), int(_get(params, f"layer{i}.width")),
                  _get(params, f"layer{i}.activation"), _rate(params, f"layer{i}.dropout"))
            for i in range(int(n)))
        return MacroArchitecture(layers)
    if "n_cells" in params:
        nodes = []
        j = 1
        while f"node{j}.op" in params:
            first = int(_get(params, f"node{j}.input"))
            second = params.get(f"node{j}.input2")
            inputs = (first,) if second is None or int(second) == first else (first, int(second))
            nodes.append(CellNode(params[f"node{j}.op"], inputs))
            j += 1
        return MicroArchitecture(tuple(nodes), int(params["n_cells"]), int(_get(params, "width")),
                                 _get(params, "activation"), _rate(params, "dropout"))
    raise SpecError(f"The params hold no architecture: expected 'n_layers' (macro_space) or "
                    f"'n_cells' (micro_space). Got keys {sorted(params)}.")


def params_from_arch(arch: Architecture, *, two_inputs: bool = True) -> dict[str, Any]:
    """The parameters that :func:`arch_from_params` turns into ``arch`` (its inverse).

    Args:
        arch: a macro or micro architecture.
        two_inputs: give every cell node a ``node<j>.input2`` (``None`` for one input), as a
            :func:`micro_space` with ``two_inputs=True`` draws them.

    Raises:
        SpecError: a node has two inputs but ``two_inputs`` is false.

    Example:
        >>> from automl_bridge.models.nas.arch import parse
        >>> a = parse("2 x cell(32,relu,0.0) [1: dense(0); 2: residual(0,1)]")
        >>> arch_from_params(params_from_arch(a)) == a
        True
    """
    if isinstance(arch, MacroArchitecture):
        out: dict[str, Any] = {"n_layers": len(arch.layers)}
        for i, layer in enumerate(arch.layers):
            out.update({f"layer{i}.op": layer.op, f"layer{i}.width": layer.width,
                        f"layer{i}.activation": layer.activation,
                        f"layer{i}.dropout": layer.dropout})
        return out
    out = {"n_cells": arch.n_cells, "width": arch.width, "activation": arch.activation,
           "dropout": arch.dropout}
    for j, node in enumerate(arch.nodes, start=1):
        out[f"node{j}.input"] = node.inputs[0]
        if len(node.inputs) > 1 and not two_inputs:
            raise SpecError(f"Cell node {j} of {str(arch)!r} has two inputs; the space has one "
                            "input per node (micro_space(two_inputs=False)).")
        if two_inputs:
            out[f"node{j}.input2"] = node.inputs[1] if len(node.inputs) > 1 else None
        out[f"node{j}.op"] = node.op
    return out


__all__ = ["arch_from_params", "macro_space", "micro_space", "params_from_arch"]
