"""The paired bootstrap: vectorised scorers agree with the canonical metrics, intervals behave
(identical models: a zero interval; a clearly better model: significant; coverage near 95 %)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from automl_bridge.metrics import get_metric, score
from automl_bridge.reports import stats
from automl_bridge.reports.stats import (
    Prediction,
    better_diff,
    bootstrap_blocks,
    paired_bootstrap,
    percentile_ci,
)


def _problem(task: str, n: int = 120, n_classes: int = 2) -> tuple[np.ndarray, Prediction]:
    rng = np.random.default_rng(3)
    if task == "regression":
        y = rng.normal(size=n) * 3 + 5
        return y, Prediction(y_pred=y + rng.normal(size=n))
    classes = ["a", "b", "c"][:n_classes]
    y = rng.choice(classes, n)
    weights = rng.integers(1, 5, size=(n, n_classes)).astype(float)  # few values: ties
    weights[np.arange(n), [classes.index(v) for v in y]] += 3  # informative
    proba = weights / weights.sum(axis=1, keepdims=True)
    pred = np.array(classes)[proba.argmax(axis=1)]
    return y, Prediction(y_pred=pred, y_proba=proba, classes=classes)


@pytest.mark.parametrize(("metric", "task", "n_classes"), [
    ("accuracy", "classification", 2), ("roc_auc", "classification", 2),
    ("log_loss", "classification", 3), ("f1_macro", "classification", 3),
    ("roc_auc", "classification", 3), ("rmse", "regression", 0), ("mse", "regression", 0),
    ("mae", "regression", 0), ("r2", "regression", 0), ("mape", "regression", 0)])
def test_fast_scorers_match_the_canonical_metric(metric: str, task: str, n_classes: int) -> None:
    y, pred = _problem(task, n_classes=n_classes)
    boot = paired_bootstrap(metric, y, {"m": pred}, n_boot=25, seed=7)["m"]
    idx = next(bootstrap_blocks(len(y), 25, 7))
    expected = [score(metric, y[r], y_pred=None if pred.y_pred is None else pred.y_pred[r],
                      y_proba=None if pred.y_proba is None else pred.y_proba[r],
                      classes=pred.classes) for r in idx]
    np.testing.assert_allclose(boot, expected, rtol=1e-9, atol=1e-12)


def test_blocks_draw_the_same_resamples_as_one_block(monkeypatch: Any) -> None:
    whole = np.concatenate(list(bootstrap_blocks(50, 40, 1)))
    monkeypatch.setattr(stats, "BLOCK_CELLS", 50 * 7)  # blocks of 7 resamples
    parts = list(bootstrap_blocks(50, 40, 1))
    assert [len(p) for p in parts] == [7] * 5 + [5]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_same_seed_same_intervals_other_seed_others() -> None:
    y, pred = _problem("classification")
    a = paired_bootstrap("roc_auc", y, {"m": pred}, n_boot=200, seed=0)["m"]
    b = paired_bootstrap("roc_auc", y, {"m": pred}, n_boot=200, seed=0)["m"]
    c = paired_bootstrap("roc_auc", y, {"m": pred}, n_boot=200, seed=1)["m"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_identical_predictions_give_a_zero_interval_of_the_difference() -> None:
    y, pred = _problem("classification")
    boot = paired_bootstrap("roc_auc", y, {"a": pred, "b": pred}, n_boot=500, seed=0)
    low, high = percentile_ci(better_diff(boot["a"], boot["b"], "maximize"))
    assert (low, high) == (0.0, 0.0)
    assert str(low) == "0.0"  # no "-0.0"


def test_a_clearly_better_model_is_significant_in_both_directions() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    good = Prediction(y_pred=y + 0.1 * rng.normal(size=300))
    bad = Prediction(y_pred=y + 1.0 * rng.normal(size=300))
    boot = paired_bootstrap("rmse", y, {"good": good, "bad": bad}, n_boot=500, seed=0)
    low, high = percentile_ci(better_diff(boot["good"], boot["bad"], "minimize"))
    assert low is not None and low > 0  # positive: good is better, although its rmse is lower
    low, high = percentile_ci(better_diff(boot["bad"], boot["good"], "minimize"))
    assert high is not None and high < 0


def test_a_small_difference_on_few_rows_is_not_significant() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    a, b = y.copy(), y.copy()
    a[:8] = 1 - a[:8]  # 80 % right
    b[:9] = 1 - b[:9]  # 77.5 % right
    boot = paired_bootstrap("accuracy", y, {"a": Prediction(y_pred=a), "b": Prediction(y_pred=b)},
                            n_boot=1000, seed=0)
    low, high = percentile_ci(better_diff(boot["a"], boot["b"], "maximize"))
    assert low is not None and high is not None and low <= 0 <= high


def test_interval_coverage_is_near_the_level() -> None:
    # accuracy of a model that is right with probability 0.8, on 200 fresh rows each time
    rng = np.random.default_rng(42)
    hits = 0
    trials = 200
    for i in range(trials):
        y = rng.integers(0, 2, 200)
        right = rng.random(200) < 0.8
        pred = np.where(right, y, 1 - y)
        boot = paired_bootstrap("accuracy", y, {"m": Prediction(y_pred=pred)}, n_boot=400,
                                seed=i)["m"]
        low, high = percentile_ci(boot)
        assert low is not None and high is not None
        hits += low <= 0.8 <= high
    assert 0.88 <= hits / trials <= 0.99


def test_undefined_resamples_are_nan_and_ignored() -> None:
    y = np.array([0, 0, 0, 0, 0, 1])
    pred = Prediction(y_proba=np.column_stack([1 - y * 0.8, y * 0.8 + 0.1]), classes=[0, 1])
    boot = paired_bootstrap("roc_auc", y, {"m": pred}, n_boot=200, seed=0)["m"]
    assert np.isnan(boot).any() and not np.isnan(boot).all()
    assert percentile_ci(boot) == (1.0, 1.0)
    assert percentile_ci([float("nan")]) == (None, None)


def test_better_diff_is_direction_aware() -> None:
    assert better_diff(0.9, 0.8, "maximize") == pytest.approx(0.1)
    assert better_diff(0.9, 0.8, "minimize") == pytest.approx(-0.1)
    assert get_metric("log_loss").direction == "minimize"
