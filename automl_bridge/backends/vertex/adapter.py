"""The Vertex AI AutoML Tabular adapter: the cloud-adapter protocol over :mod:`.client`.

Flow: ``validate`` (no network) -> ``stage`` (CSV to ``staging_bucket`` on GCS, then a managed
tabular Dataset) -> ``submit`` (a ``TrainingPipeline`` with the ``automl_tabular`` task,
labelled ``automl-bridge-run=<run id>``; a pipeline with that label and name is attached, not
duplicated) -> ``status`` / ``cancel`` -> ``collect`` (the model, its evaluation, the cost).
Nothing is ever deployed; :meth:`VertexAdapter.predict` uses batch prediction.

Example:
    >>> a = VertexAdapter(project="my-project", location="us-central1",
    ...                   staging_bucket="gs://my-bucket/automl")
    >>> a.name, a.strict, a.bucket, a.prefix
    ('vertex', True, 'my-bucket', 'automl')
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.cloud.adapter import (
    JobIdentity,
    RemoteJob,
    RemoteResult,
    RemoteStatus,
    StagedData,
    TrainingTable,
)
from automl_bridge.backends.cloud.naming import TAG_MARK, TAG_RUN
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.backends.vertex import translate as tr
from automl_bridge.backends.vertex.client import VertexClient, check_task_inputs
from automl_bridge.backends.vertex.results import (
    R2_NOTE,
    TRAINING_USD_PER_NODE_HOUR,
    candidate_from,
    training_cost,
)
from automl_bridge.backends.vertex.validate import check_options, parse_bucket, plan
from automl_bridge.exceptions import CloudRequestError
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec

if TYPE_CHECKING:
    import pandas as pd


class VertexAdapter:
    """Vertex AI AutoML Tabular behind the cloud-adapter protocol.

    Args:
        project: Google Cloud project id.
        location: Vertex AI region (default ``us-central1``); the bucket should be there too.
        staging_bucket: ``gs://bucket[/prefix]`` for the training CSV and prediction files.
        credentials: google-auth credentials (default: Application Default Credentials).
        api_transport: ``"rest"`` (default) or ``"grpc"``.
        strict: refuse spec fields Vertex cannot honour (default); ``False`` approximates them
            with recorded warnings.
        budget_milli_node_hours: the training budget (1000-72000; 1000 = one node hour);
            default: one node hour per hour of ``time_budget_s``.
        usd_per_node_hour: training price used for the cost estimate.
        request_timeout_s: timeout of each API request.
        retry_attempts: calls at most per request on throttling / unavailability.
        retry_sleep: the wait between retries and prediction polls (injectable for tests).
        predict_timeout_s: how long :meth:`predict` waits for its batch prediction job.
    """

    name = "vertex"

    def __init__(self, *, project: str, staging_bucket: str, location: str = "us-central1",
                 credentials: Any = None, api_transport: str = "rest", strict: bool = True,
                 budget_milli_node_hours: int | None = None,
                 usd_per_node_hour: float = TRAINING_USD_PER_NODE_HOUR,
                 request_timeout_s: float = 120.0, retry_attempts: int = 6,
                 retry_sleep: Callable[[float], None] = time.sleep,
                 predict_timeout_s: float = 3600.0) -> None:
        check_options(project=project, location=location, staging_bucket=staging_bucket,
                      api_transport=api_transport,
                      budget_milli_node_hours=budget_milli_node_hours)
        self.project, self.location = project, location
        self.staging_bucket = staging_bucket
        self.bucket, self.prefix = parse_bucket(staging_bucket)
        self.strict = bool(strict)
        self.budget_milli_node_hours = budget_milli_node_hours
        self.usd_per_node_hour = float(usd_per_node_hour)
        self.predict_timeout_s = float(predict_timeout_s)
        self.sleep = retry_sleep
        self.client = VertexClient(project=project, location=location, credentials=credentials,
                                   api_transport=api_transport, timeout_s=request_timeout_s,
                                   attempts=retry_attempts, sleep=retry_sleep)

    # --- the protocol --------------------------------------------------------------------------

    def validate(self, spec: JobSpec, table: TrainingTable) -> list[str]:
        """No network: refuse what Vertex cannot honour; warnings for approximations."""
        return list(self._plan(spec, table).warnings)

    def stage(self, table: TrainingTable, identity: JobIdentity) -> StagedData:
        """Upload the CSV to GCS and register a managed tabular Dataset (reused when this
        run already registered the same data)."""
        found = self._find_dataset(identity)
        if found is not None:
            return self._staged(found, reused=True)
        uri = self.client.upload(table.path, self.bucket, self.blob(identity, "train.csv"))
        body = tr.dataset_body(display_name=identity.name, gcs_uri=uri, labels=identity.labels)
        dataset = self.create_once(lambda: self.client.create_dataset(body),
                                    lambda: self._find_dataset(identity))
        return self._staged(dataset, reused=False)

    def submit(self, spec: JobSpec, table: TrainingTable, staged: StagedData,
               identity: JobIdentity) -> RemoteJob:
        """Create the training pipeline, or attach to the one this identity created."""
        the_plan = self._plan(spec, table)
        existing = self.find(identity)
        if existing is not None:
            return RemoteJob(self.name, existing.job_id, run_id=identity.run_id,
                             info={**existing.info, "attached": True})
        body = tr.pipeline_body(the_plan, target=table.target,
                                dataset_id=str(staged.info["dataset_id"]),
                                display_name=identity.name, labels=identity.labels)
        try:
            check_task_inputs(body["trainingTaskInputs"])
        except Exception as exc:  # a bug on our side, caught before it reaches Vertex
            raise CloudRequestError(f"The Vertex training task inputs do not match the "
                                    f"AutoML tabular schema: {redact(exc)}") from exc
        created = self.create_once(lambda: self.client.create_pipeline(body),
                                    lambda: self._find_pipeline(identity))
        return self._job(created, identity.run_id, attached=False)

    def find(self, identity: JobIdentity) -> RemoteJob | None:
        """The pipeline this identity created (same run label and name), if any."""
        found = self._find_pipeline(identity)
        return None if found is None else self._job(found, identity.run_id, attached=True)

    def status(self, job: RemoteJob) -> RemoteStatus:
        """The pipeline's state in common terms (PipelineState kept raw)."""
        return self._status(self.client.get_pipeline(job.job_id))

    def cancel(self, job: RemoteJob) -> RemoteStatus:
        """Ask Vertex to cancel the pipeline; a finished one is left as it is (idempotent)."""
        current = self._status(self.client.get_pipeline(job.job_id))
        if current.is_terminal or current.stopping:
            return current
        with contextlib.suppress(CloudRequestError):  # FAILED_PRECONDITION: it ended
            self.client.cancel_pipeline(job.job_id)
        return self._status(self.client.get_pipeline(job.job_id))

    def collect(self, job: RemoteJob, spec: JobSpec, table: TrainingTable) -> RemoteResult:
        """The model, its evaluation as the one candidate, timings and the cost estimate."""
        pipeline = self.client.get_pipeline(job.job_id)
        model = (pipeline.get("modelToUpload") or {}).get("name", "")
        evaluations = self.client.list_evaluations(model) if model else []
        candidate = candidate_from(pipeline, evaluations, metric=table.metric)
        warnings = []
        if not evaluations:
            warnings.append(f"vertex: the model {model or '(none)'} has no evaluation; its "
                            "metrics are unknown.")
        elif table.metric not in candidate.metrics:
            warnings.append(f"vertex: the evaluation reports no {table.metric!r}; the "
                            f"candidate's score is NaN (raw metrics: "
                            f"{sorted(candidate.extra['raw_metrics'])}).")
        if "r2" in candidate.metrics:
            warnings.append(f"vertex: {R2_NOTE}")
        inputs = pipeline.get("trainingTaskInputs") or {}
        budget = inputs.get("trainBudgetMilliNodeHours")
        cost = training_cost(pipeline.get("trainingTaskMetadata"),
                             budget=int(float(budget)) if budget is not None else None,
                             usd_per_node_hour=self.usd_per_node_hour)
        extra = {
            "pipeline": pipeline.get("name", ""), "state": pipeline.get("state", ""),
            "model": model, "model_id": pipeline.get("modelId", ""),
            "dataset": (pipeline.get("inputDataConfig") or {}).get("datasetId", ""),
            "training_task_metadata": pipeline.get("trainingTaskMetadata") or {},
            "optimization_objective": inputs.get("optimizationObjective", ""),
            "train_budget_milli_node_hours": budget,
            "labels": pipeline.get("labels") or {},
        }
        return RemoteResult(candidates=[candidate], best_id=candidate.candidate_id,
                            model_uri=model or None, started_at=pipeline.get("startTime", ""),
                            ended_at=pipeline.get("endTime", ""), cost=cost,
                            warnings=warnings, extra=extra)

    def list_ours(self, *, active_only: bool = True) -> list[RemoteJob]:
        """Pipelines labelled ``automl-bridge=1`` (only those still running by default)."""
        found = self.client.list_pipelines(tr.label_filter({TAG_MARK: "1"}))
        out = []
        for p in found:
            if (p.get("labels") or {}).get(TAG_MARK) != "1":
                continue
            if active_only and tr.state_name(p.get("state", "")) not in tr.ACTIVE_STATES:
                continue
            out.append(self._job(p, (p.get("labels") or {}).get(TAG_RUN, ""), attached=True))
        return out

    def predict(self, job: RemoteJob, data: TrainingTable | str) -> pd.DataFrame:
        """Predictions of the pipeline's model through a batch prediction job (nothing is
        deployed); see :mod:`automl_bridge.backends.vertex.predict`."""
        from automl_bridge.backends.vertex.predict import batch_predict

        return batch_predict(self, job, data)

    # --- helpers -------------------------------------------------------------------------------

    def blob(self, identity: JobIdentity, filename: str) -> str:
        """The object name of one of this run's files in the staging bucket."""
        parts = [p for p in (self.prefix, "automl-bridge", identity.name, filename) if p]
        return "/".join(parts)

    def _plan(self, spec: JobSpec, table: TrainingTable) -> tr.VertexPlan:
        return plan(spec, table, strict=self.strict,
                    budget_milli_node_hours=self.budget_milli_node_hours)

    def _status(self, pipeline: dict[str, Any]) -> RemoteStatus:
        error = pipeline.get("error") or {}
        status = tr.status_of(pipeline.get("state", "PIPELINE_STATE_UNSPECIFIED"),
                              int(error.get("code") or 0), str(error.get("message") or ""))
        if status.failure_reason:
            status = RemoteStatus(status.status, status.raw, status.detail,
                                  redact(status.failure_reason), status.stopping)
        if status.status is RunStatus.CANCELLED and status.raw == "PIPELINE_STATE_PAUSED":
            status = RemoteStatus(status.status, status.raw, "paused (treated as stopped)",
                                  status.failure_reason)
        return status

    def _run_filter(self, identity: JobIdentity) -> tuple[str, str]:
        run_label = identity.labels.get(TAG_RUN, identity.run_id)
        return tr.label_filter({TAG_RUN: run_label}), run_label

    def _find_pipeline(self, identity: JobIdentity) -> dict[str, Any] | None:
        flt, run_label = self._run_filter(identity)
        for p in self.client.list_pipelines(flt):
            if (p.get("labels") or {}).get(TAG_RUN) == run_label and \
                    p.get("displayName") == identity.name:
                return p
        return None

    def _find_dataset(self, identity: JobIdentity) -> dict[str, Any] | None:
        flt, run_label = self._run_filter(identity)
        for d in self.client.list_datasets(flt):
            if (d.get("labels") or {}).get(TAG_RUN) == run_label and \
                    d.get("displayName") == identity.name:
                return d
        return None

    def create_once(self, create: Callable[[], dict[str, Any]],
                     find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """Create a resource; on a transient failure look it up by label before trying again,
        so a request that landed despite the error is not repeated."""
        from automl_bridge.backends.cloud.retry import retry_call
        from automl_bridge.exceptions import CloudTransientError

        tried = [False]

        def attempt() -> dict[str, Any]:
            if tried[0]:
                found = find()
                if found is not None:
                    return found
            tried[0] = True
            return create()

        return retry_call(attempt, is_transient=lambda e: isinstance(e, CloudTransientError),
                          attempts=self.client.attempts, sleep=self.sleep)

    def _staged(self, dataset: dict[str, Any], *, reused: bool) -> StagedData:
        name = str(dataset.get("name", ""))
        uris = (((dataset.get("metadata") or {}).get("inputConfig") or {})
                .get("gcsSource") or {}).get("uri") or [""]
        return StagedData(uri=str(uris[0]), info={"dataset": name,
                                                  "dataset_id": name.rsplit("/", 1)[-1],
                                                  "reused": reused})

    def _job(self, pipeline: dict[str, Any], run_id: str, *, attached: bool) -> RemoteJob:
        name = str(pipeline.get("name", ""))
        return RemoteJob(self.name, name, run_id=run_id, info={
            "display_name": pipeline.get("displayName", ""),
            "state": tr.state_name(pipeline.get("state", "")),
            "attached": attached,
            "console": f"https://console.cloud.google.com/vertex-ai/locations/{self.location}"
                       f"/training/{name.rsplit('/', 1)[-1]}?project={self.project}",
        })
