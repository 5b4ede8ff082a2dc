"""In-memory fakes of the boto3 SageMaker and S3 clients, for offline tests of the sagemaker
backend (and of the cloud contract and interrupt tests).

The fakes implement exactly the calls the adapter makes, with the same keyword arguments and
response shapes, raising real ``botocore.exceptions.ClientError`` s (so the adapter's error
mapping runs). They record every call, the jobs created and the jobs stopped, script the job
lifecycle, and can raise ``KeyboardInterrupt`` at the k-th call (S3 and SageMaker calls count
together).

Example:
    >>> sm, s3 = make_fake_clients(outcome="completed")
    >>> _ = sm.create_auto_ml_job_v2(**minimal_request("ab-demo"))
    >>> [sm.describe_auto_ml_job_v2(AutoMLJobName="ab-demo")["AutoMLJobStatus"]
    ...  for _ in range(3)]
    ['InProgress', 'InProgress', 'Completed']
    >>> sm.created, sm.stopped
    (['ab-demo'], [])
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AutoMLRole"
_T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
_MINIMIZE = {"MSE", "RMSE", "MAE", "LogLoss"}
#: Lifecycles by outcome: the (status, secondary status) each describe returns, in order;
#: the last one repeats.
LIFECYCLES: dict[str, list[tuple[str, str]]] = {
    "completed": [("InProgress", "Starting"), ("InProgress", "TrainingModels"),
                  ("Completed", "MaxCandidatesReached")],
    "failed": [("InProgress", "Starting"), ("InProgress", "AnalyzingData"),
               ("Failed", "Failed")],
    "stopped": [("InProgress", "Starting"), ("Stopping", "Stopping"), ("Stopped", "Stopped")],
    "running": [("InProgress", "Starting"), ("InProgress", "TrainingModels")],
}


def client_error(operation: str, code: str, message: str = "", status: int = 400) -> Exception:
    """A botocore ``ClientError`` as the real client raises it."""
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message or code},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0}},
                       operation)


def minimal_request(name: str, metric: str = "AUC") -> dict[str, Any]:
    """A small valid ``CreateAutoMLJobV2`` request (for examples and tests)."""
    return {"AutoMLJobName": name, "RoleArn": ROLE,
            "AutoMLJobInputDataConfig": [{"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://bkt/in/"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://bkt/out/"},
            "AutoMLProblemTypeConfig": {"TabularJobConfig": {
                "TargetAttributeName": "y", "ProblemType": "BinaryClassification",
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 600}}},
            "AutoMLJobObjective": {"MetricName": metric}}


@dataclass
class _Shared:
    """State both fake clients see: the call counter and the S3 objects."""

    calls: list[str] = field(default_factory=list)
    interrupt_at: int | None = None
    objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = field(default_factory=dict)

    def tick(self, operation: str) -> None:
        self.calls.append(operation)
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt(f"fake interrupt at call {self.interrupt_at} ({operation})")


class FakeS3:
    """The S3 calls the adapter makes: ``head_object``, ``upload_file``, ``get_object``."""

    def __init__(self, shared: _Shared) -> None:
        self._shared = shared
        self.errors: dict[str, list[Exception]] = {}

    def _enter(self, operation: str) -> None:
        self._shared.tick(f"s3.{operation}")
        queue = self.errors.get(operation)
        if queue:
            raise queue.pop(0)

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._enter("head_object")
        if (Bucket, Key) not in self._shared.objects:
            raise client_error("HeadObject", "404", "Not Found", 404)
        body, meta = self._shared.objects[(Bucket, Key)]
        return {"ContentLength": len(body), "Metadata": dict(meta)}

    def upload_file(self, *, Filename: str, Bucket: str, Key: str,
                    ExtraArgs: dict[str, Any] | None = None) -> None:
        self._enter("upload_file")
        meta = dict((ExtraArgs or {}).get("Metadata") or {})
        self._shared.objects[(Bucket, Key)] = (Path(Filename).read_bytes(), meta)

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._enter("get_object")
        if (Bucket, Key) not in self._shared.objects:
            raise client_error("GetObject", "NoSuchKey", "The specified key does not exist.",
                               404)
        return {"Body": io.BytesIO(self._shared.objects[(Bucket, Key)][0])}

    @property
    def objects(self) -> dict[tuple[str, str], tuple[bytes, dict[str, str]]]:
        """Stored objects: ``(bucket, key) -> (bytes, metadata)``."""
        return self._shared.objects


class FakeSageMaker:
    """The SageMaker calls the adapter makes, with a scripted lifecycle per job.

    Args:
        shared: state shared with the :class:`FakeS3` (see :func:`make_fake_clients`).
        outcome: ``"completed"``, ``"failed"``, ``"stopped"`` or ``"running"`` (see
            :data:`LIFECYCLES`).
        n_candidates: candidates a completed job lists.
        best_candidate: whether ``BestCandidate`` is in the describe response.
        page_size: candidates / jobs per page (pagination is exercised).
        predictions: one output line for each transform input line.
        interrupt_after: an operation whose first call takes effect and then raises
            KeyboardInterrupt (the response is lost), e.g. ``"create_auto_ml_job_v2"``.
    """

    def __init__(self, shared: _Shared, *, outcome: str = "completed", n_candidates: int = 3,
                 best_candidate: bool = True, page_size: int = 2,
                 predictions: Callable[[str], str] = lambda line: "1",
                 interrupt_after: str | None = None) -> None:
        self._shared = shared
        self.interrupt_after = interrupt_after
        self.outcome = outcome
        self.n_candidates = n_candidates
        self.best_candidate = best_candidate
        self.page_size = page_size
        self.predictions = predictions
        self.jobs: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.stopped: list[str] = []
        self.requests: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.transforms: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, list[Exception]] = {}

    # --- helpers -------------------------------------------------------------------------------

    @property
    def calls(self) -> list[str]:
        """Every call so far (``s3.`` prefixed for S3)."""
        return self._shared.calls

    def fail_next(self, operation: str, code: str, message: str = "", status: int = 400) -> None:
        """Make the next ``operation`` call raise a ``ClientError`` with ``code``."""
        self.errors.setdefault(operation, []).append(client_error(operation, code, message,
                                                                  status))

    def _enter(self, operation: str) -> None:
        self._shared.tick(operation)
        queue = self.errors.get(operation)
        if queue:
            raise queue.pop(0)

    def _lose_response(self, operation: str) -> None:
        if self.interrupt_after == operation:
            self.interrupt_after = None
            raise KeyboardInterrupt(f"fake interrupt after {operation} took effect")

    def _get(self, name: str, operation: str) -> dict[str, Any]:
        if name not in self.jobs:
            raise client_error(operation, "ResourceNotFound", f"Job {name} does not exist.")
        return self.jobs[name]

    # --- AutoML jobs -----------------------------------------------------------------------

    def create_auto_ml_job_v2(self, **request: Any) -> dict[str, Any]:
        self._enter("create_auto_ml_job_v2")
        name = request["AutoMLJobName"]
        if name in self.jobs:
            raise client_error("CreateAutoMLJobV2", "ResourceInUse", f"Job {name} exists.")
        arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:automl-job/{name}"
        self.jobs[name] = {"arn": arn, "step": 0, "stop_step": None,
                           "tags": {t["Key"]: t["Value"] for t in request.get("Tags") or []},
                           "lifecycle": list(LIFECYCLES[self.outcome])}
        self.requests[name] = request
        self.created.append(name)
        self._lose_response("create_auto_ml_job_v2")
        return {"AutoMLJobArn": arn}

    def _state(self, job: dict[str, Any]) -> tuple[str, str]:
        life = job["lifecycle"]
        return life[min(job["step"], len(life) - 1)]

    def describe_auto_ml_job_v2(self, *, AutoMLJobName: str) -> dict[str, Any]:
        self._enter("describe_auto_ml_job_v2")
        job = self._get(AutoMLJobName, "DescribeAutoMLJobV2")
        status, secondary = self._state(job)
        job["step"] += 1
        request = self.requests[AutoMLJobName]
        out: dict[str, Any] = {
            "AutoMLJobName": AutoMLJobName, "AutoMLJobArn": job["arn"],
            "AutoMLJobInputDataConfig": request["AutoMLJobInputDataConfig"],
            "OutputDataConfig": request["OutputDataConfig"], "RoleArn": request["RoleArn"],
            "CreationTime": _T0, "LastModifiedTime": _T0 + dt.timedelta(minutes=5),
            "AutoMLJobStatus": status, "AutoMLJobSecondaryStatus": secondary,
            "AutoMLJobObjective": request.get("AutoMLJobObjective", {}),
            "ResolvedAttributes": {"AutoMLJobObjective": request.get("AutoMLJobObjective", {}),
                                   "CompletionCriteria": request["AutoMLProblemTypeConfig"][
                                       "TabularJobConfig"].get("CompletionCriteria", {})},
        }
        if status in ("Completed", "Failed", "Stopped"):
            out["EndTime"] = _T0 + dt.timedelta(minutes=30)
        if status == "Failed":
            out["FailureReason"] = "ClientError: the target column 'y' has one value only"
        if status == "Completed" and self.best_candidate:
            out["BestCandidate"] = self._candidates(AutoMLJobName)[0]
        return out

    def stop_auto_ml_job(self, *, AutoMLJobName: str) -> dict[str, Any]:
        self._enter("stop_auto_ml_job")
        job = self._get(AutoMLJobName, "StopAutoMLJob")
        status, _ = self._state(job)
        self.stopped.append(AutoMLJobName)
        if status in ("InProgress", "Stopping"):
            job["lifecycle"] = [("Stopping", "Stopping"), ("Stopped", "Stopped")]
            job["step"] = 0
        self._lose_response("stop_auto_ml_job")
        return {}

    def list_auto_ml_jobs(self, *, NameContains: str = "", StatusEquals: str = "",
                          MaxResults: int = 100, NextToken: str = "0") -> dict[str, Any]:
        self._enter("list_auto_ml_jobs")
        rows = []
        for name, job in self.jobs.items():
            status, secondary = self._state(job)
            if NameContains in name and (not StatusEquals or status == StatusEquals):
                rows.append({"AutoMLJobName": name, "AutoMLJobArn": job["arn"],
                             "AutoMLJobStatus": status, "AutoMLJobSecondaryStatus": secondary,
                             "CreationTime": _T0, "LastModifiedTime": _T0})
        return self._page(rows, "AutoMLJobSummaries", NextToken, min(MaxResults,
                                                                    self.page_size))

    def list_tags(self, *, ResourceArn: str, NextToken: str = "0") -> dict[str, Any]:
        self._enter("list_tags")
        for job in self.jobs.values():
            if job["arn"] == ResourceArn:
                return {"Tags": [{"Key": k, "Value": v} for k, v in job["tags"].items()]}
        raise client_error("ListTags", "ValidationException", f"No resource {ResourceArn}.")

    def list_candidates_for_auto_ml_job(self, *, AutoMLJobName: str,
                                        NextToken: str = "0", MaxResults: int = 100,
                                        **_: Any) -> dict[str, Any]:
        self._enter("list_candidates_for_auto_ml_job")
        self._get(AutoMLJobName, "ListCandidatesForAutoMLJob")
        return self._page(self._candidates(AutoMLJobName), "Candidates", NextToken,
                          min(MaxResults, self.page_size))

    def _page(self, rows: list[Any], key: str, token: str, size: int) -> dict[str, Any]:
        start = int(token or 0)
        out: dict[str, Any] = {key: rows[start:start + size]}
        if start + size < len(rows):
            out["NextToken"] = str(start + size)
        return out

    def _candidates(self, name: str) -> list[dict[str, Any]]:
        objective = self.requests[name].get("AutoMLJobObjective", {}).get("MetricName", "F1")
        minimize = objective in _MINIMIZE
        out = []
        for i in range(self.n_candidates):
            value = round(0.3 + 0.05 * i, 4) if minimize else round(0.9 - 0.03 * i, 4)
            step = f"{name}-t{i:03d}"
            out.append({
                "CandidateName": f"{name}-XGBoost-{i:03d}" if i % 2 == 0
                else f"{name}-LightGBM-{i:03d}",
                "FinalAutoMLJobObjectiveMetric": {"Type": "Minimize" if minimize else "Maximize",
                                                  "MetricName": objective, "Value": value},
                "ObjectiveStatus": "Succeeded", "CandidateStatus": "Completed",
                "CandidateSteps": [{"CandidateStepType": "AWS::SageMaker::TrainingJob",
                                    "CandidateStepArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}"
                                                        f":training-job/{step}",
                                    "CandidateStepName": step}],
                "InferenceContainers": [{"Image": "123.dkr.ecr/autogluon:latest",
                                         "ModelDataUrl": f"s3://bkt/out/{name}/model-{i}.tar.gz",
                                         "Environment": {"MODEL_NAME": "m"}}],
                "CreationTime": _T0, "EndTime": _T0 + dt.timedelta(minutes=10 + i),
                "LastModifiedTime": _T0,
                "CandidateProperties": {"CandidateMetrics": [
                    {"MetricName": objective, "StandardMetricName": objective, "Value": value,
                     "Set": "Validation"},
                    {"MetricName": "LogLoss", "StandardMetricName": "LogLoss",
                     "Value": round(0.3 + 0.02 * i, 4), "Set": "Validation"},
                    {"MetricName": objective, "Value": value + 0.01, "Set": "Train"}]},
            })
        return out

    # --- cost and prediction ---------------------------------------------------------------

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        self._enter("describe_training_job")
        return {"TrainingJobName": TrainingJobName, "TrainingJobStatus": "Completed",
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                                   "VolumeSizeInGB": 30},
                "TrainingTimeInSeconds": 600, "BillableTimeInSeconds": 600}

    def create_model(self, **request: Any) -> dict[str, Any]:
        self._enter("create_model")
        if request["ModelName"] in self.models:
            raise client_error("CreateModel", "ValidationException",
                               "Cannot create already existing model.")
        self.models[request["ModelName"]] = request
        return {"ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/"
                            f"{request['ModelName']}"}

    def delete_model(self, *, ModelName: str) -> dict[str, Any]:
        self._enter("delete_model")
        if ModelName not in self.models:
            raise client_error("DeleteModel", "ValidationException",
                               f"Could not find model {ModelName}.")
        del self.models[ModelName]
        return {}

    def create_transform_job(self, **request: Any) -> dict[str, Any]:
        self._enter("create_transform_job")
        self.transforms[request["TransformJobName"]] = {"request": request, "step": 0}
        return {"TransformJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/"
                                   f"{request['TransformJobName']}"}

    def describe_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        self._enter("describe_transform_job")
        if TransformJobName not in self.transforms:
            raise client_error("DescribeTransformJob", "ResourceNotFound",
                               f"Could not find job {TransformJobName}.")
        job = self.transforms[TransformJobName]
        job["step"] += 1
        if job["step"] < 2:
            return {"TransformJobName": TransformJobName, "TransformJobStatus": "InProgress"}
        request = job["request"]
        src = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = src[5:].split("/", 1)
        out_bucket, out_prefix = request["TransformOutput"]["S3OutputPath"][5:].split("/", 1)
        for (b, key), (body, _) in list(self._shared.objects.items()):
            if b == bucket and key.startswith(prefix):
                lines = [self.predictions(line) for line in body.decode().splitlines()
                         if line.strip()]
                out_key = out_prefix + key[len(prefix):] + ".out"
                self._shared.objects[(out_bucket, out_key)] = (
                    ("\n".join(lines) + "\n").encode(), {})
        return {"TransformJobName": TransformJobName, "TransformJobStatus": "Completed",
                "TransformResources": request["TransformResources"],
                "TransformStartTime": _T0, "TransformEndTime": _T0 + dt.timedelta(minutes=4)}

    def stop_transform_job(self, *, TransformJobName: str) -> dict[str, Any]:
        self._enter("stop_transform_job")
        return {}


def make_fake_clients(*, interrupt_at: int | None = None, **options: Any
                      ) -> tuple[FakeSageMaker, FakeS3]:
    """``(sagemaker, s3)`` fakes sharing one call counter and object store.

    Args:
        interrupt_at: raise KeyboardInterrupt at this call (1-based, S3 calls included).
        **options: :class:`FakeSageMaker` options (``outcome``, ``n_candidates``, ...).
    """
    shared = _Shared(interrupt_at=interrupt_at)
    return FakeSageMaker(shared, **options), FakeS3(shared)


def fake_backend(outcome: str = "completed", strict: bool = True, **options: Any) -> Any:
    """A :class:`~automl_bridge.backends.sagemaker.SageMakerBackend` over fresh fakes whose
    jobs end as ``outcome`` (the backend contract's ``make(outcome, strict)``); the fakes are
    ``backend.adapter.sm`` / ``backend.adapter.s3``. Polling does not sleep.

    Args:
        outcome: see :data:`LIFECYCLES`.
        strict: the backend's ``strict`` option.
        **options: more backend options, and ``interrupt_at`` / fake options.
    """
    from automl_bridge.backends.sagemaker import SageMakerBackend

    fake_keys = {"interrupt_at", "n_candidates", "best_candidate", "page_size", "predictions",
                 "interrupt_after"}
    sm, s3 = make_fake_clients(outcome=outcome,
                               **{k: v for k, v in options.items() if k in fake_keys})
    rest = {k: v for k, v in options.items() if k not in fake_keys}
    rest.setdefault("sleep", lambda s: None)
    return SageMakerBackend(role_arn=ROLE, s3_output="s3://bkt/automl/", client=sm,
                            s3_client=s3, strict=strict, **rest)
