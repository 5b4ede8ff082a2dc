"""``AzureAdapter``: the cloud-adapter protocol on Azure ML AutoML (azure-ai-ml).

validate (no network) -> stage (MLTable folder on the datastore, once per data fingerprint) ->
submit (GET the deterministic job name first; attach if it exists; else PUT the AutoML job with
its timeout always set and our tags) -> status (``JobStatus`` -> common states) -> cancel
(``jobs.begin_cancel``, idempotent on ended jobs) -> collect (child runs, the best child,
metrics through MLflow when installed, cost). The SDK is imported only when a client is made.

Example:
    >>> adapter = AzureAdapter(subscription_id="s", resource_group="rg", workspace="ws")
    >>> adapter.name, adapter.settings.serverless
    ('azure', True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl_bridge.backends.azure import client as az
from automl_bridge.backends.azure.mapping import job_state
from automl_bridge.backends.azure.results import (
    best_child,
    build_candidates,
    estimate_cost,
    iso,
    model_uri,
)
from automl_bridge.backends.azure.settings import AzureSettings
from automl_bridge.backends.azure.staging import upload_mltable
from automl_bridge.backends.azure.translate import plan_job
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
from automl_bridge.exceptions import (
    BackendNotInstalledError,
    CloudError,
    UnsupportedOperationError,
)
from automl_bridge.results import RunStatus

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.spec import JobSpec

#: Longest wait for the cancel request's operation (the job itself may stop much later).
CANCEL_WAIT_S = 10.0
METRICS_HINT = ("pip install 'automl-bridge[azure-metrics]' (mlflow-skinny and azureml-mlflow) "
                "to read every metric of the child runs")


class AzureAdapter:
    """Azure ML AutoML through ``azure-ai-ml``; options as in :data:`settings.OPTIONS`."""

    name = "azure"

    def __init__(self, *, strict: bool = True, **options: Any) -> None:
        self.settings = AzureSettings.from_options(strict=strict, **options)
        self._ml: Any = None

    @property
    def ml(self) -> Any:
        """The ``MLClient`` (made on first use)."""
        if self._ml is None:
            self._ml = az.make_client(self.settings)
        return self._ml

    # --- before the job ------------------------------------------------------------------------

    def validate(self, spec: JobSpec, table: TrainingTable) -> list[str]:
        """Decide every spec field without the network (see :func:`translate.plan_job`)."""
        _, warnings = plan_job(spec, table, self.settings, name="ab-validate", tags={},
                               data_uri=self.settings.data_asset or "azureml:validate:1")
        if self.settings.metrics == "mlflow" and _mlflow_missing():
            raise BackendNotInstalledError(
                f"The azure option metrics='mlflow' needs MLflow: {METRICS_HINT}.")
        if self.settings.data_asset:
            warnings.append(f"azure: data: the job trains on {self.settings.data_asset} "
                            "(option data_asset); the local data was only checked.")
        return warnings

    def stage(self, table: TrainingTable, identity: JobIdentity) -> StagedData:
        """The MLTable folder of the data (uploaded unless already there), or ``data_asset``."""
        if self.settings.data_asset:
            return StagedData(uri=self.settings.data_asset, info={"data_asset": True})
        info = upload_mltable(self.ml, csv_path=table.path, sha256=table.sha256,
                              datastore=self.settings.datastore,
                              credential=getattr(self.ml, "_credential", None)
                              or self.settings.credential,
                              transport=self.settings.transport)
        return StagedData(uri=str(info["uri"]), info=info)

    def submit(self, spec: JobSpec, table: TrainingTable, staged: StagedData,
               identity: JobIdentity) -> RemoteJob:
        """Attach to the job named ``identity.name`` if it exists, else create it."""
        found = self.find(identity)
        if found is not None:
            return found
        plan, _ = plan_job(spec, table, self.settings, name=identity.name,
                           tags=dict(identity.labels), data_uri=staged.uri)
        job = az.build_job(plan)
        try:
            created = az.call("create the AutoML job",
                              lambda: self.ml.jobs.create_or_update(job))
        except CloudError as exc:
            if not az.is_conflict(exc):
                raise
            found = self.find(identity)  # created by a concurrent or interrupted submit
            if found is None:
                raise
            return found
        return self._remote(created, identity.run_id, attached=False)

    def find(self, identity: JobIdentity) -> RemoteJob | None:
        """The job named ``identity.name``, if it exists."""
        try:
            job = az.call("get the job", lambda: self.ml.jobs.get(identity.name))
        except CloudError as exc:
            if az.is_not_found(exc):
                return None
            raise
        return self._remote(job, identity.run_id, attached=True)

    # --- while it runs -------------------------------------------------------------------------

    def status(self, job: RemoteJob) -> RemoteStatus:
        """The job's state now (``Unknown`` counts as running)."""
        entity = az.call("get the job status", lambda: self.ml.jobs.get(job.job_id))
        return self._status(entity)

    def cancel(self, job: RemoteJob) -> RemoteStatus:
        """``jobs.begin_cancel`` unless the job has ended; waits for the request, not the
        stop (``CancelRequested`` can last a while)."""
        now = self.status(job)
        if now.is_terminal or now.stopping:
            return now
        try:
            poller = az.call("cancel the job", lambda: self.ml.jobs.begin_cancel(job.job_id))
            # the POST was accepted; follow the operation briefly, never for minutes
            az.call("cancel the job", lambda: poller.wait(timeout=CANCEL_WAIT_S))
        except CloudError:
            after = self.status(job)  # ended meanwhile: cancelling it is refused
            if after.is_terminal:
                return after
            raise
        return self.status(job)

    def list_ours(self, *, active_only: bool = True) -> list[RemoteJob]:
        """Jobs tagged ``automl-bridge`` in the workspace (non-terminal ones by default)."""
        jobs = az.call("list jobs", lambda: list(self.ml.jobs.list(tag=TAG_MARK,
                                                                   job_type="AutoML")))
        out = []
        for entity in jobs:
            tags = dict(getattr(entity, "tags", None) or {})
            if TAG_MARK not in tags:
                continue
            if active_only and job_state(_text(getattr(entity, "status", None)))[0].is_terminal:
                continue
            out.append(self._remote(entity, str(tags.get(TAG_RUN, "")), attached=True))
        return out

    # --- after it ran --------------------------------------------------------------------------

    def collect(self, job: RemoteJob, spec: JobSpec, table: TrainingTable) -> RemoteResult:
        """Child runs as candidates, the best child, model location, timings and cost."""
        warnings: list[str] = []
        entity = az.call("get the job", lambda: self.ml.jobs.get(job.job_id))
        tags = dict(getattr(entity, "tags", None) or {})
        props = dict(getattr(entity, "properties", None) or {})
        try:
            kids = az.call("list the child runs", lambda: list(
                self.ml.jobs.list(parent_job_name=job.job_id)))
        except CloudError as exc:
            kids = []
            warnings.append(f"azure: results: the child runs could not be listed "
                            f"({redact(exc)}); candidates come from the job's tags only.")
        children = [_child(k) for k in kids if k is not None]
        metrics = self._metrics(job.job_id, [c["name"] for c in children], warnings)
        primary = _text(getattr(entity, "primary_metric", None)) or \
            str(props.get("primary_metric", ""))
        candidates = build_candidates(
            job.job_id, tags=tags, children=children, metrics=metrics,
            primary=_snake(primary), metric=table.metric, task=table.task,
            n_classes=len(table.classes or ()))
        best = best_child(tags, props)
        started, ended = _times(entity)
        cost, note = self._cost(started, ended, entity)
        if note:
            warnings.append(note)
        return RemoteResult(
            candidates=candidates, best_id=best, model_uri=model_uri(best),
            started_at=started, ended_at=ended, cost=cost, warnings=warnings,
            extra={"job_name": job.job_id, "status": _text(getattr(entity, "status", None)),
                   "primary_metric": primary, "studio_url": getattr(entity, "studio_url", None),
                   "experiment": getattr(entity, "experiment_name", None)})

    def predict(self, job: RemoteJob, data: TrainingTable | str) -> pd.DataFrame:
        """Not offered: Azure scores AutoML models through an endpoint (a deployment)."""
        raise UnsupportedOperationError(
            "Predictions from an Azure ML AutoML model need a batch or online endpoint, a "
            "deployment that bills until deleted and that this backend does not create "
            "unasked. The best model is an MLflow model at RunResult.extra['model_uri']: "
            "register it (ml_client.models.create_or_update(Model(path=..., "
            "type='mlflow_model'))) and deploy it yourself, or download it and predict "
            "locally with mlflow.pyfunc.load_model (see docs/clouds/azure.md).")

    # --- helpers -------------------------------------------------------------------------------

    def _remote(self, entity: Any, run_id: str, *, attached: bool) -> RemoteJob:
        tags = dict(getattr(entity, "tags", None) or {})
        return RemoteJob(backend=self.name, job_id=str(entity.name),
                         run_id=run_id or str(tags.get(TAG_RUN, "")),
                         info={"workspace": self.settings.workspace,
                               "experiment": getattr(entity, "experiment_name", None),
                               "studio_url": getattr(entity, "studio_url", None),
                               "attached": attached})

    def _status(self, entity: Any) -> RemoteStatus:
        raw = _text(getattr(entity, "status", None)) or "Unknown"
        common, stopping = job_state(raw)
        reason = None
        if common is RunStatus.FAILED:
            found = az.job_failure(self.ml, str(entity.name))
            where = getattr(entity, "studio_url", None) or "Azure ML studio"
            reason = redact(found) if found else f"the job ended {raw}; see {where}"
        return RemoteStatus(status=common, raw=raw, failure_reason=reason, stopping=stopping)

    def _metrics(self, job_name: str, children: list[str],
                 warnings: list[str]) -> dict[str, dict[str, float]] | None:
        reader = self.settings.metrics_reader
        if reader is None and self.settings.metrics != "none":
            from automl_bridge.backends.azure.mlflow_metrics import make_reader

            reader = make_reader(self.ml)
            if reader is None:
                warnings.append(f"azure: metrics: MLflow is not installed, so each candidate "
                                f"has only the primary metric from the job's tags; "
                                f"{METRICS_HINT}.")
        if reader is None:
            return None
        try:
            return dict(reader(job_name, children))
        except Exception as exc:
            warnings.append(f"azure: metrics: reading the child runs' metrics failed "
                            f"({redact(exc)}); candidates have the primary metric only.")
            return None

    def _cost(self, started: str, ended: str, entity: Any) -> tuple[dict[str, Any], str | None]:
        s = self.settings
        if s.serverless:
            vm, nodes = s.instance_type, s.instance_count
        else:
            vm, nodes = None, s.max_concurrent_trials or 1
            try:
                cluster = az.call("read the compute cluster",
                                  lambda: self.ml.compute.get(s.compute))
                vm = getattr(cluster, "size", None)
                nodes = min(nodes, int(getattr(cluster, "max_instances", None) or nodes))
            except CloudError as exc:
                return {}, f"azure: cost: the cluster could not be read ({redact(exc)})."
        return estimate_cost(started=started, ended=ended, nodes=nodes, vm_size=vm,
                             price_per_node_hour=s.price_per_node_hour)


def _child(entity: Any) -> dict[str, Any]:
    ctx = getattr(entity, "creation_context", None)
    return {"name": str(entity.name), "status": _text(getattr(entity, "status", None)),
            "properties": dict(getattr(entity, "properties", None) or {}),
            "created_at": iso(getattr(ctx, "created_at", None)),
            "ended_at": iso(getattr(ctx, "last_modified_at", None))}


def _text(value: Any) -> str:
    """An SDK enum's value (``JobStatus.RUNNING`` -> ``"Running"``), or the text."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _times(entity: Any) -> tuple[str, str]:
    ctx = getattr(entity, "creation_context", None)
    return iso(getattr(ctx, "created_at", None)), iso(getattr(ctx, "last_modified_at", None))


def _snake(primary: str) -> str:
    """Azure's enum spelling of a primary metric as the logged metric name."""
    names = {"aucweighted": "AUC_weighted", "accuracy": "accuracy",
             "normmacrorecall": "norm_macro_recall",
             "averageprecisionscoreweighted": "average_precision_score_weighted",
             "precisionscoreweighted": "precision_score_weighted",
             "spearmancorrelation": "spearman_correlation",
             "normalizedrootmeansquarederror": "normalized_root_mean_squared_error",
             "r2score": "r2_score",
             "normalizedmeanabsoluteerror": "normalized_mean_absolute_error"}
    key = primary.replace("_", "").lower()
    return names.get(key, primary)


def _mlflow_missing() -> bool:
    import importlib.util

    try:
        return any(importlib.util.find_spec(m) is None for m in ("mlflow", "azureml.mlflow"))
    except ImportError:  # the parent package (azureml) is missing
        return True
