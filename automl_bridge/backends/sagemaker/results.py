"""Pure translation of Autopilot responses into our results (no SDK, no network).

Each ``AutoMLCandidate`` of ``ListCandidatesForAutoMLJob`` becomes a
:class:`~automl_bridge.results.Candidate`: its objective and reported metrics under canonical
names (validation set), the run's metric as ``score``, the raw names and values in
``extra["raw_metrics"]``. A missing ``FinalAutoMLJobObjectiveMetric`` or ``BestCandidate``
(reported by users after runtime-capped jobs) is handled, not a ``KeyError``.

Example:
    >>> c = to_candidate({"CandidateName": "ab-x-XGBoost-001", "CandidateStatus": "Completed",
    ...     "ObjectiveStatus": "Succeeded", "CandidateSteps": [],
    ...     "FinalAutoMLJobObjectiveMetric": {"MetricName": "AUC", "Value": 0.91}},
    ...     metric="roc_auc")
    >>> (c.family, c.score, c.metrics)
    ('xgboost', 0.91, {'roc_auc': 0.91})
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from automl_bridge.backends.cloud.redact import redact
from automl_bridge.backends.sagemaker.translate import TO_CANONICAL
from automl_bridge.results import Candidate, CandidateState, finite_or_none

_STATES = {"Completed": CandidateState.COMPLETE, "Failed": CandidateState.FAILED,
           "Stopped": CandidateState.INTERRUPTED, "InProgress": CandidateState.RUNNING,
           "Stopping": CandidateState.RUNNING}
#: Hints in candidate names -> Autopilot algorithm (the candidate's family).
_FAMILY_HINTS = (("weightedensemble", "ensemble"), ("xgboost", "xgboost"), ("xgb", "xgboost"),
                 ("lightgbm", "lightgbm"), ("catboost", "catboost"),
                 ("randomforest", "randomforest"), ("extratrees", "extra-trees"),
                 ("linearlearner", "linear-learner"), ("neuralnettorch", "nn-torch"),
                 ("nntorch", "nn-torch"), ("fastai", "fastai"), ("mlp", "mlp"),
                 ("linear", "linear-learner"))


def iso(value: Any) -> str:
    """ISO-8601 UTC text of a botocore timestamp (``""`` when absent)."""
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return when.astimezone(dt.timezone.utc).isoformat()
    return str(value) if value else ""


def family_of(name: str) -> str:
    """The Autopilot algorithm a candidate name points to, else ``"autopilot"``."""
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    for hint, family in _FAMILY_HINTS:
        if hint in flat:
            return family
    return "autopilot"


def raw_metrics(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidate's metrics as Autopilot reports them (objective first)."""
    out: list[dict[str, Any]] = []
    final = raw.get("FinalAutoMLJobObjectiveMetric") or {}
    if "Value" in final:
        out.append({"name": final.get("MetricName"), "standard_name":
                    final.get("StandardMetricName"), "value": finite_or_none(final.get("Value")),
                    "set": "Validation", "objective": True, "type": final.get("Type")})
    props = raw.get("CandidateProperties") or {}
    for m in props.get("CandidateMetrics") or []:
        out.append({"name": m.get("MetricName"), "standard_name": m.get("StandardMetricName"),
                    "value": finite_or_none(m.get("Value")), "set": m.get("Set") or "Validation"})
    return out


def canonical_metrics(raws: list[dict[str, Any]]) -> dict[str, float]:
    """Validation metrics under canonical names (the objective's value wins on a clash)."""
    out: dict[str, float] = {}
    for m in raws:
        if m["set"] != "Validation" or m["value"] is None:
            continue
        name = TO_CANONICAL.get(str(m["standard_name"] or "")) or \
            TO_CANONICAL.get(str(m["name"] or ""))
        if name and (name not in out or m.get("objective")):
            out[name] = float(m["value"])
    return out


def to_candidate(raw: dict[str, Any], *, metric: str) -> Candidate:
    """One ``AutoMLCandidate`` as a Candidate scored by the run's canonical ``metric``."""
    name = str(raw.get("CandidateName", ""))
    status = str(raw.get("CandidateStatus", ""))
    objective_status = str(raw.get("ObjectiveStatus", ""))
    state = _STATES.get(status, CandidateState.RUNNING)
    if state is CandidateState.COMPLETE and objective_status == "Failed":
        state = CandidateState.FAILED
    raws = raw_metrics(raw)
    metrics = canonical_metrics(raws)
    created, ended = raw.get("CreationTime"), raw.get("EndTime")
    fit_time = (ended - created).total_seconds() if isinstance(created, dt.datetime) and \
        isinstance(ended, dt.datetime) else 0.0
    reason = raw.get("FailureReason")
    extra: dict[str, Any] = {
        "candidate_status": status, "objective_status": objective_status,
        "raw_metrics": raws,
        "steps": [{"type": s.get("CandidateStepType"), "name": s.get("CandidateStepName")}
                  for s in raw.get("CandidateSteps") or []],
        "inference_containers": containers(raw),
        "created_at": iso(created), "ended_at": iso(ended),
    }
    artifacts = (raw.get("CandidateProperties") or {}).get("CandidateArtifactLocations")
    if artifacts:
        extra["artifacts"] = dict(artifacts)
    return Candidate(candidate_id=name, family=family_of(name), params={},
                     score=metrics.get(metric, float("nan")), metrics=metrics,
                     fit_time_s=max(0.0, fit_time), state=state,
                     error=redact(reason) if reason else None, extra=extra)


def containers(raw: dict[str, Any]) -> list[dict[str, str]]:
    """Image and model data of each inference container (environments left out)."""
    return [{"image": str(c.get("Image", "")), "model_data_url": str(c.get("ModelDataUrl", ""))}
            for c in raw.get("InferenceContainers") or []]


def model_uri(best: dict[str, Any] | None) -> str | None:
    """Where the best candidate's model is: its single container's model data, or the
    algorithm container's (the middle one of preprocessing, algorithm, postprocessing)."""
    urls = [c["model_data_url"] for c in containers(best or {}) if c["model_data_url"]]
    if not urls:
        return None
    return urls[len(urls) // 2] if len(urls) == 3 else urls[0]


def job_extra(describe: dict[str, Any]) -> dict[str, Any]:
    """The job fields worth keeping in the result (JSON-ready, redacted)."""
    resolved = describe.get("ResolvedAttributes") or {}
    tabular = ((resolved.get("AutoMLProblemTypeResolvedAttributes") or {})
               .get("TabularResolvedAttributes") or {})
    best = describe.get("BestCandidate") or {}
    extra: dict[str, Any] = {
        "job_arn": describe.get("AutoMLJobArn"),
        "status": describe.get("AutoMLJobStatus"),
        "secondary_status": describe.get("AutoMLJobSecondaryStatus"),
        "best_candidate": best.get("CandidateName"),
        "resolved_objective": (resolved.get("AutoMLJobObjective") or {}).get("MetricName"),
        "resolved_problem_type": tabular.get("ProblemType"),
        "completion_criteria": dict(resolved.get("CompletionCriteria") or {}),
        "output_path": (describe.get("OutputDataConfig") or {}).get("S3OutputPath"),
    }
    artifacts = describe.get("AutoMLJobArtifacts") or {}
    if artifacts:
        extra["notebooks"] = {k: v for k, v in artifacts.items() if isinstance(v, str)}
    partial = [redact(p.get("PartialFailureMessage", ""))
               for p in describe.get("PartialFailureReasons") or []
               if p.get("PartialFailureMessage")]
    if partial:
        extra["partial_failures"] = partial
    if describe.get("ModelDeployResult"):
        extra["endpoint"] = (describe["ModelDeployResult"] or {}).get("EndpointName")
    return {k: v for k, v in extra.items() if v not in (None, {}, [])}
