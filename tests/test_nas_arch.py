"""Architectures: canonical strings, parsing, errors and network building (models/nas)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas import (
    CellNode,
    Layer,
    MacroArchitecture,
    MicroArchitecture,
    build_network,
    parse,
)
from automl_bridge.models.nas.network import MicroNetwork

MACRO = [
    "dense(64,relu,0.1)",
    "dense(64,relu,0.1) > residual(64,gelu,0.0)",
    "dense_bn(8,silu,0.5) > dense_ln(3,tanh,0.25) > residual(5,elu,0.0) > residual(5,relu,0.0)",
    "residual(7,tanh,0.89)",
]
MICRO = [
    "1 x cell(4,relu,0.0) [1: identity(0)]",
    "3 x cell(64,relu,0.1) [1: dense(0); 2: residual(0,1); 3: identity(2)]",
    "2 x cell(8,gelu,0.3) [1: dense_bn(0); 2: dense_ln(0,1); 3: residual(1); 4: dense(0,3)]",
]


@pytest.mark.parametrize("text", MACRO + MICRO)
def test_canonical_strings_round_trip(text: str) -> None:
    arch = parse(text)
    assert str(arch) == text
    assert parse(str(arch)) == arch
    assert parse(arch) is arch
    # whitespace is free, and numbers may be written differently
    spaced = " ".join(text.replace(",", " , ").replace("(", " ( ").split())
    assert parse(spaced) == arch
    assert hash(arch) == hash(parse(text))  # frozen values


def test_values_and_normalisation() -> None:
    a = parse("dense(64, relu, 0) >residual(32,gelu,.25)")
    assert a == MacroArchitecture((Layer("dense", 64, "relu", 0.0),
                                   Layer("residual", 32, "gelu", 0.25)))
    assert str(a) == "dense(64,relu,0.0) > residual(32,gelu,0.25)"
    m = parse("2x cell(16,silu,0.1)[1:dense(0);2:residual(1,0);3:identity(1)]")
    assert isinstance(m, MicroArchitecture)
    assert m.nodes[1] == CellNode("residual", (0, 1))  # inputs in ascending order
    assert (m.n_cells, m.width, m.activation, m.dropout) == (2, 16, "silu", 0.1)
    assert m.loose_ends() == (2, 3)
    assert str(m) == "2 x cell(16,silu,0.1) [1: dense(0); 2: residual(0,1); 3: identity(1)]"


@pytest.mark.parametrize("text, position, expected", [
    ("dense(64,relu", 13, "expected ','"),
    ("dense(0,relu,0.1)", 6, "expected a width"),
    ("dense(-3,relu,0.1)", 6, "expected a width"),
    ("dense(6.5,relu,0.1)", 6, "expected a width"),
    ("dense(64,relu,0.1) residual(3,relu,0)", 19, "expected '>' or the end"),
    ("conv(3,relu,0)", 0, "expected a layer operation"),
    ("", 0, "expected a layer operation"),
    ("identity(3,relu,0)", 0, "expected a layer operation"),
    ("dense(64,swish,0.1)", 9, "expected an activation"),
    ("dense(64,relu,0.9)", 14, "expected a dropout rate in [0, 0.9)"),
    ("dense(64,relu,0.1) >", 20, "expected a layer operation"),
    ("dense(64,relu,0.1)]", 18, "expected '>'"),
    ("0 x cell(8,relu,0) [1: dense(0)]", 0, "expected a number of cells"),
    ("2 cell(8,relu,0) [1: dense(0)]", 2, "expected 'x'"),
    ("2 x cell(8,relu,0) [1: dense(1)]", 29, "expected an input of node 1"),
    ("2 x cell(8,relu,0) [1: dense(0); 3: dense(0)]", 33, "expected node number 2"),
    ("2 x cell(8,relu,0) [1: dense(0); 2: dense(1,1)]", 44, "other than 1"),
    ("2 x cell(8,relu,0) [1: dense(0)] extra", 33, "expected the end of the string"),
    ("2 x cell(8,relu,0) [1: dense(0)", 31, "expected ';' or ']'"),
    ("2 x cell(8,relu,0) [1: pool(0)]", 23, "expected a node operation"),
    ("2 x cell(8,relu,0) []", 20, "expected node number 1"),
])
def test_malformed_strings_name_position_token_and_expectation(text: str, position: int,
                                                               expected: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(text)
    msg = str(info.value)
    assert f"position {position}" in msg
    assert expected in msg
    assert repr(text) in msg


@pytest.mark.parametrize("make, match", [
    (lambda: Layer("dense", 0), "'width' of layer dense"),
    (lambda: Layer("dense", 4, "swish"), "'activation'"),
    (lambda: Layer("dense", 4, "relu", 0.9), r"'dropout'.*\[0, 0.9\)"),
    (lambda: Layer("conv", 4), "'op' of layer"),
    (lambda: MacroArchitecture(()), "at least one layer"),
    (lambda: CellNode("dense", (1, 1)), "distinct"),
    (lambda: MicroArchitecture((CellNode("dense", (1,)),), 1, 8), "earlier nodes"),
    (lambda: MicroArchitecture((CellNode("dense", (0,)),), 0, 8), "'n_cells'"),
    (lambda: parse(3), "string or an Architecture"),  # type: ignore[arg-type]
])
def test_invalid_values(make: object, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("text", MACRO + MICRO)
def test_build_network_forward_and_determinism(text: str) -> None:
    torch.manual_seed(0)
    net = build_network(text, n_inputs=5, n_outputs=3)
    torch.manual_seed(0)
    again = build_network(parse(text), 5, 3)
    x = torch.randn(7, 5)
    net.eval()
    again.eval()
    y = net(x)
    assert y.shape == (7, 3) and y.dtype == torch.float32
    assert torch.equal(y, again(x))
    assert list(net.state_dict()) == list(again.state_dict())


def test_parameter_names_and_projection() -> None:
    net = build_network("residual(8,relu,0.0) > residual(8,relu,0.0) > dense_bn(4,relu,0.0)",
                        n_inputs=5, n_outputs=2)
    names = set(net.state_dict())
    assert "layers.0.proj.weight" in names  # 5 -> 8 needs a projection
    assert not any(k.startswith("layers.1.proj") for k in names)  # 8 -> 8 does not
    assert {"layers.2.bn.running_mean", "layers.2.linear.weight", "head.weight"} <= names
    micro = build_network("2 x cell(6,relu,0.0) [1: dense_ln(0); 2: residual(0,1)]", 5, 2)
    names = set(micro.state_dict())
    assert {"proj.weight", "cells.1.nodes.0.norm.weight", "cells.1.nodes.1.linear2.bias",
            "head.bias"} <= names
    assert not any(".proj" in k for k in names)  # cell operations keep the width


def test_micro_cell_computes_mean_of_loose_ends() -> None:
    net = build_network("1 x cell(3,relu,0.0) [1: identity(0); 2: identity(0,1); "
                        "3: identity(1)]", n_inputs=3, n_outputs=3)
    assert isinstance(net, MicroNetwork)
    with torch.no_grad():
        for lin in (net.proj, net.head):
            lin.weight.copy_(torch.eye(3))
            lin.bias.zero_()
    x = torch.randn(4, 3)
    # node1 = x, node2 = (x + x) / 2, node3 = x; loose ends 2 and 3
    assert torch.allclose(net(x), x)


def test_build_network_rejects_bad_sizes() -> None:
    with pytest.raises(SpecError, match="n_inputs"):
        build_network("dense(4,relu,0.0)", n_inputs=0, n_outputs=1)
    with pytest.raises(SpecError, match="n_outputs"):
        build_network("dense(4,relu,0.0)", n_inputs=2, n_outputs=True)


def test_package_imports_without_torch() -> None:
    code = ("import sys; import automl_bridge.models.nas as nas; "
            "nas.parse('dense(4,relu,0.0)'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
