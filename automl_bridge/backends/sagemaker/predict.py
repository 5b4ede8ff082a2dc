"""Predictions from the best Autopilot candidate through a SageMaker batch transform.

No endpoint is deployed (endpoints bill until deleted). The steps, each idempotent by name:

1. the rows (feature columns in training order, no header, no target) go to
   ``<s3_output><job>/predict/<hash>/input/data.csv``;
2. ``CreateModel`` from the best candidate's ``InferenceContainers`` (classification: the last
   container answers ``predicted_label``);
3. ``CreateTransformJob`` (one ``transform_instance_type`` instance, CSV lines in and out),
   polled until it ends or ``predict_timeout_s`` passes (then it is stopped);
4. the output ``data.csv.out`` is read back; the model is deleted.

The transform bills instance time while it runs (see :mod:`.cost` for the prices).

Example:
    >>> transform_name("ab-run-1-abcdef", "0123456789abcdef")
    'ab-run-1-abcdef-p-0123456789ab'
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.cloud.adapter import RemoteJob, TrainingTable
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.backends.sagemaker import validate
from automl_bridge.exceptions import (
    CloudError,
    CloudNotFoundError,
    CloudRequestError,
    PredictSchemaError,
    RemoteJobFailedError,
    RunError,
    UnsupportedOperationError,
)

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.backends.sagemaker.adapter import SageMakerAdapter

_DONE = ("Completed", "Failed", "Stopped")


def transform_name(job_name: str, digest: str) -> str:
    """A transform job name (<= 63 characters) for one job and one input."""
    return f"{job_name}-p-{digest[:12]}"


def batch_predict(adapter: SageMakerAdapter, job: RemoteJob,
                  data: TrainingTable | str) -> pd.DataFrame:
    """A DataFrame with a ``prediction`` column, one row per input row."""
    import pandas as pd

    desc = adapter._call("describe_auto_ml_job_v2", AutoMLJobName=job.job_id)
    best = desc.get("BestCandidate") or {}
    if desc.get("AutoMLJobStatus") != "Completed" or not best.get("InferenceContainers"):
        raise UnsupportedOperationError(
            f"The SageMaker job {job.job_id!r} has no best model to predict with (status "
            f"{desc.get('AutoMLJobStatus')}, best candidate "
            f"{best.get('CandidateName') or 'missing'}). Predictions need a completed job "
            "with a BestCandidate.")
    path = data.path if isinstance(data, TrainingTable) else str(data)
    frame = pd.read_csv(path)
    features = job.info.get("features")
    if features:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise PredictSchemaError(
                f"The prediction data lacks the training columns {missing}. It needs "
                f"{features}.")
        frame = frame[list(features)]
    else:
        frame = frame.drop(columns=[job.info.get("target")], errors="ignore")
    body = frame.to_csv(index=False, header=False).encode()
    digest = hashlib.sha256(body).hexdigest()
    prefix = f"{adapter._require_s3_output()}{job.job_id}/predict/{digest[:12]}/"
    bucket, key = validate.split_s3_uri(prefix + "input/data.csv")
    with tempfile.TemporaryDirectory(prefix="automl-bridge-sm-") as tmp:
        local = Path(tmp) / "data.csv"
        local.write_bytes(body)
        adapter_s3_call(adapter, "upload_file", Filename=str(local), Bucket=bucket, Key=key,
                        ExtraArgs={"ContentType": "text/csv"})
    model = f"{job.job_id}-model"
    _create_model(adapter, job, model, best)
    try:
        name = transform_name(job.job_id, digest)
        _run_transform(adapter, job, name, model, prefix)
        _, out_key = validate.split_s3_uri(prefix + "output/data.csv.out")
        got = adapter_s3_call(adapter, "get_object", Bucket=bucket, Key=out_key)
        text = got["Body"].read().decode()
    finally:
        with contextlib.suppress(CloudError):
            adapter._call("delete_model", ModelName=model)
    values = [line.strip() for line in io.StringIO(text) if line.strip()]
    if len(values) != len(frame):
        raise RunError(f"The batch transform of {job.job_id!r} returned {len(values)} "
                       f"predictions for {len(frame)} rows.")
    return pd.DataFrame({"prediction": _typed(values, job.info)})


def adapter_s3_call(adapter: SageMakerAdapter, operation: str, **kwargs: Any) -> Any:
    """An S3 call with errors mapped."""
    from automl_bridge.backends.sagemaker.client import call

    return call(adapter.s3, operation, **kwargs)


def _create_model(adapter: SageMakerAdapter, job: RemoteJob, model: str,
                  best: dict[str, Any]) -> None:
    containers = [{k: v for k, v in c.items() if k in ("Image", "ModelDataUrl", "Environment")}
                  for c in best["InferenceContainers"]]
    if job.info.get("task") == "classification":
        env = dict(containers[-1].get("Environment") or {})
        env["SAGEMAKER_INFERENCE_OUTPUT"] = "predicted_label"
        containers[-1]["Environment"] = env
    with contextlib.suppress(CloudNotFoundError, CloudRequestError):  # "could not find model"
        adapter._call("delete_model", ModelName=model)  # a leftover of an interrupted call
    adapter._call("create_model", ModelName=model, ExecutionRoleArn=adapter._require_role(),
                  Containers=containers,
                  Tags=[{"Key": k, "Value": v} for k, v in _tags(adapter, job).items()])


def _tags(adapter: SageMakerAdapter, job: RemoteJob) -> dict[str, str]:
    from automl_bridge.backends.cloud.naming import TAG_MARK, TAG_RUN

    return {TAG_MARK: "1", TAG_RUN: job.run_id or job.job_id}


def _run_transform(adapter: SageMakerAdapter, job: RemoteJob, name: str, model: str,
                   prefix: str) -> None:
    try:
        state = adapter._call("describe_transform_job", TransformJobName=name)
    except (CloudNotFoundError, CloudRequestError):  # not there yet ("could not find")
        adapter._call(
            "create_transform_job", TransformJobName=name, ModelName=model,
            TransformInput={"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": prefix + "input/"}},
                "ContentType": "text/csv", "SplitType": "Line"},
            TransformOutput={"S3OutputPath": prefix + "output/", "Accept": "text/csv",
                             "AssembleWith": "Line"},
            TransformResources={"InstanceType": adapter.transform_instance_type,
                                "InstanceCount": 1},
            Tags=[{"Key": k, "Value": v} for k, v in _tags(adapter, job).items()])
        state = {"TransformJobStatus": "InProgress"}
    start, delay = adapter.clock(), 5.0
    try:
        while state.get("TransformJobStatus") not in _DONE:
            if adapter.clock() - start >= adapter.predict_timeout_s:
                raise RunError(f"The batch transform {name!r} did not end within "
                               f"{adapter.predict_timeout_s:.0f} s (option predict_timeout_s); "
                               "it was asked to stop.")
            adapter.sleep(delay)
            delay = min(30.0, delay * 2)
            state = adapter._call("describe_transform_job", TransformJobName=name)
    except BaseException:
        with contextlib.suppress(CloudError):
            adapter._call("stop_transform_job", TransformJobName=name)
        raise
    if state["TransformJobStatus"] != "Completed":
        reason = redact(state.get("FailureReason") or state["TransformJobStatus"])
        raise RemoteJobFailedError(f"The batch transform {name!r} of SageMaker job "
                                   f"{job.job_id!r} ended {state['TransformJobStatus']}: "
                                   f"{reason}", reason=reason)


def _typed(values: list[str], info: dict[str, Any]) -> list[Any]:
    """Predictions as the training target's type (classes, or floats for regression)."""
    if info.get("task") == "regression":
        return [float(v) for v in values]
    classes = {str(c): c for c in info.get("classes") or []}
    return [classes.get(v, v) for v in values]
