"""The SageMaker Autopilot adapter: stage to S3, create the V2 job idempotently, poll, stop,
collect the candidates, list our jobs, and predict through a batch transform.

Every SDK call goes through :func:`automl_bridge.backends.sagemaker.client.call`, so errors
come out as the cloud error tree. The clients are created on first use (boto3 standard
retries) unless injected with ``client=`` / ``s3_client=``.

Example:
    >>> a = SageMakerAdapter(role_arn="arn:aws:iam::123456789012:role/R",
    ...                      s3_output="s3://bkt/automl", client=object(), s3_client=object())
    >>> a.s3_output, a.strict
    ('s3://bkt/automl/', True)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.cloud.adapter import (
    JobIdentity,
    RemoteJob,
    RemoteResult,
    RemoteStatus,
    StagedData,
    TrainingTable,
)
from automl_bridge.backends.cloud.naming import PREFIX, TAG_MARK, TAG_RUN, job_name, labels_for
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.backends.sagemaker import client as sm_client
from automl_bridge.backends.sagemaker import cost as sm_cost
from automl_bridge.backends.sagemaker import results as sm_results
from automl_bridge.backends.sagemaker import translate, validate
from automl_bridge.exceptions import (
    CloudAuthError,
    CloudError,
    CloudNotFoundError,
    CloudRequestError,
    ConfigError,
)
from automl_bridge.metrics import get_metric
from automl_bridge.results import CandidateState

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.spec import JobSpec

#: At most this many training/processing/transform jobs are described for the cost estimate.
MAX_COST_DESCRIBES = 300
_TAG_VALUE = re.compile(r"[^\w\s.:/=+\-@]")


class SageMakerAdapter:
    """SageMaker Autopilot (``CreateAutoMLJobV2``, tabular) behind the cloud adapter protocol.

    Args:
        role_arn: execution role SageMaker assumes (needed to submit and predict).
        s3_output: ``s3://bucket/prefix/`` for the data, the results and predictions.
        region / profile: AWS region and profile of the clients created here.
        client / s3_client: injected boto3 (or fake) clients.
        strict: refuse spec fields Autopilot cannot honour (False: warn and approximate).
        max_runtime_per_trial_s: ``MaxRuntimePerTrainingJobInSeconds``.
        max_attempts: botocore standard-mode attempts per call (clients created here).
        estimate_cost: describe the candidates' jobs for a cost estimate.
        transform_instance_type / predict_timeout_s: batch transform instance and deadline.
        sleep / clock: injectable for tests (prediction polling).
    """

    name = "sagemaker"

    def __init__(self, *, role_arn: str | None = None, s3_output: str | None = None,
                 region: str | None = None, profile: str | None = None, client: Any = None,
                 s3_client: Any = None, strict: bool = True,
                 max_runtime_per_trial_s: int | None = None,
                 max_attempts: int = sm_client.DEFAULT_MAX_ATTEMPTS, estimate_cost: bool = True,
                 transform_instance_type: str = "ml.m5.large", predict_timeout_s: float = 3600,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.role_arn = None if role_arn is None else validate.check_role_arn(role_arn)
        self.s3_output = None if s3_output is None else validate.check_s3_output(s3_output)
        self.region = validate.check_region(region)
        self.profile = profile
        self.strict = bool(strict)
        self.max_runtime_per_trial_s = validate.check_positive_int(
            "max_runtime_per_trial_s", max_runtime_per_trial_s)
        self.max_attempts = validate.check_positive_int("max_attempts", max_attempts) or 1
        self.estimate_cost = bool(estimate_cost)
        if not isinstance(transform_instance_type, str) or \
                not transform_instance_type.startswith("ml."):
            raise ConfigError("The option 'transform_instance_type' of the sagemaker backend "
                              f"must be an instance type such as 'ml.m5.large'. Got "
                              f"{transform_instance_type!r}.")
        self.transform_instance_type = transform_instance_type
        self.predict_timeout_s = float(predict_timeout_s)
        self.sleep, self.clock = sleep, clock
        if client is None or s3_client is None:
            sm_client.require_boto3()
        self._sm, self._s3 = client, s3_client
        self._service_model: Any = None

    # --- clients ---------------------------------------------------------------------------

    @property
    def sm(self) -> Any:
        """The SageMaker client (created on first use)."""
        if self._sm is None:
            self._sm, s3 = sm_client.make_clients(region=self.region, profile=self.profile,
                                                  max_attempts=self.max_attempts)
            self._s3 = self._s3 or s3
        return self._sm

    @property
    def s3(self) -> Any:
        """The S3 client (created on first use)."""
        if self._s3 is None:
            sm, self._s3 = sm_client.make_clients(region=self.region, profile=self.profile,
                                                  max_attempts=self.max_attempts)
            self._sm = self._sm or sm
        return self._s3

    def _call(self, operation: str, **kwargs: Any) -> Any:
        return sm_client.call(self.sm, operation, **kwargs)

    # --- names -----------------------------------------------------------------------------

    def job_name(self, identity: JobIdentity) -> str:
        """The Autopilot job name: the identity's own when legal, else one derived for
        SageMaker's limits (32 characters, letters, digits and ``-``)."""
        name = identity.name
        if validate.JOB_NAME.fullmatch(name) and name.startswith(PREFIX):
            return name
        return job_name(identity.run_id, identity.data_sha256, max_len=32)

    def tags(self, identity: JobIdentity) -> dict[str, str]:
        """Our tags, with values legal for AWS tags."""
        labels = identity.labels or labels_for(self.name, identity.run_id)
        return {k: _TAG_VALUE.sub("-", str(v))[:256] for k, v in labels.items()}

    def _paths(self, name: str) -> tuple[str, str]:
        """``(training data prefix, output path)`` of a job."""
        out = self._require_s3_output()
        return f"{out}{name}/input/", f"{out}{name}/output/"

    def _require_s3_output(self) -> str:
        if self.s3_output is None:
            validate.check_s3_output(None)
        return str(self.s3_output)

    def _require_role(self) -> str:
        return self.role_arn if self.role_arn is not None else validate.check_role_arn(None)

    # --- protocol --------------------------------------------------------------------------

    def validate(self, spec: JobSpec, table: TrainingTable) -> list[str]:
        """Options, the spec's mapping, and the request against botocore's service model."""
        role = self._require_role()
        self._require_s3_output()
        plan = self.plan(spec, table)
        train, out = self._paths("ab-validate")
        request = translate.create_request(plan, job_name="ab-validate", role_arn=role,
                                           train_uri=train, output_uri=out, tags={})
        problems = validate.request_errors(self.service_model(), "CreateAutoMLJobV2", request)
        if problems:
            raise ConfigError("The SageMaker request for this spec breaks the service's "
                              "rules:\n- " + "\n- ".join(problems))
        return list(plan.warnings)

    def plan(self, spec: JobSpec, table: TrainingTable) -> translate.Plan:
        """The :class:`~automl_bridge.backends.sagemaker.translate.Plan` of ``spec``."""
        return validate.plan_job(spec, table, strict=self.strict,
                                 max_runtime_per_trial_s=self.max_runtime_per_trial_s)

    def service_model(self) -> Any:
        """botocore's SageMaker service model (the injected client's when it has one)."""
        if self._service_model is None:
            meta = getattr(self._sm, "meta", None)
            model = getattr(meta, "service_model", None)
            self._service_model = model if getattr(model, "service_name", "") == "sagemaker" \
                else validate.load_service_model()
        return self._service_model

    def stage(self, table: TrainingTable, identity: JobIdentity) -> StagedData:
        """Upload the CSV (streamed, multipart when large) unless the same data is there."""
        name = self.job_name(identity)
        train, _ = self._paths(name)
        bucket, key = validate.split_s3_uri(train + "train.csv")
        size = Path(table.path).stat().st_size
        info = {"bucket": bucket, "key": key, "bytes": size, "uploaded": True}
        try:
            head = sm_client.call(self.s3, "head_object", Bucket=bucket, Key=key)
            if (head.get("Metadata") or {}).get("automl-bridge-sha256") == table.sha256 \
                    and table.sha256:
                return StagedData(uri=train, info={**info, "uploaded": False})
        except (CloudNotFoundError, CloudAuthError):  # 403 without s3:ListBucket: upload
            pass
        sm_client.call(self.s3, "upload_file", Filename=table.path, Bucket=bucket, Key=key,
                       ExtraArgs={"ContentType": "text/csv", "Metadata": {
                           "automl-bridge-sha256": table.sha256,
                           "automl-bridge-run": self.tags(identity)[TAG_RUN]}})
        return StagedData(uri=train, info=info)

    def submit(self, spec: JobSpec, table: TrainingTable, staged: StagedData,
               identity: JobIdentity) -> RemoteJob:
        """Create the job, or attach to the one with this name (describe first)."""
        existing = self._find(identity, table)
        if existing is not None:
            return existing
        name = self.job_name(identity)
        _, out = self._paths(name)
        request = translate.create_request(
            self.plan(spec, table), job_name=name, role_arn=self._require_role(),
            train_uri=staged.uri, output_uri=out, tags=self.tags(identity))
        problems = validate.request_errors(self.service_model(), "CreateAutoMLJobV2", request)
        if problems:
            raise CloudRequestError("Not sent: the CreateAutoMLJobV2 request breaks the "
                                    "service's rules:\n- " + "\n- ".join(problems))
        try:
            arn = self._call("create_auto_ml_job_v2", **request)["AutoMLJobArn"]
        except CloudRequestError as exc:
            if sm_client.error_code(exc.__cause__ or exc) != "ResourceInUse":
                raise
            found = self._find(identity, table)  # created by an earlier, interrupted submit
            if found is None:
                raise
            return found
        return self._job(identity.run_id, name, arn, table, attached=False)

    def find(self, identity: JobIdentity) -> RemoteJob | None:
        """The job named for ``identity``; CloudRequestError if that name is another run's."""
        return self._find(identity, None)

    def _find(self, identity: JobIdentity, table: TrainingTable | None) -> RemoteJob | None:
        name = self.job_name(identity)
        try:
            desc = self._call("describe_auto_ml_job_v2", AutoMLJobName=name)
        except CloudNotFoundError:
            return None
        arn = str(desc.get("AutoMLJobArn", ""))
        tags = self._tags_of(arn)
        if tags.get(TAG_RUN) != self.tags(identity)[TAG_RUN]:
            raise CloudRequestError(
                f"A SageMaker AutoML job named {name!r} exists but was not created by run "
                f"{identity.run_id!r} (its tags: {tags}). Use another run_id.")
        return self._job(identity.run_id, name, arn, table, attached=True)

    def _job(self, run_id: str, name: str, arn: str, table: TrainingTable | None, *,
             attached: bool) -> RemoteJob:
        train, out = self._paths(name)
        info: dict[str, Any] = {"arn": arn, "region": self.region, "train_uri": train,
                                "output_uri": out, "attached": attached}
        if table is not None:
            info.update(target=table.target, task=table.task,
                        features=[c for c in table.columns if c != table.target],
                        classes=None if table.classes is None else
                        [getattr(c, "item", lambda c=c: c)() for c in table.classes])
        return RemoteJob(backend=self.name, job_id=name, run_id=run_id, info=info)

    def _tags_of(self, arn: str) -> dict[str, str]:
        out: dict[str, str] = {}
        token: str | None = None
        while True:
            page = self._call("list_tags", ResourceArn=arn,
                              **({"NextToken": token} if token else {}))
            out.update({t["Key"]: t["Value"] for t in page.get("Tags") or []})
            token = page.get("NextToken")
            if not token:
                return out

    def status(self, job: RemoteJob) -> RemoteStatus:
        """``DescribeAutoMLJobV2`` in common terms (raw and secondary status kept)."""
        return translate.remote_status(
            self._call("describe_auto_ml_job_v2", AutoMLJobName=job.job_id))

    def cancel(self, job: RemoteJob) -> RemoteStatus:
        """``StopAutoMLJob``; a job already stopping or ended is fine (idempotent)."""
        try:
            self._call("stop_auto_ml_job", AutoMLJobName=job.job_id)
        except CloudNotFoundError:
            raise
        except CloudError:
            state = self.status(job)
            if state.is_terminal or state.stopping:
                return state
            raise
        return self.status(job)

    def collect(self, job: RemoteJob, spec: JobSpec, table: TrainingTable) -> RemoteResult:
        """Every candidate (paginated), the best, timings, cost and warnings."""
        desc = self._call("describe_auto_ml_job_v2", AutoMLJobName=job.job_id)
        raws = list(self._candidates(job.job_id))
        metric = table.metric
        candidates = [sm_results.to_candidate(r, metric=metric) for r in raws]
        warnings: list[str] = []
        best = desc.get("BestCandidate")
        if not best:
            best = self._best_listed(raws, candidates, metric)
            warnings.append(
                f"SageMaker reported no BestCandidate for job {job.job_id!r} "
                f"({desc.get('AutoMLJobSecondaryStatus')}); "
                + ("the best listed candidate by the objective is used." if best else
                   "no candidate completed."))
        done = [c for c in candidates if c.state is CandidateState.COMPLETE]
        unscored = [c.candidate_id for c in done if c.score != c.score]
        if unscored:
            warnings.append(f"SageMaker reported no {metric!r} for {len(unscored)} of "
                            f"{len(done)} completed candidates; their score is NaN.")
        for part in desc.get("PartialFailureReasons") or []:
            if part.get("PartialFailureMessage"):
                warnings.append("SageMaker partial failure: "
                                + redact(part["PartialFailureMessage"]))
        extra = sm_results.job_extra(desc)
        return RemoteResult(
            candidates=candidates,
            best_id=(desc.get("BestCandidate") or {}).get("CandidateName"),
            model_uri=sm_results.model_uri(best), started_at=sm_results.iso(
                desc.get("CreationTime")), ended_at=sm_results.iso(desc.get("EndTime")),
            cost=self._cost(raws, warnings) if self.estimate_cost else {},
            warnings=warnings, extra=extra)

    def _candidates(self, name: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._call("list_candidates_for_auto_ml_job", AutoMLJobName=name,
                              SortBy="FinalObjectiveMetricValue", SortOrder="Descending",
                              MaxResults=100, **({"NextToken": token} if token else {}))
            yield from page.get("Candidates") or []
            token = page.get("NextToken")
            if not token:
                return

    @staticmethod
    def _best_listed(raws: list[dict[str, Any]], candidates: list[Any],
                     metric: str) -> dict[str, Any] | None:
        sign = -1.0 if get_metric(metric).direction == "maximize" else 1.0
        scored = [(sign * c.score, i) for i, c in enumerate(candidates)
                  if c.state is CandidateState.COMPLETE and c.score == c.score]
        return raws[min(scored)[1]] if scored else None

    def _cost(self, raws: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
        steps: dict[str, str] = {}
        for raw in raws:
            for step in raw.get("CandidateSteps") or []:
                kind, name = step.get("CandidateStepType"), step.get("CandidateStepName")
                if kind in sm_cost.DESCRIBE_STEP and name:
                    steps.setdefault(str(name), str(kind))
        jobs: list[dict[str, Any]] = []
        try:
            for name, kind in list(steps.items())[:MAX_COST_DESCRIBES]:
                operation, key = sm_cost.DESCRIBE_STEP[kind]
                jobs.append(sm_cost.usage(kind, self._call(operation, **{key: name})))
        except CloudError as exc:
            warnings.append(f"No cost estimate: describing the candidates' jobs failed "
                            f"({type(exc).__name__}: {redact(exc)[:300]}).")
            return {}
        out = sm_cost.estimate(jobs)
        if len(steps) > MAX_COST_DESCRIBES:
            out["note"] += f" Only the first {MAX_COST_DESCRIBES} of {len(steps)} jobs counted."
        return out

    def list_ours(self, *, active_only: bool = True) -> list[RemoteJob]:
        """Jobs named ``ab-...`` and tagged ``automl-bridge`` (in progress only by default)."""
        found: list[RemoteJob] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"NameContains": PREFIX, "MaxResults": 100}
            if active_only:
                kwargs["StatusEquals"] = "InProgress"
            if token:
                kwargs["NextToken"] = token
            page = self._call("list_auto_ml_jobs", **kwargs)
            for summary in page.get("AutoMLJobSummaries") or []:
                arn = str(summary.get("AutoMLJobArn", ""))
                tags = self._tags_of(arn)
                if tags.get(TAG_MARK) == "1":
                    found.append(RemoteJob(
                        backend=self.name, job_id=str(summary["AutoMLJobName"]),
                        run_id=tags.get(TAG_RUN, ""),
                        info={"arn": arn, "status": summary.get("AutoMLJobStatus"),
                              "region": self.region}))
            token = page.get("NextToken")
            if not token:
                return found

    def predict(self, job: RemoteJob, data: TrainingTable | str) -> pd.DataFrame:
        """Predictions of the best candidate through a batch transform (see
        :mod:`automl_bridge.backends.sagemaker.predict`)."""
        from automl_bridge.backends.sagemaker.predict import batch_predict

        return batch_predict(self, job, data)
