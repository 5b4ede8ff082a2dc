"""Function-preserving network morphisms (Net2Net) on trained weights.

:func:`apply_morphism` turns an architecture and its trained weights (a numpy state dict of
:func:`~automl_bridge.models.nas.build_network`'s module) into a larger child and weights that
load into ``build_network(child, n_inputs, n_outputs)`` with ``strict=True`` and compute the
same function in eval mode (to float rounding: below 1e-5 in the tests);
:func:`random_morphism` draws an exact morphism of an architecture.

Morphisms (strings read by :func:`parse_morphism`; rules in
:mod:`~automl_bridge.models.nas.rules`):

* macro ``widen(i,w)``: layer ``i`` grows to ``w`` units (Net2Wider).
* macro ``deepen(i,op)`` / ``deepen(i,op,activation,dropout)``: an identity layer at index
  ``i`` (``residual`` with a zero last Linear; ``dense`` / ``dense_bn`` after a ReLU layer).
* micro ``widen(w)``: the cell width grows to ``w``.
* micro ``deepen_cell(i)``: an identity cell at index ``i``.
* micro ``deepen_node(k,op)``: an identity node after node ``k`` in every cell.

Example:
    >>> import numpy as np
    >>> import torch
    >>> from automl_bridge.models.nas import build_network
    >>> _ = torch.manual_seed(0)
    >>> parent = build_network("dense(8,relu,0.0)", n_inputs=3, n_outputs=2).eval()
    >>> weights = {k: v.numpy() for k, v in parent.state_dict().items()}
    >>> child_arch, child_weights = apply_morphism("dense(8,relu,0.0)", weights, "widen(0,12)")
    >>> child = build_network(child_arch, 3, 2)
    >>> _ = child.load_state_dict({k: torch.from_numpy(v) for k, v in child_weights.items()})
    >>> x = torch.randn(5, 3)
    >>> str(child_arch), bool((child.eval()(x) - parent(x)).abs().max() < 1e-5)
    ('dense(12,relu,0.0)', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas import net2net as n2n
from automl_bridge.models.nas.arch import Architecture, MacroArchitecture, MicroArchitecture, parse
from automl_bridge.models.nas.rules import (
    DEEPEN_OPS,
    Morphism,
    apply_architecture,
    parse_morphism,
    problem,
)


def _check_weights(arch: Architecture, sd: n2n.StateDict, n_in: int, n_out: int,
                   what: str) -> None:
    shapes = n2n.expected_shapes(arch, n_in, n_out)
    missing = sorted(set(shapes) - set(sd))
    extra = sorted(set(sd) - set(shapes))
    wrong = sorted(k for k in shapes if k in sd and tuple(sd[k].shape) != shapes[k])
    if missing or extra or wrong:
        raise SpecError(
            f"The {what} state dict does not match the architecture {str(arch)!r} with "
            f"{n_in} inputs and {n_out} outputs: missing {missing[:5]}, unexpected "
            f"{extra[:5]}, wrong shapes {[(k, sd[k].shape, shapes[k]) for k in wrong[:5]]}. "
            "Pass the state dict of build_network(arch, n_inputs, n_outputs) as numpy arrays.")


def apply_morphism(arch: Architecture | str, state_dict: Mapping[str, Any],
                   morphism: Morphism | str, rng: np.random.Generator | None = None,
                   ) -> tuple[Architecture, dict[str, np.ndarray]]:
    """The child architecture and its function-preserving weights.

    Args:
        arch: the parent architecture (or its string).
        state_dict: the parent's weights, ``{name: numpy array}`` (arrays are not modified).
        morphism: a :class:`Morphism` or its string.
        rng: generator of the replicated units and of the random weights of an inserted
            residual block's first Linear (default: ``numpy.random.default_rng(0)``).

    Returns:
        ``(child_arch, child_state_dict)``; ``n_inputs`` / ``n_outputs`` are those of the
        parent's weights.

    Raises:
        SpecError: malformed morphism, a morphism that would not be exact here (the message
            says why), or weights that do not match ``arch``.
    """
    a, m = parse(arch), parse_morphism(morphism)
    rng = rng if rng is not None else np.random.default_rng(0)
    sd = {str(k): np.asarray(v) for k, v in state_dict.items()}
    try:
        n_in, n_out = n2n.sizes(a, sd)
    except KeyError as e:
        raise SpecError(f"The parent state dict lacks {e.args[0]!r} of architecture "
                        f"{str(a)!r}.") from None
    _check_weights(a, sd, n_in, n_out, "parent")
    why = problem(a, m, n_inputs=n_in)
    if why is not None:
        raise SpecError(f"The morphism {m.to_string()!r} cannot apply to {str(a)!r}: {why}.")
    child = apply_architecture(a, m)
    sd = dict(sd)
    sd = _macro(a, sd, m, n_in, rng) if isinstance(a, MacroArchitecture) else _micro(a, sd, m, rng)
    _check_weights(child, sd, n_in, n_out, "child")  # an internal consistency check
    return child, sd


def _dtype(sd: n2n.StateDict) -> np.dtype:
    return sd["head.weight"].dtype


def _macro(a: MacroArchitecture, sd: n2n.StateDict, m: Morphism, n_in: int,
           rng: np.random.Generator) -> n2n.StateDict:
    assert m.index is not None
    i = m.index
    if m.kind == "widen":
        layer = a.layers[i]
        w = int(m.width or 0)
        g = n2n.unit_map(layer.width, w, rng, uniform=layer.op == "dense_ln")
        in_width = n_in if i == 0 else a.layers[i - 1].width
        n2n.widen_output(sd, f"layers.{i}.", layer.op, in_width, g, rng)
        if i + 1 < len(a.layers):
            nxt = a.layers[i + 1]
            n2n.widen_input(sd, f"layers.{i + 1}.", nxt.op, nxt.width, g, layer.width)
        else:
            n2n.widen_head(sd, g, layer.width)
        return sd
    sd = n2n.shift_keys(sd, r"layers\.(\d+)\.", i)
    new = n2n.identity_op(str(m.op), a.layers[i - 1].width, _dtype(sd), rng)
    sd.update({f"layers.{i}.{k}": v for k, v in new.items()})
    return sd


def _micro(a: MicroArchitecture, sd: n2n.StateDict, m: Morphism,
           rng: np.random.Generator) -> n2n.StateDict:
    if m.kind == "widen":
        w = int(m.width or 0)
        g = n2n.unit_map(a.width, w, rng, uniform=any(n.op == "dense_ln" for n in a.nodes))
        sd["proj.weight"] = sd["proj.weight"][g]
        sd["proj.bias"] = sd["proj.bias"][g]
        for c in range(a.n_cells):
            for j, node in enumerate(a.nodes):
                n2n.widen_stream_op(sd, f"cells.{c}.nodes.{j}.", node.op, g, a.width, rng)
        n2n.widen_head(sd, g, a.width)
        return sd
    assert m.index is not None
    if m.kind == "deepen_cell":
        sd = n2n.shift_keys(sd, r"cells\.(\d+)\.", m.index)
        for j, node in enumerate(a.nodes):
            new = n2n.identity_op(node.op, a.width, _dtype(sd), rng)
            sd.update({f"cells.{m.index}.nodes.{j}.{k}": v for k, v in new.items()})
        return sd
    # deepen_node: the new node k+1 is module index k in every cell
    k = m.index
    sd = n2n.shift_keys(sd, r"cells\.\d+\.nodes\.(\d+)\.", k)
    for c in range(a.n_cells):
        new = n2n.identity_op(str(m.op), a.width, _dtype(sd), rng)
        sd.update({f"cells.{c}.nodes.{k}.{key}": v for key, v in new.items()})
    return sd


def random_morphism(arch: Architecture | str, rng: np.random.Generator, *,
                    max_width: int = 512, n_inputs: int | None = None,
                    max_layers: int | None = None, max_cells: int | None = None,
                    max_nodes: int | None = None) -> Morphism:
    """An exact morphism of ``arch`` drawn at random: widen or deepen (half and half when both
    are possible), then uniformly among that kind's exact choices.

    Widths grow to at most ``min(2 * width, max_width)`` (integer multiples for LayerNorm).

    Args:
        arch: the parent architecture.
        rng: the generator.
        max_width: widest layer or cell a widening may make.
        n_inputs: the network's input width; without it a residual first layer is not widened
            (its exactness depends on the input width).
        max_layers: most layers of a macro child (``None``: no limit).
        max_cells: most cells of a micro child.
        max_nodes: most nodes per cell of a micro child.

    Raises:
        SpecError: no exact morphism within the limits.
    """
    a = parse(arch)
    widen: list[Morphism] = []
    deepen: list[Morphism] = []
    if isinstance(a, MacroArchitecture):
        for i, layer in enumerate(a.layers):
            if not (i == 0 and layer.op == "residual" and n_inputs is None):
                widen += _widenings(a, layer.width, i, rng, max_width, n_inputs,
                                    ln=layer.op == "dense_ln")
        if max_layers is None or len(a.layers) < max_layers:
            deepen = [Morphism("deepen", i, op=op) for i in range(1, len(a.layers) + 1)
                      for op in DEEPEN_OPS]
    else:
        widen = _widenings(a, a.width, None, rng, max_width, n_inputs,
                           ln=any(n.op == "dense_ln" for n in a.nodes))
        if max_cells is None or a.n_cells < max_cells:
            deepen += [Morphism("deepen_cell", i) for i in range(a.n_cells + 1)]
        if max_nodes is None or len(a.nodes) < max_nodes:
            deepen += [Morphism("deepen_node", k, op=op) for k in range(len(a.nodes) + 1)
                       for op in DEEPEN_OPS]
    deepen = [m for m in deepen if problem(a, m, n_inputs=n_inputs) is None]
    kinds = [k for k in (widen, deepen) if k]
    if not kinds:
        raise SpecError(f"No exact morphism of {str(a)!r} fits max_width={max_width}, "
                        f"max_layers={max_layers}, max_cells={max_cells}, "
                        f"max_nodes={max_nodes}.")
    choices = kinds[int(rng.integers(len(kinds)))]
    return choices[int(rng.integers(len(choices)))]


def _widenings(a: Architecture, width: int, index: int | None, rng: np.random.Generator,
               max_width: int, n_inputs: int | None, *, ln: bool) -> list[Morphism]:
    """One widening of a layer (or of the cells) to a random exact width, if any fits."""
    top = min(2 * width, max_width)
    widths = list(range(2 * width, top + 1, width)) if ln else list(range(width + 1, top + 1))
    widths = [w for w in widths
              if problem(a, Morphism("widen", index, w), n_inputs=n_inputs) is None]
    if not widths:
        return []
    return [Morphism("widen", index, widths[int(rng.integers(len(widths)))])]


__all__ = [
    "Morphism",
    "apply_architecture",
    "apply_morphism",
    "parse_morphism",
    "problem",
    "random_morphism",
]
