"""Architecture search spaces: drawing with RandomTrial, Optuna and the RL controller."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
import torch

from automl_bridge.exceptions import SpecError
from automl_bridge.models.nas import (
    MacroArchitecture,
    MicroArchitecture,
    arch_from_params,
    build_network,
    macro_space,
    micro_space,
    parse,
)
from automl_bridge.search.rl_controller import TOKENS_ATTR, RLControllerSampler
from automl_bridge.search.space import (
    Choice,
    Conditional,
    Float,
    Int,
    RandomTrial,
    parameters,
    sample,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)



def check_runs(arch: Any, n_inputs: int = 6, n_outputs: int = 2) -> None:
    assert parse(str(arch)) == arch
    net = build_network(str(arch), n_inputs, n_outputs)
    net.eval()
    with torch.no_grad():
        y = net(torch.randn(3, n_inputs))
    assert y.shape == (3, n_outputs) and bool(torch.isfinite(y).all())


def test_macro_space_structure() -> None:
    space = macro_space(max_layers=3, min_width=8, max_width=64, ops=("dense", "residual"),
                        activations=("relu",), max_dropout=0.2)
    assert len(space) == 1 and isinstance(space[0], Conditional)
    cond = space[0]
    assert cond.param == Int("n_layers", 1, 3)
    assert sorted(cond.branches) == [1, 2, 3]
    assert [n.name for n in cond.branches[2]] == [
        "layer0.op", "layer0.width", "layer0.activation", "layer0.dropout",
        "layer1.op", "layer1.width", "layer1.activation", "layer1.dropout"]
    params = parameters(space)  # raises when a name means two distributions
    assert params["layer2.width"] == Int("layer2.width", 8, 64, log=True)
    assert params["layer0.op"] == Choice("layer0.op", ("dense", "residual"))
    assert params["layer1.dropout"] == Float("layer1.dropout", 0.0, 0.2, step=0.05)
    assert len(params) == 1 + 3 * 4


def test_micro_space_structure() -> None:
    space = micro_space(n_nodes=3, two_inputs=True)
    names = [n.name for n in space]
    assert names[:4] == ["n_cells", "width", "activation", "dropout"]
    assert names[4:7] == ["node1.input", "node1.input2", "node1.op"]
    by_name = {n.name: n for n in space}
    assert by_name["node3.input"] == Choice("node3.input", [0, 1, 2])
    assert by_name["node3.input2"] == Choice("node3.input2", [None, 0, 1, 2])
    assert by_name["width"] == Int("width", 16, 512, log=True)
    assert "node1.input2" not in {n.name for n in micro_space()}


@pytest.mark.parametrize("make", [macro_space, micro_space,
                                  lambda: micro_space(two_inputs=True, n_nodes=4)])
def test_random_trial_draws_valid_architectures(make: Any) -> None:
    rng = np.random.default_rng(0)
    space = make()
    seen = set()
    for _ in range(25):
        params = sample(RandomTrial(rng), space)
        arch = arch_from_params({**params, "optimizer": "adamw", "learning_rate": 1e-3})
        check_runs(arch)
        seen.add(type(arch))
        if isinstance(arch, MacroArchitecture):
            assert len(arch.layers) == params["n_layers"]
            assert all(16 <= layer.width <= 512 for layer in arch.layers)
            assert all(layer.dropout in {round(0.05 * k, 6) for k in range(11)}
                       for layer in arch.layers)
        else:
            assert isinstance(arch, MicroArchitecture)
            assert arch.n_cells == params["n_cells"] and len(arch.nodes) in (3, 4)
    assert len(seen) == 1


@pytest.mark.parametrize("make", [macro_space, lambda: micro_space(two_inputs=True)])
def test_optuna_study_draws_valid_architectures(make: Any) -> None:
    space = make()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))

    def objective(trial: optuna.Trial) -> float:
        arch = arch_from_params(sample(trial, space, prefix="mlp."))  # prefixed in the trial
        check_runs(arch)
        return float(len(str(arch)))

    study.optimize(objective, n_trials=12)
    assert len(study.trials) == 12
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_rl_controller_drives_the_macro_space() -> None:
    """The controller emits the architecture token by token and learns a preferred depth/op."""
    space = macro_space(max_layers=3, min_width=8, max_width=64, max_dropout=0.2)
    sampler = RLControllerSampler(seed=0, n_startup_trials=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    strings: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        arch = arch_from_params(sample(trial, space))
        check_runs(arch)
        strings.append(str(arch))
        assert isinstance(arch, MacroArchitecture)
        # reward: two residual layers are best
        return float(len(arch.layers) == 2) + sum(layer.op == "residual"
                                                    for layer in arch.layers) / 3

    study.optimize(objective, n_trials=30)
    assert len(strings) == 30 and len(set(strings)) > 10
    for trial, text in zip(study.trials, strings, strict=True):
        tokens = trial.system_attrs[TOKENS_ATTR]
        n = trial.params["n_layers"]
        assert tokens.startswith(f"n_layers={n}|layer0.op=")
        assert tokens.count("|") == 4 * n  # op, width, activation, dropout per layer
        assert text.count(">") == n - 1
    policy = sampler.policy(study)
    assert policy.probabilities("n_layers")["2"] > 1 / 3


def test_arch_from_params_errors_and_unrelated_keys() -> None:
    with pytest.raises(SpecError, match=r"'n_layers'.*'n_cells'"):
        arch_from_params({"learning_rate": 0.1})
    with pytest.raises(SpecError, match=r"lack 'layer1\.op'"):
        arch_from_params({"n_layers": 2, "layer0.op": "dense", "layer0.width": 4,
                          "layer0.activation": "relu", "layer0.dropout": 0.0})
    with pytest.raises(SpecError, match="'width' of layer dense"):
        arch_from_params({"n_layers": 1, "layer0.op": "dense", "layer0.width": 0,
                          "layer0.activation": "relu", "layer0.dropout": 0.0})
    arch = arch_from_params({"n_layers": 1, "layer0.op": "dense", "layer0.width": 4,
                             "layer0.activation": "relu", "layer0.dropout": 0.15000000000000002,
                             "layer1.op": "residual", "epochs": 3})
    assert str(arch) == "dense(4,relu,0.15)"
    micro = arch_from_params({"n_cells": 1, "width": 4, "activation": "tanh", "dropout": 0,
                              "node1.input": 0, "node1.input2": None, "node1.op": "dense",
                              "node2.input": 1, "node2.input2": 0, "node2.op": "residual",
                              "node3.input": 2, "node3.input2": 2, "node3.op": "identity"})
    assert str(micro) == "1 x cell(4,tanh,0.0) [1: dense(0); 2: residual(0,1); 3: identity(2)]"


@pytest.mark.parametrize("kwargs, match", [
    ({"max_layers": 0}, "'max_layers'.*>= 1"),
    ({"min_layers": 3, "max_layers": 2}, "'max_layers'.*>= 3"),
    ({"min_width": 0}, "'min_width'"),
    ({"min_width": 64, "max_width": 32}, "'max_width'.*>= min_width=64"),
    ({"ops": ("dense", "conv")}, "'ops'"),
    ({"ops": ()}, "'ops'"),
    ({"ops": ("identity",)}, "'ops'"),  # identity is a cell operation only
    ({"activations": ("relu", "relu")}, "'activations'"),
    ({"max_dropout": 0.9}, "'max_dropout'"),
    ({"max_dropout": 0.3, "dropout_step": 0.2}, "'dropout_step'"),
])
def test_macro_space_option_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        macro_space(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_nodes": 0}, "'n_nodes'"),
    ({"max_cells": 0}, "'max_cells'"),
    ({"ops": ("pool",)}, "'ops'"),
    ({"max_dropout": -0.1}, "'max_dropout'"),
])
def test_micro_space_option_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        micro_space(**kwargs)


def test_continuous_dropout_and_no_dropout() -> None:
    params = parameters(macro_space(max_layers=1, dropout_step=None, max_dropout=0.3))
    assert params["layer0.dropout"] == Float("layer0.dropout", 0.0, 0.3)
    params = parameters(micro_space(max_dropout=0.0))
    assert params["dropout"] == Float("dropout", 0.0, 0.0)
    cfg = sample(RandomTrial(np.random.default_rng(1)), micro_space(max_dropout=0.0))
    arch = arch_from_params(cfg)
    assert isinstance(arch, MicroArchitecture) and arch.dropout == 0.0
