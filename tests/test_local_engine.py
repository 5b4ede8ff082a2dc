"""The local engine end to end: results, budgets, failures, reproducibility, parallelism."""

from __future__ import annotations

import json
import time

import pytest

from automl_bridge import AutoMLJob, load_model, load_result
from automl_bridge.backends.local import allowed_overrun
from automl_bridge.exceptions import AllTrialsFailedError, ConfigError, ModelNotFittedError
from automl_bridge.results import CandidateState, RunStatus


def _job(tmp_path, **fields):
    fields.setdefault("target", "label")
    fields.setdefault("task", "classification")
    opts = fields.pop("opts", {})
    opts.setdefault("run_dir", str(tmp_path / "runs"))
    return AutoMLJob(**fields).with_backend("local", **opts)


def test_fit_records_everything(tmp_path, binary_df) -> None:
    job = _job(tmp_path, max_trials=4, time_budget_s=None, seed=3)
    result = job.fit(binary_df)
    assert result.status is RunStatus.COMPLETED
    assert result.backend == "local" and result.task == "classification"
    assert result.metric == "roc_auc" and result.direction == "maximize"
    assert len(result.candidates) == 4
    assert all(c.state is CandidateState.COMPLETE for c in result.candidates)
    first = result.candidates[0]
    assert first.family == "linear"  # warm start: cheap, then strong defaults first
    assert result.candidates[1].family == "hist_gradient_boosting"
    assert set(first.metrics) >= {"accuracy", "roc_auc", "log_loss", "f1", "balanced_accuracy"}
    assert first.fit_time_s > 0
    assert result.best is not None and result.best.model is not None
    assert result.best.score == max(c.score for c in result.candidates)
    fp = result.data_fingerprint
    assert fp["rows"] == 300 and fp["columns"] == 4 and len(fp["sha256"]) == 64
    assert fp["schema"]["cat"] in ("object", "str", "string")
    assert {"python", "optuna", "scikit-learn", "pandas"} <= set(result.package_versions)
    assert result.seed == 3 and result.spec["seed"] == 3
    assert result.started_at < result.ended_at and result.wall_time_s > 0
    run_dir = tmp_path / "runs" / result.run_id
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["schema_version"] == 2
    assert saved["best"]["candidate_id"] == result.best.candidate_id
    assert load_result(run_dir / "result.json").leaderboard()["score"].iloc[0] == result.best.score
    assert (run_dir / "model.skops").exists() and (run_dir / "study.db").exists()
    lb = result.leaderboard()
    assert lb["score"].is_monotonic_decreasing


def test_predict_and_saved_model_agree(tmp_path, binary_df) -> None:
    job = _job(tmp_path, max_trials=2, time_budget_s=None)
    result = job.fit(binary_df)
    raw = binary_df.drop(columns=["label"]).head(20)
    pred = job.predict(raw)
    assert set(pred) <= {"yes", "no"} and len(pred) == 20
    proba = job.predict_proba(raw)
    assert list(proba.columns) == ["no", "yes"]
    assert proba.to_numpy().sum(axis=1) == pytest.approx(1.0)
    model = load_model(result.model_path)
    assert model.predict(raw).tolist() == pred.tolist()
    path = job.save_model(tmp_path / "m.skops")
    assert load_model(path).predict_proba(raw) == pytest.approx(proba.to_numpy())


def test_same_seed_same_leaderboard(tmp_path, binary_df) -> None:
    def run():
        r = _job(tmp_path, max_trials=8, time_budget_s=None, seed=7).fit(binary_df)
        return [(c.family, json.dumps(c.params, sort_keys=True), round(c.score, 12))
                for c in r.candidates]

    assert run() == run()


def test_max_trials_with_time_budget(tmp_path, regression_df) -> None:
    job = _job(tmp_path, target="y", task="regression", max_trials=3, time_budget_s=60,
               models=["linear", "knn"])
    result = job.fit(regression_df)
    assert len(result.candidates) == 3
    assert result.metric == "rmse" and result.direction == "minimize"
    assert result.extra["isolation"] == "process"
    assert result.wall_time_s < 60


def test_task_auto_is_inferred_and_logged(tmp_path, regression_df, caplog) -> None:
    job = _job(tmp_path, target="y", task="auto", max_trials=1, time_budget_s=None,
               models=["linear"])
    with caplog.at_level("WARNING", logger="automl_bridge"):
        result = job.fit(regression_df)
    assert result.task == "regression"
    assert any("task='auto' resolved to 'regression'" in w for w in result.warnings)
    assert "non-integer" in caplog.text


def test_budget_too_small_returns_flagged_baseline(tmp_path, binary_df) -> None:
    import optuna  # noqa: F401 - first imports count against the budget; warm them here
    import sklearn.model_selection  # noqa: F401

    job = _job(tmp_path, time_budget_s=0.5)
    t0 = time.monotonic()
    result = job.fit(binary_df)
    elapsed = time.monotonic() - t0
    assert elapsed <= 0.5 + allowed_overrun(0.5)
    assert result.budget_exhausted is True
    assert result.best is not None and result.best.family == "baseline"
    assert set(job.predict(binary_df.head(3))) <= {"yes", "no"}
    assert (tmp_path / "runs" / result.run_id / "model.skops").exists()


def test_overrunning_trial_is_killed_and_recorded(tmp_path, binary_df, plugin_families) -> None:
    budget = 10.0
    job = _job(tmp_path, time_budget_s=budget, models=["linear", "slow"],
               search="random", seed=1)
    t0 = time.monotonic()
    result = job.fit(binary_df)
    elapsed = time.monotonic() - t0
    assert elapsed <= budget + allowed_overrun(budget)
    states: dict[str, set] = {"slow": set(), "linear": set()}
    for c in result.candidates:
        states[c.family].add(c.state)
    assert CandidateState.TIMED_OUT in states["slow"]
    assert CandidateState.COMPLETE in states["linear"]
    timed_out = [c for c in result.candidates if c.state is CandidateState.TIMED_OUT]
    assert "time budget" in (timed_out[0].error or "")
    assert result.best is not None and result.best.family == "linear"


def test_failed_trials_are_recorded_and_search_goes_on(tmp_path, binary_df,
                                                       plugin_families) -> None:
    job = _job(tmp_path, max_trials=8, time_budget_s=None, models=["linear", "flaky"],
               search="random", ensemble=False)
    result = job.fit(binary_df)
    failed = [c for c in result.candidates if c.state is CandidateState.FAILED]
    assert failed and all("flaky family failed on purpose" in (c.error or "") for c in failed)
    assert result.best is not None and result.best.family == "linear"


def test_all_trials_failing_is_a_clear_error(tmp_path, binary_df, plugin_families) -> None:
    job = _job(tmp_path, max_trials=3, time_budget_s=None, models=["flaky"])
    with pytest.raises(AllTrialsFailedError) as info:
        job.fit(binary_df)
    assert "All 3 trials failed" in str(info.value)
    assert "flaky family failed on purpose" in str(info.value)


def test_parallel_trials(tmp_path, binary_df) -> None:
    job = _job(tmp_path, max_trials=6, time_budget_s=120, models=["linear", "knn"],
               opts={"n_jobs": 2})
    result = job.fit(binary_df)
    assert len(result.candidates) == 6
    assert len({c.candidate_id for c in result.candidates}) == 6
    assert result.extra["n_jobs"] == 2


def test_memory_storage_writes_nothing(tmp_path, binary_df, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    job = AutoMLJob(target="label", max_trials=1, time_budget_s=None,
                    models=["linear"]).with_backend("local", run_dir=None)
    result = job.fit(binary_df)
    assert result.model_path is None and result.extra["storage"] == "memory"
    assert list(tmp_path.iterdir()) == []


def test_submit_status_result_cancel(tmp_path, binary_df) -> None:
    job = _job(tmp_path, time_budget_s=120, models=["linear"])
    handle = job.submit(binary_df)
    assert job.status(handle) is RunStatus.RUNNING
    time.sleep(3)
    job.cancel(handle)
    result = job.result(handle, timeout=30)
    assert result.status is RunStatus.CANCELLED
    assert job.status(handle) is RunStatus.CANCELLED
    assert result.wall_time_s < 30
    with pytest.raises(ModelNotFittedError):
        job.predict(binary_df)


def test_submitted_run_completes(tmp_path, binary_df) -> None:
    job = _job(tmp_path, max_trials=2, time_budget_s=None, models=["linear"])
    handle = job.submit(binary_df)
    result = job.result(handle, timeout=60)
    assert result.status is RunStatus.COMPLETED and result.run_id == handle.run_id


@pytest.mark.parametrize(
    ("opts", "words"),
    [({"n_jobs": 0}, ["n_jobs", "0"]), ({"isolation": "thread"}, ["isolation", "thread"]),
     ({"region": "x"}, ["region", "storage"]), ({"run_id": "../x"}, ["run_id", "../x"]),
     ({"storage": "runs/db.sqlite"}, ["storage", "sqlite:///"])],
)
def test_bad_backend_options(opts: dict, words: list[str], tmp_path, binary_df) -> None:
    with pytest.raises(ConfigError) as info:
        job = AutoMLJob(target="label", max_trials=1, time_budget_s=None).with_backend(
            "local", **opts)
        job.fit(binary_df)
    for w in words:
        assert w in str(info.value)
