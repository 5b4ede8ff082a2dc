"""Build a torch network from an architecture (string or value).

Macro: ``layers.<i>.*`` (one operation per layer, see :mod:`~automl_bridge.models.nas.ops`)
then ``head`` (``Linear(last width, n_outputs)``). Micro: ``proj`` (``Linear(n_inputs,
width)``), ``cells.<c>.nodes.<k-1>.*`` (node ``k`` of cell ``c``) and ``head``. The output is raw
logits or values: no softmax inside. Initialisation is PyTorch's default, so
``torch.manual_seed`` makes it deterministic.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = build_network("dense(8,relu,0.0) > residual(8,tanh,0.0)", n_inputs=5, n_outputs=3)
    >>> net(torch.zeros(4, 5)).shape
    torch.Size([4, 3])
    >>> micro = build_network("2 x cell(6,relu,0.0) [1: dense(0); 2: identity(0,1)]", 5, 1)
    >>> sorted(k for k in micro.state_dict() if k.startswith("cells.1"))
    ['cells.1.nodes.0.linear.bias', 'cells.1.nodes.0.linear.weight']
"""

from __future__ import annotations

from numbers import Integral

from torch import Tensor, nn

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas.arch import (
    Architecture,
    MacroArchitecture,
    MicroArchitecture,
    parse,
)
from automl_bridge.models.nas.ops import make_op


class MacroNetwork(nn.Module):
    """A chain of layers and a linear head."""

    def __init__(self, arch: MacroArchitecture, n_inputs: int, n_outputs: int) -> None:
        super().__init__()
        self.arch = arch
        layers = []
        width = n_inputs
        for layer in arch.layers:
            layers.append(make_op(layer.op, width, layer.width, activation=layer.activation,
                                  dropout=layer.dropout))
            width = layer.width
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        out: Tensor = self.head(x)
        return out


class Cell(nn.Module):
    """One copy of a cell: nodes over earlier nodes, output the mean of the loose ends."""

    def __init__(self, arch: MicroArchitecture) -> None:
        super().__init__()
        self.inputs = [node.inputs for node in arch.nodes]
        self.outputs = arch.loose_ends()
        self.nodes = nn.ModuleList(
            make_op(node.op, arch.width, arch.width, activation=arch.activation,
                    dropout=arch.dropout)
            for node in arch.nodes)

    def forward(self, x: Tensor) -> Tensor:
        states = [x]
        for inputs, op in zip(self.inputs, self.nodes, strict=True):
            h = states[inputs[0]] if len(inputs) == 1 else _mean([states[i] for i in inputs])
            states.append(op(h))
        return _mean([states[k] for k in self.outputs])


def _mean(xs: list[Tensor]) -> Tensor:
    if len(xs) == 1:
        return xs[0]
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total / len(xs)


class MicroNetwork(nn.Module):
    """Input projection, ``n_cells`` cells at one width, linear head."""

    def __init__(self, arch: MicroArchitecture, n_inputs: int, n_outputs: int) -> None:
        super().__init__()
        self.arch = arch
        self.proj = nn.Linear(n_inputs, arch.width)
        self.cells = nn.ModuleList(Cell(arch) for _ in range(arch.n_cells))
        self.head = nn.Linear(arch.width, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        for cell in self.cells:
            x = cell(x)
        out: Tensor = self.head(x)
        return out


def build_network(arch: Architecture | str, n_inputs: int, n_outputs: int) -> nn.Module:
    """The network of ``arch`` for ``n_inputs`` features and ``n_outputs`` outputs.

    Raises:
        SpecError: malformed architecture, or ``n_inputs`` / ``n_outputs`` below 1.
    """
    a = parse(arch)
    for name, value in (("n_inputs", n_inputs), ("n_outputs", n_outputs)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise SpecError(f"build_network needs {name} as an integer >= 1. Got {value!r}.")
    n_inputs, n_outputs = int(n_inputs), int(n_outputs)
    if isinstance(a, MacroArchitecture):
        return MacroNetwork(a, n_inputs, n_outputs)
    return MicroNetwork(a, n_inputs, n_outputs)


__all__ = ["Cell", "MacroNetwork", "MicroNetwork", "build_network"]
