"""JobSpec -> an Azure ML AutoML job plan (a JSON-ready dict), without the SDK.

:func:`plan_job` decides every spec field: it maps, approximates (``strict=False``, with a
warning naming the field and what was done instead) or refuses
(:class:`~automl_bridge.exceptions.UnsupportedSpecError`). The plan is what
:func:`automl_bridge.backends.azure.client.build_job` turns into an ``automl.classification()`` /
``automl.regression()`` job, and what the golden tests compare.

Example:
    >>> from automl_bridge.backends.cloud.adapter import TrainingTable
    >>> from automl_bridge.backends.azure.settings import AzureSettings
    >>> from automl_bridge.spec import JobSpec
    >>> spec = JobSpec(task="classification", target="y", metric="roc_auc", time_budget_s=900,
    ...                max_trials=20, validation={"method": "cv", "folds": 5})
    >>> table = TrainingTable(path="t.csv", target="y", task="classification",
    ...                       metric="roc_auc", n_rows=100, columns=("x", "y"), classes=(0, 1))
    >>> settings = AzureSettings.from_options(subscription_id="s", resource_group="rg",
    ...                                       workspace="ws", compute="cpu-cluster")
    >>> plan, warnings = plan_job(spec, table, settings, name="ab-r1-0f", tags={},
    ...                           data_uri="azureml:d:1")
    >>> plan["primary_metric"], plan["limits"], plan["n_cross_validations"], warnings
    ('AUC_weighted', {'timeout_minutes': 15, 'max_trials': 20}, 5, [])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.azure.mapping import algorithms_for, primary_metric, supported_metrics
from automl_bridge.exceptions import ConfigError, UnsupportedSpecError

if TYPE_CHECKING:
    from automl_bridge.backends.azure.settings import AzureSettings
    from automl_bridge.backends.cloud.adapter import TrainingTable
    from automl_bridge.spec import JobSpec

#: The longest AutoML job timeout accepted (168 hours).
MAX_TIMEOUT_MINUTES = 10080
#: The timeout set when the spec has no time budget (a job always has a runtime cap).
NO_BUDGET_TIMEOUT_MINUTES = 1440
#: Timeouts below this many minutes get a warning (the job may end before a model trains).
SHORT_JOB_MINUTES = 15
#: The most trials an AutoML job runs.
MAX_TRIALS = 1000
#: rows x columns above which Azure refuses a timeout of an hour or less.
SHORT_TIMEOUT_CELLS = 10_000_000


class _Decisions:
    """Collects warnings; refuses approximations when strict."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def approximate(self, field: str, problem: str, instead: str) -> None:
        if self.strict:
            raise UnsupportedSpecError(
                f"The {field!r} of JobSpec cannot be honoured on Azure ML AutoML: {problem}. "
                f"Change it, or pass strict=False to the azure backend to {instead} (recorded "
                "as a warning).")
        self.warnings.append(f"azure: {field}: {problem}; {instead}.")


def plan_job(spec: JobSpec, table: TrainingTable, settings: AzureSettings, *, name: str,
             tags: dict[str, str], data_uri: str) -> tuple[dict[str, Any], list[str]]:
    """The job plan for ``spec`` on ``table``, and the warnings of what was approximated.

    Raises:
        UnsupportedSpecError: a field Azure cannot honour (always for a metric it cannot
            optimise at all; for approximations only when ``settings.strict``).
        ConfigError: backend options that contradict the spec.
    """
    d = _Decisions(settings.strict)
    task = table.task
    n_classes = len(table.classes or ())
    plan: dict[str, Any] = {
        "task": task,
        "name": name,
        "display_name": name,
        "experiment_name": settings.experiment,
        "tags": dict(tags),
        "compute": settings.compute,
        "resources": None if settings.compute else {
            "instance_type": settings.instance_type,
            "instance_count": settings.instance_count},
        "training_data": {"type": "mltable", "path": data_uri},
        "target_column_name": table.target,
        "primary_metric": _primary(table.metric, task, n_classes, d),
    }
    if task == "classification" and spec.pos_label is not None and n_classes == 2:
        plan["positive_label"] = str(spec.pos_label)
    plan.update(_validation(spec))
    plan["limits"] = _limits(spec, table, settings, d)
    training = _training(spec, task, d)
    if training:
        plan["training"] = training
    _unhonoured(spec, d)
    return plan, d.warnings


def _primary(metric: str, task: str, n_classes: int, d: _Decisions) -> str:
    pm = primary_metric(metric, task, n_classes)
    if not pm.name:
        raise UnsupportedSpecError(
            f"The 'metric' {metric!r} of JobSpec cannot be optimised by Azure ML AutoML "
            f"({task}). Metrics it optimises exactly: {supported_metrics(task)}"
            + (" (roc_auc for two classes)" if task == "classification" else
               "; rmse, mse and mae only as their normalized forms, with strict=False")
            + ". Change the metric, or run it on another backend.")
    if not pm.exact:
        d.approximate("metric", f"{pm.note}",
                      f"optimise {pm.name} and report {metric} from the child runs' metrics "
                      "where they are logged")
    return pm.name


def _validation(spec: JobSpec) -> dict[str, Any]:
    method = spec.validation_method
    if method == "holdout":
        return {"validation_data_size": spec.validation_fraction}
    if method == "cv":
        return {"n_cross_validations": spec.validation_folds}
    return {}  # "auto": Azure picks holdout or cross-validation by data size


def _limits(spec: JobSpec, table: TrainingTable, settings: AzureSettings,
            d: _Decisions) -> dict[str, Any]:
    if spec.time_budget_s is None:
        timeout = NO_BUDGET_TIMEOUT_MINUTES
        d.warnings.append(
            f"azure: time_budget_s: None (max_trials only); the job's own timeout is set to "
            f"{timeout} minutes so it cannot run (and bill) unbounded.")
    else:
        timeout = math.ceil(spec.time_budget_s / 60.0)
    if timeout > MAX_TIMEOUT_MINUTES:
        d.approximate("time_budget_s", f"{spec.time_budget_s:g} s is more than Azure's longest "
                      f"AutoML timeout ({MAX_TIMEOUT_MINUTES} minutes)",
                      f"cap the timeout at {MAX_TIMEOUT_MINUTES} minutes")
        timeout = MAX_TIMEOUT_MINUTES
    if timeout < SHORT_JOB_MINUTES:
        d.warnings.append(
            f"azure: time_budget_s: a {timeout}-minute timeout is short for Azure AutoML "
            f"(compute start, setup and featurization take minutes; {SHORT_JOB_MINUTES} or "
            "more is advised): the job may end with few or no models.")
    cells = table.n_rows * len(table.columns)
    if timeout <= 60 and cells > SHORT_TIMEOUT_CELLS:
        raise UnsupportedSpecError(
            f"The 'time_budget_s' of JobSpec ({timeout} minutes) is an hour or less, which "
            f"Azure ML AutoML refuses for data over {SHORT_TIMEOUT_CELLS:,} cells (rows x "
            f"columns); this data has {cells:,}. Set time_budget_s above 3600.")
    limits: dict[str, Any] = {"timeout_minutes": timeout}
    if spec.max_trials is not None:
        trials = spec.max_trials
        if trials > MAX_TRIALS:
            d.approximate("max_trials", f"{trials} is more than Azure's {MAX_TRIALS} trials",
                          f"run at most {MAX_TRIALS}")
            trials = MAX_TRIALS
        limits["max_trials"] = trials
    if settings.trial_timeout_minutes is not None:
        if settings.trial_timeout_minutes > timeout:
            raise ConfigError(
                f"The azure option 'trial_timeout_minutes' ({settings.trial_timeout_minutes}) "
                f"is longer than the job's timeout ({timeout} minutes from time_budget_s). "
                "Lower it or raise the time budget.")
        limits["trial_timeout_minutes"] = settings.trial_timeout_minutes
    if settings.max_concurrent_trials is not None:
        limits["max_concurrent_trials"] = settings.max_concurrent_trials
    return limits


def _training(spec: JobSpec, task: str, d: _Decisions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.models is not None:
        allowed: list[str] = []
        for family in spec.models:
            found = algorithms_for(family, task)
            if found is None:
                d.approximate("models", f"Azure AutoML has no {task} algorithm matching the "
                              f"family {family!r}", f"leave {family!r} out")
                continue
            names, exact = found
            if not exact:
                d.approximate("models", f"the family {family!r} has no exact Azure "
                              f"counterpart", f"search Azure's {', '.join(names)} instead")
            allowed.extend(n for n in names if n not in allowed)
        if not allowed:
            raise UnsupportedSpecError(
                f"None of the 'models' {list(spec.models)} of JobSpec maps to an Azure ML "
                f"AutoML {task} algorithm. Families that map: linear, knn, random_forest, "
                "extra_trees" + (", svm" if task == "classification" else "")
                + " (hist_gradient_boosting approximately, as LightGBM).")
        out["allowed_training_algorithms"] = allowed
    if spec.ensemble is False:
        out.update(enable_vote_ensemble=False, enable_stack_ensemble=False)
    elif spec.ensemble is True:
        out.update(enable_vote_ensemble=True, enable_stack_ensemble=True)
    return out


def _unhonoured(spec: JobSpec, d: _Decisions) -> None:
    if spec.search_strategy != "auto":
        d.approximate("search", f"Azure AutoML runs its own search; {spec.search_strategy!r} "
                      "cannot be chosen", "let Azure search")
    if spec.seed != 0:
        d.approximate("seed", "Azure AutoML takes no random seed", "run unseeded")
    if spec.estimation is not None:
        d.approximate("estimation", "Azure AutoML decides its own early termination",
                      "ignore 'estimation'")
    if spec.multi_objective:
        d.approximate("objectives", "Azure AutoML optimises a single primary metric",
                      f"optimise {spec.metric!r} only")
    if spec.constraints:
        d.approximate("constraints", "Azure AutoML cannot bound model size or latency",
                      "ignore the constraints (no candidate is checked against them)")
