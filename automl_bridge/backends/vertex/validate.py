"""Pre-flight checks for Vertex AI AutoML Tabular: options, spec fields and data, no network.

:func:`plan` decides how every :class:`~automl_bridge.spec.JobSpec` field maps to the
training pipeline. A field Vertex cannot honour is an
:class:`~automl_bridge.exceptions.UnsupportedSpecError` (all of them in one message) unless
``strict=False``, which approximates and records a warning naming the field and what was done.

Example:
    >>> from automl_bridge.spec import JobSpec
    >>> from automl_bridge.backends.cloud.adapter import TrainingTable
    >>> table = TrainingTable(path="t.csv", target="y", task="classification",
    ...     metric="roc_auc", n_rows=5000, columns=("x", "y"),
    ...     dtypes={"x": "numeric", "y": "target"}, classes=(0, 1))
    >>> p = plan(JobSpec(target="y", metric="roc_auc", time_budget_s=3600), table,
    ...          strict=True)
    >>> p.objective, p.budget_milli_node_hours, p.transformations
    ('maximize-au-roc', 1000, [{'numeric': {'columnName': 'x'}}])
    >>> parse_bucket("gs://my-bucket/automl")
    ('my-bucket', 'automl')
"""

from __future__ import annotations

import re
from typing import Any

from automl_bridge.backends.cloud.adapter import TrainingTable
from automl_bridge.backends.vertex.translate import (
    DEFAULT_OBJECTIVE,
    MAX_BUDGET,
    MIN_BUDGET,
    OBJECTIVES,
    VertexPlan,
    budget_from_seconds,
    fraction_split,
    objective_for,
    task_kind,
    transformations_for,
)
from automl_bridge.exceptions import ConfigError, DataError, UnsupportedSpecError
from automl_bridge.spec import JobSpec

_PROJECT = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$")
_LOCATION = re.compile(r"^[a-z]+(?:-[a-z]+)*\d+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_COLUMN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
#: Vertex's documented data limits for tabular classification / regression.
MIN_ROWS, MAX_COLUMNS, MAX_CLASSES = 1000, 1000, 500


def parse_bucket(uri: str) -> tuple[str, str]:
    """``gs://bucket/prefix`` -> ``("bucket", "prefix")`` (ConfigError when malformed)."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise ConfigError("The vertex option 'staging_bucket' must be a gs:// URI such as "
                          f"'gs://my-bucket' or 'gs://my-bucket/automl'. Got {uri!r}.")
    bucket, _, prefix = uri[len("gs://"):].partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError("The vertex option 'staging_bucket' names an invalid bucket "
                          f"{bucket!r}: bucket names are 3-222 lowercase letters, digits, "
                          f"'-', '_' or '.', starting and ending with a letter or digit.")
    return bucket, prefix.strip("/")


def check_options(*, project: Any, location: Any, staging_bucket: Any, api_transport: Any,
                  budget_milli_node_hours: Any) -> None:
    """Refuse malformed backend options (ConfigError naming the option and the fix)."""
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ConfigError("The vertex option 'project' must be a Google Cloud project id "
                          "(6-30 lowercase letters, digits or '-', starting with a letter) "
                          f"or project number. Got {project!r}.")
    if not isinstance(location, str) or not _LOCATION.match(location):
        raise ConfigError("The vertex option 'location' must be a Vertex AI region such as "
                          f"'us-central1' or 'europe-west4'. Got {location!r}.")
    parse_bucket(staging_bucket)
    if api_transport not in ("rest", "grpc"):
        raise ConfigError("The vertex option 'api_transport' must be 'rest' (default) or "
                          f"'grpc'. Got {api_transport!r}.")
    if budget_milli_node_hours is not None:
        ok = isinstance(budget_milli_node_hours, int) and \
            not isinstance(budget_milli_node_hours, bool)
        if not ok or not MIN_BUDGET <= budget_milli_node_hours <= MAX_BUDGET:
            raise ConfigError(
                "The vertex option 'budget_milli_node_hours' must be an integer from "
                f"{MIN_BUDGET} to {MAX_BUDGET} (1000 = one node hour). "
                f"Got {budget_milli_node_hours!r}.")


def plan(spec: JobSpec, table: TrainingTable, *, strict: bool,
         budget_milli_node_hours: int | None = None) -> VertexPlan:
    """Map ``spec`` and ``table`` to a :class:`VertexPlan`, or refuse.

    Raises:
        UnsupportedSpecError: fields Vertex cannot honour (strict), all listed.
        DataError: data Vertex refuses (column names, too many columns or classes; too few
            rows when strict).
    """
    refused: list[str] = []
    warnings: list[str] = []

    def cannot(field: str, why: str, instead: str) -> None:
        if strict:
            refused.append(f"{field}: {why}")
        else:
            warnings.append(f"vertex: {field}: {why}; {instead} (strict=False).")

    _check_data(table, strict, warnings)
    n_classes = len(table.classes or ())
    kind = task_kind(table.task, n_classes)
    objective = objective_for(table.task, table.metric, n_classes=n_classes)
    if objective is None:
        cannot(f"metric={table.metric!r}",
               f"Vertex AutoML has no {kind} objective for it (it optimises "
               f"{sorted(set(OBJECTIVES[kind].values()))})",
               f"optimising {DEFAULT_OBJECTIVE[kind]!r} instead; the run's score is still "
               f"{table.metric!r} where Vertex reports it")
        objective = DEFAULT_OBJECTIVE[kind]
    budget = _budget(spec, strict, budget_milli_node_hours, refused, warnings)
    split = _split(spec, cannot)
    _other_fields(spec, table, cannot, warnings)
    if refused:
        raise UnsupportedSpecError(
            "Vertex AI AutoML Tabular cannot honour this spec:\n- " + "\n- ".join(refused)
            + "\nChange these fields, or pass strict=False to the vertex backend to "
            "approximate them with recorded warnings.")
    return VertexPlan(prediction_type=table.task, objective=objective,
                      budget_milli_node_hours=budget, split=split,
                      transformations=transformations_for(table.columns, table.dtypes,
                                                          table.target),
                      warnings=warnings)


def _budget(spec: JobSpec, strict: bool, option: int | None, refused: list[str],
            warnings: list[str]) -> int:
    if option is not None:
        if spec.time_budget_s is not None:
            warnings.append(
                f"vertex: time_budget_s={spec.time_budget_s:g} is not sent: the option "
                f"budget_milli_node_hours={option} caps training ({option / 1000:g} node "
                "hours); the time budget still sets the client-side deadline.")
        return option
    if spec.time_budget_s is None:
        msg = ("no time_budget_s and no budget_milli_node_hours option: Vertex needs a "
               "training budget in node hours")
        if strict:
            refused.append(f"time_budget_s: {msg}; set time_budget_s or the vertex option "
                           "budget_milli_node_hours")
        else:
            warnings.append(f"vertex: time_budget_s: {msg}; using the minimum "
                            f"{MIN_BUDGET} (one node hour) (strict=False).")
        return MIN_BUDGET
    wanted = budget_from_seconds(spec.time_budget_s)
    if MIN_BUDGET <= wanted <= MAX_BUDGET:
        return wanted
    clamped = min(MAX_BUDGET, max(MIN_BUDGET, wanted))
    why = (f"time_budget_s={spec.time_budget_s:g} converts to {wanted} milli node hours "
           f"(one node hour per hour), outside Vertex's {MIN_BUDGET}-{MAX_BUDGET}")
    if strict:
        refused.append(f"time_budget_s: {why}; use a time budget from 3600 to 259200 s or "
                       "set the vertex option budget_milli_node_hours")
    else:
        warnings.append(f"vertex: time_budget_s: {why}; using {clamped} "
                        f"({clamped / 1000:g} node hours) (strict=False).")
    return clamped


def _split(spec: JobSpec, cannot: Any) -> dict[str, float]:
    method = spec.validation_method
    if method == "cv":
        cannot(f"validation={spec.validation!r}",
               "Vertex AutoML Tabular has no cross-validation",
               "using a random 80/10/10 train/validation/test split")
        return fraction_split(0.2)
    if method == "holdout":
        return fraction_split(spec.validation_fraction)
    return fraction_split(0.2)


def _other_fields(spec: JobSpec, table: TrainingTable, cannot: Any,
                  warnings: list[str]) -> None:
    if spec.max_trials is not None:
        cannot(f"max_trials={spec.max_trials}", "Vertex AutoML has no candidate budget (only "
               "the node-hour budget)", "ignoring it")
    if spec.search_strategy != "auto":
        cannot(f"search={spec.search_strategy!r}", "Vertex runs its own architecture and "
               "hyperparameter search", "ignoring it")
    if spec.models is not None:
        cannot(f"models={list(spec.models)}", "Vertex does not let you choose model families",
               "searching Vertex's own families")
    if spec.estimation is not None:
        cannot(f"estimation={spec.estimation!r}", "Vertex has no low-fidelity or "
               "learning-curve estimation setting", "ignoring it")
    if spec.ensemble is False:
        cannot("ensemble=False", "Vertex AutoML always returns its own final ensemble",
               "keeping Vertex's model")
    if spec.objectives is not None and len(spec.objectives) > 1:
        cannot(f"objectives={list(spec.objectives)}", "Vertex optimises one objective",
               f"optimising the metric {table.metric!r} only")
    if spec.constraints:
        cannot(f"constraints={spec.constraints}", "Vertex has no model size or latency "
               "constraints", "ignoring them")
    if spec.seed != 0:
        warnings.append(f"vertex: seed={spec.seed} is not sent: Vertex AutoML has no seed, so "
                        "repeated runs may differ.")
    if spec.pos_label is not None and table.metric in ("roc_auc", "log_loss"):
        warnings.append(f"vertex: pos_label={spec.pos_label!r} does not change "
                        f"{table.metric!r} (symmetric in the classes); Vertex chooses its own.")


def _check_data(table: TrainingTable, strict: bool, warnings: list[str]) -> None:
    problems = [f"column {c!r}: Vertex column names are letters, digits and '_' and do not "
                "start with '_'; rename it" for c in table.columns if not _COLUMN.match(c)]
    if len(table.columns) > MAX_COLUMNS:
        problems.append(f"{len(table.columns)} columns: Vertex takes at most {MAX_COLUMNS}")
    if table.classes is not None and len(table.classes) > MAX_CLASSES:
        problems.append(f"{len(table.classes)} classes: Vertex classification takes at most "
                        f"{MAX_CLASSES}")
    if table.n_rows < MIN_ROWS:
        msg = (f"{table.n_rows} rows: Vertex AutoML Tabular requires at least {MIN_ROWS} "
               "rows and fails the pipeline otherwise")
        if strict:
            problems.append(msg)
        else:
            warnings.append(f"vertex: data: {msg}; submitting anyway (strict=False).")
    if problems:
        raise DataError("The training data cannot go to Vertex AI AutoML Tabular:\n- "
                        + "\n- ".join(problems), problems=problems)
