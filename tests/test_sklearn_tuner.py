"""SklearnTuner: cross-validated search over scikit-learn estimators."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GroupKFold

from automl_bridge.exceptions import AllTrialsFailedError, SpecError
from automl_bridge.tuners import HyperModel, HyperParameters, SklearnTuner

X, Y = make_classification(n_samples=240, n_features=6, n_informative=4, random_state=0)


def build(hp: HyperParameters):
    kind = hp.Choice("model", ["dummy", "logreg"])
    with hp.conditional_scope("model", "logreg"):
        c = hp.Float("C", 1e-2, 10.0, sampling="log")
    if kind == "dummy":
        return DummyClassifier(strategy="most_frequent")
    return LogisticRegression(C=c, max_iter=300)


def test_picks_the_better_model_by_cross_validation() -> None:
    tuner = SklearnTuner(build, strategy="tpe", max_trials=6, cv=4, seed=0,
                         scoring="accuracy", metrics=[f1_score])
    tuner.search(X, Y, verbose=0)
    models = {t.params["model"] for t in tuner.study.trials}
    assert models == {"dummy", "logreg"}
    best = tuner.get_best_trials(1)[0]
    assert best.params["model"] == "logreg"
    folds = best.user_attrs["automl_bridge:fold_scores"]
    assert len(folds) == 4 and best.value == pytest.approx(np.mean(folds))
    assert best.value > 0.7
    assert 0.0 < best.user_attrs["automl_bridge:metrics"]["f1_score"] <= 1.0
    dummy = [t.value for t in tuner.study.trials if t.params["model"] == "dummy"]
    assert max(dummy) < 0.6
    for t in tuner.study.trials:
        assert ("C" in t.params) == (t.params["model"] == "logreg")

    est = tuner.get_best_models(1)[0]               # refit on all 240 rows
    ref = LogisticRegression(C=best.params["C"], max_iter=300).fit(X, Y)
    np.testing.assert_allclose(est.coef_, ref.coef_)
    assert accuracy_score(Y, est.predict(X)) > 0.7


def test_groups_sample_weight_and_hypermodel_class() -> None:
    seen: list[int] = []

    class Weighted(HyperModel):
        def build(self, hp: HyperParameters):
            return LogisticRegression(C=hp.Choice("C", [0.01, 1.0]), max_iter=300)

    groups = np.repeat(np.arange(8), 30)

    def scorer(est, X_test, y_test, sample_weight=None):
        seen.append(len(y_test))
        assert sample_weight is not None and len(sample_weight) == len(y_test)
        return accuracy_score(y_test, est.predict(X_test), sample_weight=sample_weight)

    tuner = SklearnTuner(Weighted(), strategy="grid", max_trials=None, cv=GroupKFold(4),
                         scoring=scorer, seed=0)
    tuner.search(X, Y, groups=groups, sample_weight=np.ones(len(Y)), verbose=0)
    assert len(tuner.study.trials) == 2 and seen == [60] * 8   # groups kept whole


def test_fold_level_pruning_with_a_multi_fidelity_strategy() -> None:
    tuner = SklearnTuner(build, strategy="successive_halving", max_trials=10, cv=3, seed=1)
    tuner.search(X, Y, verbose=0)
    states = [t.state.name for t in tuner.study.trials]
    assert "PRUNED" in states
    assert all(len(t.intermediate_values) < 3 for t in tuner.study.trials
               if t.state.name == "PRUNED")
    assert tuner.get_best_hyperparameters()[0].values["model"] == "logreg"


def test_errors() -> None:
    with pytest.raises(SpecError, match="scorer name"):
        SklearnTuner(build, scoring="not_a_scorer")
    with pytest.raises(SpecError, match="integer >= 2"):
        SklearnTuner(build, cv=1)
    tuner = SklearnTuner(build, max_trials=1, seed=0)
    with pytest.raises(SpecError, match="call search"):
        tuner.get_best_models()

    def broken(hp: HyperParameters):
        return LogisticRegression(C=hp.Float("C", -2.0, -1.0), max_iter=50)  # C must be > 0

    with pytest.raises(AllTrialsFailedError, match=r"first failure: .*C"):
        SklearnTuner(broken, strategy="random", max_trials=3, cv=2, seed=0).search(
            X, Y, verbose=0)
