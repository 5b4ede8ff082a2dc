"""Markdown report: golden file over two synthetic runs (no training), and determinism.

Regenerate the golden file with ``UPDATE_GOLDEN=1`` after an intended change, and read the
diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from automl_bridge.reports import Comparison, compare
from automl_bridge.reports.markdown import render_markdown
from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus

GOLDEN = Path(__file__).parent / "golden" / "report.md"
SPEC = {"spec_version": 1, "task": "classification", "target": "churn", "metric": "accuracy",
        "time_budget_s": 600.0, "search": "tpe", "models": ["linear", "random_forest"],
        "seed": 0, "objectives": None}


def _local() -> RunResult:
    cands = []
    for i in range(12):
        if i % 3 == 0:
            fam, params = "linear", {"C": 0.5 * (i + 1)}
        else:
            fam, params = "random_forest", {"n_estimators": 50 * i, "max_depth": 2 + i % 4}
        score = round(0.70 + 0.02 * (i % 5) + (0.05 if fam == "random_forest" else 0.0), 4)
        cands.append(Candidate(
            candidate_id=str(i), family=fam, params=params, score=score,
            metrics={"accuracy": score}, fit_time_s=1.0 + i / 4,
            extra={"finished_at": f"2025-03-01T10:00:{2 * i + 1:02d}+00:00"}))
    cands.append(Candidate(candidate_id="12", family="linear", params={"C": 9.0},
                           state=CandidateState.FAILED, error="diverged"))
    best = max((c for c in cands if c.state is CandidateState.COMPLETE), key=lambda c: c.score)
    return RunResult(run_id="run-local", backend="local", status=RunStatus.COMPLETED,
                     metric="accuracy", direction="maximize", candidates=cands, best=best,
                     spec=dict(SPEC), task="classification",
                     started_at="2025-03-01T10:00:00+00:00", wall_time_s=31.5,
                     warnings=["Trial 12 failed: diverged | retried 0 times."],
                     extra={"strategy": "tpe"})


def _cloud() -> RunResult:
    cands = [Candidate(candidate_id=f"sm-{i}", family="xgboost", params={}, score=s,
                       metrics={"accuracy": s}, fit_time_s=120.0 * (i + 1))
             for i, s in enumerate([0.78, 0.81, 0.80])]
    return RunResult(run_id="run-sm", backend="sagemaker", status=RunStatus.COMPLETED,
                     metric="accuracy", direction="maximize", candidates=cands, best=cands[1],
                     spec={**SPEC, "time_budget_s": 3600.0, "search": "auto"},
                     task="classification", started_at="2025-03-01T10:00:00+00:00",
                     wall_time_s=3655.0,
                     warnings=["models: ['linear'] (no Autopilot equivalent); xgboost trained",
                               "sagemaker: time_budget_s: raised to the 3600 s minimum",
                               "No cost estimate for 1 of 3 candidates."],
                     extra={"cost": {"usd": 1.234, "basis": "3 jobs"}, "job_id": "ab-1"})


def _comparison() -> Comparison:
    rng = np.random.default_rng(5)
    y = rng.choice(["no", "yes"], 300)
    flip_local = rng.random(300) < 0.10
    flip_cloud = rng.random(300) < 0.25
    local = np.where(flip_local, np.where(y == "yes", "no", "yes"), y)
    cloud = np.where(flip_cloud, np.where(y == "yes", "no", "yes"), y)
    holdout = pd.DataFrame({"tenure": rng.normal(size=300), "churn": y})
    cmp = compare([_local(), _cloud()], holdout=holdout,
                  predictions={"local/tpe": local, "sagemaker": cloud}, n_boot=500, seed=0)
    cmp.created_at = "2025-03-01T12:00:00+00:00"
    return cmp


def test_markdown_matches_the_golden_file() -> None:
    text = _comparison().to_markdown()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_markdown_is_deterministic_and_read_from_the_dict() -> None:
    a, b = _comparison(), _comparison()
    assert a.to_markdown() == b.to_markdown()
    assert render_markdown(a.to_dict()) == a.to_markdown()
    text = a.to_markdown()
    piped = compare([_local(), _cloud()], labels=["local|tpe", "sm"]).to_markdown()
    assert "| local\\|tpe | local | tpe |" in piped  # a pipe in a cell is escaped
    assert text.index("## Spec") < text.index("## Engines") < text.index("## Holdout") < \
        text.index("## Leaderboards") < text.index("## Refused or approximated fields") < \
        text.index("## Warnings")


def test_markdown_without_holdout_or_candidates() -> None:
    run = _cloud()
    run.candidates, run.best, run.warnings = [], None, []
    text = compare([run]).to_markdown()
    assert "No holdout was given" in text and "No candidate completed." in text
    assert "Every engine honoured every spec field." in text and "## Warnings\n\nNone." in text
