"""scikit-learn estimators on top of the local engine: ``AutoMLClassifier``, ``AutoMLRegressor``.

Each ``fit`` runs one AutoML search in this process (local backend, in-memory trial storage,
nothing written to disk, no progress display) and keeps the best pipeline. The estimators follow
the scikit-learn conventions: every constructor argument is keyword-only and stored unchanged,
``fit`` returns ``self``, fitted attributes end with ``_``, so they work with ``clone``,
``Pipeline``, ``cross_val_score`` and ``GridSearchCV``.

Input: a pandas DataFrame is passed to the search as it is (categorical and string columns,
dates, missing values: every candidate pipeline preprocesses raw frames). NumPy arrays and
other array-likes are checked the scikit-learn way (2-D, finite apart from NaN, not sparse or
complex); object arrays may hold strings, which become categorical columns.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from automl_bridge.sklearn_api import AutoMLClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoMLClassifier(time_budget_s=None, max_trials=2, models=["linear"])
    >>> clf.fit(X, y).classes_.tolist()
    [0, 1, 2]
    >>> clf.predict(X[:3]).tolist()
    [0, 0, 0]
    >>> round(clf.score(X, y), 2) >= 0.9
    True
"""

from __future__ import annotations

import datetime as _dt
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.models.pipeline import TabularModel
    from automl_bridge.results import RunResult

__all__ = ["EXPECTED_FAILED_CHECKS", "AutoMLClassifier", "AutoMLRegressor"]

#: Name of the target column in the frame handed to the engine; no real feature is named so.
TARGET = "__automl_bridge_target__"

#: ``sklearn.utils.estimator_checks`` checks that cannot pass by design, by estimator class.
#: Pass ``EXPECTED_FAILED_CHECKS[type(est).__name__]`` as ``expected_failed_checks``.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "AutoMLClassifier": {},
    "AutoMLRegressor": {},
}

_CELL_TYPES = (str, bytes, numbers.Number, _dt.date, _dt.time, np.datetime64, np.timedelta64)


class _AutoMLEstimator(BaseEstimator):
    """What both estimators share; subclasses fix the task."""

    _task: str = ""

    def __init__(
        self,
        *,
        metric: str | None = None,
        time_budget_s: float | None = 60.0,
        max_trials: int | None = None,
        search: str | dict[str, Any] = "auto",
        models: list[str] | tuple[str, ...] | str | None = None,
        validation: str | dict[str, Any] = "auto",
        seed: int = 0,
        n_jobs: int | None = 1,
        isolation: str = "auto",
        ensemble: bool | str = "auto",
    ) -> None:
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.max_trials = max_trials
        self.search = search
        self.models = models
        self.validation = validation
        self.seed = seed
        self.n_jobs = n_jobs
        self.isolation = isolation
        self.ensemble = ensemble

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.target_tags.multi_output = False
        tags.target_tags.single_output = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    # --- fitting -------------------------------------------------------------------------------

    def _fit(self, X: Any, y: Any) -> Any:
        from automl_bridge.job import AutoMLJob
        from automl_bridge.progress import SilentProgress

        frame, y_arr = self._validate_training(X, y)
        spec_fields, target_attrs = self._prepare_target(y_arr)
        job = AutoMLJob(
            task=self._task, target=TARGET, metric=self.metric,
            time_budget_s=self.time_budget_s, max_trials=self.max_trials, search=self.search,
            models=self.models, validation=self.validation, seed=self.seed,
            ensemble=self.ensemble, **spec_fields,
        ).with_backend(
            "local", storage="memory", run_dir=None,
            n_jobs=1 if self.n_jobs is None else self.n_jobs, isolation=self.isolation,
        )
        result = job.fit((frame, y_arr), progress=SilentProgress())
        model = job.model
        best = result.best
        self.model_: TabularModel = model
        self.result_: RunResult = result
        self.metric_: str = result.metric
        self.best_score_: float = float(best.score) if best is not None else float("nan")
        self.best_params_: dict[str, Any] = dict(best.params) if best is not None else {}
        self.best_family_: str = best.family if best is not None else ""
        self._columns = [str(c) for c in frame.columns]
        for key, value in target_attrs.items():
            setattr(self, key, value)
        return self

    def _validate_training(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        """Check X and y the scikit-learn way; return the engine's frame and 1-D targets."""
        from sklearn.utils.validation import check_consistent_length, validate_data

        name = type(self).__name__
        if y is None:
            raise ValueError(
                f"{name} requires y to be passed, but the target y is None. Call fit(X, y)."
            )
        if _is_frame(X):
            validate_data(self, X, reset=True, skip_check_array=True)
            check_consistent_length(X, y)
            frame = X.set_axis([str(c) for c in X.columns], axis=1)
        else:
            arr = validate_data(self, X, reset=True, dtype=None, accept_sparse=False,
                                ensure_all_finite="allow-nan")
            check_consistent_length(arr, y)
            frame = _array_to_frame(arr, [f"x{i}" for i in range(arr.shape[1])])
        y_arr = self._validate_y(y)
        if len(y_arr) < 2:
            raise ValueError(
                f"{name} cannot train and validate a model on n_samples = {len(y_arr)}. Give "
                "more rows (validation needs at least 2 per fold)."
            )
        return frame, y_arr

    def _prepare_target(self, y: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        """Extra JobSpec fields for these targets, and fitted attributes learned from them."""
        return {}, {}

    def _validate_y(self, y: Any) -> np.ndarray:
        from sklearn.utils import assert_all_finite
        from sklearn.utils.validation import column_or_1d

        y_arr = column_or_1d(y, warn=True)
        assert_all_finite(y_arr, input_name="y")
        if np.iscomplexobj(y_arr):
            raise ValueError(f"{type(self).__name__} does not support complex targets y.")
        return np.asarray(y_arr)

    # --- prediction ----------------------------------------------------------------------------

    def _features(self, X: Any) -> pd.DataFrame:
        """Validate prediction input against the training input; return a frame for the model."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self)
        if _is_frame(X):
            validate_data(self, X, reset=False, skip_check_array=True)
            if hasattr(self, "feature_names_in_"):
                return X
            return X.set_axis(list(self._columns), axis=1)
        arr = validate_data(self, X, reset=False, dtype=None, accept_sparse=False,
                            ensure_all_finite="allow-nan")
        return _array_to_frame(arr, list(self._columns))

    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels (classifier) or values (regressor) for the rows of ``X``.

        Args:
            X: a DataFrame with the training columns, or an array with as many columns.

        Returns:
            One prediction per row.

        Raises:
            NotFittedError: ``fit`` was not called.
            ValueError: ``X`` does not match the training features.
        """
        X_model = self._features(X)
        return self._predict(X_model)

    def _predict(self, X_model: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(X_model)


class AutoMLClassifier(ClassifierMixin, _AutoMLEstimator):
    """AutoML classifier: ``fit`` searches model families and hyperparameters, keeps the best.

    Args:
        metric: canonical metric the search optimises (``"roc_auc"``, ``"accuracy"``,
            ``"log_loss"``, ``"f1_macro"``, ...); ``None`` = ROC-AUC for two classes, log-loss
            for more. ``score`` stays accuracy, as for every scikit-learn classifier.
        time_budget_s: wall-clock budget of one ``fit`` in seconds; ``None`` for no time limit
            (then ``max_trials`` is required).
        max_trials: most candidates to evaluate (``None`` = as many as the time allows).
        search: search strategy name (``"tpe"``, ``"random"``, ...) or
            ``{"strategy": name, **options}``.
        models: model families to search, e.g. ``["linear", "hist_gradient_boosting"]``
            (``None`` = every family suited to the data).
        validation: ``"auto"``, ``"holdout"``, ``"cv"`` or a dict such as
            ``{"method": "cv", "folds": 5}``.
        seed: random seed of the search and of every model.
        n_jobs: candidates evaluated in parallel (``-1`` = one per core, ``None`` = 1).
        isolation: ``"process"`` (trials in killable worker processes, hard time budget),
            ``"inline"`` (in this process) or ``"auto"`` (process when there is a time budget).
        ensemble: ``"auto"`` (an ensemble of the best pipelines when it validates better),
            ``True`` or ``False`` (see ``docs/search.md``).

    Attributes:
        model_: the fitted best pipeline (:class:`~automl_bridge.models.pipeline.TabularModel`)
            or ensemble (:class:`~automl_bridge.models.ensemble.EnsembleModel`).
        result_: the :class:`~automl_bridge.results.RunResult` of the search (leaderboard,
            every candidate, warnings, wall time).
        classes_: class labels, in the order of ``predict_proba`` columns.
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: feature names seen in ``fit`` (only when ``X`` had string column
            names).
        best_params_: hyperparameters of the best candidate.
        best_family_: model family of the best candidate (``"baseline"`` if none completed).
        best_score_: validation score of the best candidate on ``metric_``.
        metric_: the metric the search optimised (resolved when ``metric`` is ``None``).

    Raises:
        ValueError: invalid parameters or data (our typed errors subclass ``ValueError``).
    """

    _task = "classification"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags

    def fit(self, X: Any, y: Any) -> AutoMLClassifier:
        """Run the search on ``X``, ``y`` and keep the best model.

        A class with a single row cannot be validated: it is left out of the search (with a
        ``UserWarning``) but stays in ``classes_`` with probability 0.

        Args:
            X: training features: a DataFrame (any column kinds) or a 2-D array-like.
            y: class labels, one per row.

        Returns:
            self
        """
        self._fit(X, y)
        self._model_columns = self._class_positions(self.model_.classes_ or [])
        return self

    def _validate_y(self, y: Any) -> np.ndarray:
        import pandas as pd
        from sklearn.utils.multiclass import check_classification_targets

        y_arr = super()._validate_y(y)
        if y_arr.dtype == object and bool(pd.isna(y_arr).any()):
            raise ValueError("Input y contains NaN (or None). Remove those rows or fill them.")
        check_classification_targets(y_arr)
        return y_arr

    def _prepare_target(self, y: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        import warnings

        classes, counts = np.unique(y, return_counts=True)
        name = type(self).__name__
        if len(classes) < 2:
            raise ValueError(
                f"{name} needs at least 2 classes in y; got 1 class ({classes[0]!r})."
            )
        rare = classes[counts < 2]
        if len(classes) - len(rare) < 2:
            counts_by_class = dict(zip(classes.tolist(), counts.tolist(), strict=True))
            raise ValueError(
                f"{name} needs at least 2 classes with 2 or more rows each (rows are split for "
                f"validation); got class counts {counts_by_class}."
            )
        if len(rare):
            warnings.warn(
                f"{name}: the classes {rare.tolist()} have a single row in y and cannot be "
                "validated; they are left out of the search and never predicted "
                "(probability 0).", UserWarning, stacklevel=4,
            )
        return {"drop_rare_classes": True}, {"classes_": classes}

    def _class_positions(self, model_classes: list[Any]) -> np.ndarray:
        """Position in ``classes_`` of each class the model was trained on."""
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        return np.asarray([index[c] for c in model_classes], dtype=np.intp)

    def _predict(self, X_model: pd.DataFrame) -> np.ndarray:
        """Labels as in ``classes_`` (same values and dtype as the ``y`` given to ``fit``)."""
        import pandas as pd

        pred = self.model_.predict(X_model)
        positions = pd.Index(self.model_.classes_ or []).get_indexer(pred)
        return self.classes_[self._model_columns[positions]]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: one row per row of ``X``, one column per class in ``classes_``.

        Raises:
            NotFittedError: ``fit`` was not called.
        """
        X_model = self._features(X)
        proba = self.model_.predict_proba(X_model)
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, self._model_columns] = proba
        return out

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba` (``-inf`` for probability 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


class AutoMLRegressor(RegressorMixin, _AutoMLEstimator):
    """AutoML regressor: ``fit`` searches model families and hyperparameters, keeps the best.

    Args:
        metric: canonical metric the search optimises (``"rmse"``, ``"mae"``, ``"r2"``, ...);
            ``None`` = RMSE. ``score`` stays R², as for every scikit-learn regressor.
        time_budget_s: wall-clock budget of one ``fit`` in seconds; ``None`` for no time limit
            (then ``max_trials`` is required).
        max_trials: most candidates to evaluate (``None`` = as many as the time allows).
        search: search strategy name or ``{"strategy": name, **options}``.
        models: model families to search (``None`` = every family suited to the data).
        validation: ``"auto"``, ``"holdout"``, ``"cv"`` or a dict.
        seed: random seed of the search and of every model.
        n_jobs: candidates evaluated in parallel (``-1`` = one per core, ``None`` = 1).
        isolation: ``"process"``, ``"inline"`` or ``"auto"``.
        ensemble: ``"auto"``, ``True`` or ``False``.

    Attributes:
        model_, result_, n_features_in_, feature_names_in_, best_params_, best_family_,
        best_score_, metric_: as for :class:`AutoMLClassifier`.
    """

    _task = "regression"

    def fit(self, X: Any, y: Any) -> AutoMLRegressor:
        """Run the search on ``X``, ``y`` and keep the best model.

        Args:
            X: training features: a DataFrame (any column kinds) or a 2-D array-like.
            y: numeric targets, one per row.

        Returns:
            self
        """
        self._fit(X, y)
        return self

    def _validate_y(self, y: Any) -> np.ndarray:
        y_arr = super()._validate_y(y)
        if y_arr.dtype.kind not in "biuf":
            try:
                y_arr = y_arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"AutoMLRegressor needs numeric targets y. Got values that are not numbers "
                    f"({exc}). Use AutoMLClassifier for class labels."
                ) from exc
            from sklearn.utils import assert_all_finite

            assert_all_finite(y_arr, input_name="y")
        return y_arr.astype(np.float64, copy=False)


# --- helpers -------------------------------------------------------------------------------------


def _is_frame(X: Any) -> bool:
    import pandas as pd

    return isinstance(X, pd.DataFrame)


def _array_to_frame(arr: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """A frame of a validated 2-D array; object/string columns of numbers become floats."""
    import pandas as pd

    if arr.dtype.kind not in "OSU":
        return pd.DataFrame(arr, columns=columns)
    obj = arr.astype(object)
    return pd.DataFrame({c: _object_column(obj[:, j], j) for j, c in enumerate(columns)})


def _object_column(values: np.ndarray, j: int) -> pd.Series:
    """One column of an object array: floats if every value is a number, else as given."""
    import pandas as pd

    s = pd.Series(values, dtype=object)
    has_bool = False
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            has_bool = True
        elif v is not None and not isinstance(v, _CELL_TYPES):
            raise TypeError(
                f"Each value of X must be a number, a string, a boolean, a date or missing: the "
                f"argument must be a string or a number, not {type(v).__name__!r} (row {i}, "
                f"column {j})."
            )
    if has_bool:
        return s
    num = pd.to_numeric(s, errors="coerce")
    if bool((num.isna() == s.isna()).all()):
        return num.astype(np.float64)
    return s
