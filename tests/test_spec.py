from __future__ import annotations

import pytest

from automl_bridge.exceptions import BudgetError, MetricError, SpecError
from automl_bridge.spec import JobSpec


def test_defaults_and_round_trips() -> None:
    spec = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=30,
                   models=["linear", "knn"], search={"strategy": "tpe", "n_startup_trials": 3})
    assert spec.spec_version == 1
    assert spec.models == ("linear", "knn")
    assert spec.search_strategy == "tpe" and spec.search_options == {"n_startup_trials": 3}
    assert JobSpec.from_json(spec.to_json()) == spec
    assert JobSpec.from_yaml(spec.to_yaml()) == spec
    assert JobSpec.from_dict(spec.to_dict()) == spec


def test_immutable() -> None:
    spec = JobSpec(target="y", max_trials=2)
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        spec.target = "z"  # type: ignore[misc]
    assert spec.replace(max_trials=3).max_trials == 3
    assert spec.max_trials == 2


def test_fingerprint_and_diff() -> None:
    a = JobSpec(target="y", max_trials=2)
    b = a.replace(max_trials=5)
    assert a.fingerprint() == JobSpec(target="y", max_trials=2).fingerprint()
    assert a.fingerprint() != b.fingerprint()
    assert a.diff(b) == ["max_trials: 2 != 5"]


@pytest.mark.parametrize(
    ("fields", "kind", "words"),
    [
        ({"metric": "acuracy"}, MetricError, ["'acuracy'", "accuracy"]),
        ({"metric": "r2", "task": "classification"}, MetricError, ["'r2'", "regression"]),
        ({"time_budget_s": 0}, BudgetError, ["time_budget_s", "0"]),
        ({"time_budget_s": -5}, BudgetError, ["time_budget_s", "-5"]),
        ({"max_trials": 0}, BudgetError, ["max_trials"]),
        ({"time_budget_s": None}, BudgetError, ["time_budget_s", "max_trials"]),
        ({"search": "anneal"}, SpecError, ["search", "anneal", "tpe"]),
        ({"models": ["linear", "gbm"]}, SpecError, ["models", "gbm"]),
        ({"validation": "kfold"}, SpecError, ["validation", "kfold"]),
        ({"validation": {"method": "cv", "folds": 1}}, SpecError, ["folds", "1"]),
        ({"storage": "sqlite:///x.db"}, SpecError, ["storage", "with_backend"]),
        ({"task": "ranking"}, SpecError, ["task", "ranking"]),
    ],
)
def test_invalid_fields(fields: dict, kind: type, words: list[str]) -> None:
    with pytest.raises(kind) as info:
        JobSpec(target="y", **fields)
    for w in words:
        assert w in str(info.value)
    assert isinstance(info.value, ValueError)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(SpecError) as info:
        JobSpec(target="y", metric="nope", max_trials=0, search="nope")
    assert len(info.value.problems) == 3


def test_missing_target() -> None:
    with pytest.raises(SpecError, match="'target' of JobSpec is required"):
        JobSpec()  # type: ignore[call-arg]
