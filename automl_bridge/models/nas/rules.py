"""Morphisms as values: their strings, when each is exact, and the child architecture.

The weights are in :mod:`~automl_bridge.models.nas.morphism` (``apply_morphism``). A
:class:`Morphism` turns an architecture and its trained weights (a numpy state dict of
:func:`~automl_bridge.models.nas.build_network`'s module) into a larger child whose weights
compute the same function in eval mode (to float rounding), so the child starts where the
parent ended and trains on from there.

Macro chains:
    * ``widen(i,w)``: layer ``i`` gets ``w`` units (Net2Wider: random units are replicated and
      the next layer's incoming weights divided by the replication counts; BatchNorm statistics
      and affine parameters are replicated; a ``dense_ln`` layer widens by an integer factor,
      every unit copied ``w / width`` times, which keeps LayerNorm's mean and variance; a
      residual block widens its inner and output width, gaining a copying projection; a
      width equal to the block's input width would drop a trained projection, so it is
      refused, as is widening a layer to the width of a following residual block that has a
      projection).
    * ``deepen(i,op)`` or ``deepen(i,op,activation,dropout)``: insert at index ``i``
      (``1 .. n_layers``, after layer ``i-1``, at its width) a layer that is the identity:
      ``residual`` (last Linear zero; any activation, default: layer ``i-1``'s), or ``dense`` /
      ``dense_bn`` with ``relu`` (identity weights; exact because layer ``i-1`` is a dense layer
      with ReLU, so its output is >= 0). An inserted ``dense_bn`` is the identity in eval
      mode (running mean 0, variance 1); in train mode it normalises by batch statistics.

Micro cell networks:
    * ``widen(w)``: the cell width becomes ``w`` (one unit map for the whole residual stream;
      an integer factor when a node is ``dense_ln``).
    * ``deepen_cell(i)``: insert an identity cell at index ``i`` (``0 .. n_cells``). Exact when
      every node op can be the identity: ``identity``, ``residual``, and ``dense`` /
      ``dense_bn`` when the activation is ReLU and the new cell's input is >= 0 (``i >= 1`` and
      the previous cell's loose ends are ReLU outputs).
    * ``deepen_node(k,op)``: insert, in every cell, a node right after node ``k`` (``0 ..
      B``) that reads node ``k`` and replaces it for its consumers. ``op``: ``residual``, or
      ``dense`` / ``dense_bn`` when the activation is ReLU and node ``k`` outputs >= 0.

Example:
    >>> m = parse_morphism(" widen( 0 , 32 )")
    >>> m.to_string(), str(apply_architecture("dense(16,relu,0.0)", m))
    ('widen(0,32)', 'dense(32,relu,0.0)')
    >>> print(problem("dense(16,gelu,0.0)", "deepen(1,dense)"))  # doctest: +ELLIPSIS
    an inserted dense layer is the identity only after a dense layer with relu ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas.arch import (
    ACTIVATIONS,
    MAX_DROPOUT,
    Architecture,
    CellNode,
    Layer,
    MacroArchitecture,
    MicroArchitecture,
    parse,
)

#: Operations a deepening may insert.
DEEPEN_OPS: tuple[str, ...] = ("residual", "dense", "dense_bn")
KINDS: tuple[str, ...] = ("widen", "deepen", "deepen_cell", "deepen_node")


@dataclass(frozen=True)
class Morphism:
    """One morphism (see the module docstring for the kinds and the string forms).

    Attributes:
        kind: ``widen``, ``deepen`` (macro), ``deepen_cell`` or ``deepen_node`` (micro).
        index: layer (widen, deepen), cell position (deepen_cell) or node number
            (deepen_node); ``None`` for a micro ``widen``.
        width: the new width (widen).
        op: the inserted operation (deepen, deepen_node).
        activation: the inserted layer's activation (macro deepen; ``None``: residual keeps
            the previous layer's, dense layers use relu).
        dropout: the inserted layer's dropout (macro deepen).
    """

    kind: str
    index: int | None = None
    width: int | None = None
    op: str | None = None
    activation: str | None = None
    dropout: float = 0.0

    def to_string(self) -> str:
        """``widen(2,128)``, ``widen(128)``, ``deepen(1,residual)``, ``deepen(1,dense,relu,0.1)``,
        ``deepen_cell(1)``, ``deepen_node(2,residual)``."""
        if self.kind == "widen":
            return (f"widen({self.width})" if self.index is None
                    else f"widen({self.index},{self.width})")
        if self.kind == "deepen_cell":
            return f"deepen_cell({self.index})"
        if self.kind == "deepen_node":
            return f"deepen_node({self.index},{self.op})"
        extra = ("" if self.activation is None and self.dropout == 0
                 else f",{self.activation or 'relu'},{self.dropout!r}")
        return f"deepen({self.index},{self.op}{extra})"

    def __str__(self) -> str:
        return self.to_string()


_FORMS = {
    "widen": "widen(layer,width) or widen(width)",
    "deepen": "deepen(index,op) or deepen(index,op,activation,dropout)",
    "deepen_cell": "deepen_cell(index)",
    "deepen_node": "deepen_node(node,op)",
}


def parse_morphism(text: str | Morphism) -> Morphism:
    """Read a morphism string (whitespace free); a :class:`Morphism` is returned unchanged.

    Raises:
        SpecError: malformed string.
    """
    if isinstance(text, Morphism):
        return text
    m = re.fullmatch(r"\s*([a-z_]+)\s*\((.*)\)\s*", str(text))
    kind = m.group(1) if m else None
    args = [a.strip() for a in m.group(2).split(",")] if m else []
    form = _FORMS.get(kind or "")
    ints = [a.isdigit() for a in args]

    def bad() -> SpecError:
        return SpecError(f"Cannot parse morphism {text!r}: expected "
                         f"{form or ' | '.join(_FORMS.values())}.")

    if form is None:
        raise bad()
    if kind == "widen" and len(args) in (1, 2) and all(ints) and int(args[-1]) >= 1:
        return Morphism("widen", int(args[0]) if len(args) == 2 else None, int(args[-1]))
    if kind == "deepen_cell" and len(args) == 1 and ints[0]:
        return Morphism("deepen_cell", int(args[0]))
    if kind == "deepen_node" and len(args) == 2 and ints[0] and args[1] in DEEPEN_OPS:
        return Morphism("deepen_node", int(args[0]), op=args[1])
    if kind == "deepen" and len(args) in (2, 4) and ints[0] and args[1] in DEEPEN_OPS:
        if len(args) == 2:
            return Morphism("deepen", int(args[0]), op=args[1])
        try:
            dropout = float(args[3])
        except ValueError:
            raise bad() from None
        if args[2] in ACTIVATIONS and 0 <= dropout < MAX_DROPOUT:
            return Morphism("deepen", int(args[0]), op=args[1], activation=args[2],
                            dropout=dropout)
    raise bad()


# --- feasibility -------------------------------------------------------------------------------

_RELU_OPS = ("dense", "dense_bn", "dense_ln")


def _nonneg_nodes(arch: MicroArchitecture, input_nonneg: bool) -> list[bool]:
    """Whether each node (0 = the cell input) is >= 0 for every input."""
    out = [input_nonneg]
    for node in arch.nodes:
        if node.op in _RELU_OPS:
            out.append(arch.activation == "relu")
        elif node.op == "identity":
            out.append(all(out[i] for i in node.inputs))
        else:
            out.append(False)
    return out


def cell_inputs_nonneg(arch: MicroArchitecture) -> list[bool]:
    """Whether the input of cell ``c`` (``0 .. n_cells``; the last: the head's) is >= 0."""
    out = [False]  # the input projection is a plain Linear
    for _ in range(arch.n_cells):
        nonneg = _nonneg_nodes(arch, out[-1])
        out.append(all(nonneg[k] for k in arch.loose_ends()))
    return out


def problem(arch: Architecture | str, morphism: Morphism | str, *,
            n_inputs: int | None = None) -> str | None:
    """Why ``morphism`` cannot apply exactly to ``arch`` (``None`` when it can).

    ``n_inputs`` is needed only to check widening a residual first layer (a width equal to the
    input width would drop its projection); unknown, that check is skipped.
    """
    a, m = parse(arch), parse_morphism(morphism)
    if isinstance(a, MacroArchitecture):
        return _macro_problem(a, m, n_inputs)
    return _micro_problem(a, m)


def _macro_problem(a: MacroArchitecture, m: Morphism, n_inputs: int | None) -> str | None:
    n = len(a.layers)
    if m.kind == "widen":
        if m.index is None or not 0 <= m.index < n:
            return f"widen needs a layer index in 0..{n - 1} for a macro architecture"
        layer = a.layers[m.index]
        w = int(m.width or 0)
        if w <= layer.width:
            return f"widen must grow layer {m.index} beyond its width {layer.width}"
        if layer.op == "dense_ln" and w % layer.width:
            return (f"a dense_ln layer widens by an integer factor (LayerNorm keeps its mean "
                    f"and variance only then): use a multiple of {layer.width}")
        in_width = n_inputs if m.index == 0 else a.layers[m.index - 1].width
        if layer.op == "residual" and in_width is not None and in_width != layer.width \
                and w == in_width:
            return (f"widening residual layer {m.index} to its input width {w} would drop its "
                    "projection; choose another width")
        nxt = a.layers[m.index + 1] if m.index + 1 < n else None
        if nxt is not None and nxt.op == "residual" and nxt.width != layer.width \
                and w == nxt.width:
            return (f"widening layer {m.index} to {w}, the width of residual layer "
                    f"{m.index + 1}, would drop that block's projection; choose another width")
        return None
    if m.kind == "deepen":
        if m.index is None or not 1 <= m.index <= n:
            return f"deepen inserts at an index in 1..{n} (after layer index - 1)"
        if m.op == "residual":
            return None
        prev = a.layers[m.index - 1]
        if (m.activation or "relu") != "relu":
            return f"an inserted {m.op} layer is the identity only with relu"
        if prev.op not in _RELU_OPS or prev.activation != "relu":
            return (f"an inserted {m.op} layer is the identity only after a dense layer with "
                    f"relu (layer {m.index - 1} is {prev}); insert a residual block instead")
        return None
    return f"{m.kind} applies to micro (cell) architectures; macro ones take widen and deepen"


def _micro_problem(a: MicroArchitecture, m: Morphism) -> str | None:
    if m.kind == "widen":
        w = int(m.width or 0)
        if m.index is not None:
            return "widen of a micro architecture takes only the new width: widen(width)"
        if w <= a.width:
            return f"widen must grow the cell width beyond {a.width}"
        if any(node.op == "dense_ln" for node in a.nodes) and w % a.width:
            return (f"a cell with dense_ln nodes widens by an integer factor: use a multiple "
                    f"of {a.width}")
        return None
    if m.kind == "deepen_cell":
        if m.index is None or not 0 <= m.index <= a.n_cells:
            return f"deepen_cell inserts at an index in 0..{a.n_cells}"
        ops = {node.op for node in a.nodes}
        if "dense_ln" in ops:
            return "a cell with a dense_ln node cannot be an identity cell"
        if ops & {"dense", "dense_bn"} and not (
                a.activation == "relu" and cell_inputs_nonneg(a)[m.index]):
            return (f"an identity cell with dense nodes needs relu and an input >= 0 (the "
                    f"input of cell {m.index} can be negative)")
        return None
    if m.kind == "deepen_node":
        b = len(a.nodes)
        if m.index is None or not 0 <= m.index <= b:
            return f"deepen_node inserts after a node in 0..{b}"
        if m.op == "residual":
            return None
        if not (a.activation == "relu" and _nonneg_nodes(a, False)[m.index]):
            return (f"an inserted {m.op} node is the identity only with relu on a node whose "
                    f"output is >= 0 (node {m.index} is not); insert a residual node instead")
        return None
    return f"{m.kind} applies to macro architectures; micro ones take widen, deepen_cell and " \
           "deepen_node"


# --- architectures -----------------------------------------------------------------------------


def apply_architecture(arch: Architecture | str, morphism: Morphism | str) -> Architecture:
    """The child architecture of ``morphism`` (checked with :func:`problem`, no weights)."""
    a, m = parse(arch), parse_morphism(morphism)
    why = problem(a, m)
    if why is not None:
        raise SpecError(f"The morphism {m.to_string()!r} cannot apply to {str(a)!r}: {why}.")
    if isinstance(a, MacroArchitecture):
        layers = list(a.layers)
        assert m.index is not None
        if m.kind == "widen":
            layers[m.index] = replace(layers[m.index], width=int(m.width or 0))
        else:
            prev = layers[m.index - 1]
            activation = m.activation or (prev.activation if m.op == "residual" else "relu")
            layers.insert(m.index, Layer(str(m.op), prev.width, activation, m.dropout))
        return MacroArchitecture(tuple(layers))
    if m.kind == "widen":
        return replace(a, width=int(m.width or 0))
    if m.kind == "deepen_cell":
        return replace(a, n_cells=a.n_cells + 1)
    assert m.index is not None
    k = m.index

    def moved(i: int) -> int:
        return i + 1 if i > k else (k + 1 if i == k else i)

    nodes = [CellNode(node.op, tuple(moved(i) for i in node.inputs)) for node in a.nodes]
    nodes.insert(k, CellNode(str(m.op), (k,)))
    return replace(a, nodes=tuple(nodes))


__all__ = [
    "DEEPEN_OPS",
    "KINDS",
    "Morphism",
    "apply_architecture",
    "cell_inputs_nonneg",
    "parse_morphism",
    "problem",
]
