"""Neural architecture search for tabular networks: architectures, spaces, morphisms.

* :mod:`~automl_bridge.models.nas.arch`: macro chains and micro cell networks as values, their
  canonical strings and :func:`parse` (no torch needed).
* :mod:`~automl_bridge.models.nas.spaces`: :func:`macro_space`, :func:`micro_space` and
  :func:`arch_from_params` (search-space nodes for every search strategy).
* :mod:`~automl_bridge.models.nas.morphism`: function-preserving morphisms on trained
  weights (:func:`apply_morphism`, :func:`random_morphism`; numpy only).
* :mod:`~automl_bridge.models.nas.network`: :func:`build_network` (torch).
* :mod:`~automl_bridge.models.nas.ops`: the operations (torch).

Only :func:`build_network` needs torch, and it imports it when called, so this package imports
without torch.

Example:
    >>> from automl_bridge.models.nas import parse, build_network
    >>> arch = parse("dense(16,relu,0.1) > dense_bn(8,gelu,0.0)")
    >>> build_network(arch, n_inputs=4, n_outputs=2).head.out_features
    2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automl_bridge.models.nas.arch import (
    ACTIVATIONS,
    MACRO_OPS,
    MICRO_OPS,
    Architecture,
    CellNode,
    Layer,
    MacroArchitecture,
    MicroArchitecture,
    parse,
)
from automl_bridge.models.nas.morphism import (
    Morphism,
    apply_morphism,
    parse_morphism,
    random_morphism,
)
from automl_bridge.models.nas.spaces import (
    arch_from_params,
    macro_space,
    micro_space,
    params_from_arch,
)

if TYPE_CHECKING:
    from torch import nn


def build_network(arch: Architecture | str, n_inputs: int, n_outputs: int) -> nn.Module:
    """The torch network of ``arch`` (see :func:`automl_bridge.models.nas.network.build_network`).

    Args:
        arch: an architecture or its string.
        n_inputs: input features.
        n_outputs: outputs of the linear head (logits or values; no softmax).
    """
    from automl_bridge.models.nas.network import build_network as build

    return build(arch, n_inputs, n_outputs)


__all__ = [
    "ACTIVATIONS",
    "MACRO_OPS",
    "MICRO_OPS",
    "Architecture",
    "CellNode",
    "Layer",
    "MacroArchitecture",
    "MicroArchitecture",
    "Morphism",
    "apply_morphism",
    "arch_from_params",
    "build_network",
    "macro_space",
    "micro_space",
    "params_from_arch",
    "parse",
    "parse_morphism",
    "random_morphism",
]
