"""Predictions from a Vertex AutoML model through a batch prediction job (nothing deployed).

The input CSV gets a row-number column (Vertex passes extra columns through and may reorder
rows), goes to the staging bucket, and a ``BatchPredictionJob`` (CSV in, CSV out, automatic
resources) writes its predictions next to it; they are read back in the input's order with a
``prediction`` column added. Batch prediction is billed per node hour while it runs.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"predicted_y": ['{"classes": ["a", "b"], "scores": [0.2, 0.8]}',
    ...                                       '{"value": 3.5}']})
    >>> prediction_column(frame, "y").tolist()
    ['b', 3.5]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.cloud.adapter import RemoteJob, TrainingTable
from automl_bridge.backends.cloud.naming import TAG_MARK, TAG_RUN, labels_for
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.backends.vertex import translate as tr
from automl_bridge.exceptions import RemoteJobFailedError, RunError, UnsupportedOperationError

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.backends.vertex.adapter import VertexAdapter

#: Column added to the input so predictions come back in the input's order.
ROW_COLUMN = "automl_bridge_row"
_DONE = ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED")
_ENDED = (*_DONE, "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
          "JOB_STATE_PAUSED")


def batch_predict(adapter: VertexAdapter, job: RemoteJob,
                  data: TrainingTable | str) -> pd.DataFrame:
    """Run a batch prediction job with the model of ``job``'s pipeline; see the module doc."""
    import pandas as pd

    client = adapter.client
    pipeline = client.get_pipeline(job.job_id)
    model = (pipeline.get("modelToUpload") or {}).get("name", "")
    if not model:
        raise UnsupportedOperationError(
            f"The Vertex pipeline {job.job_id} has no model to predict with (state "
            f"{tr.state_name(pipeline.get('state', ''))}); predictions need a succeeded run.")
    target = (pipeline.get("trainingTaskInputs") or {}).get("targetColumn", "")
    path = data.path if isinstance(data, TrainingTable) else str(data)
    frame = pd.read_csv(path)
    if target in frame.columns:
        frame = frame.drop(columns=[target])
    frame[ROW_COLUMN] = range(len(frame))
    with tempfile.TemporaryDirectory(prefix="automl-bridge-vertex-") as tmp:
        local = os.path.join(tmp, "input.csv")
        frame.to_csv(local, index=False)
        digest = _sha256(local)[:16]
        pid = job.job_id.rsplit("/", 1)[-1]
        key = f"predict-{pid}-{digest}"
        folder = "/".join(p for p in (adapter.prefix, "automl-bridge", "predict", key) if p)
        uri = client.upload(local, adapter.bucket, f"{folder}/input.csv")
        labels = {**labels_for("vertex", job.run_id or pid), "automl-bridge-predict": digest}
        body = tr.batch_prediction_body(display_name=f"ab-{key}", model=model, input_uri=uri,
                                        output_prefix=f"gs://{adapter.bucket}/{folder}/output",
                                        labels=labels)
        created = adapter.create_once(
            lambda: client.create_batch_prediction(body),
            lambda: _find(adapter, labels, body["displayName"]))
        final = _wait(adapter, created)
        return _read_output(adapter, final, target, tmp)


def _find(adapter: VertexAdapter, labels: dict[str, str], display_name: str
          ) -> dict[str, Any] | None:
    flt = tr.label_filter({k: v for k, v in labels.items() if k != TAG_MARK})
    for j in adapter.client.list_batch_predictions(flt):
        if j.get("displayName") == display_name and \
                tr.state_name(j.get("state", "")) not in ("JOB_STATE_FAILED",
                                                          "JOB_STATE_CANCELLED"):
            return j
    return None


def _wait(adapter: VertexAdapter, job: dict[str, Any]) -> dict[str, Any]:
    """Poll until the job ends (backoff 10 s -> 60 s); stop it on interrupt or deadline."""
    name = str(job["name"])
    start, delay = time.monotonic(), 10.0
    try:
        while True:
            job = adapter.client.get_batch_prediction(name)
            state = tr.state_name(job.get("state", ""))
            if state in _ENDED:
                break
            if time.monotonic() - start > adapter.predict_timeout_s:
                raise RunError(f"The Vertex batch prediction job {name} was still {state} after "
                               f"{adapter.predict_timeout_s:.0f} s; it was asked to stop. "
                               "Raise the option predict_timeout_s to wait longer.")
            adapter.sleep(delay)
            delay = min(60.0, delay * 2)
    except BaseException:
        with contextlib.suppress(Exception):
            adapter.client.cancel_batch_prediction(name)
        raise
    if state not in _DONE:
        error = job.get("error") or {}
        reason = redact(error.get("message") or state)
        raise RemoteJobFailedError(f"The Vertex batch prediction job {name} ended {state}: "
                                   f"{reason}", reason=reason)
    return job


def _read_output(adapter: VertexAdapter, job: dict[str, Any], target: str,
                 tmp: str) -> pd.DataFrame:
    import pandas as pd

    out_dir = str((job.get("outputInfo") or {}).get("gcsOutputDirectory", ""))
    bucket, _, prefix = out_dir[len("gs://"):].partition("/")
    names = [n for n in adapter.client.list_blobs(bucket, prefix.rstrip("/") + "/")
             if n.rsplit("/", 1)[-1].startswith("prediction") and n.endswith(".csv")]
    if not names:
        raise RunError(f"The Vertex batch prediction job {job.get('name')} wrote no "
                       f"predictions under {out_dir}.")
    frames = []
    for i, name in enumerate(sorted(names)):
        local = os.path.join(tmp, f"out-{i}.csv")
        adapter.client.download(bucket, name, local)
        frames.append(pd.read_csv(local))
    frame = pd.concat(frames, ignore_index=True)
    if ROW_COLUMN in frame.columns:
        frame = frame.sort_values(ROW_COLUMN, kind="mergesort").drop(columns=[ROW_COLUMN])
    frame = frame.reset_index(drop=True)
    frame["prediction"] = prediction_column(frame, target)
    return frame


def prediction_column(frame: pd.DataFrame, target: str) -> pd.Series:
    """The predicted label or value per row, from ``predicted_<target>`` (JSON with
    ``classes``/``scores`` or ``value``, or a plain value) or ``<target>_<class>_score``
    columns."""
    import pandas as pd

    col = f"predicted_{target}"
    if col in frame.columns:
        return pd.Series([_parse(v) for v in frame[col]], index=frame.index, dtype=object)
    scores = [c for c in frame.columns if c.startswith(f"{target}_") and c.endswith("_score")]
    if scores:
        labels = [c[len(target) + 1: -len("_score")] for c in scores]
        best = frame[scores].to_numpy().argmax(axis=1)
        return pd.Series([labels[i] for i in best], index=frame.index, dtype=object)
    raise RunError(f"The Vertex predictions have no column {col!r} or {target}_<class>_score; "
                   f"columns: {list(frame.columns)}.")


def _parse(value: Any) -> Any:
    parsed = value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = json.loads(value)
    if isinstance(parsed, dict):
        if "classes" in parsed and "scores" in parsed:
            pairs = list(zip(parsed["classes"], parsed["scores"], strict=False))
            return max(pairs, key=lambda p: float(p[1]))[0] if pairs else None
        if "value" in parsed:
            return parsed["value"]
    return parsed


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["ROW_COLUMN", "TAG_RUN", "batch_predict", "prediction_column"]
