"""`automl-bridge report` over saved runs, and `automl-bridge run --report`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from automl_bridge import AutoMLJob, cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _runs(tmp_path: Path) -> list[Path]:
    train = pd.read_csv(EXAMPLES / "data" / "churn_train.csv").head(600)
    paths = []
    for search in ("random", "tpe"):
        job = AutoMLJob(task="classification", target="churn", metric="roc_auc",
                        time_budget_s=None, max_trials=3, search=search, seed=0,
                        validation="holdout", ensemble=False,
                        ).with_backend("local", run_dir=str(tmp_path / "runs"))
        result = job.fit(train)
        paths.append(tmp_path / "runs" / result.run_id / "result.json")
        result.save(paths[-1])
    return paths


def test_report_compares_saved_runs_on_a_holdout(tmp_path, capsys) -> None:
    paths = _runs(tmp_path)
    holdout = EXAMPLES / "data" / "churn_test.csv"
    out = tmp_path / "report.md"
    code = cli.main(["report", *map(str, paths), "-o", str(out), "--holdout", str(holdout),
                     "--label", "random", "--label", "tpe", "--title", "Two strategies"])
    assert code == 0 and "Compared 2 run(s)" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith("# Two strategies")
    # the saved models were loaded back and scored on the same 500 rows
    assert "same 500 held-out rows" in text and "| random |" in text and "| tpe |" in text
    html = tmp_path / "report.html"
    assert cli.main(["report", *map(str, paths), "-o", str(html)]) == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script src" not in page


def test_run_with_report_writes_one_beside_the_result(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "job.yaml"
    config.write_text(
        "job: {task: classification, target: churn, metric: roc_auc, max_trials: 2,\n"
        "      time_budget_s: null, validation: holdout}\n"
        f"data: {{train: {EXAMPLES / 'data' / 'churn_train.csv'},\n"
        f"       test: {EXAMPLES / 'data' / 'churn_test.csv'}}}\n"
        "backends: {local: {run_dir: runs}}\n")
    assert cli.main(["run", str(config), "--quiet", "--report"]) == 0
    reports = list((tmp_path / "runs").glob("*/report.html"))
    assert len(reports) == 1 and "Holdout" in reports[0].read_text()
