"""Candidate pipelines and the fitted model users predict with.

A candidate pipeline is ``FrameAligner -> family encoder -> estimator``, so a fitted model
takes raw frames like the training frame. :class:`TabularModel` wraps the fitted pipeline with
the task, target name and class labels, and returns probabilities in the order of
``classes_`` even when a fit saw only some classes.

Example:
    >>> import pandas as pd
    >>> from automl_bridge.models.pipeline import build_pipeline, TabularModel
    >>> from automl_bridge.models.families import LINEAR, DataContext
    >>> ctx = DataContext(task="regression", n_rows=4, n_features=1)
    >>> pipe = build_pipeline(LINEAR, {"kind": "ridge", "alpha": 1.0, "l1_ratio": 0.5}, ctx,
    ...                       kinds={"x": "numeric"}, input_columns=["x"])
    >>> _ = pipe.fit(pd.DataFrame({"x": [1.0, 2, 3, 4]}), [1.0, 2, 3, 4])
    >>> model = TabularModel(pipeline=pipe, task="regression", target="y")
    >>> model.predict(pd.DataFrame({"x": [2.5]})).round(1).tolist()
    [2.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from automl_bridge.exceptions import AutoMLInputError, ModelNotFittedError, PredictSchemaError
from automl_bridge.models.families import DataContext, Family
from automl_bridge.models.preprocessing import FrameAligner, build_preprocessor, categorical_mask


def build_pipeline(family: Family, params: dict[str, Any], ctx: DataContext, *,
                   kinds: dict[str, str], input_columns: list[str]) -> Any:
    """An unfitted ``Pipeline(align, prep, model)`` for one configuration."""
    from sklearn.pipeline import Pipeline

    aligner = FrameAligner(kinds=dict(kinds), input_columns=list(input_columns))
    prep = build_preprocessor(aligner, family.encoding, seed=ctx.seed)
    est = family.build(ctx, params)
    if family.encoding == "native":
        mask = categorical_mask(aligner)
        est.set_params(categorical_features=mask if any(mask) else None)
    return Pipeline([("align", aligner), ("prep", prep), ("model", est)])


def build_baseline(task: str, *, kinds: dict[str, str], input_columns: list[str]) -> Any:
    """The fallback pipeline: class prior or mean, behind the same aligner."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.pipeline import Pipeline

    est = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
    return Pipeline([("align", FrameAligner(kinds=dict(kinds), input_columns=list(input_columns))),
                     ("model", est)])


def aligned_proba(pipeline: Any, X: Any, classes: list[Any]) -> np.ndarray:
    """``predict_proba`` with one column per class of ``classes`` (0 for unseen classes)."""
    proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    fitted = list(pipeline.classes_)
    if fitted == list(classes):
        return proba
    out = np.zeros((proba.shape[0], len(classes)))
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(fitted):
        out[:, index[c]] = proba[:, j]
    return out


class TabularModel:
    """A fitted pipeline plus what is needed to use it.

    Args:
        pipeline: the fitted scikit-learn pipeline.
        task: ``"classification"`` or ``"regression"``.
        target: name of the target column.
        classes: class labels (classification), in the order of ``predict_proba`` columns.
        family: model family of the pipeline.
        params: its hyperparameters.
    """

    def __init__(self, *, pipeline: Any, task: str, target: str,
                 classes: list[Any] | None = None, family: str = "",
                 params: dict[str, Any] | None = None) -> None:
        self.pipeline = pipeline
        self.task = task
        self.target = target
        self.classes_ = list(classes) if classes is not None else None
        self.family = family
        self.params = dict(params or {})

    def __repr__(self) -> str:
        return f"TabularModel(family={self.family!r}, task={self.task!r}, target={self.target!r})"

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        if self.pipeline is None:
            raise ModelNotFittedError("This model has no fitted pipeline. Call fit() first.")
        if _n_rows(X) == 0:
            if self.classes_ is not None:
                return np.asarray([], dtype=np.asarray(self.classes_).dtype)
            return np.asarray([], dtype=float)
        pred = self.pipeline.predict(X)
        return np.asarray(pred)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_``."""
        if self.task != "classification" or self.classes_ is None:
            raise AutoMLInputError(
                "predict_proba is only available for classification models; this model does "
                f"{self.task}. Use predict()."
            )
        if _n_rows(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return aligned_proba(self.pipeline, X, self.classes_)


def _n_rows(X: Any) -> int:
    if hasattr(X, "shape") and len(X.shape) >= 1:
        return int(X.shape[0])
    try:
        return len(X)
    except TypeError:
        raise PredictSchemaError(
            "Predict needs a DataFrame (or a 2-d array) with the training columns. Got "
            f"{type(X).__name__}."
        ) from None
