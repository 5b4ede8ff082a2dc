"""compare(): the comparison data over hand-built RunResults, input checks, holdout scoring,
and two real (tiny) local runs compared on a holdout."""

from __future__ import annotations

import json
import math
import sys
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.exceptions import AutoMLInputError, SpecError, TargetError
from automl_bridge.reports import Comparison, compare
from automl_bridge.reports.engines import field_notes
from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus

SPEC = {"task": "classification", "target": "y", "metric": "accuracy", "time_budget_s": 60.0,
        "search": "tpe", "seed": 0}
T0 = "2025-01-01T00:00:00+00:00"


def cand(cid: str, score: float, *, family: str = "linear", params: dict[str, Any] | None = None,
         finished: float | None = None, fit: float = 1.0, state: str = "complete",
         **extra: Any) -> Candidate:
    ex = dict(extra)
    if finished is not None:
        ex["finished_at"] = f"2025-01-01T00:00:{finished:06.3f}+00:00"
    return Candidate(candidate_id=cid, family=family, params=params or {}, score=score,
                     metrics={"accuracy": score}, fit_time_s=fit,
                     state=CandidateState(state), extra=ex)


def run(run_id: str, cands: list[Candidate], *, backend: str = "local", strategy: str = "tpe",
        spec: dict[str, Any] | None = None, metric: str = "accuracy",
        direction: str = "maximize", **kw: Any) -> RunResult:
    done = [c for c in cands if c.state is CandidateState.COMPLETE]
    sign = 1 if direction == "maximize" else -1
    best = max(done, key=lambda c: sign * c.score) if done else None
    extra = kw.pop("extra", {"strategy": strategy} if backend == "local" else {})
    return RunResult(run_id=run_id, backend=backend, status=RunStatus.COMPLETED, metric=metric,
                     direction=direction, candidates=cands, best=best,
                     spec=dict(spec or SPEC), task="classification", started_at=T0,
                     wall_time_s=30.0, extra=extra, **kw)


@pytest.fixture
def three() -> list[RunResult]:
    tpe = run("r-tpe", [cand("0", 0.70, finished=2.0), cand("1", 0.80, finished=5.0),
                        cand("2", 0.75, finished=7.5), cand("3", float("nan"), state="failed"),
                        cand("4", 0.85, finished=9.25)],
              warnings=["Trial 3 failed: boom."])
    rnd = run("r-rnd", [cand("0", 0.72, finished=1.0), cand("1", 0.78, finished=3.0)],
              strategy="random", spec={**SPEC, "search": "random"})
    cloud = run("r-sm", [cand("a", 0.81, fit=100.0), cand("b", 0.83, fit=50.0)],
                backend="sagemaker", spec={**SPEC, "time_budget_s": 3600.0},
                extra={"cost": {"usd": 1.5, "basis": "x"}},
                warnings=["seed: Autopilot takes no seed; seed=0 is not passed",
                          "sagemaker: time_budget_s: raised to 3600 s",
                          "SageMaker reported no 'f1' for 1 of 2 candidates."])
    return [tpe, rnd, cloud]


def test_engine_summaries_from_hand_built_runs(three: list[RunResult]) -> None:
    cmp = compare(three)
    assert isinstance(cmp, Comparison)
    d = cmp.to_dict()
    json.dumps(d, allow_nan=False)  # strictly JSON
    assert d["schema"] == 1 and d["metric"] == "accuracy" and d["direction"] == "maximize"
    assert [e["label"] for e in d["engines"]] == ["local/tpe", "local/random", "sagemaker"]
    assert d["spec"] == {"task": "classification", "target": "y", "metric": "accuracy",
                         "seed": 0}
    assert d["spec_differences"] == {
        "time_budget_s": {"local/tpe": 60.0, "local/random": 60.0, "sagemaker": 3600.0},
        "search": {"local/tpe": "tpe", "local/random": "random", "sagemaker": "tpe"}}
    tpe, rnd, sm = d["engines"]
    assert (tpe["best_score"], tpe["n_trials"], tpe["n_complete"]) == (0.85, 5, 4)
    assert [r["candidate_id"] for r in tpe["leaderboard"]] == ["4", "1", "2", "0"]
    assert [r["rank"] for r in tpe["leaderboard"]] == [1, 2, 3, 4]
    assert tpe["leaderboard"][0]["accuracy"] == 0.85
    # improvements only, seconds since started_at
    assert tpe["anytime"] == [[2.0, 0.7], [5.0, 0.8], [9.25, 0.85]]
    assert rnd["anytime"] == [[1.0, 0.72], [3.0, 0.78]]
    # the cloud candidates have no finish times: cumulative fit time
    assert sm["anytime"] == [[100.0, 0.81], [150.0, 0.83]]
    assert sm["cost"] == {"usd": 1.5, "basis": "x"} and tpe["cost"] is None
    assert sm["strategy"] == "auto" and sm["importances"] is None and sm["parallel"] is None
    assert sm["refused_or_approximated"] == [
        "seed: Autopilot takes no seed; seed=0 is not passed",
        "time_budget_s: raised to 3600 s"]
    assert sm["warnings"] == ["SageMaker reported no 'f1' for 1 of 2 candidates."]
    assert tpe["warnings"] == ["Trial 3 failed: boom."]
    assert tpe["refused_or_approximated"] == []
    assert d["holdout"] is None and tpe["pareto"] is None and tpe["learning_curves"] == []
    assert d["title"] == "local/tpe vs local/random vs sagemaker: accuracy on 'y'"


def test_anytime_is_empty_when_no_time_is_known() -> None:
    r = run("r", [cand("a", 0.8, fit=0.0)], backend="vertex")
    assert compare([r]).engines[0]["anytime"] == []


def test_minimize_ranks_and_anytime() -> None:
    cands = [cand("0", 3.0, finished=1), cand("1", 2.0, finished=2), cand("2", 2.5, finished=3)]
    for c in cands:
        c.metrics = {"rmse": c.score}
    r = run("r", cands, metric="rmse", direction="minimize",
            spec={**SPEC, "task": "regression", "metric": "rmse"})
    e = compare([r]).engines[0]
    assert [x["candidate_id"] for x in e["leaderboard"]] == ["1", "2", "0"]
    assert e["anytime"] == [[1.0, 3.0], [2.0, 2.0]] and e["best_score"] == 2.0


def test_field_notes_recognise_the_adapters_formats() -> None:
    r = run("r", [], backend="vertex", warnings=[
        "vertex: seed=3 is not sent: Vertex AutoML has no seed", "vertex: models: approximated",
        "The 'metric' of JobSpec is approximated", "vertex: data: 3 rows dropped",
        "searching took long"])
    refused, other = field_notes(r)
    assert refused == ["seed=3 is not sent: Vertex AutoML has no seed", "models: approximated",
                       "The 'metric' of JobSpec is approximated"]
    assert other == ["vertex: data: 3 rows dropped", "searching took long"]


def test_labels_are_unique_and_checked(three: list[RunResult]) -> None:
    twice = compare([three[0], three[0], three[0]])
    assert twice.labels == ["local/tpe", "local/tpe#2", "local/tpe#3"]
    assert compare(three, labels=["a", "b", "c"]).labels == ["a", "b", "c"]
    with pytest.raises(AutoMLInputError, match="one name per result"):
        compare(three, labels=["a"])
    with pytest.raises(AutoMLInputError, match="unique"):
        compare(three, labels=["a", "a", "b"])


def test_input_checks(three: list[RunResult]) -> None:
    with pytest.raises(AutoMLInputError, match="at least one"):
        compare([])
    with pytest.raises(AutoMLInputError, match="item 1"):
        compare([three[0], 3])  # type: ignore[list-item]
    other_target = run("x", [cand("0", 0.5)], spec={**SPEC, "target": "z"})
    with pytest.raises(SpecError, match="same target"):
        compare([three[0], other_target])
    reg = run("x", [cand("0", 0.5)], spec={**SPEC, "task": "regression"})
    reg.task = "regression"
    with pytest.raises(SpecError, match="same task"):
        compare([three[0], reg])
    with pytest.raises(AutoMLInputError, match="holdout="):
        compare(three, predictions={"local/tpe": [1]})


def test_a_run_of_another_metric_is_compared_on_the_first_runs_metric(
        three: list[RunResult]) -> None:
    cands = [cand("0", 0.9), cand("1", 0.6)]
    cands[0].metrics, cands[1].metrics = {"f1": 0.9, "accuracy": 0.7}, {"f1": 0.6, "accuracy": 0.8}
    f1_run = run("f1", cands, metric="f1", spec={**SPEC, "metric": "f1"})
    cmp = compare([three[0], f1_run])
    e = cmp.engines[1]
    assert [r["candidate_id"] for r in e["leaderboard"]] == ["1", "0"]  # by accuracy
    assert e["best_score"] == 0.7  # its own best (by f1), scored in accuracy
    assert any("optimised 'f1'" in n for n in cmp.notes)
    with pytest.raises(SpecError, match="do not report it"):
        compare([f1_run, three[0]])  # three[0] reports no f1


def _conditional_run() -> RunResult:
    rng = np.random.default_rng(0)
    cands = []
    for i in range(40):
        if i % 2:
            lr = float(rng.uniform(0.01, 1.0))
            params: dict[str, Any] = {"learning_rate": lr, "max_depth": int(rng.integers(2, 8))}
            fam, score = "hist_gradient_boosting", 0.8 + 0.15 * lr
        else:
            params = {"C": float(rng.uniform(0.1, 10)), "penalty": str(rng.choice(["l1", "l2"]))}
            fam, score = "linear", 0.7 + 0.001 * float(rng.normal())
        cands.append(cand(str(i), score, family=fam, params=params, finished=float(i)))
    return run("cond", cands)


def test_importances_are_deterministic_and_handle_conditional_params() -> None:
    r = _conditional_run()
    a, b = compare([r]).engines[0], compare([r]).engines[0]
    assert a["importances"] == b["importances"]
    imp = a["importances"]
    assert set(imp) == {"family", "learning_rate", "max_depth", "C", "penalty"}
    assert math.isclose(sum(imp.values()), 1.0, abs_tol=1e-3)
    top_two = sorted(imp, key=imp.get, reverse=True)[:2]
    assert set(top_two) == {"family", "learning_rate"}
    assert imp["penalty"] < 0.05 and imp["max_depth"] < imp["learning_rate"]
    par = a["parallel"]
    assert par["params"][:2] == top_two and len(par["rows"]) == 40
    row = par["rows"][0]  # best first: a boosting trial, linear params missing
    assert row[-1] == max(c.score for c in r.candidates)
    assert row[par["params"].index("C")] is None
    assert row[par["params"].index("family")] == "hist_gradient_boosting"


def test_importances_need_a_few_scored_trials() -> None:
    r = run("few", [cand("0", 0.5, params={"C": 1.0}), cand("1", 0.6, params={"C": 2.0})])
    e = compare([r]).engines[0]
    assert e["importances"] is None and e["parallel"]["rows"] == [[2.0, 0.6], [1.0, 0.5]]


def test_pareto_points_and_front() -> None:
    cands = [cand(str(i), s) for i, s in enumerate([0.9, 0.8, 0.7, 0.85])]
    for c, size in zip(cands, [500.0, 100.0, 300.0, 600.0], strict=True):
        c.measures = {"model_size": size}
    r = run("mo", cands, objectives=["accuracy", "model_size"])
    p = compare([r]).engines[0]["pareto"]
    assert p["objectives"] == ["accuracy", "model_size"]
    assert p["directions"] == ["maximize", "minimize"]
    assert p["points"][0] == ["0", 0.9, 500.0] and len(p["points"]) == 4
    assert p["front"] == ["0", "1"]  # 2 is dominated by 1, 3 by 0
    r.pareto_front = ["1"]
    assert compare([r]).engines[0]["pareto"]["front"] == ["1"]  # the run's own front wins


def test_learning_curves_of_network_candidates() -> None:
    hist = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "val_accuracy": 0.5 + e / 100}
            for e in (1, 2, 3)]
    cands = [cand(str(i), 0.5 + i / 100, family="mlp", history=hist, architecture=f"mlp[{i}]")
             for i in range(12)] + [cand("lin", 0.99)]
    curves = compare([run("nn", cands)]).engines[0]["learning_curves"]
    assert len(curves) == 10 and curves[0]["candidate_id"] == "11"
    assert curves[0] == {"candidate_id": "11", "architecture": "mlp[11]", "epochs": [1, 2, 3],
                         "val": [1.2, 0.6, 1.2 / 3], "train": [1.0, 0.5, 1 / 3],
                         "val_metric_name": "val_accuracy", "val_metric": [0.51, 0.52, 0.53]}


# --- holdout ----------------------------------------------------------------------------------


class LabelModel:
    """Predicts fixed labels; no predict_proba (like a cloud RemoteModel)."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.labels[: len(X)]


def scored(cmp: Comparison) -> dict[str, Any]:
    assert cmp.holdout is not None
    return cmp.holdout


def with_model(r: RunResult, model: Any) -> RunResult:
    assert r.best is not None
    r.best.model = model
    return r


def _holdout(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"x": rng.normal(size=n), "y": y}), y


def test_holdout_scores_with_models_and_user_predictions(three: list[RunResult]) -> None:
    frame, y = _holdout()
    with_model(three[0], LabelModel(y.copy()))  # perfect
    wrong = y.copy()
    wrong[:100] = 1 - wrong[:100]
    cmp = compare(three, holdout=frame, predictions={"sagemaker": wrong}, n_boot=300)
    h = scored(cmp)
    assert h["n_rows"] == 200 and h["metric"] == "accuracy" and h["n_boot"] == 300
    scores = {s["label"]: s for s in h["scores"]}
    assert set(scores) == {"local/tpe", "sagemaker"}  # local/random has no model
    assert scores["local/tpe"]["score"] == 1.0
    assert scores["local/tpe"]["ci_low"] == scores["local/tpe"]["ci_high"] == 1.0
    assert scores["sagemaker"]["score"] == 0.5
    assert scores["sagemaker"]["ci_low"] < 0.5 < scores["sagemaker"]["ci_high"]
    (d,) = h["differences"]
    assert (d["a"], d["b"], d["diff"], d["significant"]) == ("local/tpe", "sagemaker", 0.5, True)
    assert 0 < d["ci_low"] < 0.5 < d["ci_high"]
    assert any(n.startswith("local/random: not scored: the result has no model")
               for n in h["notes"])
    assert "sagemaker: predictions supplied by the user." in h["notes"]
    assert h["notes"][0].startswith("Paired bootstrap over the same 200 rows, 300 resamples")


def test_holdout_refuses_a_label_only_model_for_a_probability_metric(tmp_path: Any) -> None:
    frame, y = _holdout()
    cands = [cand("0", 0.8)]
    cands[0].metrics = {"roc_auc": 0.8}
    r = run("auc", cands, metric="roc_auc", spec={**SPEC, "metric": "roc_auc"})
    with_model(r, LabelModel(y))
    path = tmp_path / "holdout.csv"
    frame.to_csv(path, index=False)
    h = scored(compare([r], holdout=str(path)))
    assert h["scores"] == [] and h["differences"] == []
    assert "roc_auc needs predicted probabilities" in h["notes"][0]
    # a positive-class probability from the user is accepted
    proba = np.where(y == 1, 0.9, 0.2)
    h = scored(compare([r], holdout=path, predictions={"local/tpe": proba}, n_boot=100))
    assert h["scores"][0]["score"] == 1.0


def test_holdout_input_errors(three: list[RunResult]) -> None:
    frame, y = _holdout()
    with pytest.raises(TargetError, match="no column 'y'"):
        compare(three, holdout=frame.drop(columns=["y"]))
    with pytest.raises(AutoMLInputError, match="not compared"):
        compare(three, holdout=frame, predictions={"nope": y})
    with pytest.raises(AutoMLInputError, match="has 3 rows"):
        compare(three, holdout=frame, predictions={"local/tpe": y[:3]})


def test_holdout_rows_without_target_are_left_out(three: list[RunResult]) -> None:
    frame, y = _holdout(10)
    frame["y"] = frame["y"].astype(float)
    frame.loc[0, "y"] = np.nan
    h = scored(compare([three[0]], holdout=frame, predictions={"local/tpe": y.astype(float)},
                n_boot=0))
    assert h["n_rows"] == 9 and h["scores"][0]["score"] == 1.0
    assert h["scores"][0]["ci_low"] is None  # n_boot=0: no intervals
    assert "1 holdout rows without a target were left out." in h["notes"]


def test_save_by_suffix(three: list[RunResult], tmp_path: Any, monkeypatch: Any) -> None:
    cmp = compare(three)
    data = json.loads(cmp.save(tmp_path / "r.json").read_text())
    assert data == cmp.to_dict()
    assert cmp.save(tmp_path / "r.md").read_text() == cmp.to_markdown()
    fake = types.ModuleType("automl_bridge.reports.html")
    fake.render_html = lambda d: f"<html>{d['title']}</html>"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "automl_bridge.reports.html", fake)
    assert cmp.save(tmp_path / "r.html").read_text() == f"<html>{cmp.title}</html>"
    with pytest.raises(AutoMLInputError, match=r"\.html, \.md or \.json"):
        cmp.save(tmp_path / "r.txt")


# --- a real run -------------------------------------------------------------------------------


def _data(n: int, rng: np.random.Generator) -> pd.DataFrame:
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = np.where(np.sin(3 * x1) + x2 ** 2 - 1 + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "cat": rng.choice(["a", "b"], n), "label": y})


def test_two_real_local_runs_compared_on_a_holdout() -> None:
    from automl_bridge import AutoMLJob

    rng = np.random.default_rng(0)
    train, test = _data(300, rng), _data(400, rng)
    results = []
    for search, models in (("tpe", ["linear"]), ("random", ["random_forest"])):
        job = AutoMLJob(task="classification", target="label", metric="roc_auc", max_trials=3,
                        time_budget_s=60, search=search, models=models, validation="holdout",
                        ensemble=False).with_backend("local", run_dir=None, isolation="inline")
        results.append(job.fit(train))
    cmp = compare(results, holdout=test, n_boot=500)
    assert cmp.labels == ["local/tpe", "local/random"]
    assert cmp.spec_differences["search"] == {"local/tpe": "tpe", "local/random": "random"}
    for e in cmp.engines:
        assert e["n_complete"] == 3 and e["anytime"] and e["parallel"]["rows"]
    h = scored(cmp)
    scores = {s["label"]: s for s in h["scores"]}
    assert set(scores) == {"local/tpe", "local/random"}
    for s in scores.values():
        assert s["ci_low"] <= s["score"] <= s["ci_high"]
    (d,) = h["differences"]
    # a linear model cannot fit sin(3 x1) + x2^2; the forest can: a real difference
    assert d["diff"] < 0 and d["significant"] and d["ci_high"] < 0
    text = cmp.to_markdown()
    assert "**local/random** is better than **local/tpe**" in text


def test_importing_reports_stays_light() -> None:
    import subprocess

    code = ("import sys, json, automl_bridge.reports; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pandas', 'numpy', 'sklearn', 'scipy', 'optuna'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []
