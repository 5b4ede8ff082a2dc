"""Pre-flight checks with no network: backend options, the spec -> :class:`Plan`, and a strict
check of a request against botocore's own service model (enums, max lengths and values,
patterns: what botocore's client-side validator skips).

Example:
    >>> check_role_arn("arn:aws:iam::123456789012:role/AutoMLRole")
    'arn:aws:iam::123456789012:role/AutoMLRole'
    >>> split_s3_uri(check_s3_output("s3://my-bucket/automl"))
    ('my-bucket', 'automl/')
    >>> ceil_seconds(90.2)
    91
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.sagemaker.translate import (
    DEFAULT_OBJECTIVE,
    FAMILY_ALGORITHMS,
    FAMILY_APPROXIMATIONS,
    MODE_ALGORITHMS,
    MODES,
    OBJECTIVES,
    Plan,
    problem_type,
)
from automl_bridge.exceptions import ConfigError, SpecError, UnsupportedSpecError

if TYPE_CHECKING:
    from automl_bridge.backends.cloud.adapter import TrainingTable
    from automl_bridge.spec import JobSpec

#: Our own rules (the service model has the same role pattern).
ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
#: ``MaxCandidates`` upper bound for tabular jobs (service model).
MAX_CANDIDATES = 750
#: Longest ``S3OutputPath`` (documented limit).
MAX_OUTPUT_PATH = 512
#: Runtime cap used when ``time_budget_s`` is ``None`` and ``strict=False`` (one day).
UNBOUNDED_CAP_S = 86_400


def ceil_seconds(seconds: float) -> int:
    """Whole seconds, rounded up (the service takes integers)."""
    return max(1, math.ceil(seconds))


def check_role_arn(value: Any) -> str:
    """The execution role ARN, or ConfigError."""
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "The sagemaker backend needs the option 'role_arn': the ARN of the IAM role "
            "SageMaker assumes to read the data and write the results, e.g. "
            "'arn:aws:iam::123456789012:role/AutoMLRole' (see docs/clouds/sagemaker.md).")
    if not 20 <= len(value) <= 2048 or not ROLE_ARN.fullmatch(value):
        raise ConfigError(
            "The option 'role_arn' of the sagemaker backend must be an IAM role ARN "
            f"'arn:aws:iam::<12-digit account>:role/<name>'. Got {value!r}.")
    return value


def check_s3_output(value: Any) -> str:
    """``s3://bucket/prefix/`` (a trailing ``/`` added), or ConfigError."""
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "The sagemaker backend needs the option 's3_output': an S3 prefix in the job's "
            "region where the data is uploaded and the results written, e.g. "
            "'s3://my-bucket/automl/'.")
    match = S3_URI.fullmatch(value)
    if not match or ".." in match.group(1):
        raise ConfigError(
            "The option 's3_output' of the sagemaker backend must look like "
            "'s3://bucket/prefix/' (bucket: 3-63 lowercase letters, digits, '.' or '-'). "
            f"Got {value!r}.")
    out = value if value.endswith("/") else value + "/"
    if len(out) + 32 + len("/output/") > MAX_OUTPUT_PATH:
        raise ConfigError(
            f"The option 's3_output' of the sagemaker backend is too long: the output path "
            f"(prefix + job name) must stay within {MAX_OUTPUT_PATH} characters. Got "
            f"{len(out)} characters.")
    return out


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` URI."""
    match = S3_URI.fullmatch(uri)
    if not match:
        raise ConfigError(f"Not an s3:// URI: {uri!r}.")
    return match.group(1), match.group(2) or ""


def check_region(value: Any) -> str | None:
    """An AWS region name such as ``us-east-1``, or ``None`` (boto3's own lookup)."""
    if value is None:
        return None
    if not isinstance(value, str) or not REGION.fullmatch(value):
        raise ConfigError(
            f"The option 'region' of the sagemaker backend must be an AWS region such as "
            f"'us-east-1'. Got {value!r}.")
    return value


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int | None:
    """A positive whole number option (or ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum \
            or value != int(value):
        raise ConfigError(f"The option {name!r} of the sagemaker backend must be a whole "
                          f"number >= {minimum}. Got {value!r}.")
    return int(value)


# --- the spec ---------------------------------------------------------------------------------


def plan_job(spec: JobSpec, table: TrainingTable, *, strict: bool,
             max_runtime_per_trial_s: int | None = None) -> Plan:
    """The :class:`Plan` for ``spec`` on ``table``.

    Raises:
        UnsupportedSpecError: a field Autopilot cannot honour (every such field listed), when
            ``strict`` (else each becomes a warning and is approximated or ignored).
        SpecError: the data does not say how many classes a classification target has.
    """
    refused: list[str] = []
    warnings: list[str] = []

    def unsupported(field: str, why: str, instead: str) -> None:
        (refused if strict else warnings).append(
            f"{field}: {why}" + ("" if strict else f"; {instead}"))

    if table.task == "classification" and not table.classes:
        raise SpecError("The sagemaker backend needs the classes of a classification target "
                        "to choose Binary- or MulticlassClassification; the data has none.")
    ptype = problem_type(table.task, table.classes)
    objective = _objective(spec, table.metric, ptype, strict, warnings, refused)
    max_runtime = _runtime(spec, strict, warnings, refused)
    max_candidates = spec.max_trials
    if max_candidates is not None and max_candidates > MAX_CANDIDATES:
        unsupported("max_trials", f"Autopilot runs at most {MAX_CANDIDATES} candidates, got "
                    f"{max_candidates}", f"MaxCandidates={MAX_CANDIDATES} is used")
        max_candidates = MAX_CANDIDATES
    if max_runtime_per_trial_s is not None and max_runtime_per_trial_s > max_runtime:
        raise ConfigError(
            f"The option 'max_runtime_per_trial_s' of the sagemaker backend "
            f"({max_runtime_per_trial_s} s) is longer than the whole job's runtime cap "
            f"({max_runtime} s from time_budget_s). Lower it or raise time_budget_s.")
    if spec.search_strategy != "auto" or spec.search_options:
        unsupported("search", f"Autopilot runs its own search; {spec.search!r} cannot be "
                    "chosen", "Autopilot's own search is used")
    mode, algorithms = _mode_and_algorithms(spec, strict, warnings, refused)
    fraction = _validation(spec, unsupported)
    if spec.pos_label is not None:
        unsupported("pos_label", "Autopilot picks the positive class itself; "
                    f"pos_label={spec.pos_label!r} cannot be passed", "it is ignored")
    if spec.estimation is not None:
        unsupported("estimation", "Autopilot has no low-fidelity or learning-curve option",
                    "full-fidelity candidates are trained")
    if spec.multi_objective:
        unsupported("objectives", "Autopilot optimises one objective; got "
                    f"{list(spec.objectives or ())}", f"only {table.metric!r} is optimised")
    if spec.constraints:
        unsupported("constraints", "Autopilot cannot limit model size or latency",
                    "the constraints are not enforced")
    if spec.seed != 0:
        warnings.append(f"seed: Autopilot takes no seed; seed={spec.seed} is not passed and "
                        "repeated runs may differ")
    if refused:
        raise UnsupportedSpecError(
            "SageMaker Autopilot cannot honour these JobSpec fields:\n- " + "\n- ".join(refused)
            + "\nChange them, or pass strict=False to the sagemaker backend to approximate "
              "with a recorded warning.")
    return Plan(target=table.target, problem_type=ptype, objective=objective,
                max_runtime_s=max_runtime, max_candidates=max_candidates,
                max_runtime_per_trial_s=max_runtime_per_trial_s, mode=mode,
                algorithms=algorithms, validation_fraction=fraction,
                warnings=tuple(warnings))


def _objective(spec: JobSpec, metric: str, ptype: str, strict: bool, warnings: list[str],
               refused: list[str]) -> str:
    allowed = OBJECTIVES[ptype]
    if metric in allowed:
        return allowed[metric]
    default = DEFAULT_OBJECTIVE[ptype]
    text = (f"metric: {metric!r} is not an Autopilot objective for {ptype}; the objectives "
            f"are {sorted(allowed)}")
    if spec.metric is None:  # the default metric, not the user's choice
        warnings.append(f"{text}. No metric was set, so Autopilot optimises its default "
                        f"{default!r}; candidates are scored by {metric!r} where Autopilot "
                        "reports it")
    elif strict:
        refused.append(text)
    else:
        warnings.append(f"{text}; Autopilot optimises its default {default!r} and candidates "
                        f"are scored by {metric!r} where Autopilot reports it")
    return default


def _runtime(spec: JobSpec, strict: bool, warnings: list[str], refused: list[str]) -> int:
    if spec.time_budget_s is not None:
        return ceil_seconds(spec.time_budget_s)
    if strict:
        refused.append("time_budget_s: None (no time limit) would let the job bill for days; "
                       "Autopilot jobs always get MaxAutoMLJobRuntimeInSeconds. Set "
                       "time_budget_s")
    else:
        warnings.append(f"time_budget_s: None is capped at {UNBOUNDED_CAP_S} s (one day) "
                        "through MaxAutoMLJobRuntimeInSeconds")
    return UNBOUNDED_CAP_S


def _mode_and_algorithms(spec: JobSpec, strict: bool, warnings: list[str],
                         refused: list[str]) -> tuple[str, tuple[str, ...] | None]:
    mode = MODES[spec.ensemble]
    if spec.models is None:
        return mode, None
    options = [mode] if mode != "AUTO" else ["ENSEMBLING", "HYPERPARAMETER_TUNING"]
    # AlgorithmsConfig needs an explicit mode: AUTO picks the one that fits the families best
    chosen, algos, approx, missing = min(
        (_algorithms_for(spec.models, m) for m in options),
        key=lambda t: (len(t[3]), len(t[2]), options.index(t[0])))
    bad = [*approx, *(f"{m} (no Autopilot equivalent in {chosen} mode)" for m in missing)]
    if bad:
        text = (f"models: {bad}; Autopilot {chosen} mode trains "
                f"{list(MODE_ALGORITHMS[chosen])}")
        if strict:
            refused.append(text)
        else:
            keep = sorted(set(algos))
            warnings.append(text + (f"; {keep} are trained" if keep else
                                    "; every algorithm of the mode is trained"))
    unique = tuple(dict.fromkeys(algos))
    return chosen, unique or None


def _algorithms_for(models: tuple[str, ...], mode: str
                    ) -> tuple[str, list[str], list[str], list[str]]:
    algos: list[str] = []
    approx: list[str] = []
    missing: list[str] = []
    for family in models:
        exact = FAMILY_ALGORITHMS.get(family, {}).get(mode)
        near = FAMILY_APPROXIMATIONS.get(family, {}).get(mode)
        if exact:
            algos.append(exact)
        elif near:
            approx.append(f"{family} -> {near}")
            algos.append(near)
        else:
            missing.append(family)
    return mode, algos, approx, missing


def _validation(spec: JobSpec, unsupported: Any) -> float | None:
    method = spec.validation_method
    if method == "holdout":
        return spec.validation_fraction
    if method == "cv":
        unsupported("validation", f"Autopilot does not take a cross-validation scheme "
                    f"({spec.validation!r})", "Autopilot's holdout split (ValidationFraction "
                    "0.2) is used")
    return None


# --- the service model ------------------------------------------------------------------------


def model_errors(shape: Any, value: Any, path: str = "") -> list[str]:
    """Enum, max and pattern violations of ``value`` against a botocore ``shape``.

    botocore's own validator checks required members, types, ``min`` and unions only; this
    closes the gap. Patterns with ``\\p{...}`` classes (not Python regex) are skipped.
    """
    errors: list[str] = []
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                errors += model_errors(shape.members[key], item, f"{path}.{key}".lstrip("."))
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: more than {meta['max']} items")
        for i, item in enumerate(value):
            errors += model_errors(shape.member, item, f"{path}[{i}]")
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {list(shape.enum)}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: longer than {meta['max']} characters ({value!r})")
        pattern = meta.get("pattern")
        if pattern and "\\p{" not in pattern and not re.fullmatch(pattern, value):
            errors.append(f"{path}: {value!r} does not match {pattern}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value!r} is more than {meta['max']}")
        if "min" in meta and value < meta["min"]:
            errors.append(f"{path}: {value!r} is less than {meta['min']}")
    return errors


def request_errors(service_model: Any, operation: str, request: dict[str, Any]) -> list[str]:
    """:func:`model_errors` of ``request`` for one operation of a botocore service model."""
    return model_errors(service_model.operation_model(operation).input_shape, request)


def load_service_model() -> Any:
    """botocore's installed SageMaker service model (no network, no credentials)."""
    from automl_bridge.backends.sagemaker.client import require_boto3

    require_boto3()
    import botocore.session

    return botocore.session.Session().get_service_model("sagemaker")
