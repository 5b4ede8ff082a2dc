from __future__ import annotations

import json
import math

import pytest

from automl_bridge.exceptions import AutoMLInputError
from automl_bridge.results import (
    RESULT_SCHEMA_VERSION,
    Candidate,
    CandidateState,
    RunResult,
    RunStatus,
    load_result,
)


def _result(direction: str = "maximize") -> RunResult:
    cands = [
        Candidate("0", "linear", {"C": 1.0}, 0.8, {"accuracy": 0.8}, 0.1),
        Candidate("1", "knn", {"k": 3}, 0.9, {"accuracy": 0.9}, 0.2),
        Candidate("2", "svm", {}, float("nan"), state=CandidateState.FAILED, error="boom"),
        Candidate("3", "random_forest", {}, 0.9, {"accuracy": 0.9}, 0.3),
    ]
    return RunResult(run_id="r", backend="local", status=RunStatus.COMPLETED,
                     metric="accuracy", direction=direction, candidates=cands, best=cands[1],
                     spec={"target": "y"}, warnings=["w"], seed=3)


def test_leaderboard_best_first_ties_by_id() -> None:
    lb = _result().leaderboard()
    assert lb["candidate_id"].tolist() == ["1", "3", "0"]
    assert lb["rank"].tolist() == [1, 2, 3]
    assert "accuracy" in lb.columns
    full = _result().leaderboard(include_failed=True)
    assert full["candidate_id"].tolist()[-1] == "2" and full["error"].tolist()[-1] == "boom"


def test_leaderboard_minimize() -> None:
    assert _result("minimize").leaderboard()["candidate_id"].tolist() == ["0", "1", "3"]


def test_save_load_round_trip(tmp_path) -> None:
    r = _result()
    path = r.save(tmp_path / "sub" / "result.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == RESULT_SCHEMA_VERSION
    back = load_result(path)
    assert back.to_dict() == r.to_dict()
    assert back.best is not None and back.best.candidate_id == "1"
    assert math.isnan(back.candidates[2].score)
    assert not list(tmp_path.glob("sub/.*tmp"))


def test_load_refuses_unknown_version(tmp_path) -> None:
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(AutoMLInputError, match="schema_version 99"):
        load_result(p)
    with pytest.raises(AutoMLInputError, match="No result file"):
        load_result(tmp_path / "missing.json")
