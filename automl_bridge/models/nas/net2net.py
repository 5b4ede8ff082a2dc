"""Net2Net transforms of numpy state dicts (the weights behind :mod:`.morphism`).

Pure numpy, no torch: a state dict is ``dict[str, numpy.ndarray]`` with the names of
:mod:`~automl_bridge.models.nas.network`. Widening uses a *unit map* ``g`` (new unit ``j`` copies
old unit ``g[j]``; the first units map to themselves): the producer's rows (and biases,
BatchNorm statistics and affine parameters, LayerNorm affine parameters) are gathered by ``g``;
the consumer's columns are gathered by ``g`` and divided by the replication counts, so the
consumer's pre-activations are unchanged. Inserted operations are exact identities.

Example:
    >>> import numpy as np
    >>> g = unit_map(2, 5, np.random.default_rng(0), uniform=False)
    >>> g[:2].tolist(), len(g), bool(set(g.tolist()) <= {0, 1})
    ([0, 1], 5, True)
    >>> unit_map(2, 6, np.random.default_rng(0), uniform=True).tolist()
    [0, 1, 0, 1, 0, 1]
"""

from __future__ import annotations

import math
import re

import numpy as np

from automl_bridge.models.nas.arch import (
    Architecture,
    MacroArchitecture,
    MicroArchitecture,
)

StateDict = dict[str, np.ndarray]

#: ``BatchNorm1d``'s default epsilon (the networks use the default).
BN_EPS = 1e-5


def unit_map(old: int, new: int, rng: np.random.Generator, *, uniform: bool) -> np.ndarray:
    """Map of ``new`` units onto ``old`` ones: identity first, then random (or cyclic) copies.

    ``uniform=True`` replicates every unit ``new // old`` times (``new`` must be a multiple),
    which keeps the mean and variance over the units: what LayerNorm needs.
    """
    if uniform:
        return np.arange(new) % old
    return np.concatenate([np.arange(old), rng.integers(0, old, new - old)])


def _dense_keys(op: str) -> list[str]:
    keys = ["linear.weight", "linear.bias"]
    if op == "dense_bn":
        keys += ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                 "bn.num_batches_tracked"]
    if op == "dense_ln":
        keys += ["norm.weight", "norm.bias"]
    return keys


def op_shapes(op: str, in_width: int, width: int) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of one operation (names relative to the operation)."""
    if op == "identity":
        return {}
    if op == "residual":
        shapes: dict[str, tuple[int, ...]] = {} if in_width == width else {
            "proj.weight": (width, in_width)}
        return {**shapes, "linear1.weight": (width, in_width), "linear1.bias": (width,),
                "linear2.weight": (width, width), "linear2.bias": (width,)}
    return {k: ((width, in_width) if k == "linear.weight" else
                () if k.endswith("num_batches_tracked") else (width,)) for k in _dense_keys(op)}


def expected_shapes(arch: Architecture, n_inputs: int, n_outputs: int) -> dict[str, tuple[int,
                                                                                         ...]]:
    """Every state-dict entry of ``build_network(arch, n_inputs, n_outputs)`` and its shape."""
    out: dict[str, tuple[int, ...]] = {}
    if isinstance(arch, MacroArchitecture):
        width = n_inputs
        for i, layer in enumerate(arch.layers):
            for k, s in op_shapes(layer.op, width, layer.width).items():
                out[f"layers.{i}.{k}"] = s
            width = layer.width
    else:
        width = arch.width
        out = {"proj.weight": (width, n_inputs), "proj.bias": (width,)}
        for c in range(arch.n_cells):
            for j, node in enumerate(arch.nodes):
                for k, s in op_shapes(node.op, width, width).items():
                    out[f"cells.{c}.nodes.{j}.{k}"] = s
    out["head.weight"] = (n_outputs, width)
    out["head.bias"] = (n_outputs,)
    return out


# --- widening ----------------------------------------------------------------------------------


def _counts(g: np.ndarray, old: int) -> np.ndarray:
    return np.bincount(g, minlength=old).astype(np.float64)


def _cols(a: np.ndarray, g: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Consumer side: gather columns by ``g`` and divide by the replication counts."""
    return (a[:, g] / counts[g][None, :]).astype(a.dtype)


def _selection(rows: int, g: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``eye(rows)[g]``: row ``j`` picks unit ``g[j]``."""
    return np.eye(rows, dtype=dtype)[g]


def widen_output(sd: StateDict, p: str, op: str, in_width: int, g: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Replicate the output units of the operation at prefix ``p`` by ``g`` (in place).

    A residual block's inner width grows with it (its own random map); a block without a
    projection gets one that copies its input (it keeps ``in_width`` inputs).
    """
    if op == "residual":
        old = sd[p + "linear2.bias"].shape[0]
        h = unit_map(old, len(g), rng, uniform=False)
        sd[p + "linear1.weight"] = sd[p + "linear1.weight"][h]
        sd[p + "linear1.bias"] = sd[p + "linear1.bias"][h]
        sd[p + "linear2.weight"] = _cols(sd[p + "linear2.weight"], h, _counts(h, old))[g]
        sd[p + "linear2.bias"] = sd[p + "linear2.bias"][g]
        if p + "proj.weight" in sd:
            sd[p + "proj.weight"] = sd[p + "proj.weight"][g]
        else:
            sd[p + "proj.weight"] = _selection(in_width, g, sd[p + "linear2.bias"].dtype)
        return
    for k in _dense_keys(op):
        if not k.endswith("num_batches_tracked"):
            sd[p + k] = sd[p + k][g]


def widen_input(sd: StateDict, p: str, op: str, width: int, g: np.ndarray, old: int) -> None:
    """Adapt the operation at prefix ``p`` (``width`` outputs) to inputs replicated by ``g``."""
    counts = _counts(g, old)
    if op == "residual":
        sd[p + "linear1.weight"] = _cols(sd[p + "linear1.weight"], g, counts)
        if p + "proj.weight" in sd:
            sd[p + "proj.weight"] = _cols(sd[p + "proj.weight"], g, counts)
        else:  # the identity skip becomes a projection summing the copies back
            eye = np.eye(width, dtype=sd[p + "linear1.weight"].dtype)
            sd[p + "proj.weight"] = _cols(eye, g, counts)
    elif op != "identity":
        sd[p + "linear.weight"] = _cols(sd[p + "linear.weight"], g, counts)


def widen_head(sd: StateDict, g: np.ndarray, old: int) -> None:
    """The head reads a stream of ``old`` units replicated by ``g``."""
    sd["head.weight"] = _cols(sd["head.weight"], g, _counts(g, old))


def widen_stream_op(sd: StateDict, p: str, op: str, g: np.ndarray, old: int,
                    rng: np.random.Generator) -> None:
    """A cell operation (width to width) whose input and output streams are both widened."""
    if op == "identity":
        return
    if op == "residual":
        h = unit_map(old, len(g), rng, uniform=False)
        sd[p + "linear1.weight"] = _cols(sd[p + "linear1.weight"], g, _counts(g, old))[h]
        sd[p + "linear1.bias"] = sd[p + "linear1.bias"][h]
        sd[p + "linear2.weight"] = _cols(sd[p + "linear2.weight"], h, _counts(h, old))[g]
        sd[p + "linear2.bias"] = sd[p + "linear2.bias"][g]
        return
    widen_input(sd, p, op, old, g, old)
    widen_output(sd, p, op, old, g, rng)


# --- identity operations -----------------------------------------------------------------------


def identity_op(op: str, width: int, dtype: np.dtype, rng: np.random.Generator) -> StateDict:
    """Weights making ``op`` (width to width) the identity on its inputs.

    ``residual``: ``linear2`` is zero (``linear1`` gets PyTorch-like random weights so the block
    can learn); ``dense`` / ``dense_bn``: identity ``linear`` (exact where the input is >= 0
    and the activation is ReLU), BatchNorm set to ``x`` in eval mode (running mean 0, running
    variance 1, weight ``sqrt(1 + eps)``, bias 0).
    """
    if op == "identity":
        return {}
    bound = 1 / math.sqrt(width)
    if op == "residual":
        return {"linear1.weight": rng.uniform(-bound, bound, (width, width)).astype(dtype),
                "linear1.bias": rng.uniform(-bound, bound, width).astype(dtype),
                "linear2.weight": np.zeros((width, width), dtype),
                "linear2.bias": np.zeros(width, dtype)}
    out = {"linear.weight": np.eye(width, dtype=dtype), "linear.bias": np.zeros(width, dtype)}
    if op == "dense_bn":
        out.update({"bn.weight": np.full(width, math.sqrt(1 + BN_EPS), dtype),
                    "bn.bias": np.zeros(width, dtype), "bn.running_mean": np.zeros(width, dtype),
                    "bn.running_var": np.ones(width, dtype),
                    "bn.num_batches_tracked": np.array(0, np.int64)})
    return out


def shift_keys(sd: StateDict, pattern: str, start: int) -> StateDict:
    """Renumber: the first group of ``pattern`` (an index) is increased by one from ``start``.

    ``pattern`` is a regex with one ``(\\d+)`` group matched at the start of the key.
    """
    rx = re.compile(pattern)
    out: StateDict = {}
    for k, v in sd.items():
        m = rx.match(k)
        if m and int(m.group(1)) >= start:
            k = f"{k[:m.start(1)]}{int(m.group(1)) + 1}{k[m.end(1):]}"
        out[k] = v
    return out


def sizes(arch: Architecture, sd: StateDict) -> tuple[int, int]:
    """``(n_inputs, n_outputs)`` of the network whose state dict is ``sd``."""
    if isinstance(arch, MicroArchitecture):
        first = "proj.weight"
    else:
        first = "layers.0.linear1.weight" if arch.layers[0].op == "residual" else (
            "layers.0.linear.weight")
    return int(sd[first].shape[1]), int(sd["head.weight"].shape[0])


__all__ = [
    "BN_EPS",
    "StateDict",
    "expected_shapes",
    "identity_op",
    "op_shapes",
    "shift_keys",
    "sizes",
    "unit_map",
    "widen_head",
    "widen_input",
    "widen_output",
    "widen_stream_op",
]
