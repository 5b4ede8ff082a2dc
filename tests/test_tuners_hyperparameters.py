"""HyperParameters (Keras Tuner semantics), Objective and the space mapping of the tuners."""

from __future__ import annotations

import optuna
import pytest

from automl_bridge.exceptions import SpecError
from automl_bridge.search.grid import grid_points, grid_size
from automl_bridge.search.space import Choice, Conditional, Float, Int, parameters
from automl_bridge.tuners import HyperModel, HyperParameters, Objective
from automl_bridge.tuners.hyperparameters import discover_space
from automl_bridge.tuners.project import space_diff


def _study(seed: int = 0) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def test_defaults_outside_a_trial() -> None:
    hp = HyperParameters()
    assert hp.Int("units", 16, 512, step=16) == 16
    assert hp.Int("layers", 1, 4, default=3) == 3
    assert hp.Float("lr", 1e-4, 1e-1, sampling="log") == pytest.approx(1e-4)
    assert hp.Choice("act", ["relu", "tanh"]) == "relu"
    assert hp.Choice("act2", ["relu", "tanh"], default="tanh") == "tanh"
    assert hp.Boolean("bn") is False
    assert hp.Fixed("opt", "adamw") == "adamw"
    assert hp.values == {"units": 16, "layers": 3, "lr": pytest.approx(1e-4), "act": "relu",
                         "act2": "tanh", "bn": False, "opt": "adamw"}
    assert hp.get("units") == 16 and hp["layers"] == 3
    assert [p.kind for p in hp.space] == ["Int", "Int", "Float", "Choice", "Choice", "Boolean",
                                          "Fixed"]


def test_same_declaration_twice_returns_the_same_value() -> None:
    study = _study()
    trial = study.ask()
    hp = HyperParameters.from_trial(trial)
    a = hp.Int("units", 1, 100)
    assert hp.Int("units", 1, 100) == a
    assert len(hp.space) == 1


def test_redeclaration_with_another_range_is_an_error() -> None:
    hp = HyperParameters()
    hp.Int("units", 16, 512, step=16)
    with pytest.raises(SpecError, match=r"'units' is declared twice, differently.*step=32"):
        hp.Int("units", 16, 512, step=32)
    with pytest.raises(SpecError, match="declared twice"):
        hp.Float("units", 16, 512)


def test_steps_and_log_sampling_through_a_trial() -> None:
    study = _study(seed=1)
    seen: dict[str, set] = {"i": set(), "g": set(), "f": set(), "l": set()}
    for _ in range(60):
        hp = HyperParameters.from_trial(study.ask())
        seen["i"].add(hp.Int("i", 6, 13, step=3))
        seen["g"].add(hp.Int("g", 2, 32, step=2, sampling="log"))
        seen["f"].add(round(hp.Float("f", 0.0, 1.0, step=0.25), 9))
        v = hp.Float("l", 1e-4, 1e-1, sampling="log")
        assert 1e-4 <= v <= 1e-1
        seen["l"].add(v)
    assert seen["i"] == {6, 9, 12}                  # Keras: max_value 13 is not on the grid
    assert seen["g"] == {2, 4, 8, 16, 32}           # log + step: step is a factor
    assert seen["f"] == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert min(seen["l"]) < 1e-3                    # log-uniform reaches the low decades


def test_space_nodes_map_to_search_space() -> None:
    hp = HyperParameters()
    hp.Int("units", 16, 512, step=16)
    hp.Int("batch", 2, 32, step=2, sampling="log")
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Boolean("bn")
    nodes = hp.nodes()
    assert nodes[0] == Int("units", 16, 512, step=16)
    assert nodes[1] == Choice("batch", [2, 4, 8, 16, 32])
    assert nodes[2] == Float("lr", 1e-4, 1e-1, log=True)
    assert nodes[3] == Choice("bn", [False, True])


def test_conditional_scope_inactive_parameters_are_not_sampled() -> None:
    def build(hp: HyperParameters) -> None:
        kind = hp.Choice("kind", ["linear", "mlp"])
        with hp.conditional_scope("kind", "mlp"):
            units = hp.Int("units", 8, 64)
            if kind == "mlp":
                assert units is not None
            else:
                assert units is None          # Keras: inactive parameters are None

    study = _study(seed=3)
    kinds = set()
    for _ in range(12):
        trial = study.ask()
        hp = HyperParameters.from_trial(trial)
        build(hp)
        kinds.add(hp.values["kind"])
        assert ("units" in trial.params) == (hp.values["kind"] == "mlp")
        assert ("units" in hp.values) == (hp.values["kind"] == "mlp")
        study.tell(trial, 0.0)
    assert kinds == {"linear", "mlp"}
    hp = HyperParameters()
    build(hp)
    with pytest.raises(SpecError, match="'units' is inactive"):
        hp.get("units")
    with pytest.raises(KeyError, match="No hyperparameter 'nope'"):
        hp.get("nope")


def test_conditional_scope_becomes_a_conditional_node_usable_by_the_grid() -> None:
    hp = HyperParameters()
    hp.Choice("kind", ["linear", "mlp"])
    with hp.conditional_scope("kind", ["mlp"]):
        hp.Int("layers", 1, 2)
        with hp.conditional_scope("layers", 2):
            hp.Boolean("skip")
    nodes = hp.nodes()
    assert len(nodes) == 1 and isinstance(nodes[0], Conditional)
    assert set(parameters(nodes)) == {"kind", "layers", "skip"}
    # linear | mlp with 1 layer | mlp with 2 layers x skip in {False, True}
    assert grid_size(nodes, levels=5) == 4
    assert {"kind": "mlp", "layers": 2, "skip": True} in grid_points(nodes, levels=5)


def test_conditional_scope_errors() -> None:
    hp = HyperParameters()
    with pytest.raises(SpecError, match="parent 'kind' is not declared"), \
            hp.conditional_scope("kind", "a"):
        pass
    hp.Float("lr", 0.1, 1.0)
    with pytest.raises(SpecError, match="is a Float"), hp.conditional_scope("lr", 0.5):
        pass


@pytest.mark.parametrize("call, message", [
    (lambda hp: hp.Int("a", 5, 1), "min_value <= max_value"),
    (lambda hp: hp.Int("a", 1, 5, step=0), "'step'"),
    (lambda hp: hp.Int("a", 1.5, 5), "must be an integer"),
    (lambda hp: hp.Int("a", 1, 5, default=9), "'default'"),
    (lambda hp: hp.Float("a", 0.0, 1.0, sampling="log"), "> 0 with sampling='log'"),
    (lambda hp: hp.Float("a", 0.1, 1.0, sampling="reverse_log"), "'reverse_log' is not"),
    (lambda hp: hp.Choice("a", []), "must not be empty"),
    (lambda hp: hp.Choice("a", [1, "x"]), "one type"),
    (lambda hp: hp.Choice("a", ["x", "x"]), "unique"),
    (lambda hp: hp.Choice("a", ["x", "y"], ordered=True), "'ordered'"),
    (lambda hp: hp.Choice("a", ["x"], default="z"), "'default'"),
    (lambda hp: hp.Boolean("a", default=1), "True or False"),
])
def test_invalid_declarations(call, message) -> None:
    with pytest.raises(SpecError, match=message):
        call(HyperParameters())


def test_stored_values_and_parent_kwargs() -> None:
    space = HyperParameters()
    space.Choice("kind", ["a", "b"])
    hp = HyperParameters.from_values({"kind": "b", "depth": 3}, space)
    assert hp.Choice("kind", ["a", "b"]) == "b"
    assert hp.Int("depth", 1, 5, parent_name="kind", parent_values=["b"]) == 3
    assert hp.Int("width", 1, 5, parent_name="kind", parent_values=["a"]) is None
    assert hp.copy().values == hp.values


def test_discover_space_finds_parameters_behind_an_if() -> None:
    def build(hp: HyperParameters) -> None:
        if hp.Choice("model", ["linear", "tree"]) == "tree":
            with hp.conditional_scope("model", "tree"):
                hp.Int("depth", 1, 8)
                if hp.Boolean("prune"):
                    with hp.conditional_scope("prune", True):
                        hp.Float("alpha", 0.0, 1.0)

    space = discover_space(build)
    assert [p.name for p in space.space] == ["model", "depth", "prune", "alpha"]
    assert space.space[3].conditions[0][-1].parent == "prune"


def test_hypermodel_class_and_space_diff() -> None:
    class Model(HyperModel):
        def build(self, hp: HyperParameters) -> int:
            return hp.Int("k", 1, 3)

    assert Model().build(HyperParameters()) == 1
    a, b = HyperParameters(), HyperParameters()
    a.Int("k", 1, 3)
    a.Boolean("x")
    b.Int("k", 1, 4)
    b.Choice("y", [1, 2])
    assert space_diff(a.to_dicts(), b.to_dicts()) == [
        "'x': removed (was Boolean)", "'y': added (Choice)", "'k': max_value 3 -> 4"]


def test_objective_direction_inference() -> None:
    assert Objective.of("val_accuracy").direction == "max"
    assert Objective.of("auc").direction == "max"
    assert Objective.of("val_loss").direction == "min"
    assert Objective.of("val_mae").direction == "min"
    assert Objective.of("neg_mean_squared_error").direction == "max"
    assert Objective.of(Objective("custom", "maximize")).direction == "max"
    assert repr(Objective.of("val_accuracy")) == 'Objective(name="val_accuracy", direction="max")'
    with pytest.raises(SpecError, match=r"cannot be inferred.*Objective\('val_custom'"):
        Objective.of("val_custom")
    with pytest.raises(SpecError, match="'min' or 'max'"):
        Objective("x", "up")
    with pytest.raises(SpecError, match="several objectives"):
        Objective.of(["val_loss", "val_accuracy"])  # type: ignore[arg-type]
