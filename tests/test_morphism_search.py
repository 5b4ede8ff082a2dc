"""The ``morphism`` strategy: its sampler, weight inheritance between trials, and a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from automl_bridge import AutoMLJob  # noqa: E402
from automl_bridge.engine.runner import engine_space  # noqa: E402
from automl_bridge.engine.weights import (  # noqa: E402
    WEIGHTS_ATTR,
    inherited_weights,
    save_fold_weights,
    weights_file,
)
from automl_bridge.exceptions import AutoMLBridgeError, SpecError  # noqa: E402
from automl_bridge.models.families import DataContext  # noqa: E402
from automl_bridge.models.nas import build_network, parse  # noqa: E402
from automl_bridge.models.nas.rules import apply_architecture  # noqa: E402
from automl_bridge.models.nas.spaces import arch_from_params, params_from_arch  # noqa: E402
from automl_bridge.models.nn.estimator import NeuralClassifier  # noqa: E402
from automl_bridge.models.nn.family import MLP, MLP_CELLS  # noqa: E402
from automl_bridge.registry import registry_for  # noqa: E402
from automl_bridge.search.morphism import MORPHISM_ATTR, morphism_strategy  # noqa: E402
from automl_bridge.search.space import sample  # noqa: E402
from automl_bridge.search.strategies import StrategyContext  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
CTX = DataContext(task="classification", n_rows=600, n_features=10, n_classes=3)



# --- weight inheritance -----------------------------------------------------------------------


@pytest.mark.parametrize("arch, morphism", [
    ("dense(16,relu,0.1) > dense_bn(12,relu,0.0)", "widen(0,24)"),
    ("dense(16,relu,0.1) > dense_ln(12,gelu,0.0)", "deepen(2,residual)"),
    ("2 x cell(16,gelu,0.0) [1: residual(0); 2: residual(0,1)]", "deepen_cell(1)"),
    ("2 x cell(16,relu,0.0) [1: dense(0); 2: residual(0,1)]", "deepen_node(2,residual)"),
    ("2 x cell(16,relu,0.0) [1: dense(0); 2: residual(0,1)]", "widen(20)"),
])
def test_inherited_weights_compute_the_parents_function(tmp_path, arch, morphism) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=120)
    parent = NeuralClassifier(architecture=arch, epochs=3, early_stopping=False, seed=0).fit(X, y)
    prefix = str(tmp_path / "t7")
    save_fold_weights(prefix, {0: parent})
    child_arch = apply_architecture(parse(arch), morphism)
    child_params = params_from_arch(child_arch)
    weights = inherited_weights({"path": prefix, "morphism": morphism, "seed": 0, "trial": 9},
                                0, child_params)
    net = build_network(child_arch, 6, 3).eval()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    with torch.no_grad():
        logits = net(torch.from_numpy(X)).softmax(dim=1).numpy()
    assert np.abs(logits - parent.predict_proba(X)).max() < 1e-5


def test_inheritance_refuses_a_mismatched_child_and_missing_weights(tmp_path) -> None:
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    y = np.arange(60) % 2
    parent = NeuralClassifier(architecture="dense(8,relu,0.0)", epochs=1,
                              early_stopping=False).fit(X, y)
    save_fold_weights(str(tmp_path / "t0"), {0: parent})
    wrong = params_from_arch(parse("dense(9,relu,0.0)"))
    with pytest.raises(AutoMLBridgeError, match=r"gives 'dense\(12,relu,0\.0\)'"):
        inherited_weights({"path": str(tmp_path / "t0"), "morphism": "widen(0,12)"}, 0, wrong)
    with pytest.raises(AutoMLBridgeError, match="weights of the parent trial are missing"):
        inherited_weights({"path": str(tmp_path / "t5"), "morphism": "widen(0,12)"}, 0, wrong)
    with np.load(weights_file(str(tmp_path / "t0"), 0), allow_pickle=False) as data:
        assert "__architecture__" in data.files  # plain arrays: no pickle is ever read


# --- the sampler --------------------------------------------------------------------------------


def _space(*families):
    return engine_space({f.name: f for f in families}, CTX)


def _fake_study(space, n_done: int, seed: int = 0) -> optuna.Study:
    """A study with ``n_done`` complete network trials (random configurations, weights saved)."""
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    for i in range(n_done):
        trial = study.ask()
        sample(trial, space)
        trial.set_user_attr(WEIGHTS_ATTR, True)
        study.tell(trial, 0.5 + 0.01 * i)
    return study


def _propose(study: optuna.Study, space, **options):
    strategy = morphism_strategy(StrategyContext(space=space, options=options, seed=3))
    study.sampler = strategy.sampler
    trial = study.ask()
    params = sample(trial, space)
    decision = study._storage.get_trial_system_attrs(trial._trial_id)[MORPHISM_ATTR]
    return trial, params, decision


@pytest.mark.parametrize("families", [(MLP,), (MLP_CELLS,), (MLP, MLP_CELLS)],
                         ids=["macro", "micro", "both"])
def test_children_are_morphs_of_the_best_inside_the_space(families) -> None:
    space = _space(*families)
    study = _fake_study(space, n_done=8)
    values = {t.number: t.value for t in study.trials}
    for _ in range(12):
        trial, params, decision = _propose(study, space, n_initial=4, population=3)
        parent = study.trials[decision["parent"]]
        assert values[parent.number] >= sorted(values.values())[-3]  # among the 3 best
        family = params.get("model", families[0].name)
        prefix = f"{family}."
        own = {k[len(prefix):]: v for k, v in parent.params.items() if k.startswith(prefix)}
        if "n_cells" in own:
            own["node1.input"] = 0  # a one-valued choice: never in a trial's params
        child = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        assert arch_from_params(child) == apply_architecture(arch_from_params(own),
                                                             decision["morphism"])
        assert child["epochs"] == own["epochs"] and child["learning_rate"] == own["learning_rate"]
        assert decision["epochs"] == max(1, round(0.34 * own["epochs"]))
        study.tell(trial, 0.0)  # a poor child: the parents stay the best


def test_random_until_n_initial_and_the_same_decision_after_a_restart() -> None:
    space = _space(MLP)
    study = _fake_study(space, n_done=3)
    _, _, decision = _propose(study, space, n_initial=4)
    assert decision["parent"] is None
    study = _fake_study(space, n_done=5)
    trial, params, decision = _propose(study, space, n_initial=4)
    # a new sampler object (a resumed run) reads the recorded decision back
    again = morphism_strategy(StrategyContext(space=space, options={"n_initial": 4}, seed=3))
    frozen = study._storage.get_trial(trial._trial_id)
    assert again.sampler._decision(study, frozen) == decision
    # and the same history with the same seed gives the same child
    other = _fake_study(space, n_done=5)
    _, params2, decision2 = _propose(other, space, n_initial=4)
    assert (params2, decision2) == (params, decision)


def test_strategy_options_and_refusals() -> None:
    space = _space(MLP)
    assert registry_for("strategies").entry("morphism").extra == "torch"
    with pytest.raises(SpecError, match="add 'mlp' or 'mlp_cells'"):
        morphism_strategy(StrategyContext(space=[], options={}))
    with pytest.raises(SpecError, match="child_epochs"):
        morphism_strategy(StrategyContext(space=space, options={"child_epochs": 1.5}))
    with pytest.raises(SpecError, match="n_initial"):
        morphism_strategy(StrategyContext(space=space, options={"n_initial": 0}))
    with pytest.raises(SpecError, match="one objective"):
        morphism_strategy(StrategyContext(space=space, directions=("maximize", "minimize")))


# --- a run --------------------------------------------------------------------------------------


def test_a_morphism_run_trains_children_from_inherited_weights(tmp_path) -> None:
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.rename(columns={"target": "digit"}).iloc[:600]
    frame = frame.drop(columns=[c for c in frame.columns if frame[c].nunique() == 1])
    job = AutoMLJob(task="classification", target="digit", metric="accuracy", models=["mlp"],
                    search={"strategy": "morphism", "n_initial": 2}, max_trials=4,
                    time_budget_s=None, validation="holdout", ensemble=False, seed=0,
                    ).with_backend("local", run_dir=str(tmp_path / "runs"))
    result = job.fit(frame)
    by_id = {c.candidate_id: c for c in result.candidates}
    children = [c for c in result.candidates if c.extra.get("inherited")]
    assert [c.candidate_id for c in children] == ["2", "3"]
    for child in children:
        inherited = child.extra["inherited"]
        parent = by_id[str(inherited["parent"])]
        assert int(parent.candidate_id) < int(child.candidate_id)
        assert child.extra["architecture"] == str(
            apply_architecture(parse(parent.extra["architecture"]), inherited["morphism"]))
        assert inherited["epochs"] < child.params["epochs"] == parent.params["epochs"]
        assert child.state.value == "complete" and child.score > 0.5
    weights = Path(result.extra["storage"].removeprefix("sqlite:///")).parent / "weights"
    assert sorted(p.name for p in weights.glob("*.npz")) == [f"t{i}_f0.npz" for i in range(4)]
    assert (job.predict(frame.iloc[:50]) == frame["digit"].iloc[:50].to_numpy()).mean() > 0.8
    assert isinstance(result.leaderboard(), pd.DataFrame)
