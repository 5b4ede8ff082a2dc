"""Multi-fidelity, estimation, objectives, constraints and ensembles through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from automl_bridge import AutoMLJob
from automl_bridge.engine.objectives import dominates
from automl_bridge.exceptions import SpecError
from automl_bridge.models.ensemble import EnsembleModel, greedy_selection
from automl_bridge.models.persistence import load_model
from automl_bridge.results import CandidateState, load_result


def _job(tmp_path, **fields):
    fields.setdefault("target", "label")
    fields.setdefault("task", "classification")
    fields.setdefault("time_budget_s", None)
    return AutoMLJob(**fields).with_backend("local", run_dir=str(tmp_path / "runs"))


def test_hyperband_prunes_at_rungs_and_the_best_is_full_fidelity(tmp_path, binary_df) -> None:
    result = _job(tmp_path, search="hyperband", max_trials=20, ensemble=False,
                  models=["hist_gradient_boosting", "random_forest", "knn"]).fit(binary_df)
    plan = result.extra["plan"]
    assert plan == {"steps": [1, 3, 9, 27], "max_step": 27}
    pruned = [c for c in result.candidates if c.state is CandidateState.PRUNED]
    done = [c for c in result.candidates if c.state is CandidateState.COMPLETE]
    assert pruned and done
    assert all(c.extra["step"] < 27 and c.extra["fidelity"] < 1 for c in pruned)
    assert all(c.extra["step"] == 27 and c.extra["fidelity"] == 1 for c in done)
    assert all([s for s, _ in c.extra["curve"]] == [1, 3, 9, 27][:len(c.extra["curve"])]
               for c in result.candidates if "curve" in c.extra)
    assert result.best is not None and result.best.state is CandidateState.COMPLETE
    assert result.best.score == max(c.score for c in done)
    # pruned candidates never enter the leaderboard
    assert set(result.leaderboard()["state"]) == {"complete"}


def test_low_fidelity_estimation_refits_at_full_fidelity(tmp_path, binary_df) -> None:
    job = _job(tmp_path, search="random", max_trials=4, ensemble=False,
               models=["hist_gradient_boosting"],
               estimation={"method": "low_fidelity", "fraction": 0.25})
    result = job.fit(binary_df)
    assert all(c.extra["fidelity"] == pytest.approx(0.25) for c in result.candidates)
    est = job.model.pipeline.named_steps["model"]
    assert est.max_iter == result.best.params["max_iter"]  # the sampled, full resource
    assert any("low_fidelity" in w for w in result.warnings)


def test_learning_curve_estimation_stops_hopeless_trials(tmp_path, binary_df) -> None:
    result = _job(tmp_path, search="random", max_trials=14, ensemble=False, seed=3,
                  models=["hist_gradient_boosting"],
                  estimation={"method": "learning_curve", "points": 6}).fit(binary_df)
    pruned = [c for c in result.candidates if c.state is CandidateState.PRUNED]
    assert pruned, "the learning-curve pruner stopped nothing"
    assert all(3 <= len(c.extra["curve"]) < 6 for c in pruned)
    assert result.best is not None and len(result.best.extra["curve"]) == 6


def test_pareto_front_of_three_objectives(tmp_path, binary_df) -> None:
    objectives = ["roc_auc", "model_size", "predict_latency"]
    result = _job(tmp_path, search="nsga2", max_trials=12, objectives=objectives,
                  models=["linear", "random_forest", "knn"]).fit(binary_df)
    assert result.objectives == objectives and result.metric == "roc_auc"
    done = {c.candidate_id: c for c in result.candidates if c.state is CandidateState.COMPLETE}
    assert all(set(c.measures) == {"model_size", "predict_latency"} for c in done.values())
    front = result.pareto_front
    assert front and set(front) <= set(done)
    dirs = ["maximize", "minimize", "minimize"]

    def vec(c):
        return [c.score, c.measures["model_size"], c.measures["predict_latency"]]

    for cid in front:  # nobody dominates a front member; everyone else is dominated
        assert not any(dominates(vec(o), vec(done[cid]), dirs) for o in done.values())
    for cid in set(done) - set(front):
        assert any(dominates(vec(done[f]), vec(done[cid]), dirs) for f in front)
    assert result.ensemble is None  # auto: no ensemble with several objectives
    again = load_result(tmp_path / "runs" / result.run_id / "result.json")
    assert again.pareto_front == front and again.objectives == objectives


def test_constraints_mark_infeasible_candidates(tmp_path, binary_df) -> None:
    limit = 20_000  # bytes: linear and knn pipelines fit, forests do not
    result = _job(tmp_path, search="random", max_trials=10, seed=1,
                  constraints={"max_model_bytes": limit},
                  models=["linear", "random_forest"]).fit(binary_df)
    done = [c for c in result.candidates if c.state is CandidateState.COMPLETE]
    infeasible = [c for c in done if not c.feasible]
    assert infeasible and all(c.family == "random_forest" for c in infeasible)
    assert all(c.violations["max_model_bytes"] > limit for c in infeasible)
    assert all(c.measures["model_size"] <= limit for c in done if c.feasible)
    assert result.best is not None and result.best.feasible
    assert result.best.measures["model_size"] <= limit


def test_a_run_where_nothing_meets_the_constraints_says_so(tmp_path, binary_df) -> None:
    job = _job(tmp_path, search="random", max_trials=3, models=["linear"],
               constraints={"max_model_bytes": 10})
    result = job.fit(binary_df)
    assert result.best is None
    assert any("No candidate met the constraints" in w for w in result.warnings)
    assert all(not c.feasible for c in result.candidates)


def test_ensemble_is_recorded_used_and_saved(tmp_path, binary_df) -> None:
    job = _job(tmp_path, search="random", max_trials=10, seed=2, ensemble=True,
               models=["linear", "knn", "random_forest"])
    result = job.fit(binary_df)
    ens = result.ensemble
    assert ens is not None and len(ens["members"]) >= 2
    assert sum(m["weight"] for m in ens["members"]) == pytest.approx(1.0, abs=1e-3)
    assert ens["score"] >= ens["best_single_score"]  # greedy starts from the best single
    assert result.best.family == "ensemble" and isinstance(job.model, EnsembleModel)
    proba = job.predict_proba(binary_df.head(5))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert set(job.predict(binary_df.head(5))) <= {"yes", "no"}
    loaded = load_model(result.model_path)
    assert isinstance(loaded, EnsembleModel)
    assert np.allclose(loaded.predict_proba(binary_df.head(5)), proba.to_numpy())


def test_greedy_selection_with_replacement_finds_complementary_models() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=400)
    truth = np.eye(2)[y]
    noise = [rng.normal(scale=0.6, size=(400, 2)) for _ in range(3)]
    preds = {str(i): np.clip(truth + n, 0.01, None) for i, n in enumerate(noise)}
    preds = {k: v / v.sum(axis=1, keepdims=True) for k, v in preds.items()}
    preds["bad"] = np.full((400, 2), 0.5)
    sel = greedy_selection(preds, y, metric="log_loss", classes=[0, 1], rounds=20)
    assert sel.score < sel.single_score  # averaging independent errors helps
    assert len(sel.weights) >= 2 and "bad" not in sel.weights
    assert sum(sel.weights.values()) == pytest.approx(1.0)


def test_auto_portfolio_choice_is_recorded(tmp_path, binary_df) -> None:
    from automl_bridge.search.strategies import StrategyContext, auto_strategy

    small = auto_strategy(StrategyContext(n_rows=500))
    large = auto_strategy(StrategyContext(n_rows=50_000))
    multi = auto_strategy(StrategyContext(n_rows=50_000, directions=("maximize", "minimize")))
    assert (small.name, large.name, multi.name) == ("tpe", "bohb", "tpe")
    assert large.multi_fidelity and not small.multi_fidelity
    result = _job(tmp_path, max_trials=3, models=["linear"]).fit(binary_df)
    assert result.extra["strategy"] == "tpe"
    assert any("search='auto' chose 'tpe'" in w for w in result.warnings)


@pytest.mark.parametrize(("fields", "message"), [
    ({"search": "hyperband", "objectives": ["roc_auc", "model_size"]}, "single objective"),
    ({"estimation": "low_fidelity", "objectives": ["roc_auc", "model_size"]},
     "single objective"),
    ({"search": "bohb", "estimation": "learning_curve"}, "replaces the pruner"),
    ({"ensemble": True, "constraints": {"max_model_bytes": 1e6}}, "cannot be True"),
    ({"objectives": ["model_size"]}, "must include a metric"),
    ({"metric": "accuracy", "objectives": ["roc_auc", "model_size"]},
     "must be one of its 'objectives'"),
    ({"objectives": ["roc_auc", "roc_auc"]}, "must not repeat"),
    ({"constraints": {"max_memory": 1}}, "accept"),
    ({"constraints": {"max_model_bytes": -1}}, "positive"),
    ({"estimation": {"method": "learning_curve", "points": 2}}, "points"),
    ({"estimation": {"method": "low_fidelity", "fraction": 1.5}}, "fraction"),
    ({"estimation": "cheap"}, "estimation"),
    ({"search": {"strategy": "hyperband", "reduction_factor": 1}}, None),
])
def test_bad_search_specs_are_refused(tmp_path, binary_df, fields, message) -> None:
    with pytest.raises(SpecError) as err:
        _job(tmp_path, max_trials=2, **fields).fit(binary_df)
    if message:
        assert message in str(err.value)
