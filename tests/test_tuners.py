"""PyTorch tuners: each finds the better setting, Hyperband prunes, storage and resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from automl_bridge.exceptions import (  # noqa: E402
    AllTrialsFailedError,
    ResumeMismatchError,
    RunExistsError,
    SpecError,
)
from automl_bridge.tuners import (  # noqa: E402
    BayesianOptimization,
    EarlyStopping,
    GridSearch,
    Hyperband,
    HyperModel,
    HyperParameters,
    Objective,
    RandomSearch,
    Tuner,
)

ROOT = Path(__file__).resolve().parents[1]



def _data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    return x, y


X, Y = _data()


def build_lr(hp: HyperParameters) -> dict:
    """A tiny classifier whose learning rate decides everything: 1e-5 learns nothing."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    return {"model": model, "learning_rate": hp.Choice("learning_rate", [1e-5, 3e-2])}


def _check_finds_good_lr(tuner) -> None:
    tried = {t.params.get("learning_rate") for t in tuner.study.trials}
    assert tried == {1e-5, 3e-2}
    best = tuner.get_best_hyperparameters()[0]
    assert best.values == {"learning_rate": 3e-2}
    scores = {t.params["learning_rate"]: t.user_attrs["automl_bridge:score"]
              for t in tuner.get_best_trials(20)}
    if tuner.objective.name == "val_accuracy":
        assert scores[3e-2] > 0.85 > scores[1e-5] + 0.15
    else:                                           # val_loss: ln(2) = 0.69 is chance
        assert scores[3e-2] < 0.45 < scores[1e-5] - 0.2


@pytest.mark.parametrize("make", [
    lambda: RandomSearch(build_lr, objective="val_accuracy", max_trials=4, seed=0,
                         device="cpu"),
    lambda: GridSearch(build_lr, objective="val_accuracy", seed=0, device="cpu"),
    lambda: BayesianOptimization(build_lr, objective="val_accuracy", max_trials=4, seed=0,
                                 num_initial_points=2, device="cpu"),
    lambda: Tuner(build_lr, strategy="evolution", objective="val_accuracy", max_trials=4,
                  seed=0, device="cpu"),
    lambda: Tuner(build_lr, strategy="tpe", objective=Objective("val_loss", "min"),
                  max_trials=4, seed=0, device="cpu"),
], ids=["random", "grid", "bayesian", "evolution", "tpe"])
def test_each_tuner_finds_the_better_learning_rate(make) -> None:
    tuner = make()
    tuner.search(X, Y, epochs=4, validation_split=0.2, verbose=0)
    _check_finds_good_lr(tuner)
    if isinstance(tuner, GridSearch):
        assert len(tuner.study.trials) == 2        # the grid is exhausted after 2 points


@pytest.mark.parametrize("strategy", [
    "auto", "random", "tpe", "gp", "cmaes", "nsga2", "evolution", "rl", "surrogate",
    "successive_halving", "hyperband", "bohb"])
def test_every_registered_strategy_drives_the_tuner(strategy) -> None:
    def build(hp: HyperParameters) -> dict:
        width = hp.Int("w", 2, 16, step=2)
        return {"model": nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2)),
                "learning_rate": hp.Float("lr", 1e-4, 1e-1, sampling="log")}

    tuner = Tuner(build, strategy=strategy, objective="val_accuracy", max_trials=5, seed=0,
                  device="cpu")
    tuner.search(X[:120], Y[:120], epochs=4, validation_split=0.25, verbose=0)
    assert len(tuner.study.trials) == 5
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in tuner.study.trials)
    plan = tuner._strategy.plan
    assert plan is None or plan.max_step == 4       # multi-fidelity rungs are epochs


def test_hyperband_prunes_and_keeps_the_best(capsys) -> None:
    def build(hp: HyperParameters) -> dict:
        width = hp.Int("units", 2, 32, step=2)
        model = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))
        return {"model": model, "learning_rate": hp.Choice("learning_rate", [1e-5, 3e-2])}

    tuner = Hyperband(build, objective="val_accuracy", max_epochs=9, factor=3, seed=0,
                      device="cpu")
    assert tuner.max_trials == 17                  # 9 + 5 + 3 configurations
    tuner.search(X, Y, validation_split=0.2, verbose=0)
    trials = tuner.study.trials
    states = [t.state.name for t in trials]
    epochs = sum(len(t.intermediate_values) for t in trials)
    assert len(trials) == 17 and states.count("PRUNED") >= 5
    assert epochs < 0.7 * 17 * 9                    # pruning saves over 30% of the epochs
    assert tuner.get_best_hyperparameters()[0].values["learning_rate"] == 3e-2
    tuner.results_summary(2)
    out = capsys.readouterr().out
    assert out.startswith("Results summary\nResults in memory")
    assert 'Objective(name="val_accuracy", direction="max")' in out
    assert "learning_rate: 0.03" in out and "Score: " in out


def test_best_model_reproduces_the_recorded_score_and_search_space_summary(capsys) -> None:
    tuner = RandomSearch(build_lr, objective="val_accuracy", max_trials=2, seed=1,
                         device="cpu")
    tuner.search(X, Y, epochs=5, validation_split=0.2, verbose=0,
                 callbacks=[EarlyStopping(monitor="val_loss", patience=2)])
    model = tuner.get_best_models(1)[0]
    assert not model.training
    with torch.no_grad():
        pred = model(torch.from_numpy(X[160:])).argmax(1).numpy()
    recorded = tuner.get_best_trials(1)[0].user_attrs["automl_bridge:score"]
    assert float((pred == Y[160:]).mean()) == pytest.approx(recorded, abs=1e-12)
    tuner.search_space_summary()
    out = capsys.readouterr().out
    assert "Default search space size: 1\nlearning_rate (Choice)\n" in out
    assert "'values': [1e-05, 0.03]" in out


def test_storage_resume_overwrite_and_changed_space(tmp_path) -> None:
    kwargs = dict(objective="val_accuracy", seed=0, device="cpu", directory=tmp_path,
                  project_name="proj")
    tuner = RandomSearch(build_lr, max_trials=2, **kwargs)
    tuner.search(X, Y, epochs=3, validation_split=0.2, verbose=0)
    assert (tmp_path / "proj" / "tuner.db").exists()
    assert len(list((tmp_path / "proj" / "weights").glob("trial_*.pt"))) == 2
    best_before = tuner.get_best_trials(1)[0].number

    with pytest.raises(RunExistsError, match=r"overwrite=True.*resume=True"):
        RandomSearch(build_lr, max_trials=2, **kwargs)

    resumed = RandomSearch(build_lr, max_trials=3, resume=True, **kwargs)
    assert len(resumed.study.trials) == 2 and resumed.remaining_trials == 1
    model = resumed.get_best_models(1)[0]          # loaded from disk, no search needed
    assert isinstance(model, nn.Module)
    resumed.search(X, Y, epochs=3, validation_split=0.2, verbose=0)
    assert len(resumed.study.trials) == 3
    assert resumed.get_best_trials(3)[0].number in (best_before, 2)

    def build_changed(hp: HyperParameters) -> dict:
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        return {"model": model, "learning_rate": hp.Choice("learning_rate", [1e-4, 3e-2])}

    with pytest.raises(ResumeMismatchError,
                       match=r"(?s)has changed.*'learning_rate': default 1e-05 -> 0.0001, values"):
        RandomSearch(build_changed, max_trials=3, resume=True, **kwargs)
    with pytest.raises(ResumeMismatchError, match="same objective"):
        RandomSearch(build_lr, max_trials=3, resume=True,
                     **{**kwargs, "objective": "val_loss"})

    fresh = RandomSearch(build_changed, max_trials=1, overwrite=True, **kwargs)
    assert len(fresh.study.trials) == 0
    assert not list((tmp_path / "proj" / "weights").glob("*.pt"))


def test_max_model_size_skips_large_models_and_all_failing_raises() -> None:
    def build(hp: HyperParameters) -> nn.Module:
        width = hp.Choice("units", [2, 256])
        return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))

    tuner = GridSearch(build, objective="val_accuracy", max_model_size=100, seed=0,
                       device="cpu")
    tuner.search(X, Y, epochs=2, validation_split=0.2, verbose=0)
    failed = [t for t in tuner.study.trials if t.state.name == "FAIL"]
    assert [t.params["units"] for t in failed] == [256]
    assert "more than max_model_size=100; skipped" in failed[0].user_attrs[
        "automl_bridge:fail_reason"]
    assert "intermediate" not in str(failed[0].intermediate_values) and \
        not failed[0].intermediate_values          # never trained
    assert tuner.get_best_hyperparameters()[0].values == {"units": 2}

    tiny = GridSearch(build, objective="val_accuracy", max_model_size=10, seed=0,
                      device="cpu")
    with pytest.raises(AllTrialsFailedError, match="max_model_size=10"):
        tiny.search(X, Y, epochs=2, validation_split=0.2, verbose=0)


def test_failing_trials_are_recorded_with_their_message() -> None:
    def build(hp: HyperParameters) -> nn.Module:
        if hp.Boolean("broken"):
            raise RuntimeError("this configuration cannot be built")
        return nn.Sequential(nn.Linear(4, 2))

    tuner = GridSearch(build, objective="val_loss", seed=0, device="cpu")
    tuner.search(X, Y, epochs=1, validation_split=0.2, verbose=0)
    reasons = {t.params["broken"]: t.user_attrs.get("automl_bridge:fail_reason")
               for t in tuner.study.trials}
    assert reasons == {False: None, True: "RuntimeError: this configuration cannot be built"}

    def one_output(hp: HyperParameters) -> nn.Module:
        return nn.Linear(4, hp.Int("k", 1, 1))      # one logit for two classes

    tuner = RandomSearch(one_output, max_trials=5, seed=0, device="cpu")
    with pytest.raises(AllTrialsFailedError, match=r"All 3 trials.*first failure: SpecError: "
                       r"The training class codes must lie in 0\.\.0"):
        tuner.search(X, Y, epochs=1, validation_split=0.2, verbose=0)
    assert len(tuner.study.trials) == 3           # max_consecutive_failed_trials=3


def test_configuration_errors_stop_the_search() -> None:
    tuner = RandomSearch(build_lr, objective="val_accuracy", max_trials=2, seed=0,
                         device="cpu")
    with pytest.raises(SpecError, match="needs validation data"):
        tuner.search(X, Y, epochs=1)
    auc = RandomSearch(build_lr, objective="val_auc", max_trials=2, seed=0, device="cpu")
    with pytest.raises(SpecError, match=r"'val_auc' is not in the epoch logs"):
        auc.search(X, Y, epochs=1, validation_split=0.2, verbose=0)
    assert len(auc.study.trials) == 1


def test_custom_fit_conditional_scope_and_regression() -> None:
    class Model(HyperModel):
        def build(self, hp: HyperParameters) -> dict:
            layers = [nn.Linear(4, 8), nn.ReLU()]
            if hp.Boolean("deep"):
                with hp.conditional_scope("deep", True):
                    width = hp.Int("width", 4, 8, step=4)
                    layers += [nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 8)]
            return {"model": nn.Sequential(*layers, nn.Linear(8, 1), nn.Flatten(0)),
                    "optimizer": "adam", "learning_rate": 1e-2, "loss": "mae"}

        def fit(self, hp, model, x, y, **kwargs):
            return super().fit(hp, model, x, y, **{**kwargs,
                                                   "batch_size": hp.Choice("batch", [16, 64])})

    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0])).astype("float32")
    tuner = Tuner(Model(), strategy="random", objective="val_mae", max_trials=6, seed=0,
                  device="cpu")
    assert [p.name for p in tuner.hyperparameters.space] == ["deep", "width"]
    tuner.search(x[:90], y[:90], validation_data=(x[90:], y[90:]), epochs=3, verbose=0)
    for t in tuner.study.trials:
        assert t.state.name == "COMPLETE"
        assert ("width" in t.params) == t.params["deep"]
        assert t.params["batch"] in (16, 64)
    assert [p.name for p in tuner.hyperparameters.space] == ["deep", "width", "batch"]
    best = tuner.get_best_trials(1)[0]
    assert best.value == min(t.value for t in tuner.study.trials)


def test_quickstart_example_runs_quick() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "tuner_quickstart.py"),
                           "--quick"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "best number of units" in proc.stdout
    assert "test accuracy" in proc.stdout


def test_validation_split_holds_out_the_rows_keras_holds_out() -> None:
    from automl_bridge.tuners.training import split_validation

    x = np.arange(1437 * 2, dtype=np.float32).reshape(1437, 2)
    (xt, _), (xv, _) = split_validation(x, np.arange(1437), validation_split=0.2)
    # Keras: split_at = int(n * (1 - validation_split)) = 1149; the last rows validate
    assert len(xt) == 1149 and len(xv) == 288 and xv[0, 0] == x[1149, 0]
