"""The peer systems our engine is compared with in ``quality.py``.

Each peer is a function ``fit(X, y, *, info, budget_s, seed, workdir) -> common.Fitted``:

* ``hgb``: scikit-learn's default ``HistGradientBoosting{Classifier,Regressor}``, no tuning.
  String columns are cast to pandas ``category`` (categories from the training rows) because
  HGB does not take strings; HGB then treats them as native categoricals
  (``categorical_features="from_dtype"``, its default) and NaN natively. The budget is
  ignored.
* ``optuna``: a plain Optuna search written the way a user would (see
  :func:`fit_optuna`): ``TPESampler(seed)``, one objective choosing among the same six
  scikit-learn families with a simple space, a ``ColumnTransformer`` (impute + one-hot for
  linear/KNN/SVM, impute + ordinal codes for trees), 5-fold CV up to 5,000 training rows else a
  20 % holdout, ``study.optimize(timeout=budget)``, then the best configuration refit on all
  training rows. Its timeout is soft: the last trial and the refit run past it.
* ``flaml``: FLAML's ``AutoML().fit(X, y, task=..., time_budget=budget, metric=...,
  seed=...)`` with its default estimator list (LightGBM, XGBoost, random forest, extra
  trees, linear, ...) on every core.

Run through ``quality.py``; this module has no command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common import DatasetInfo, Fitted, cores

if TYPE_CHECKING:
    import pandas as pd

#: scikit-learn scorer of each canonical metric (higher is better).
SK_SCORER = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss",
             "rmse": "neg_root_mean_squared_error"}
#: Cross-validation up to this many training rows, else a 20 % holdout (as our engine).
CV_MAX_ROWS = 5_000
#: Same availability rules as our families (``automl_bridge.models.families``).
SVM_MAX_ROWS = 10_000
KNN_MAX_ROWS = 100_000


def preload(system: str) -> None:
    """Import what ``system`` needs before any timer starts."""
    if system == "optuna":
        import optuna  # noqa: F401
        import sklearn.svm  # noqa: F401
    elif system == "flaml":
        import flaml
        import flaml.automl  # noqa: F401


# --- HistGradientBoosting, default -----------------------------------------------------------


def _string_columns(X: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def _to_category(X: pd.DataFrame, categories: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    X = X.copy()
    for col, cats in categories.items():
        X[col] = pd.Categorical(X[col], categories=cats)
    return X


def fit_hgb(X: pd.DataFrame, y: pd.Series, *, info: DatasetInfo, budget_s: float, seed: int,
            workdir: str) -> Fitted:
    """Default HistGradientBoosting (string columns as pandas categories)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cats = {c: sorted(X[c].dropna().unique().tolist()) for c in _string_columns(X)}
    cls = (HistGradientBoostingClassifier if info.task == "classification"
           else HistGradientBoostingRegressor)
    model = cls(random_state=seed).fit(_to_category(X, cats), y)
    classes = list(model.classes_) if info.task == "classification" else None
    return Fitted(predict=lambda f: model.predict(_to_category(f, cats)),
                  predict_proba=lambda f: model.predict_proba(_to_category(f, cats)),
                  classes=classes, details={"n_iter": int(model.n_iter_)})


# --- plain Optuna TPE ------------------------------------------------------------------------


def _preprocessor(X: pd.DataFrame, encoding: str) -> Any:
    """Impute + scale + one-hot (``"onehot"``) or impute + ordinal codes (``"ordinal"``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    cat = _string_columns(X)
    num = [c for c in X.columns if c not in cat]
    parts: list[tuple[str, Any, list[str]]] = []
    if encoding == "onehot":
        if num:
            parts.append(("num", make_pipeline(SimpleImputer(strategy="median"),
                                               StandardScaler()), num))
        if cat:
            parts.append(("cat", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False)), cat))
    else:
        if num:
            parts.append(("num", SimpleImputer(strategy="median"), num))
        if cat:
            parts.append(("cat", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)), cat))
    return ColumnTransformer(parts, remainder="drop")


def _families(n_rows: int) -> list[str]:
    names = ["linear", "knn", "svm", "random_forest", "extra_trees", "hist_gradient_boosting"]
    if n_rows > SVM_MAX_ROWS:
        names.remove("svm")
    if n_rows > KNN_MAX_ROWS:
        names.remove("knn")
    return names


def _suggest_estimator(trial: Any, family: str, task: str, seed: int) -> Any:
    """A simple space per family (comparable to ours, not copied from it)."""
    from sklearn import ensemble, linear_model, neighbors, svm

    clf = task == "classification"
    if family == "linear":
        if clf:
            return linear_model.LogisticRegression(
                C=trial.suggest_float("lr_C", 1e-4, 1e3, log=True), max_iter=1000)
        return linear_model.Ridge(alpha=trial.suggest_float("ridge_alpha", 1e-4, 1e3, log=True))
    if family == "knn":
        cls = neighbors.KNeighborsClassifier if clf else neighbors.KNeighborsRegressor
        return cls(n_neighbors=trial.suggest_int("knn_k", 1, 50, log=True),
                   weights=trial.suggest_categorical("knn_weights", ["uniform", "distance"]),
                   n_jobs=cores())
    if family == "svm":
        C = trial.suggest_float("svm_C", 1e-2, 1e3, log=True)
        gamma = trial.suggest_float("svm_gamma", 1e-4, 1.0, log=True)
        if clf:
            return svm.SVC(C=C, gamma=gamma, probability=True, random_state=seed)
        return svm.SVR(C=C, gamma=gamma)
    if family in ("random_forest", "extra_trees"):
        prefix = "rf" if family == "random_forest" else "et"
        name = ("RandomForest" if family == "random_forest" else "ExtraTrees") + (
            "Classifier" if clf else "Regressor")
        return getattr(ensemble, name)(
            n_estimators=trial.suggest_int(f"{prefix}_n_estimators", 50, 300, log=True),
            max_features=trial.suggest_categorical(f"{prefix}_max_features",
                                                   ["sqrt", 0.5, 1.0]),
            min_samples_leaf=trial.suggest_int(f"{prefix}_min_samples_leaf", 1, 20, log=True),
            n_jobs=cores(), random_state=seed)
    cls = (ensemble.HistGradientBoostingClassifier if clf
           else ensemble.HistGradientBoostingRegressor)
    return cls(learning_rate=trial.suggest_float("hgb_learning_rate", 0.01, 0.3, log=True),
               max_leaf_nodes=trial.suggest_int("hgb_max_leaf_nodes", 8, 128, log=True),
               min_samples_leaf=trial.suggest_int("hgb_min_samples_leaf", 5, 100, log=True),
               l2_regularization=trial.suggest_float("hgb_l2", 1e-8, 10.0, log=True),
               max_iter=trial.suggest_int("hgb_max_iter", 50, 500, log=True),
               random_state=seed)


def _make_pipeline(trial: Any, X: pd.DataFrame, task: str, seed: int) -> Any:
    from sklearn.pipeline import Pipeline

    family = trial.suggest_categorical("family", _families(len(X)))
    encoding = "onehot" if family in ("linear", "knn", "svm") else "ordinal"
    return Pipeline([("prep", _preprocessor(X, encoding)),
                     ("model", _suggest_estimator(trial, family, task, seed))])


def fit_optuna(X: pd.DataFrame, y: pd.Series, *, info: DatasetInfo, budget_s: float, seed: int,
               workdir: str) -> Fitted:
    """Plain Optuna TPE over six scikit-learn families, then refit the best on all rows."""
    import warnings

    import optuna
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import (
        KFold,
        StratifiedKFold,
        cross_val_score,
        train_test_split,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    clf = info.task == "classification"
    scorer = SK_SCORER[info.metric]
    if len(X) <= CV_MAX_ROWS:
        cv: Any = (StratifiedKFold if clf else KFold)(n_splits=5, shuffle=True,
                                                       random_state=seed)
        holdout = None
    else:
        holdout = train_test_split(X, y, test_size=0.2, random_state=seed,
                                   stratify=y if clf else None)

    def objective(trial: optuna.Trial) -> float:
        pipe = _make_pipeline(trial, X, info.task, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if holdout is None:
                return float(cross_val_score(pipe, X, y, cv=cv, scoring=scorer,
                                             error_score="raise").mean())
            X_tr, X_va, y_tr, y_va = holdout
            pipe.fit(X_tr, y_tr)
            return float(get_scorer(scorer)(pipe, X_va, y_va))

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=budget_s, catch=(Exception,))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if done:
        best = study.best_trial
        pipe = _make_pipeline(optuna.trial.FixedTrial(best.params), X, info.task, seed)
        best_family = best.params["family"]
    else:  # nothing finished in time: the default HGB, as a user would fall back to
        fixed = {"family": "hist_gradient_boosting", "hgb_learning_rate": 0.1,
                 "hgb_max_leaf_nodes": 31, "hgb_min_samples_leaf": 20, "hgb_l2": 1e-8,
                 "hgb_max_iter": 100}
        pipe = _make_pipeline(optuna.trial.FixedTrial(fixed), X, info.task, seed)
        best_family = "fallback_hgb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    details = {"n_trials": len(study.trials), "trial_states": states,
               "best_family": best_family,
               "best_validation_score": study.best_value if done else None,
               "validation": "holdout 20%" if holdout is not None else "5-fold cv"}
    return Fitted(predict=pipe.predict, predict_proba=pipe.predict_proba if clf else None,
                  classes=list(pipe.classes_) if clf else None, details=details)


# --- FLAML -----------------------------------------------------------------------------------


def fit_flaml(X: pd.DataFrame, y: pd.Series, *, info: DatasetInfo, budget_s: float, seed: int,
              workdir: str) -> Fitted:
    """FLAML AutoML with its defaults, the dataset's metric and the time budget."""
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X, y, task=info.task, time_budget=budget_s, metric=info.metric, seed=seed,
               n_jobs=cores(), verbose=0, log_file_name="")
    clf = info.task == "classification"
    details = {"best_estimator": automl.best_estimator,
               "best_validation_loss": _float(automl.best_loss),
               "n_trials": _n_trials(automl)}
    classes = list(automl.classes_) if clf else None
    return Fitted(predict=automl.predict, predict_proba=automl.predict_proba if clf else None,
                  classes=classes, details=details)


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _n_trials(automl: Any) -> int | None:
    history = getattr(automl, "config_history", None)
    return len(history) if isinstance(history, dict) else None


PEERS = {"hgb": fit_hgb, "optuna": fit_optuna, "flaml": fit_flaml}
