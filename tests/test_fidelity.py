"""Fidelity: rungs honoured by every family, survivors continue from their fitted state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_bridge.engine.evaluate import EvalContext, _FoldFitter, evaluate
from automl_bridge.engine.fidelity import (
    MIN_ROWS,
    geometric_plan,
    linear_plan,
    row_subset,
    scaled_resource,
    single_plan,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """As in the workers: one thread per fit on small data (OpenMP spins under load)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture
def ctx() -> EvalContext:
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    idx = np.arange(n)
    splits = [(idx[idx % 3 != k], idx[idx % 3 == k]) for k in range(3)]
    return EvalContext(X=X, y=y, task="classification", classes=[0, 1], metric="roc_auc",
                       pos_label=1, kinds={c: "numeric" for c in X.columns},
                       input_columns=list(X.columns), splits=splits, target="t")


HGB = {"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 5,
       "l2_regularization": 1e-8, "max_features": 1.0, "max_iter": 60}
RF = {"n_estimators": 40, "max_features": "sqrt", "min_samples_leaf": 1, "bootstrap": True}


def test_plans() -> None:
    assert geometric_plan(min_fraction=1 / 27, reduction_factor=3).steps == (1, 3, 9, 27)
    assert geometric_plan(min_fraction=0.1, reduction_factor=2).steps == (1, 2, 4, 8, 10)
    assert linear_plan(4, max_step=100).steps == (25, 50, 75, 100)
    low = single_plan(0.33)
    assert low.steps == (330,) and low.final_fraction == pytest.approx(0.33)
    assert scaled_resource(300, 1 / 27) == 11 and scaled_resource(5, 0.01) == 1


def test_row_subset_keeps_a_minimum_and_is_seeded() -> None:
    idx = np.arange(1000)
    sub = row_subset(idx, 0.05, seed=1)
    assert len(sub) == MIN_ROWS and np.all(np.isin(sub, idx))
    assert np.array_equal(sub, row_subset(idx, 0.05, seed=1))
    assert len(row_subset(idx, 0.5, seed=1)) == 500
    assert len(row_subset(np.arange(50), 0.1, seed=1)) == 50  # fewer rows than the minimum


@pytest.mark.parametrize(("family", "params"), [("hist_gradient_boosting", HGB),
                                                ("random_forest", RF)])
def test_survivors_continue_and_end_where_a_full_fit_ends(ctx, family, params) -> None:
    """Warm-started rungs give exactly the full-fidelity model (forests and boosting)."""
    full = evaluate(ctx, family, params)
    reports: list[tuple[int, float]] = []
    plan = geometric_plan(min_fraction=1 / 9, reduction_factor=3)
    staged = evaluate(ctx, family, params, plan=plan,
                      report=lambda step, score: reports.append((step, score)) or True)
    assert [s for s, _ in reports] == [1, 3]  # every rung but the last is reported
    assert [s for s, _ in staged["curve"]] == [1, 3, 9]
    assert not staged["pruned"] and staged["step"] == 9
    assert staged["score"] == pytest.approx(full["score"], abs=1e-12)
    est = staged["model"].pipeline.named_steps["model"]
    resource = "max_iter" if family == "hist_gradient_boosting" else "n_estimators"
    assert est.get_params()[resource] == params[resource] and est.warm_start


def test_the_same_estimator_is_continued_between_rungs(ctx) -> None:
    fitter = _FoldFitter(ctx, "random_forest", RF)
    fitter.fraction = 0.25
    first = fitter(0, ctx.splits[0][0]).named_steps["model"]
    assert len(first.estimators_) == 10
    fitter.fraction = 1.0
    second = fitter(0, ctx.splits[0][0]).named_steps["model"]
    assert second is first and len(second.estimators_) == 40


def test_row_fidelity_for_families_without_a_resource(ctx) -> None:
    fitter = _FoldFitter(ctx, "knn", {"n_neighbors": 3, "weights": "uniform", "p": 2})
    assert fitter.fam.resource is None
    fitter.fraction = 0.1
    assert fitter(0, ctx.splits[0][0]).named_steps["model"].n_samples_fit_ == MIN_ROWS
    fitter.fraction = 0.5
    assert fitter(0, ctx.splits[0][0]).named_steps["model"].n_samples_fit_ == 133  # of 266
    fitter.fraction = 1.0
    assert fitter(0, ctx.splits[0][0]).named_steps["model"].n_samples_fit_ == 266


def test_a_stopped_trial_reports_where_it_stopped(ctx) -> None:
    plan = linear_plan(5, max_step=100)
    out = evaluate(ctx, "hist_gradient_boosting", HGB, plan=plan,
                   report=lambda step, score: step < 40)
    assert out["pruned"] and out["step"] == 40 and len(out["curve"]) == 2


def test_measures_and_predictions(ctx) -> None:
    out = evaluate(ctx, "linear", {"C": 1.0, "class_weight": None},
                   measure=("model_size", "predict_latency"), keep_predictions=True)
    assert out["measures"]["model_size"] > 1000
    assert out["measures"]["predict_latency"] > 0
    assert out["predictions"].shape == (400, 2) and out["validated"].all()
