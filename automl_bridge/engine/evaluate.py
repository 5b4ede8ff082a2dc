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

import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl_bridge.engine.fidelity import Plan, row_subset, scaled_resource
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


def _validate(ctx: EvalContext, fit_fold: Callable[[int, np.ndarray], Any],
              ) -> tuple[dict[str, float], Any, np.ndarray, np.ndarray]:
    """Fit ``fit_fold(i, train_idx)`` on each split; every metric on pooled predictions.

    Returns the metrics, the pipeline fitted on the last split, the pooled validation
    predictions (class probabilities for classification, values for regression; NaN rows were
    never validated) and the mask of validated rows.
    """
    n = len(ctx.y)
    is_clf = ctx.task == "classification"
    preds = np.empty(n, dtype=ctx.y.dtype) if is_clf else np.full(n, np.nan)
    proba = np.zeros((n, len(ctx.classes or []))) if is_clf else None
    seen = np.zeros(n, dtype=bool)
    pipe: Any = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (train_idx, valid_idx) in enumerate(ctx.splits):
            pipe = fit_fold(i, train_idx)
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
    return metrics, pipe, (proba if proba is not None else preds), seen


class _FoldFitter:
    """Fits one configuration on each fold at a given fidelity, continuing where it can.

    With ``inherit`` (weight inheritance, see :mod:`automl_bridge.engine.weights`), each fold's
    network starts from the parent trial's network of the same fold, morphed, and trains for
    ``inherit["epochs"]`` epochs.
    """

    def __init__(self, ctx: EvalContext, family_name: str, params: dict[str, Any],
                 inherit: dict[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.fam = ctx.family(family_name)
        self.params = params
        self.inherit = inherit
        self.fraction = 1.0
        self._fitted: dict[int, Any] = {}

    def _params_at(self, fraction: float) -> dict[str, Any]:
        res = self.fam.resource
        if res is None or res not in self.params or fraction >= 1.0:
            return self.params
        return {**self.params, res: scaled_resource(int(self.params[res]), fraction)}

    def __call__(self, fold: int, train_idx: np.ndarray) -> Any:
        ctx, fam, fraction = self.ctx, self.fam, self.fraction
        res = fam.resource
        if res is not None and res in self.params:
            params = self._params_at(fraction)
            pipe = self._fitted.get(fold)
            if pipe is not None and _can_continue(pipe, res):
                pipe.named_steps["model"].set_params(**{res: params[res], "warm_start": True})
            else:
                pipe = build_pipeline(fam, params, ctx.data_context(len(train_idx)),
                                      kinds=ctx.kinds, input_columns=ctx.input_columns)
                if self.inherit is not None:
                    from automl_bridge.engine.weights import inherited_weights

                    pipe.named_steps["model"].set_params(
                        init_weights=inherited_weights(self.inherit, fold, params),
                        **{res: int(self.inherit["epochs"])})
            pipe.fit(ctx.X.iloc[train_idx], ctx.y[train_idx])
            self._fitted[fold] = pipe
            return pipe
        rows = train_idx if fraction >= 1.0 else row_subset(train_idx, fraction,
                                                           seed=ctx.seed + fold)
        pipe = build_pipeline(fam, self.params, ctx.data_context(len(rows)), kinds=ctx.kinds,
                              input_columns=ctx.input_columns)
        pipe.fit(ctx.X.iloc[rows], ctx.y[rows])
        return pipe


    def fitted_models(self) -> dict[int, Any]:
        """The model step of each fold's last fitted pipeline (resource families only)."""
        return {fold: pipe.named_steps["model"] for fold, pipe in sorted(self._fitted.items())}


def _can_continue(pipe: Any, resource: str) -> bool:
    est = pipe.named_steps.get("model")
    return est is not None and "warm_start" in est.get_params() and resource in est.get_params()


def evaluate(ctx: EvalContext, family_name: str, params: dict[str, Any], *,
             plan: Plan | None = None, report: Callable[[int, float], bool] | None = None,
             measure: Sequence[str] = (), keep_predictions: bool = False,
             save_weights: str | None = None, inherit: dict[str, Any] | None = None,
             ) -> dict[str, Any]:
    """Fit and validate one configuration, rung by rung when a fidelity plan is given.

    Args:
        ctx: the evaluation context.
        family_name: model family.
        params: the family's parameters (the resource parameter at its full value).
        plan: rungs to validate at (``None``: full fidelity only). After each rung but the
            last, ``report(step, score)`` is called; when it returns ``False`` the trial stops
            there (pruned).
        report: see ``plan``.
        measure: extra objectives to measure on the last fitted pipeline: ``"model_size"``
            (bytes of the pickled pipeline) and ``"predict_latency"`` (ms per 1,000 rows).
        keep_predictions: return the pooled validation predictions (for ensembles).
        save_weights: path prefix under which a network family's trained weights are saved,
            one file per fold (for weight inheritance; nothing is saved for a pruned trial).
        inherit: start each fold's network from a parent's saved weights, morphed (see
            :func:`automl_bridge.engine.weights.inherited_weights`); the plan is ignored.

    Returns:
        ``{"score", "metrics", "fit_time_s", "n_splits", "model", "step", "pruned",
        "measures", "curve"}`` (+ ``"predictions"``; + ``"history"``, a network's per-epoch
        logs, see :func:`epoch_history`), where ``model`` is the
        :class:`TabularModel` fitted on the last split; raises whatever the fit raises.
    """
    start = time.perf_counter()
    fitter = _FoldFitter(ctx, family_name, params, inherit)
    if inherit is not None:
        plan = None
    steps = plan.steps if plan is not None else (1,)
    curve: list[tuple[int, float]] = []
    pruned = False
    for i, step in enumerate(steps):
        fitter.fraction = plan.fraction(step) if plan is not None else 1.0
        metrics, pipe, predictions, seen = _validate(ctx, fitter)
        score = metrics.get(get_metric(ctx.metric).name, float("nan"))
        if not np.isfinite(score):
            raise ValueError(f"The validation {ctx.metric} is {score}: the model predicts "
                             "nothing usable on this data.")
        curve.append((step, float(score)))
        if report is not None and i < len(steps) - 1 and not report(step, float(score)):
            pruned = True
            break
    model = TabularModel(pipeline=pipe, task=ctx.task, target=ctx.target, classes=ctx.classes,
                         family=family_name, params=params)
    networks = fitter.fitted_models() if save_weights is not None and not pruned else {}
    saved = bool(networks)
    if saved:
        from automl_bridge.engine.weights import save_fold_weights

        save_fold_weights(str(save_weights), networks)
    out: dict[str, Any] = {
        "score": float(score), "metrics": metrics, "model": model,
        "fit_time_s": time.perf_counter() - start, "n_splits": len(ctx.splits),
        "step": curve[-1][0], "pruned": pruned, "curve": curve,
        "measures": measure_model(pipe, ctx.X.iloc[ctx.splits[-1][1]], measure),
        "weights_saved": saved,
    }
    history = epoch_history(pipe)
    if history:
        out["history"] = history
    if keep_predictions:
        out["predictions"] = predictions.astype(np.float32) if ctx.task == "classification" \
            else predictions
        out["validated"] = seen
    return out


def epoch_history(pipe: Any) -> list[dict[str, float]]:
    """A network's per-epoch learning curve on the last split (loss and validation loss and
    metric of its early-stopping rows, rounded), empty for other models."""
    history = getattr(pipe.named_steps.get("model"), "history_", None) or []
    keys = ("epoch", "loss", "val_loss", "val_accuracy", "val_mae")
    return [{k: round(float(logs[k]), 5) for k in keys if k in logs} for logs in history]


def measure_model(pipe: Any, X_sample: pd.DataFrame, what: Sequence[str]) -> dict[str, float]:
    """Size in bytes of the pickled pipeline and/or its prediction time per 1,000 rows (ms)."""
    out: dict[str, float] = {}
    if "model_size" in what:
        out["model_size"] = float(len(pickle.dumps(pipe, protocol=pickle.HIGHEST_PROTOCOL)))
    if "predict_latency" in what and len(X_sample):
        rows = X_sample.iloc[np.resize(np.arange(len(X_sample)), 1000)]
        predict = getattr(pipe, "predict_proba", None) or pipe.predict
        best = float("inf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(3):
                t0 = time.perf_counter()
                predict(rows)
                best = min(best, time.perf_counter() - t0)
        out["predict_latency"] = round(best * 1000.0, 4)
    return out


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
    def make() -> Any:
        return build_baseline(ctx.task, kinds=ctx.kinds, input_columns=ctx.input_columns)

    metrics, *_ = _validate(ctx, lambda i, tr: make().fit(ctx.X.iloc[tr], ctx.y[tr]))
    pipe = make().fit(ctx.X, ctx.y)
    model = TabularModel(pipeline=pipe, task=ctx.task, target=ctx.target, classes=ctx.classes,
                         family="baseline", params={})
    return model, metrics
