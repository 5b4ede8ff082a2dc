"""The network families (``mlp``, ``mlp_cells``) and NAS through the engine, API and config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from automl_bridge import AutoMLJob  # noqa: E402
from automl_bridge.backends.local import usable_families  # noqa: E402
from automl_bridge.config import load_config  # noqa: E402
from automl_bridge.engine.evaluate import EvalContext, evaluate  # noqa: E402
from automl_bridge.engine.fidelity import geometric_plan  # noqa: E402
from automl_bridge.models.families import DataContext  # noqa: E402
from automl_bridge.models.nas import parse  # noqa: E402
from automl_bridge.models.persistence import load_model, save_model  # noqa: E402
from automl_bridge.results import CandidateState  # noqa: E402
from automl_bridge.spec import JobSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]



@pytest.fixture(scope="module")
def digits() -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    frame = load_digits(as_frame=True).frame.rename(columns={"target": "digit"})
    frame = frame.drop(columns=[c for c in frame.columns if frame[c].nunique() == 1])
    train, test = train_test_split(frame, train_size=700, test_size=300, random_state=0,
                                   stratify=frame["digit"])
    return train, test


def _job(tmp_path: Path, **fields) -> AutoMLJob:
    fields.setdefault("task", "classification")
    fields.setdefault("target", "digit")
    fields.setdefault("metric", "accuracy")
    fields.setdefault("time_budget_s", None)
    fields.setdefault("validation", "holdout")
    fields.setdefault("ensemble", False)
    return AutoMLJob(**fields).with_backend("local", run_dir=str(tmp_path / "runs"))


def test_networks_are_opt_in() -> None:
    spec = JobSpec(target="y", task="classification")
    ctx = DataContext(task="classification", n_rows=500, n_features=5, n_classes=2)
    families, _ = usable_families(spec, "classification", ctx)
    assert "mlp" not in families and "mlp_cells" not in families
    named = JobSpec(target="y", task="classification", models=["mlp", "linear"])
    assert set(usable_families(named, "classification", ctx)[0]) == {"mlp", "linear"}


def test_mlp_job_end_to_end_and_saved_model(tmp_path, digits) -> None:
    train, test = digits
    job = _job(tmp_path, models=["mlp"], search="random", max_trials=3)
    result = job.fit(train)
    assert result.best is not None and result.best.family == "mlp"
    # the first trial is the default network; every candidate records its architecture
    assert result.candidates[0].extra["architecture"] == \
        "dense(256,relu,0.1) > dense(128,relu,0.1)"
    for c in result.candidates:
        assert str(parse(c.extra["architecture"])) == c.extra["architecture"]
        # the learning curve of each network, epoch by epoch (for reports)
        history = c.extra["history"]
        assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
        assert {"loss", "val_loss", "val_accuracy"} <= set(history[-1])
    pred = job.predict(test)
    assert (pred == test["digit"].to_numpy()).mean() > 0.9
    est = job.model.pipeline.named_steps["model"]
    assert est.architecture == result.best.extra["architecture"]
    # the saved file holds numpy weights only and loads through the skops allowlist
    path = save_model(job.model, tmp_path / "m.skops")
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(test), pred)


def test_cells_family_regression(tmp_path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    frame["y"] = 3 * X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=400)
    job = _job(tmp_path, task="regression", target="y", metric="r2", models=["mlp_cells"],
               search="random", max_trials=2)
    result = job.fit(frame)
    assert result.best.family == "mlp_cells"
    assert result.best.extra["architecture"].startswith("2 x cell(128,relu,0.1)")
    assert result.best.score > 0.9


def test_epochs_are_the_fidelity_and_rungs_continue_training(digits) -> None:
    train, _ = digits
    X = train.drop(columns="digit").astype(float)
    y = train["digit"].to_numpy()
    idx = np.arange(len(y))
    ctx = EvalContext(X=X, y=y, task="classification", classes=sorted(set(y)),
                      metric="accuracy", pos_label=None,
                      kinds={c: "numeric" for c in X.columns}, input_columns=list(X.columns),
                      splits=[(idx[idx % 5 != 0], idx[idx % 5 == 0])], target="digit")
    params = {"n_layers": 1, "layer0.op": "dense", "layer0.width": 64,
              "layer0.activation": "relu", "layer0.dropout": 0.0, "optimizer": "adamw",
              "learning_rate": 3e-3, "weight_decay": 1e-4, "batch_size": 64, "epochs": 18}
    steps: list[int] = []
    out = evaluate(ctx, "mlp", params, plan=geometric_plan(min_fraction=1 / 9,
                                                           reduction_factor=3),
                   report=lambda step, score: steps.append(step) is None)
    assert steps == [1, 3] and [s for s, _ in out["curve"]] == [1, 3, 9]
    est = out["model"].pipeline.named_steps["model"]
    # rungs of 2, 6 and 18 epochs: one network trained on, not three from scratch
    assert est.epochs == 18
    assert len(est.history_) == est.epochs_trained_ <= 18
    assert out["curve"][-1][1] > out["curve"][0][1]


def test_hyperband_prunes_networks_by_epochs(tmp_path, digits) -> None:
    train, _ = digits
    result = _job(tmp_path, models=["mlp"], search="hyperband", max_trials=10,
                  seed=1).fit(train)
    pruned = [c for c in result.candidates if c.state is CandidateState.PRUNED]
    done = [c for c in result.candidates if c.state is CandidateState.COMPLETE]
    assert pruned and done
    assert all(c.extra["step"] < 27 for c in pruned)
    assert result.best.extra["fidelity"] == 1.0


def test_rl_controller_designs_architectures_from_a_config_file(tmp_path, monkeypatch) -> None:
    from automl_bridge.search.rl_controller import TOKENS_ATTR

    monkeypatch.chdir(tmp_path)
    cfg = load_config(ROOT / "examples" / "nas_macro.yaml",
                      overrides=["job.max_trials=3", "job.time_budget_s=null"])
    assert cfg.spec.models == ("mlp",) and cfg.spec.search_strategy == "rl"
    job = cfg.job()
    result = job.fit(pd.read_csv(cfg.train))
    assert result.best.family == "mlp"
    from automl_bridge.engine.study import open_storage

    storage = open_storage(result.extra["storage"])
    trials = storage.get_all_trials(storage.get_all_studies()[0]._study_id)
    tokens = [t.system_attrs.get(TOKENS_ATTR) for t in trials]
    rl_made = [t for t in tokens if t]
    assert rl_made, "the RL controller recorded no token string"
    assert any("layer0.op=" in str(t) for t in rl_made)


def test_same_seed_same_networks_and_scores(tmp_path, digits) -> None:
    train, _ = digits
    runs = [_job(tmp_path / str(i), models=["mlp"], search="tpe", max_trials=2,
                 seed=4).fit(train.iloc[:400]) for i in range(2)]
    first, second = ([(c.extra["architecture"], c.score) for c in r.candidates] for r in runs)
    assert first == second  # bitwise: CPU training is deterministic for a fixed seed
