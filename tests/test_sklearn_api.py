"""AutoMLClassifier / AutoMLRegressor: scikit-learn conventions, tools and check_estimator."""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator
from threadpoolctl import threadpool_limits

from automl_bridge.exceptions import AutoMLBridgeError, MetricError
from automl_bridge.sklearn_api import (
    EXPECTED_FAILED_CHECKS,
    AutoMLClassifier,
    AutoMLRegressor,
)

FAST: dict[str, Any] = {"time_budget_s": None, "max_trials": 2, "models": ["linear"]}


@pytest.fixture(autouse=True)
def _one_core() -> Iterator[None]:
    """Run on one core: the engine then gives each fit one BLAS/OpenMP thread.

    Tiny fits are much faster single-threaded, and threads that spin while waiting make them
    crawl on a busy machine.
    """
    if not hasattr(os, "sched_setaffinity"):  # pragma: no cover - not Linux
        with threadpool_limits(limits=1):
            yield
        return
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3,
                               class_sep=2.0, random_state=0)
    return X, y


# --- conventions -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AutoMLClassifier, AutoMLRegressor])
def test_params_are_stored_unchanged_and_keyword_only(cls: type) -> None:
    models = ["linear"]
    est = cls(metric="nope", time_budget_s=-1, models=models, validation="bogus", n_jobs=None)
    params = est.get_params()
    assert params == {"metric": "nope", "time_budget_s": -1, "max_trials": None,
                      "search": "auto", "models": models, "validation": "bogus", "seed": 0,
                      "n_jobs": None, "isolation": "auto", "ensemble": "auto"}
    assert params["models"] is models
    assert cls().get_params()["time_budget_s"] == 60.0
    with pytest.raises(TypeError):
        cls(None)


def test_invalid_params_fail_at_fit_with_typed_errors(xy: Any) -> None:
    X, y = xy
    est = AutoMLClassifier(metric="auc2", **{k: v for k, v in FAST.items()})
    with pytest.raises(MetricError) as info:
        est.fit(X, y)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AutoMLBridgeError)
    with pytest.raises(ValueError, match="time_budget_s"):
        AutoMLClassifier(time_budget_s=-1, max_trials=1).fit(X, y)


def test_clone_and_set_params() -> None:
    est = AutoMLClassifier(**FAST)
    est.set_params(max_trials=3, seed=7)
    copy = clone(est)
    assert copy is not est
    assert copy.get_params() == est.get_params()
    assert copy.get_params()["models"] is not est.get_params()["models"]
    assert "max_trials=3" in repr(copy)


def test_unfitted_estimators_raise_not_fitted(xy: Any) -> None:
    X, _ = xy
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(AutoMLClassifier(), method)(X)
    with pytest.raises(NotFittedError):
        AutoMLRegressor().predict(X)


# --- fitting and predicting ----------------------------------------------------------------------


def test_classifier_on_arrays_sets_fitted_attributes(xy: Any) -> None:
    X, y = xy
    clf = AutoMLClassifier(metric="accuracy", **FAST)
    assert clf.fit(X, y) is clf
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_features_in_ == 5
    assert not hasattr(clf, "feature_names_in_")
    assert clf.metric_ == "accuracy"
    assert clf.best_family_ == "linear"
    assert set(clf.best_params_) >= {"C"}
    assert 0.5 < clf.best_score_ <= 1.0
    assert clf.result_.best is not None and clf.result_.best.model is clf.model_
    assert len(clf.result_.candidates) <= 2
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.8
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[:5])), proba[:5])


def test_classifier_on_a_raw_dataframe_keeps_categoricals_and_nan(binary_df: pd.DataFrame) -> None:
    X, y = binary_df.drop(columns="label"), binary_df["label"]
    clf = AutoMLClassifier(**FAST).fit(X, y)
    assert clf.feature_names_in_.tolist() == ["x1", "x2", "cat"]
    assert clf.classes_.tolist() == ["no", "yes"]
    pred = clf.predict(X)
    assert set(pred) <= {"no", "yes"}
    assert clf.score(X, y) > 0.75
    # the same rows as an object array give the same predictions (with sklearn's warning)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict(X.to_numpy(dtype=object)), pred)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={"x1": "other"}))
    with warnings.catch_warnings(), pytest.raises(ValueError, match="2 features"):
        warnings.simplefilter("ignore")  # sklearn also warns about the missing names
        clf.predict(X[["x1", "x2"]].to_numpy())


def test_object_array_with_strings_numbers_and_missing_values() -> None:
    rng = np.random.default_rng(0)
    n = 80
    num = rng.normal(size=n)
    cat = rng.choice(["a", "b"], size=n)
    y = np.where(num + 2 * (cat == "a") > 1, "p", "q")
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = num
    X[:, 1] = cat
    X[0, 0] = None
    X[1, 1] = np.nan
    clf = AutoMLClassifier(**FAST).fit(X, y)
    kinds = clf.result_.data_fingerprint["features"]["kinds"]
    assert kinds == {"x0": "numeric", "x1": "categorical"}
    assert clf.score(X, y) > 0.9
    bad = X.copy()
    bad[2, 0] = {"not": "a cell"}
    with pytest.raises(TypeError, match="must be a string or a number"):
        AutoMLClassifier(**FAST).fit(bad, y)


def test_integer_column_names_are_positional(regression_df: pd.DataFrame) -> None:
    X = regression_df[["a", "b", "c"]].set_axis([0, 1, 2], axis=1)
    reg = AutoMLRegressor(**FAST).fit(X, regression_df["y"])
    assert not hasattr(reg, "feature_names_in_")
    np.testing.assert_allclose(reg.predict(X), reg.predict(X.to_numpy()))


def test_regressor(regression_df: pd.DataFrame) -> None:
    X, y = regression_df.drop(columns="y"), regression_df["y"]
    reg = AutoMLRegressor(**FAST)
    assert reg.fit(X, y) is reg
    assert reg.metric_ == "rmse"
    assert reg.best_score_ < 0.5
    pred = reg.predict(X)
    assert pred.dtype == np.float64 and pred.shape == (200,)
    assert reg.score(X, y) > 0.95
    assert not hasattr(reg, "classes_") and not hasattr(reg, "predict_proba")
    with pytest.raises(ValueError, match="numeric targets"):
        AutoMLRegressor(**FAST).fit(X, np.where(y > 0, "big", "small").astype(object))


def test_labels_keep_the_values_and_dtype_of_y(xy: Any) -> None:
    X, y = xy
    y_float = y.astype(float)
    clf = AutoMLClassifier(**FAST).fit(X, y_float)
    assert clf.classes_.dtype == np.float64
    assert clf.predict(X).dtype == np.float64
    y_bool = y.astype(bool)
    assert AutoMLClassifier(**FAST).fit(X, y_bool).predict(X).dtype == bool


def test_multiclass_with_a_single_row_class_warns_and_keeps_it_in_classes(xy: Any) -> None:
    X, y = xy
    y = y.copy()
    y[0] = 2
    with pytest.warns(UserWarning, match=r"classes \[2\] have a single row"):
        clf = AutoMLClassifier(**FAST).fit(X, y)
    assert clf.classes_.tolist() == [0, 1, 2]
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 3)
    assert np.all(proba[:, 2] == 0)
    assert 2 not in set(clf.predict(X))


def test_bad_targets_are_refused_with_sklearn_messages(xy: Any) -> None:
    X, y = xy
    clf = AutoMLClassifier(**FAST)
    with pytest.raises(ValueError, match="requires y to be passed"):
        clf.fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, len(y)))
    y_nan = y.astype(float)
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        clf.fit(X, y_nan)
    with pytest.raises(ValueError, match="1 class"):
        clf.fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])


def test_bad_features_are_refused(xy: Any) -> None:
    from scipy import sparse

    X, y = xy
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        AutoMLClassifier(**FAST).fit(X_inf, y)
    with pytest.raises(TypeError, match=r"[Ss]parse"):
        AutoMLClassifier(**FAST).fit(sparse.csr_matrix(X), y)
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan
    assert AutoMLClassifier(**FAST).fit(X_nan, y).predict(X_nan).shape == (120,)


def test_fit_writes_nothing(xy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    X, y = xy
    AutoMLClassifier(**FAST).fit(X, y)
    assert os.listdir(tmp_path) == []


def test_pickle_round_trip(xy: Any) -> None:
    X, y = xy
    clf = AutoMLClassifier(**FAST).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))


def test_time_budget_with_worker_processes(xy: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    X, y = xy
    clf = AutoMLClassifier(time_budget_s=20, max_trials=1, models=["linear"]).fit(X, y)
    assert clf.result_.extra["isolation"] == "process"
    assert clf.result_.wall_time_s < 20 + 2
    assert clf.score(X, y) > 0.8
    assert os.listdir(tmp_path) == []


# --- scikit-learn tools --------------------------------------------------------------------------


def test_pipeline_and_cross_val_score(xy: Any) -> None:
    X, y = xy
    pipe = make_pipeline(StandardScaler(), AutoMLClassifier(**FAST))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6
    pipe.fit(X, y)
    assert pipe.predict_proba(X).shape == (120, 2)


def test_grid_search_over_params(regression_df: pd.DataFrame) -> None:
    X, y = regression_df.drop(columns="y"), regression_df["y"]
    search = GridSearchCV(AutoMLRegressor(**FAST), {"max_trials": [1, 2]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["max_trials"] in (1, 2)
    assert search.best_estimator_.max_trials == search.best_params_["max_trials"]
    assert search.best_score_ > 0.9


def test_small_multiclass_holdout_with_two_classes_in_validation() -> None:
    # regression: multiclass roc_auc on validation rows holding two of three classes
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(10, 2))
    y = np.array([0, 1, 1, 0, 0, 1, 0, 2, 2, 0])  # the 2-row holdout holds two classes
    clf = AutoMLClassifier(time_budget_s=None, max_trials=1, models=["linear"],
                           validation="holdout")
    clf.fit(X, y)
    assert clf.predict(X).shape == (10,)


# --- check_estimator -----------------------------------------------------------------------------


@pytest.mark.parametrize("est", [
    AutoMLClassifier(time_budget_s=None, max_trials=1, models=["linear"], validation="holdout"),
    AutoMLRegressor(time_budget_s=None, max_trials=1, models=["linear"], validation="holdout"),
], ids=lambda e: type(e).__name__)
def test_check_estimator(est: Any) -> None:
    expected = EXPECTED_FAILED_CHECKS[type(est).__name__]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, expected_failed_checks=expected, on_skip=None,
                                  on_fail=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results
              if r["status"] == "failed"}
    assert failed == {}
    ran = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_fit_idempotent", "check_pipeline_consistency", "check_estimators_pickle",
            "check_n_features_in_after_fitting", "check_supervised_y_2d"} <= ran
    assert not (set(expected) & ran)
