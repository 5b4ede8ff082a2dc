"""JobSpec: what the user wants, independent of where it runs.

A :class:`JobSpec` is an immutable, validated value object with a ``spec_version``. It holds the
task, target, metric, budgets, search strategy, model families and validation scheme, never
engine options (storage URLs, regions, roles): those go to ``AutoMLJob.with_backend``.

Example:
    >>> from automl_bridge.spec import JobSpec
    >>> spec = JobSpec(task="classification", target="label", metric="roc_auc",
    ...                time_budget_s=30)
    >>> JobSpec.from_json(spec.to_json()) == spec
    True
    >>> spec.replace(time_budget_s=60).time_budget_s
    60.0
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from automl_bridge.exceptions import BudgetError, MetricError, SpecError
from automl_bridge.metrics import METRICS, get_metric

SPEC_VERSION = 1

TaskName = Literal["classification", "regression", "auto"]
_VALIDATION_METHODS = ("auto", "holdout", "cv")
#: Cost objectives measured on each fitted pipeline (besides the metrics).
COST_OBJECTIVES = {"model_size": "minimize", "predict_latency": "minimize"}
#: Constraint names and the measure each bounds.
CONSTRAINTS = {"max_model_bytes": "model_size", "max_predict_ms_per_1k_rows": "predict_latency"}
#: Performance-estimation methods and their options.
ESTIMATIONS = {"low_fidelity": {"fraction"},
               "learning_curve": {"points", "min_points", "threshold"}}
#: Strategies whose trials stop at rungs (a pruner): they take one objective.
MULTI_FIDELITY = ("hyperband", "successive_halving", "bohb")
_BUDGET_FIELDS = {"time_budget_s", "max_trials"}


def _known(kind: str) -> list[str]:
    from automl_bridge.registry import registry_for

    return registry_for(kind).names()


class JobSpec(BaseModel):
    """The portable description of one AutoML job.

    Attributes:
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (inferred from the target,
            with the reason logged and recorded in the result's warnings).
        target: name of the target column.
        metric: canonical metric name (see :mod:`automl_bridge.metrics`); ``None`` picks the AMLB
            default for the task: ROC-AUC (binary), log-loss (multiclass), RMSE (regression).
        time_budget_s: hard wall-clock budget of the whole ``fit`` in seconds; ``None`` for no
            time limit (then ``max_trials`` is required).
        max_trials: most trials to run; works alone or with the time budget.
        search: strategy name (``"auto"``, ``"tpe"``, ``"evolution"``, ``"hyperband"``, ...; see
            ``docs/search.md``) or ``{"strategy": name, **options}``. ``"auto"`` (default)
            picks one for the data size and objectives.
        models: model families to search (``None`` = every family suited to the data).
        validation: ``"auto"``, ``"holdout"``, ``"cv"``, or a dict such as
            ``{"method": "cv", "folds": 5}`` / ``{"method": "holdout", "fraction": 0.2}``.
        seed: random seed of the search and of every model.
        pos_label: positive class of binary metrics (default: the last class in sorted order).
        on_missing_target: ``"drop"`` rows whose target is missing (with a warning) or
            ``"error"``.
        drop_rare_classes: drop classes with a single row instead of refusing the data.
        estimation: cheaper performance estimates, combinable with any single-objective
            strategy: ``"low_fidelity"`` (every trial trains on a fraction of its resource,
            ``{"method": "low_fidelity", "fraction": 0.33}``) or ``"learning_curve"`` (trials
            report evenly spaced rungs and stop when the extrapolated final score is unlikely
            to beat the best; ``{"method": "learning_curve", "points": 10, "min_points": 3,
            "threshold": 0.25}``). ``None``: full fidelity.
        ensemble: ``"auto"`` (greedy ensemble selection over the top candidates, kept when it
            beats the best single pipeline on validation and its refit fits the budget),
            ``True`` (always build one when two or more candidates completed), ``False``.
        objectives: several objectives for a Pareto search, e.g. ``["roc_auc", "model_size",
            "predict_latency"]``: metric names and the costs ``model_size`` (bytes of the
            fitted pipeline) and ``predict_latency`` (ms per 1,000 rows). The first metric
            among them is the run's ``metric``. ``None``: the metric alone.
        constraints: hard limits, e.g. ``{"max_model_bytes": 5e6,
            "max_predict_ms_per_1k_rows": 20}``; candidates breaking one are infeasible and
            never chosen as best.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    spec_version: int = SPEC_VERSION
    task: TaskName = "auto"
    target: str
    metric: str | None = None
    time_budget_s: float | None = 60.0
    max_trials: int | None = None
    search: str | dict[str, Any] = "auto"
    models: tuple[str, ...] | None = None
    validation: str | dict[str, Any] = "auto"
    seed: int = 0
    pos_label: str | int | bool | None = None
    on_missing_target: Literal["drop", "error"] = "drop"
    drop_rare_classes: bool = False
    estimation: str | dict[str, Any] | None = None
    ensemble: bool | Literal["auto"] = "auto"
    objectives: tuple[str, ...] | None = None
    constraints: dict[str, float] | None = None

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _spec_error(exc, data) from None

    # --- field rules -----------------------------------------------------------------------

    @field_validator("spec_version")
    @classmethod
    def _check_version(cls, v: int) -> int:
        if v != SPEC_VERSION:
            raise ValueError(
                f"The 'spec_version' of JobSpec must be {SPEC_VERSION} (this release reads "
                f"version {SPEC_VERSION} only). Got {v!r}. Upgrade automl-bridge to read it."
            )
        return v

    @field_validator("target")
    @classmethod
    def _check_target(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("The 'target' of JobSpec must name the target column. Got ''.")
        return v

    @field_validator("metric")
    @classmethod
    def _check_metric(cls, v: str | None) -> str | None:
        if v is not None:
            get_metric(v)  # raises MetricError with close matches
        return v

    @field_validator("time_budget_s")
    @classmethod
    def _check_budget(cls, v: float | None) -> float | None:
        if v is not None and not (v > 0 and v != float("inf")):
            raise ValueError(
                "The 'time_budget_s' of JobSpec must be a positive number of seconds "
                f"(None means no time limit). Got {v!r}."
            )
        return v

    @field_validator("max_trials")
    @classmethod
    def _check_trials(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(
                f"The 'max_trials' of JobSpec must be at least 1 (None means no limit). "
                f"Got {v!r}."
            )
        return v

    @field_validator("search")
    @classmethod
    def _check_search(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        name = v.get("strategy") if isinstance(v, dict) else v
        if not isinstance(name, str):
            raise ValueError(
                "The 'search' of JobSpec must be a strategy name or a dict with a 'strategy' "
                f"key, e.g. {{'strategy': 'tpe'}}. Got {v!r}."
            )
        known = _known("strategies")
        if name not in known:
            raise ValueError(
                f"The 'search' of JobSpec must be one of {known}. Got {name!r}."
            )
        return v

    @field_validator("models", mode="before")
    @classmethod
    def _check_models(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, str):
            v = [v]
        v = list(v)
        if not v:
            raise ValueError("The 'models' of JobSpec must name at least one family, or be None.")
        known = _known("families")
        unknown = [m for m in v if m not in known]
        if unknown:
            raise ValueError(
                f"The 'models' of JobSpec must be names from {known}. Got unknown {unknown}."
            )
        if len(set(v)) != len(v):
            raise ValueError(f"The 'models' of JobSpec must not repeat a family. Got {v}.")
        return tuple(v)

    @field_validator("validation")
    @classmethod
    def _check_validation(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        method = v.get("method") if isinstance(v, dict) else v
        if method not in _VALIDATION_METHODS:
            raise ValueError(
                f"The 'validation' of JobSpec must be one of {list(_VALIDATION_METHODS)} or a "
                f"dict with a 'method' key. Got {v!r}."
            )
        if isinstance(v, dict):
            extra = set(v) - {"method", "folds", "fraction"}
            if extra:
                raise ValueError(
                    f"The 'validation' of JobSpec accepts keys 'method', 'folds', 'fraction'. "
                    f"Got unknown {sorted(extra)}."
                )
            folds = v.get("folds", 5)
            if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
                raise ValueError(
                    f"The 'validation.folds' of JobSpec must be an integer >= 2. Got {folds!r}."
                )
            fraction = v.get("fraction", 0.2)
            if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
                raise ValueError(
                    "The 'validation.fraction' of JobSpec must be between 0 and 1 "
                    f"(exclusive). Got {fraction!r}."
                )
        return v

    @field_validator("estimation")
    @classmethod
    def _check_estimation(cls, v: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if v is None:
            return v
        method = v.get("method") if isinstance(v, dict) else v
        if method not in ESTIMATIONS:
            raise ValueError(
                f"The 'estimation' of JobSpec must be one of {sorted(ESTIMATIONS)}, a dict with "
                f"a 'method' key, or None. Got {v!r}."
            )
        if isinstance(v, dict):
            extra = set(v) - {"method"} - ESTIMATIONS[method]
            if extra:
                raise ValueError(
                    f"The 'estimation' {method!r} of JobSpec accepts "
                    f"{sorted(ESTIMATIONS[method])}. Got unknown {sorted(extra)}."
                )
            frac = v.get("fraction", 0.33)
            if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 < frac < 1:
                raise ValueError("The 'estimation.fraction' of JobSpec must be between 0 and 1 "
                                 f"(exclusive). Got {frac!r}.")
            for key, low in (("points", 3), ("min_points", 3)):
                n = v.get(key, low)
                if not isinstance(n, int) or isinstance(n, bool) or n < low:
                    raise ValueError(f"The 'estimation.{key}' of JobSpec must be an integer "
                                     f">= {low}. Got {n!r}.")
            thr = v.get("threshold", 0.25)
            if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not 0 < thr < 1:
                raise ValueError("The 'estimation.threshold' of JobSpec must be a probability "
                                 f"between 0 and 1 (exclusive). Got {thr!r}.")
        return v

    @field_validator("objectives", mode="before")
    @classmethod
    def _check_objectives(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, str):
            v = [v]
        v = list(v)
        known = sorted(METRICS) + sorted(COST_OBJECTIVES)
        unknown = [o for o in v if o not in METRICS and o not in COST_OBJECTIVES]
        if not v or unknown:
            raise ValueError(
                f"The 'objectives' of JobSpec must be metric names or {sorted(COST_OBJECTIVES)}"
                f" (known: {known}). Got {v!r}."
            )
        if len(set(v)) != len(v):
            raise ValueError(f"The 'objectives' of JobSpec must not repeat a name. Got {v}.")
        if not any(o in METRICS for o in v):
            raise ValueError(
                "The 'objectives' of JobSpec must include a metric (the model's quality), e.g. "
                f"['roc_auc', 'model_size']. Got {v}."
            )
        return tuple(v)

    @field_validator("constraints")
    @classmethod
    def _check_constraints(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        unknown = sorted(set(v) - set(CONSTRAINTS))
        if unknown:
            raise ValueError(
                f"The 'constraints' of JobSpec accept {sorted(CONSTRAINTS)}. Got unknown "
                f"{unknown}."
            )
        for key, value in v.items():
            if not value > 0 or value == float("inf"):
                raise ValueError(f"The 'constraints.{key}' of JobSpec must be a positive, "
                                 f"finite number. Got {value!r}.")
        return v

    @model_validator(mode="before")
    @classmethod
    def _metric_from_objectives(cls, data: Any) -> Any:
        """Without a metric, the first metric among the objectives is the run's metric."""
        if isinstance(data, dict) and data.get("metric") is None and data.get("objectives"):
            objectives = data["objectives"]
            objectives = [objectives] if isinstance(objectives, str) else objectives
            first = next((o for o in objectives if isinstance(o, str) and o in METRICS), None)
            if first is not None:
                data = {**data, "metric": first}
        return data

    @model_validator(mode="after")
    def _check_together(self) -> JobSpec:
        if self.time_budget_s is None and self.max_trials is None:
            raise ValueError(
                "The budget of JobSpec is unlimited: set 'time_budget_s' (seconds) or "
                "'max_trials' (or both). Got time_budget_s=None and max_trials=None."
            )
        if self.metric is not None and self.task != "auto":
            get_metric(self.metric, self.task)
        if self.pos_label is not None and self.task == "regression":
            raise MetricError(
                f"The 'pos_label' of JobSpec applies to classification; the task is "
                f"'regression'. Remove pos_label={self.pos_label!r} or set the task."
            )
        self._check_search_combination()
        return self

    def _check_search_combination(self) -> None:
        if self.objectives is not None:
            if self.metric not in self.objectives:
                raise ValueError(
                    "The 'metric' of JobSpec must be one of its 'objectives' "
                    f"{list(self.objectives)}. Got metric={self.metric!r}. Add it to the "
                    "objectives or drop 'metric'."
                )
            if self.task != "auto":
                for name in self.objectives:
                    if name in METRICS:
                        get_metric(name, self.task)
        multi = self.multi_objective
        if multi and self.search_strategy in MULTI_FIDELITY:
            raise ValueError(
                f"The search {self.search_strategy!r} of JobSpec stops trials by one score and "
                f"takes a single objective; got objectives {list(self.objectives or ())}. Use "
                "'nsga2', 'tpe' or 'random' for a Pareto search."
            )
        if multi and self.estimation is not None:
            raise ValueError(
                "The 'estimation' of JobSpec works with a single objective; got objectives "
                f"{list(self.objectives or ())}. Remove 'estimation' or keep one objective."
            )
        if self.estimation_method == "learning_curve" and \
                self.search_strategy in MULTI_FIDELITY:
            raise ValueError(
                f"The 'estimation' 'learning_curve' of JobSpec replaces the pruner, and the search "
                f"{self.search_strategy!r} has its own. Use one of them."
            )
        if self.ensemble is True and (multi or self.constraints):
            raise ValueError(
                "The 'ensemble' of JobSpec cannot be True with several objectives or with "
                "constraints (an ensemble is larger and slower than its members). Use "
                "ensemble='auto' (skipped then) or False."
            )

    # --- derived views ----------------------------------------------------------------------

    @property
    def search_strategy(self) -> str:
        """The search strategy's name."""
        return str(self.search["strategy"] if isinstance(self.search, dict) else self.search)

    @property
    def search_options(self) -> dict[str, Any]:
        """Options of the search strategy (empty for a bare name)."""
        if isinstance(self.search, dict):
            return {k: v for k, v in self.search.items() if k != "strategy"}
        return {}

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The objectives searched: ``objectives`` or just the metric (may be ``None`` until
        the task's default metric is known)."""
        return self.objectives if self.objectives is not None else (str(self.metric),)

    @property
    def multi_objective(self) -> bool:
        """Whether several objectives are searched."""
        return self.objectives is not None and len(self.objectives) > 1

    @property
    def estimation_method(self) -> str | None:
        """``"low_fidelity"``, ``"learning_curve"`` or ``None``."""
        e = self.estimation
        return None if e is None else str(e["method"] if isinstance(e, dict) else e)

    @property
    def estimation_options(self) -> dict[str, Any]:
        """Options of the estimation method (empty for a bare name)."""
        e = self.estimation
        return {k: v for k, v in e.items() if k != "method"} if isinstance(e, dict) else {}

    @property
    def validation_method(self) -> str:
        """``"auto"``, ``"holdout"`` or ``"cv"``."""
        v = self.validation
        return str(v["method"] if isinstance(v, dict) else v)

    @property
    def validation_folds(self) -> int:
        """Number of CV folds (default 5)."""
        v = self.validation
        return int(v.get("folds", 5)) if isinstance(v, dict) else 5

    @property
    def validation_fraction(self) -> float:
        """Holdout fraction (default 0.2)."""
        v = self.validation
        return float(v.get("fraction", 0.2)) if isinstance(v, dict) else 0.2

    # --- (de)serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        d = self.model_dump(mode="json")
        for key in ("models", "objectives"):
            if d.get(key) is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        """Build a spec from a dict (unknown keys are an error)."""
        if not isinstance(data, dict):
            raise SpecError(f"A JobSpec must be built from a mapping. Got {type(data).__name__}.")
        return cls(**data)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """Read a spec written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"The JobSpec JSON is not valid JSON: {exc}.") from exc
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        """YAML text of every field."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> JobSpec:
        """Read a spec from YAML (``safe_load`` only)."""
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"The JobSpec YAML cannot be parsed: {exc}") from exc
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> JobSpec:
        """A new, re-validated spec with some fields changed."""
        data = self.to_dict()
        data.update(changes)
        return JobSpec(**data)

    def fingerprint(self) -> str:
        """A short stable hash of the spec (sha256 of its canonical JSON)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def diff(self, other: JobSpec) -> list[str]:
        """Human-readable lines for each field that differs from ``other``."""
        a, b = self.to_dict(), other.to_dict()
        return [
            f"{key}: {a.get(key)!r} != {b.get(key)!r}"
            for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)
        ]


def _spec_error(exc: ValidationError, data: dict[str, Any]) -> SpecError:
    """Turn pydantic's errors into one SpecError listing every problem."""
    problems: list[str] = []
    kinds: list[type[SpecError]] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "spec"
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, SpecError):
            msg = str(ctx_error)
            kinds.append(type(ctx_error))
        elif err["type"] == "value_error":
            msg = err["msg"].removeprefix("Value error, ")
            kinds.append(BudgetError if field in _BUDGET_FIELDS or (field == "spec"
                         and "budget" in msg) else SpecError)
        elif err["type"] == "extra_forbidden":
            msg = (f"JobSpec has no field {field!r}. Fields are {sorted(JobSpec.model_fields)}; "
                   "engine options (storage, n_jobs, regions, ...) go to with_backend().")
            kinds.append(SpecError)
        elif err["type"] == "missing":
            msg = f"The {field!r} of JobSpec is required."
            kinds.append(SpecError)
        else:
            top = str(err["loc"][0]) if err["loc"] else field
            msg = f"The {top!r} of JobSpec is invalid: {err['msg']}. Got {data.get(top)!r}."
            kinds.append(BudgetError if top in _BUDGET_FIELDS else SpecError)
        if field == "metric" and kinds[-1] is SpecError and str(data.get("metric")) not in METRICS:
            kinds[-1] = MetricError
        problems.append(msg)
    # one problem per field (union types report each branch)
    seen: dict[str, int] = {}
    uniq: list[str] = []
    uniq_kinds: list[type[SpecError]] = []
    for msg, kind in zip(problems, kinds, strict=True):
        if msg not in seen:
            seen[msg] = 1
            uniq.append(msg)
            uniq_kinds.append(kind)
    message = uniq[0] if len(uniq) == 1 else "JobSpec is invalid:\n- " + "\n- ".join(uniq)
    return uniq_kinds[0](message, problems=uniq)
