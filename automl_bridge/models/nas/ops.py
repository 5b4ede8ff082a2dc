"""Operations of tabular networks (torch modules).

Each operation maps ``(batch, in_width)`` to ``(batch, width)``:

* ``dense``: ``dropout(act(linear(x)))``
* ``dense_bn``: ``dropout(act(bn(linear(x))))`` (``BatchNorm1d``)
* ``dense_ln``: ``dropout(act(norm(linear(x))))`` (``LayerNorm``)
* ``residual``: ``skip(x) + linear2(dropout(act(linear1(x))))``, a pre-activation residual
  block; ``skip`` is the identity when ``in_width == width``, else a bias-free ``proj`` Linear.
  The inner width is ``width``.
* ``identity``: ``x`` (cells only; ``in_width`` must equal ``width``).

Parameter names (what the morphisms in :mod:`automl_bridge.models.nas.morphism` rely on):
``linear.*``, ``bn.*``, ``norm.*``; ``linear1.*``, ``linear2.*``, ``proj.weight``.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> block = make_op("residual", 4, 8, activation="gelu", dropout=0.1)
    >>> block(torch.zeros(2, 4)).shape, sorted(block.state_dict())[:3]
    (torch.Size([2, 8]), ['linear1.bias', 'linear1.weight', 'linear2.bias'])
"""

from __future__ import annotations

from torch import Tensor, nn

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas.arch import ACTIVATIONS, MICRO_OPS


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (relu, gelu, silu, tanh, elu)."""
    modules: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU,
                                           "tanh": nn.Tanh, "elu": nn.ELU}
    if name not in modules:
        raise SpecError(f"The activation must be one of {list(ACTIVATIONS)}. Got {name!r}.")
    return modules[name]()


class Dense(nn.Module):
    """``Linear`` (+ optional ``BatchNorm1d`` / ``LayerNorm``) + activation + dropout."""

    def __init__(self, in_width: int, width: int, *, activation_name: str, dropout: float,
                 norm: str | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(in_width, width)
        self.bn: nn.Module | None = nn.BatchNorm1d(width) if norm == "bn" else None
        self.norm: nn.Module | None = nn.LayerNorm(width) if norm == "ln" else None
        self.act = activation(activation_name)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear(x)
        if self.bn is not None:
            h = self.bn(h)
        if self.norm is not None:
            h = self.norm(h)
        out: Tensor = self.drop(self.act(h))
        return out


class Residual(nn.Module):
    """``skip(x) + linear2(dropout(act(linear1(x))))`` with a projection when widths differ."""

    def __init__(self, in_width: int, width: int, *, activation_name: str,
                 dropout: float) -> None:
        super().__init__()
        self.proj: nn.Module | None = (nn.Linear(in_width, width, bias=False)
                                       if in_width != width else None)
        self.linear1 = nn.Linear(in_width, width)
        self.act = activation(activation_name)
        self.drop = nn.Dropout(dropout)
        self.linear2 = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.proj is None else self.proj(x)
        out: Tensor = skip + self.linear2(self.drop(self.act(self.linear1(x))))
        return out


def make_op(op: str, in_width: int, width: int, *, activation: str,
            dropout: float) -> nn.Module:
    """The module of operation ``op`` from ``in_width`` to ``width`` features.

    Raises:
        SpecError: unknown operation, or ``identity`` between different widths.
    """
    if op == "dense":
        return Dense(in_width, width, activation_name=activation, dropout=dropout)
    if op == "dense_bn":
        return Dense(in_width, width, activation_name=activation, dropout=dropout, norm="bn")
    if op == "dense_ln":
        return Dense(in_width, width, activation_name=activation, dropout=dropout, norm="ln")
    if op == "residual":
        return Residual(in_width, width, activation_name=activation, dropout=dropout)
    if op == "identity":
        if in_width != width:
            raise SpecError(f"The 'identity' operation keeps the width; got {in_width} -> "
                            f"{width}.")
        return nn.Identity()
    raise SpecError(f"The operation must be one of {list(MICRO_OPS)}. Got {op!r}.")


__all__ = ["Dense", "Residual", "activation", "make_op"]
