"""Architectures as values: macro chains and micro cell networks, with a readable string form.

Two kinds of architecture, both frozen dataclasses whose ``str()`` is canonical and which
:func:`parse` reads back (``parse(str(a)) == a``; whitespace is free):

Macro (a chain of layers, then a linear head)::

    dense(64,relu,0.1) > dense_bn(32,gelu,0.0) > residual(32,silu,0.2)

    each layer is  op(width,activation,dropout)
    op          dense | dense_bn | dense_ln | residual
    width       integer >= 1 (the layer's output width; a residual block's inner width too)
    activation  relu | gelu | silu | tanh | elu
    dropout     float in [0, 0.9)

Micro (a cell of ``B`` nodes stacked ``N`` times at one width, then a linear head)::

    3 x cell(64,relu,0.1) [1: dense(0); 2: residual(0,1); 3: identity(2)]

    N x cell(width,activation,dropout) [node; node; ...]
    node        k: op(i) or k: op(i,j)   (k = 1, 2, ..., B in order)
    op          dense | dense_bn | dense_ln | residual | identity
    inputs      earlier nodes: 0 is the cell's input, 1..k-1 earlier nodes; two inputs are
                averaged; canonical order is ascending

Every node uses the cell's activation and dropout, at the cell's width. A cell's output is the
mean of its loose ends (the nodes no later node consumes). The network is an input
projection ``Linear(n_inputs, width)``, the ``N`` cells (each with its own weights) and the head.
Above, node 3 consumes node 2 and node 2 consumes node 1, so the cell's output is node 3.

Example:
    >>> a = parse("dense(64, relu, 0.1) >  residual(64,gelu,0)")
    >>> str(a)
    'dense(64,relu,0.1) > residual(64,gelu,0.0)'
    >>> a.layers[1].op, a.layers[1].width
    ('residual', 64)
    >>> m = parse("2 x cell(32,relu,0.0) [1: dense(0); 2: residual(1,0)]")
    >>> str(m)
    '2 x cell(32,relu,0.0) [1: dense(0); 2: residual(0,1)]'
    >>> m.loose_ends()
    (2,)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from automl_bridge.exceptions import SpecError

#: Operations of a macro chain.
MACRO_OPS: tuple[str, ...] = ("dense", "dense_bn", "dense_ln", "residual")
#: Operations of a cell node (each maps the cell width to itself).
MICRO_OPS: tuple[str, ...] = ("dense", "dense_bn", "dense_ln", "residual", "identity")
#: Activation functions.
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "silu", "tanh", "elu")
#: Dropout must be below this.
MAX_DROPOUT = 0.9


def _check_common(what: str, width: Any, activation: Any, dropout: Any) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise SpecError(f"The 'width' of {what} must be an integer >= 1. Got {width!r}.")
    if activation not in ACTIVATIONS:
        raise SpecError(f"The 'activation' of {what} must be one of {list(ACTIVATIONS)}. "
                        f"Got {activation!r}.")
    if (isinstance(dropout, bool) or not isinstance(dropout, int | float)
            or not 0 <= dropout < MAX_DROPOUT):
        raise SpecError(f"The 'dropout' of {what} must be a number in [0, {MAX_DROPOUT}). "
                        f"Got {dropout!r}.")


@dataclass(frozen=True)
class Layer:
    """One layer of a macro chain: ``op(width,activation,dropout)``."""

    op: str
    width: int
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.op not in MACRO_OPS:
            raise SpecError(f"The 'op' of layer {self.op}(...) must be one of {list(MACRO_OPS)}. "
                            f"Got {self.op!r}.")
        _check_common(f"layer {self.op}(...)", self.width, self.activation, self.dropout)
        object.__setattr__(self, "dropout", float(self.dropout))

    def __str__(self) -> str:
        return f"{self.op}({self.width},{self.activation},{self.dropout!r})"


@dataclass(frozen=True)
class MacroArchitecture:
    """A chain of layers followed by a linear head (``str()``: layers joined by ``" > "``)."""

    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise SpecError("A macro architecture needs at least one layer. Got none; "
                            "write e.g. 'dense(64,relu,0.1)'.")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise SpecError(f"Layer {i} of a macro architecture must be a Layer. "
                                f"Got {layer!r}.")

    def __str__(self) -> str:
        return " > ".join(str(layer) for layer in self.layers)


@dataclass(frozen=True)
class CellNode:
    """One node of a cell: an operation applied to the mean of one or two earlier nodes."""

    op: str
    inputs: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.op not in MICRO_OPS:
            raise SpecError(f"The 'op' of a cell node must be one of {list(MICRO_OPS)}. "
                            f"Got {self.op!r}.")
        inputs = tuple(self.inputs)
        if (not 1 <= len(inputs) <= 2
                or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in inputs)
                or len(set(inputs)) != len(inputs)):
            raise SpecError(f"The 'inputs' of cell node {self.op}(...) must be one or two "
                            f"distinct node numbers >= 0. Got {self.inputs!r}.")
        object.__setattr__(self, "inputs", tuple(sorted(inputs)))

    def __str__(self) -> str:
        return f"{self.op}({','.join(str(i) for i in self.inputs)})"


@dataclass(frozen=True)
class MicroArchitecture:
    """``n_cells`` copies of a cell of ``nodes`` at ``width``, after an input projection."""

    nodes: tuple[CellNode, ...]
    n_cells: int
    width: int
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        if isinstance(self.n_cells, bool) or not isinstance(self.n_cells, int) or self.n_cells < 1:
            raise SpecError(f"The 'n_cells' of a micro architecture must be an integer >= 1. "
                            f"Got {self.n_cells!r}.")
        _check_common("a micro architecture", self.width, self.activation, self.dropout)
        object.__setattr__(self, "dropout", float(self.dropout))
        if not self.nodes:
            raise SpecError("A cell needs at least one node. Got none; write e.g. "
                            "'1 x cell(64,relu,0.0) [1: dense(0)]'.")
        for k, node in enumerate(self.nodes, start=1):
            if not isinstance(node, CellNode):
                raise SpecError(f"Node {k} of a cell must be a CellNode. Got {node!r}.")
            if max(node.inputs) >= k:
                raise SpecError(f"Node {k} of a cell may only read earlier nodes (0..{k - 1}). "
                                f"Got inputs {node.inputs}.")

    def loose_ends(self) -> tuple[int, ...]:
        """Numbers of the nodes no later node consumes (averaged into the cell's output)."""
        used = {i for node in self.nodes for i in node.inputs}
        return tuple(k for k in range(1, len(self.nodes) + 1) if k not in used)

    def __str__(self) -> str:
        body = "; ".join(f"{k}: {node}" for k, node in enumerate(self.nodes, start=1))
        return (f"{self.n_cells} x cell({self.width},{self.activation},{self.dropout!r}) "
                f"[{body}]")


Architecture = MacroArchitecture | MicroArchitecture

# --- parsing ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>\S))")


class _Parser:
    """A small recursive-descent parser over (kind, text, position) tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:  # only trailing whitespace is left
                break
            kind = m.lastgroup or "sym"
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, expected: str) -> SpecError:
        if self.i < len(self.tokens):
            _, tok, pos = self.tokens[self.i]
            got = f"{tok!r} at position {pos}"
        else:
            got = f"the end of the string (position {len(self.text)})"
        return SpecError(f"Cannot parse architecture {self.text!r}: expected {expected}, got "
                         f"{got}. Macro: 'dense(64,relu,0.1) > residual(64,gelu,0.0)'; micro: "
                         "'3 x cell(64,relu,0.1) [1: dense(0); 2: residual(0,1)]'.")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, expected: str, text: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (text is not None and tok[1] != text):
            raise self.fail(expected)
        self.i += 1
        return tok[1]

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == text

    def integer(self, expected: str, low: int, *, high: int | None = None,
                other_than: int | None = None) -> int:
        tok = self.peek()
        if (tok is None or tok[0] != "num" or not tok[1].isdigit() or int(tok[1]) < low
                or (high is not None and int(tok[1]) > high) or int(tok[1]) == other_than):
            raise self.fail(expected)
        self.i += 1
        return int(tok[1])

    def choice(self, options: tuple[str, ...], what: str) -> str:
        tok = self.peek()
        if tok is None or tok[1] not in options:
            raise self.fail(f"{what} (one of {', '.join(options)})")
        self.i += 1
        return tok[1]

    def dropout(self) -> float:
        tok = self.peek()
        expected = f"a dropout rate in [0, {MAX_DROPOUT})"
        if tok is None or tok[0] != "num" or not float(tok[1]) < MAX_DROPOUT:
            raise self.fail(expected)
        self.i += 1
        return float(tok[1])

    def settings(self) -> tuple[int, str, float]:
        """``(width,activation,dropout)`` including the parentheses."""
        self.take("sym", "'('", "(")
        width = self.integer("a width (integer >= 1)", 1)
        self.take("sym", "','", ",")
        activation = self.choice(ACTIVATIONS, "an activation")
        self.take("sym", "','", ",")
        dropout = self.dropout()
        self.take("sym", "')'", ")")
        return width, activation, dropout

    def macro(self) -> MacroArchitecture:
        layers: list[Layer] = []
        while True:
            op = self.choice(MACRO_OPS, "a layer operation")
            width, activation, dropout = self.settings()
            layers.append(Layer(op, width, activation, dropout))
            if self.peek() is None:
                return MacroArchitecture(tuple(layers))
            self.take("sym", "'>' or the end of the string", ">")

    def micro(self) -> MicroArchitecture:
        n_cells = self.integer("a number of cells (integer >= 1)", 1)
        self.take("name", "'x'", "x")
        self.take("name", "'cell'", "cell")
        width, activation, dropout = self.settings()
        self.take("sym", "'['", "[")
        nodes: list[CellNode] = []
        while True:
            k = len(nodes) + 1
            if not self.at(str(k)):
                raise self.fail(f"node number {k}")
            self.i += 1
            self.take("sym", "':'", ":")
            op = self.choice(MICRO_OPS, "a node operation")
            self.take("sym", "'('", "(")
            inputs = [self.integer(f"an input of node {k} (an earlier node, 0..{k - 1})", 0,
                                   high=k - 1)]
            if self.at(","):
                self.i += 1
                inputs.append(self.integer(
                    f"a second input of node {k} (an earlier node other than {inputs[0]}, "
                    f"0..{k - 1})", 0, high=k - 1, other_than=inputs[0]))
            self.take("sym", "',' or ')'", ")")
            nodes.append(CellNode(op, tuple(inputs)))
            if self.at("]"):
                self.i += 1
                break
            self.take("sym", "';' or ']'", ";")
        if self.peek() is not None:
            raise self.fail("the end of the string")
        return MicroArchitecture(tuple(nodes), n_cells, width, activation, dropout)


def parse(text: str | Architecture) -> Architecture:
    """Read an architecture string (macro or micro); an architecture is returned unchanged.

    Raises:
        SpecError: the string is malformed; the message names the position, the token found and
            what was expected.
    """
    if isinstance(text, MacroArchitecture | MicroArchitecture):
        return text
    if not isinstance(text, str):
        raise SpecError(f"An architecture must be a string or an Architecture. Got {text!r}.")
    p = _Parser(text)
    first = p.peek()
    if first is not None and first[0] == "num":
        return p.micro()
    return p.macro()


__all__ = [
    "ACTIVATIONS",
    "MACRO_OPS",
    "MAX_DROPOUT",
    "MICRO_OPS",
    "Architecture",
    "CellNode",
    "Layer",
    "MacroArchitecture",
    "MicroArchitecture",
    "parse",
]
