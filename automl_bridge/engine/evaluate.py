"""Evaluate one configuration: fit on the training folds, score on validation, refit on all.

Pure functions over an :class:`EvalContext`, so the same code runs inline and inside a worker
process. Scores are computed on the pooled out-of-fold predictions (cross-validation) or on
the holdout rows; every metric of the task is recorded, the run's metric is the score.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl_bridge.engine.evaluate import EvalContext, evaluate
    >>> X = pd.DataFrame({"x": np.arange(40.0)}); y = (X["x"] > 20).to_numpy().astype(int)
    >>> idx = np.arange(40); splits = [(idx[idx % 4 != 0], idx[idx % 4 == 0])]
    >>> ctx = EvalContext(X=X, y=y, task="classification", classes=[0, 1], metric="accuracy",
    ...                   pos_label=1, kinds={"x": "numeric"}, input_columns=["x"],
    ...                   splits=splits, target="t")
    >>> evaluate(ctx, "hist_gradient_boosting", {"learning_rate": 0.1, "max_leaf_nodes": 8,
    ...     "min_samples_leaf": 2, "l2_regularization": 0.0, "max_features": 1.0,
    ...     "max_iter": 20})["score"]
    1.0
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl_bridge.metrics import get_metric, metrics_for, score_all
from automl_bridge.models.families import DataContext, Family
from automl_bridge.models.pipeline import (
    TabularModel,
    aligned_proba,
    build_baseline,
    build_pipeline,
)


@dataclass
class EvalContext:
    """Everything a trial needs, sent once to each worker.

    Attributes:
        X, y: training features and target.
        task, classes, metric, pos_label: what to predict and how it is scored.
        kinds, input_columns: the feature schema (see :class:`~automl_bridge.data.FeatureSchema`).
        splits: ``(train_idx, valid_idx)`` pairs: one for holdout, k for cross-validation.
        target: target column name.
        seed: seed of every estimator.
        n_threads: threads one fit may use.
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    classes: list[Any] | None
    metric: str
    pos_label: Any
    kinds: dict[str, str]
    input_columns: list[str]
    splits: list[tuple[np.ndarray, np.ndarray]]
    target: str
    seed: int = 0
    n_threads: int = 1
    family_cache: dict[str, Family] = field(default_factory=dict, repr=False)

    def data_context(self, n_rows: int) -> DataContext:
        """The :class:`DataContext` of a fit on ``n_rows`` rows."""
        return DataContext(task=self.task, n_rows=n_rows, n_features=len(self.kinds),
                           n_classes=len(self.classes or []), seed=self.seed,
                           n_threads=self.n_threads)

    def family(self, name: str) -> Family:
        """The model family registered as ``name``."""
        if name not in self.family_cache:
            from automl_bridge.registry import registry_for

            self.family_cache[name] = registry_for("families").get(name)
        return self.family_cache[name]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["family_cache"] = {}
        return state


def _validate(ctx: EvalContext, make_pipe: Any) -> tuple[dict[str, float], Any]:
    """Fit ``make_pipe(n_train_rows)`` on each split; every metric on pooled predictions.

    Returns the metrics and the pipeline fitted on the last split.
    """
    n = len(ctx.y)
    is_clf = ctx.task == "classification"
    preds = np.empty(n, dtype=ctx.y.dtype) if is_clf else np.full(n, np.nan)
    proba = np.zeros((n, len(ctx.classes or []))) if is_clf else None
    seen = np.zeros(n, dtype=bool)
    pipe: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train_idx, valid_idx in ctx.splits:
            pipe = make_pipe(len(train_idx))
            pipe.fit(ctx.X.iloc[train_idx], ctx.y[train_idx])
            X_valid = ctx.X.iloc[valid_idx]
            if proba is not None:
                p = aligned_proba(pipe, X_valid, ctx.classes or [])
                proba[valid_idx] = p
                preds[valid_idx] = np.asarray(ctx.classes, dtype=object)[p.argmax(axis=1)]
            else:
                preds[valid_idx] = pipe.predict(X_valid)
            seen[valid_idx] = True
        metrics = score_all(
            metrics_for(ctx.task, len(ctx.classes or [])), ctx.y[seen], y_pred=preds[seen],
            y_proba=proba[seen] if proba is not None else None, classes=ctx.classes,
            pos_label=ctx.pos_label,
        )
    return metrics, pipe


def evaluate(ctx: EvalContext, family_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Fit and validate one configuration.

    Returns:
        ``{"score", "metrics", "fit_time_s", "n_splits", "model"}``, where ``model`` is the
        :class:`TabularModel` fitted on the last split; raises whatever the fit raises.
    """
    fam = ctx.family(family_name)
    start = time.perf_counter()
    metrics, pipe = _validate(ctx, lambda n_rows: build_pipeline(
        fam, params, ctx.data_context(n_rows), kinds=ctx.kinds, input_columns=ctx.input_columns))
    score = metrics.get(get_metric(ctx.metric).name, float("nan"))
    if not np.isfinite(score):
        raise ValueError(f"The validation {ctx.metric} is {score}: the model predicts nothing "
                         "usable on this data.")
    model = TabularModel(pipeline=pipe, task=ctx.task, target=ctx.target, classes=ctx.classes,
                         family=family_name, params=params)
    return {"score": float(score), "metrics": metrics, "model": model,
            "fit_time_s": time.perf_counter() - start, "n_splits": len(ctx.splits)}


def refit(ctx: EvalContext, family_name: str, params: dict[str, Any]) -> TabularModel:
    """Fit one configuration on all training rows."""
    fam = ctx.family(family_name)
    pipe = build_pipeline(fam, params, ctx.data_context(len(ctx.y)), kinds=ctx.kinds,
                          input_columns=ctx.input_columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(ctx.X, ctx.y)
    return TabularModel(pipeline=pipe, task=ctx.task, target=ctx.target, classes=ctx.classes,
                        family=family_name, params=params)


def baseline(ctx: EvalContext) -> tuple[TabularModel, dict[str, float]]:
    """The class-prior / mean model fitted on all rows, and its validation metrics."""
    def make(n_rows: int) -> Any:
        return build_baseline(ctx.task, kinds=ctx.kinds, input_columns=ctx.input_columns)

    metrics, _ = _validate(ctx, make)
    pipe = make(len(ctx.y)).fit(ctx.X, ctx.y)
    model = TabularModel(pipeline=pipe, task=ctx.task, target=ctx.target, classes=ctx.classes,
                         family="baseline", params={})
    return model, metrics
