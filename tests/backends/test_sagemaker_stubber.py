"""SageMaker tier 2: the adapter's requests through the real boto3 clients with botocore's
Stubber (expected_params; botocore validates each request and each stubbed response against
the service model)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.backends.cloud.adapter import JobIdentity, RemoteJob, TrainingTable
from automl_bridge.backends.sagemaker import SageMakerAdapter
from automl_bridge.exceptions import CloudRequestError
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec

boto3 = pytest.importorskip("boto3")
from botocore.stub import ANY, Stubber  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "sagemaker"
ROLE = "arn:aws:iam::123456789012:role/AutoMLRole"
RUN = "20261127-101500-ab12cd"
NAME = "ab-20261127-101500-ab12cd-0f0f0f"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:automl-job/{NAME}"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
TAGS = [{"Key": "automl-bridge", "Value": "1"}, {"Key": "automl-bridge-run", "Value": RUN}]


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def stubs() -> Iterator[tuple[SageMakerAdapter, Stubber, Stubber]]:
    sm, s3 = _client("sagemaker"), _client("s3")
    adapter = SageMakerAdapter(role_arn=ROLE, s3_output="s3://bkt/automl/", region="us-east-1",
                               client=sm, s3_client=s3)
    with Stubber(sm) as sm_stub, Stubber(s3) as s3_stub:
        yield adapter, sm_stub, s3_stub
        sm_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


@pytest.fixture
def table(tmp_path: Path) -> TrainingTable:
    path = tmp_path / "train.csv"
    path.write_text("x1,x2,cat,label\n1,2,a,yes\n3,4,b,no\n")
    return TrainingTable(path=str(path), target="label", task="classification",
                         metric="roc_auc", n_rows=2, columns=("x1", "x2", "cat", "label"),
                         classes=("no", "yes"), sha256="0f" * 32)


IDENTITY = JobIdentity(run_id=RUN, data_sha256="0f" * 32, name=NAME,
                       labels={"automl-bridge": "1", "automl-bridge-run": RUN})
SPEC = JobSpec(task="classification", target="label", metric="roc_auc", time_budget_s=3600,
               max_trials=20, validation={"method": "holdout", "fraction": 0.25})


def describe(status: str = "InProgress", secondary: str = "TrainingModels",
             **more: Any) -> dict[str, Any]:
    channel = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                "S3Uri": f"s3://bkt/automl/{NAME}/input/"}}}
    return {"AutoMLJobName": NAME, "AutoMLJobArn": ARN, "AutoMLJobInputDataConfig": [channel],
            "OutputDataConfig": {"S3OutputPath": f"s3://bkt/automl/{NAME}/output/"},
            "RoleArn": ROLE, "CreationTime": T0, "LastModifiedTime": T0,
            "AutoMLJobStatus": status, "AutoMLJobSecondaryStatus": secondary, **more}


def candidate(i: int, value: float) -> dict[str, Any]:
    return {"CandidateName": f"{NAME}-XGBoost-{i}", "ObjectiveStatus": "Succeeded",
            "CandidateStatus": "Completed", "CreationTime": T0,
            "EndTime": T0 + dt.timedelta(minutes=5), "LastModifiedTime": T0,
            "CandidateSteps": [{"CandidateStepType": "AWS::SageMaker::TrainingJob",
                                "CandidateStepArn": f"{ARN}-t{i}",
                                "CandidateStepName": f"{NAME}-t{i}"}],
            "FinalAutoMLJobObjectiveMetric": {"MetricName": "AUC", "Value": value,
                                              "Type": "Maximize"},
            "InferenceContainers": [{"Image": "img", "ModelDataUrl": f"s3://bkt/m{i}.tar.gz"}],
            "CandidateProperties": {"CandidateMetrics": [
                {"MetricName": "LogLoss", "StandardMetricName": "LogLoss", "Value": 0.3,
                 "Set": "Validation"}]}}


def test_stage_submit_status_through_the_real_sdk(stubs: Any, table: TrainingTable) -> None:
    adapter, sm, s3 = stubs
    assert adapter.validate(SPEC, table) == []
    key = f"automl/{NAME}/input/train.csv"
    s3.add_client_error("head_object", "404", "Not Found", 404,
                        expected_params={"Bucket": "bkt", "Key": key})
    s3.add_response("put_object", {}, {
        "Bucket": "bkt", "Key": key, "Body": ANY, "ContentType": "text/csv",
        "Metadata": {"automl-bridge-sha256": "0f" * 32, "automl-bridge-run": RUN},
        "ChecksumAlgorithm": ANY})
    staged = adapter.stage(table, IDENTITY)
    assert staged.uri == f"s3://bkt/automl/{NAME}/input/" and staged.info["uploaded"]

    golden = json.loads((GOLDEN / "create_binary.json").read_text())
    sm.add_client_error("describe_auto_ml_job_v2", "ResourceNotFound", "no such job",
                        expected_params={"AutoMLJobName": NAME})
    sm.add_response("create_auto_ml_job_v2", {"AutoMLJobArn": ARN}, golden)
    job = adapter.submit(SPEC, table, staged, IDENTITY)
    assert (job.job_id, job.info["arn"], job.info["attached"]) == (NAME, ARN, False)
    assert job.info["features"] == ["x1", "x2", "cat"] and job.info["classes"] == ["no", "yes"]
    json.dumps(job.to_info())

    sm.add_response("describe_auto_ml_job_v2", describe("InProgress", "Starting"),
                    {"AutoMLJobName": NAME})
    assert adapter.status(job).status is RunStatus.PENDING


def test_same_data_is_not_uploaded_twice(stubs: Any, table: TrainingTable) -> None:
    adapter, _, s3 = stubs
    s3.add_response("head_object", {"Metadata": {"automl-bridge-sha256": "0f" * 32}},
                    {"Bucket": "bkt", "Key": f"automl/{NAME}/input/train.csv"})
    assert adapter.stage(table, IDENTITY).info["uploaded"] is False


def test_existing_job_is_attached_not_recreated(stubs: Any, table: TrainingTable) -> None:
    adapter, sm, _ = stubs
    sm.add_response("describe_auto_ml_job_v2", describe(), {"AutoMLJobName": NAME})
    sm.add_response("list_tags", {"Tags": TAGS}, {"ResourceArn": ARN})
    job = adapter.submit(SPEC, table, _staged(), IDENTITY)
    assert job.info["attached"] is True


def test_resource_in_use_race_attaches(stubs: Any, table: TrainingTable) -> None:
    adapter, sm, _ = stubs
    sm.add_client_error("describe_auto_ml_job_v2", "ResourceNotFound")
    sm.add_client_error("create_auto_ml_job_v2", "ResourceInUse", "Job exists")
    sm.add_response("describe_auto_ml_job_v2", describe(), {"AutoMLJobName": NAME})
    sm.add_response("list_tags", {"Tags": TAGS}, {"ResourceArn": ARN})
    assert adapter.submit(SPEC, table, _staged(), IDENTITY).info["attached"] is True


def test_a_name_taken_by_another_run_is_refused(stubs: Any) -> None:
    adapter, sm, _ = stubs
    sm.add_response("describe_auto_ml_job_v2", describe(), {"AutoMLJobName": NAME})
    sm.add_response("list_tags", {"Tags": [{"Key": "automl-bridge-run", "Value": "other"}]},
                    {"ResourceArn": ARN})
    with pytest.raises(CloudRequestError, match="not created by run"):
        adapter.find(IDENTITY)


def test_collect_paginates_and_estimates_cost(stubs: Any, table: TrainingTable) -> None:
    adapter, sm, _ = stubs
    best = candidate(0, 0.93)
    sm.add_response("describe_auto_ml_job_v2", describe(
        "Completed", "MaxCandidatesReached", EndTime=T0 + dt.timedelta(hours=1),
        BestCandidate=best), {"AutoMLJobName": NAME})
    base = {"AutoMLJobName": NAME, "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": "Descending", "MaxResults": 100}
    sm.add_response("list_candidates_for_auto_ml_job",
                    {"Candidates": [best, candidate(1, 0.9)], "NextToken": "p2"}, base)
    sm.add_response("list_candidates_for_auto_ml_job", {"Candidates": [candidate(2, 0.8)]},
                    {**base, "NextToken": "p2"})
    for i in range(3):
        sm.add_response("describe_training_job", {
            "TrainingJobName": f"{NAME}-t{i}", "TrainingJobArn": f"{ARN}-t{i}",
            "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.m5.4xlarge", "InstanceCount": 1,
                               "VolumeSizeInGB": 30},
            "StoppingCondition": {}, "CreationTime": T0, "BillableTimeInSeconds": 1200,
            "ModelArtifacts": {"S3ModelArtifacts": "s3://bkt/m"}},
            {"TrainingJobName": f"{NAME}-t{i}"})
    got = adapter.collect(RemoteJob("sagemaker", NAME, RUN), SPEC, table)
    assert [c.candidate_id for c in got.candidates] == [f"{NAME}-XGBoost-{i}" for i in range(3)]
    assert [c.score for c in got.candidates] == [0.93, 0.9, 0.8]
    assert got.candidates[0].metrics == {"roc_auc": 0.93, "log_loss": 0.3}
    assert got.best_id == f"{NAME}-XGBoost-0" and got.model_uri == "s3://bkt/m0.tar.gz"
    assert got.started_at == "2026-01-01T00:00:00+00:00"
    assert got.ended_at == "2026-01-01T01:00:00+00:00"
    assert got.cost["usd"] == pytest.approx(3 * 1200 / 3600 * 0.922, abs=1e-4)
    assert got.warnings == []


def test_cancel_is_idempotent(stubs: Any) -> None:
    adapter, sm, _ = stubs
    job = RemoteJob("sagemaker", NAME, RUN)
    sm.add_response("stop_auto_ml_job", {}, {"AutoMLJobName": NAME})
    sm.add_response("describe_auto_ml_job_v2", describe("Stopping", "Stopping"))
    assert adapter.cancel(job).stopping is True
    sm.add_client_error("stop_auto_ml_job", "ValidationException", "Job already completed")
    sm.add_response("describe_auto_ml_job_v2", describe("Completed", "Completed"))
    assert adapter.cancel(job).status is RunStatus.COMPLETED


def test_list_ours_filters_by_tag(stubs: Any) -> None:
    adapter, sm, _ = stubs
    other = ARN.replace(NAME, "ab-not-ours")
    sm.add_response("list_auto_ml_jobs", {"AutoMLJobSummaries": [
        {"AutoMLJobName": NAME, "AutoMLJobArn": ARN, "AutoMLJobStatus": "InProgress",
         "AutoMLJobSecondaryStatus": "TrainingModels", "CreationTime": T0,
         "LastModifiedTime": T0},
        {"AutoMLJobName": "ab-not-ours", "AutoMLJobArn": other, "AutoMLJobStatus": "InProgress",
         "AutoMLJobSecondaryStatus": "TrainingModels", "CreationTime": T0,
         "LastModifiedTime": T0}]},
        {"NameContains": "ab-", "StatusEquals": "InProgress", "MaxResults": 100})
    sm.add_response("list_tags", {"Tags": TAGS}, {"ResourceArn": ARN})
    sm.add_response("list_tags", {"Tags": []}, {"ResourceArn": other})
    jobs = adapter.list_ours()
    assert [(j.job_id, j.run_id) for j in jobs] == [(NAME, RUN)]


def _staged() -> Any:
    from automl_bridge.backends.cloud.adapter import StagedData

    return StagedData(uri=f"s3://bkt/automl/{NAME}/input/")
