"""SageMaker tier 3: scripted lifecycles through the whole backend (pending, running, completed,
failed, cancelled, interrupted) with the shipped fakes, and the adapter against moto (S3 and
the AutoML job calls moto implements) with a Stubber window for the candidate list, which moto
lacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.backends.cloud.adapter import JobIdentity, TrainingTable
from automl_bridge.backends.sagemaker import SageMakerAdapter, SageMakerBackend
from automl_bridge.exceptions import (
    ConfigError,
    PredictSchemaError,
    RemoteJobFailedError,
    RunError,
    UnsupportedOperationError,
    UnsupportedSpecError,
)
from automl_bridge.results import CandidateState, RunStatus
from automl_bridge.spec import JobSpec
from automl_bridge.testing.backends import CONTRACT, BackendCase
from automl_bridge.testing.fakes.sagemaker import fake_backend, make_fake_clients

pytest.importorskip("botocore")

ROLE = "arn:aws:iam::123456789012:role/AutoMLRole"
SPEC = JobSpec(task="classification", target="label", metric="roc_auc", time_budget_s=600,
               max_trials=5)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    x1 = rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n),
                         "cat": rng.choice(["a", "b"], size=n),
                         "label": np.where(x1 > 0, "yes", "no")})


def backend(tmp_path: Path, sm: Any, s3: Any, **options: Any) -> SageMakerBackend:
    return SageMakerBackend(role_arn=ROLE, s3_output="s3://bkt/automl/", client=sm,
                            s3_client=s3, work_dir=str(tmp_path), sleep=lambda s: None,
                            run_id="run-1", **options)


def test_completed_run_gives_a_run_result(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed", n_candidates=5, page_size=2)
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert result.backend == "sagemaker" and result.status is RunStatus.COMPLETED
    assert (result.metric, result.direction) == ("roc_auc", "maximize")
    assert len(result.candidates) == 5 and result.best is result.candidates[0]
    assert result.best.score == 0.9 and result.best.metrics["log_loss"] == 0.3
    assert result.extra["model_uri"].endswith("model-0.tar.gz")
    assert result.extra["cost"]["usd"] == pytest.approx(5 * 600 / 3600 * 0.23, abs=1e-4)
    assert result.extra["raw_state"] == "Completed"
    assert sm.created == [sm.created[0]] and sm.created[0].startswith("ab-run-1-")
    request = sm.requests[sm.created[0]]
    criteria = request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"]
    assert criteria == {"MaxCandidates": 5, "MaxAutoMLJobRuntimeInSeconds": 600}
    assert "ModelDeployConfig" not in request
    assert {t["Key"]: t["Value"] for t in request["Tags"]} == {
        "automl-bridge": "1", "automl-bridge-run": "run-1"}
    body, meta = s3.objects[("bkt", f"automl/{sm.created[0]}/input/train.csv")]
    assert body.decode().splitlines()[0] == "x1,x2,cat,label" and meta["automl-bridge-sha256"]
    leaderboard = result.leaderboard()
    assert leaderboard["candidate_id"].iloc[0] == result.best.candidate_id
    result.to_dict()


def test_statuses_pending_running_completed(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed")
    be = backend(tmp_path, sm, s3)
    handle = be.submit(SPEC, frame)
    seen = [be.status(handle) for _ in range(3)]
    assert seen == [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.COMPLETED]


def test_resubmit_attaches_to_the_same_job(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed")
    be = backend(tmp_path, sm, s3)
    first = be.submit(SPEC, frame)
    second = be.submit(SPEC, frame)
    assert len(sm.created) == 1
    assert second.info["job"]["job_id"] == first.info["job"]["job_id"]
    assert second.info["job"]["info"]["attached"] is True
    assert second.info["job"]["info"]["features"] == ["x1", "x2", "cat"]  # predict needs them
    assert sum(c == "s3.upload_file" for c in sm.calls) == 1  # same data, not re-uploaded


def test_failed_run_raises_with_the_reason(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="failed")
    with pytest.raises(RemoteJobFailedError, match="one value only") as info:
        backend(tmp_path, sm, s3).run(SPEC, frame)
    assert "one value only" in str(info.value.reason)
    assert sm.stopped == []  # a failed job needs no stop


def test_job_stopped_elsewhere_ends_cancelled(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="stopped")
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert result.status is RunStatus.CANCELLED and result.candidates == []


def test_cancel_stops_the_job(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="running")
    be = backend(tmp_path, sm, s3)
    handle = be.submit(SPEC, frame)
    be.cancel(handle)
    be.cancel(handle)  # idempotent
    assert sm.stopped == [sm.created[0]] * 2
    assert be.remote_status(handle).status is RunStatus.CANCELLED


def test_deadline_stops_the_job(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="running")
    clock = iter(range(0, 10_000, 100))
    be = SageMakerBackend(role_arn=ROLE, s3_output="s3://bkt/automl/", client=sm, s3_client=s3,
                          work_dir=str(tmp_path), sleep=lambda s: None,
                          clock=lambda: float(next(clock)), deadline_s=250)
    with pytest.raises(RunError, match="deadline"):
        be.run(SPEC, frame)
    assert sm.stopped and sm.stopped[0] == sm.created[0]


@pytest.mark.parametrize("k", range(1, 12))
def test_interrupt_at_any_call_leaves_no_job_running(tmp_path: Path, frame: pd.DataFrame,
                                                     k: int) -> None:
    sm, s3 = make_fake_clients(outcome="running", interrupt_at=k)
    be = backend(tmp_path, sm, s3, deadline_s=1e9)
    with pytest.raises(KeyboardInterrupt):
        be.run(SPEC, frame)
    for name in sm.created:
        assert sm.jobs[name]["lifecycle"][-1][0] == "Stopped", (k, sm.calls)
    assert (len(sm.created) == 1) == (k > 4), sm.calls  # head, upload, find, create


@pytest.mark.parametrize("operation", ["create_auto_ml_job_v2", "stop_auto_ml_job"])
def test_response_lost_after_the_call_took_effect(tmp_path: Path, frame: pd.DataFrame,
                                                  operation: str) -> None:
    sm, s3 = make_fake_clients(outcome="running", interrupt_after=operation)
    be = backend(tmp_path, sm, s3, deadline_s=1e9)
    if operation == "stop_auto_ml_job":
        handle = be.submit(SPEC, frame)
        with pytest.raises(KeyboardInterrupt):
            be.cancel(handle)
        be.cancel(handle)  # again: the job is stopping, fine
    else:
        with pytest.raises(KeyboardInterrupt):
            be.run(SPEC, frame)  # created, response lost: found by name and stopped
    assert len(sm.created) == 1 and sm.stopped[-1] == sm.created[0]
    assert sm.jobs[sm.created[0]]["lifecycle"][-1][0] == "Stopped"


def test_missing_best_candidate_is_handled(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed", best_candidate=False)
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert result.best is not None and result.best.score == 0.9
    assert any("no BestCandidate" in w for w in result.warnings)
    assert result.extra["model_uri"].endswith("model-0.tar.gz")


def test_unsupported_field_refused_before_anything_is_created(tmp_path: Path,
                                                              frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients()
    with pytest.raises(UnsupportedSpecError, match="search"):
        backend(tmp_path, sm, s3).run(SPEC.replace(search="tpe"), frame)
    assert sm.calls == []
    result = backend(tmp_path, sm, s3, strict=False).run(SPEC.replace(search="tpe"), frame)
    assert any(w.startswith("search:") for w in result.warnings)


def test_multiclass_default_metric(tmp_path: Path, frame: pd.DataFrame) -> None:
    data = frame.assign(label=np.array(["a", "b", "c"] * 20))
    sm, s3 = make_fake_clients()
    result = backend(tmp_path, sm, s3).run(
        JobSpec(task="classification", target="label", time_budget_s=60), data)
    request = sm.requests[sm.created[0]]
    assert request["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    assert result.metric == "log_loss" and result.best is not None
    assert result.best.score == 0.3  # LogLoss as reported in CandidateMetrics
    assert any("No metric was set" in w for w in result.warnings)


def test_options_are_checked(tmp_path: Path) -> None:
    sm, s3 = make_fake_clients()
    with pytest.raises(ConfigError, match="s3_output"):
        SageMakerBackend(role_arn=ROLE, s3_output="bucket", client=sm, s3_client=s3)
    with pytest.raises(ConfigError, match="no option"):
        SageMakerBackend(role_arn=ROLE, bucket="b", client=sm, s3_client=s3)


def test_list_ours_and_cleanup(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="running", page_size=1)
    be = backend(tmp_path, sm, s3)
    be.submit(SPEC, frame)
    be.run_id = "run-2"
    be.submit(SPEC, frame)
    sm.create_auto_ml_job_v2(**{**sm.requests[sm.created[0]], "AutoMLJobName": "ab-foreign",
                                "Tags": []})
    assert sorted(j.run_id for j in be.cleanup(dry_run=True)) == ["run-1", "run-2"]
    be.cleanup()
    assert sorted(sm.stopped) == sorted(sm.created[:2])


def test_predict_through_a_batch_transform(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(predictions=lambda line: "yes" if float(line.split(",")[0]) > 0
                               else "no")
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert result.best is not None
    test = frame.drop(columns=["label"]).iloc[:7][["cat", "x2", "x1"]]  # any column order
    got = result.best.model.predict(test)
    assert list(got) == list(frame["label"].iloc[:7])
    transform = next(iter(sm.transforms.values()))["request"]
    assert transform["TransformResources"] == {"InstanceType": "ml.m5.large",
                                               "InstanceCount": 1}
    model = transform["ModelName"]
    assert model not in sm.models  # deleted after the transform
    inputs = [k for (_, k) in s3.objects if "/predict/" in k and k.endswith("input/data.csv")]
    sent = s3.objects[("bkt", inputs[0])][0].decode().splitlines()
    assert len(sent) == 7 and sent[0].count(",") == 2  # x1,x2,cat; no header, no target
    with pytest.raises(PredictSchemaError, match="x2"):
        result.best.model.predict(test.drop(columns=["x2"]))


def test_predict_needs_a_best_candidate(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed", best_candidate=False)
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert result.best is not None
    with pytest.raises(UnsupportedOperationError, match="BestCandidate"):
        result.best.model.predict(frame.drop(columns=["label"]))


def test_failed_candidates_are_kept(tmp_path: Path, frame: pd.DataFrame) -> None:
    sm, s3 = make_fake_clients(outcome="completed", n_candidates=2)
    original = sm._candidates

    def with_failure(name: str) -> list[dict[str, Any]]:
        rows = original(name)
        rows[1] = {**rows[1], "CandidateStatus": "Failed", "ObjectiveStatus": "Failed",
                   "FailureReason": "AlgorithmError: out of memory"}
        return rows

    sm._candidates = with_failure  # type: ignore[method-assign]
    result = backend(tmp_path, sm, s3).run(SPEC, frame)
    assert [c.state for c in result.candidates] == [CandidateState.COMPLETE,
                                                    CandidateState.FAILED]
    assert result.candidates[1].error == "AlgorithmError: out of memory"


# --- moto: the real client against moto's SageMaker and S3 ------------------------------------


def test_adapter_against_moto(tmp_path: Path) -> None:
    moto = pytest.importorskip("moto")
    import boto3
    from botocore.stub import Stubber

    path = tmp_path / "train.csv"
    path.write_text("x1,cat,label\n1,a,yes\n2,b,no\n")
    table = TrainingTable(path=str(path), target="label", task="classification",
                          metric="roc_auc", n_rows=2, columns=("x1", "cat", "label"),
                          classes=("no", "yes"), sha256="ab" * 32)
    identity = JobIdentity(run_id="r-moto", data_sha256="ab" * 32, name="ab-r-moto-ababab",
                           labels={"automl-bridge": "1", "automl-bridge-run": "r-moto"})
    with moto.mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        adapter = SageMakerAdapter(role_arn=ROLE, s3_output="s3://bkt/automl/", client=sm,
                                   s3_client=s3, region="us-east-1", estimate_cost=False)
        assert adapter.validate(SPEC, table) == []
        assert adapter.find(identity) is None
        staged = adapter.stage(table, identity)
        head = s3.head_object(Bucket="bkt", Key="automl/ab-r-moto-ababab/input/train.csv")
        assert head["Metadata"]["automl-bridge-sha256"] == "ab" * 32
        assert adapter.stage(table, identity).info["uploaded"] is False
        job = adapter.submit(SPEC, table, staged, identity)
        assert adapter.submit(SPEC, table, staged, identity).info["attached"] is True
        assert adapter.status(job).status is RunStatus.RUNNING  # moto stays InProgress
        assert [j.job_id for j in adapter.list_ours()] == [job.job_id]
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        with Stubber(sm) as stub:  # moto has no ListCandidatesForAutoMLJob
            stub.add_response("list_candidates_for_auto_ml_job", {"Candidates": [{
                "CandidateName": "c-xgb", "ObjectiveStatus": "Succeeded",
                "CandidateStatus": "Completed", "CandidateSteps": [], "CreationTime": t0,
                "LastModifiedTime": t0,
                "FinalAutoMLJobObjectiveMetric": {"MetricName": "AUC", "Value": 0.93}}]})
            raws = list(adapter._candidates(job.job_id))
        assert [r["CandidateName"] for r in raws] == ["c-xgb"]
        stopped = adapter.cancel(job)
        assert stopped.status is RunStatus.CANCELLED
        assert adapter.cancel(job).status is RunStatus.CANCELLED
        assert adapter.list_ours() == []
        assert [j.job_id for j in adapter.list_ours(active_only=False)] == [job.job_id]


# --- the shipped backend contract ----------------------------------------------------------------


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_contract(check: Any, frame: pd.DataFrame, tmp_path: Path) -> None:
    case = BackendCase(
        "sagemaker", make=lambda outcome, strict: fake_backend(outcome, strict,
                                                               work_dir=str(tmp_path)),
        unsupported={"search": "tpe"}, reason="one value only",
        created=lambda b: len(b.adapter.sm.created))
    check(case, frame, SPEC)


def test_example_config_runs_on_the_fakes(tmp_path: Path) -> None:
    from automl_bridge.config import load_config

    example = Path(__file__).resolve().parents[2] / "examples" / "sagemaker.yaml"
    cfg = load_config(example, environ={"AUTOML_ROLE_ARN": ROLE,
                                        "AUTOML_S3_OUTPUT": "s3://bkt/automl/"})
    sm, s3 = make_fake_clients(outcome="completed")
    be = SageMakerBackend(**cfg.backend_options, client=sm, s3_client=s3,
                          work_dir=str(tmp_path), sleep=lambda s: None)
    result = be.run(cfg.spec, str(cfg.train))
    assert result.status is RunStatus.COMPLETED and result.warnings == []
    request = sm.requests[sm.created[0]]
    tabular = request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["ProblemType"] == "MulticlassClassification"
    assert tabular["TargetAttributeName"] == "species"
    assert request["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    assert request["DataSplitConfig"] == {"ValidationFraction": 0.2}
