"""AutoMLJob: every accepted data form, construction rules, backend selection."""

from __future__ import annotations

import pytest

from automl_bridge import AutoMLJob, JobSpec
from automl_bridge.exceptions import DataError, SpecError, UnknownNameError


def _fit(data, **fields):
    job = AutoMLJob(target="y", task="regression", max_trials=1, time_budget_s=None,
                    models=["linear"], **fields).with_backend("local", run_dir=None)
    return job, job.fit(data)


def test_csv_parquet_frame_and_xy_give_the_same_candidate(tmp_path, regression_df) -> None:
    csv = tmp_path / "train.csv"
    regression_df.to_csv(csv, index=False)
    parquet = tmp_path / "train.parquet"
    regression_df.to_parquet(parquet)
    X, y = regression_df.drop(columns=["y"]), regression_df["y"]
    scores = {name: round(_fit(data)[1].best.score, 9) for name, data in
              [("frame", regression_df), ("csv", str(csv)), ("parquet", parquet),
               ("xy", (X, y))]}
    assert len(set(scores.values())) == 1, scores


def test_numpy_xy_gets_generated_names(regression_df) -> None:
    X = regression_df.drop(columns=["y"]).to_numpy()
    job, result = _fit((X, regression_df["y"].to_numpy()))
    assert result.data_fingerprint["schema"].keys() >= {"x0", "x1", "x2", "y"}
    assert len(job.predict(X[:5])) == 5


def test_bad_paths_and_types(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        _fit(str(tmp_path / "missing.csv"))
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown format"):
        _fit(str(tmp_path / "data.xlsx"))
    with pytest.raises(DataError, match="DataFrame"):
        _fit([1, 2, 3])


def test_spec_or_fields_not_both() -> None:
    spec = JobSpec(target="y", max_trials=1)
    assert AutoMLJob(spec).spec is spec
    with pytest.raises(SpecError, match="not both"):
        AutoMLJob(spec, metric="rmse")
    with pytest.raises(UnknownNameError, match="Known backends"):
        AutoMLJob(spec, backend="gcp")


def test_with_backend_keeps_the_spec() -> None:
    job = AutoMLJob(target="y", max_trials=2)
    other = job.with_backend("local", n_jobs=2, run_dir=None)
    assert other.spec == job.spec and other.backend_name == "local"
    assert other.backend.n_jobs == 2
