"""Model families: a factory plus a search space that depends on the data's shape.

Each family is data: which tasks it serves, how its inputs are encoded, its search space for a
given :class:`DataContext`, a strong default configuration tried first, and when it is
available at all (SVMs only where the data is small enough). ``models=[...]`` in the spec picks
families by name through the registry.

Example:
    >>> from automl_bridge.models.families import RANDOM_FOREST, DataContext
    >>> ctx = DataContext(task="classification", n_rows=1000, n_features=10, n_classes=2)
    >>> sorted(p.name for p in RANDOM_FOREST.space(ctx))[:3]
    ['bootstrap', 'max_features', 'min_samples_leaf']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from automl_bridge.search.space import Choice, Float, Int, Node, Param

#: SVMs are offered only up to this many training rows (their cost grows ~quadratically).
SVM_MAX_ROWS = 10_000
#: Histogram gradient boosting stops early (on 10 % of its rows) from this many rows on.
HGB_EARLY_STOP_ROWS = 500
#: K-nearest neighbours are offered only up to this many training rows (slow prediction).
KNN_MAX_ROWS = 100_000


@dataclass(frozen=True)
class DataContext:
    """What a family needs to know about the data to shape its space.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        n_rows: training rows of one fit (after the validation split).
        n_features: feature columns after schema inference.
        n_classes: number of classes (0 for regression).
        seed: random seed for the estimators.
        n_threads: threads one fit may use.
    """

    task: str
    n_rows: int
    n_features: int
    n_classes: int = 0
    seed: int = 0
    n_threads: int = 1


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes:
        name: the name users write in ``models=[...]``.
        encoding: input encoding (see
            :func:`~automl_bridge.models.preprocessing.build_preprocessor`).
        space: search space for a data context.
        build: estimator for a context and sampled parameters.
        defaults: a strong first configuration (inside the space).
        available: ``None`` when usable on this data, else the reason it is not.
        resource: the parameter that is the family's fidelity (boosting iterations, trees,
            epochs), continued with ``warm_start`` when a trial gets more of it; ``None`` when
            the fidelity is the fraction of training rows (see
            :mod:`automl_bridge.engine.fidelity`).
        inherits_weights: a network whose trained weights a child trial can inherit (see
            :mod:`automl_bridge.engine.weights`).
        describe: a readable summary of a configuration (a network's architecture string),
            recorded with each candidate; ``None`` for none.
    """

    name: str
    encoding: str
    space: Callable[[DataContext], Sequence[Node]]
    build: Callable[[DataContext, dict[str, Any]], Any]
    defaults: Callable[[DataContext], dict[str, Any]]
    available: Callable[[DataContext], str | None] = lambda ctx: None
    resource: str | None = None
    inherits_weights: bool = False
    describe: Callable[[dict[str, Any]], str] | None = None


def _always(ctx: DataContext) -> str | None:
    return None


# --- linear --------------------------------------------------------------------------------


def _linear_space(ctx: DataContext) -> list[Param]:
    if ctx.task == "classification":
        return [Float("C", 1e-4, 1e3, log=True), Choice("class_weight", [None, "balanced"])]
    return [Choice("kind", ["ridge", "elastic_net"]), Float("alpha", 1e-5, 1e2, log=True),
            Float("l1_ratio", 0.05, 1.0)]


def _linear_build(ctx: DataContext, p: dict[str, Any]) -> Any:
    from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

    if ctx.task == "classification":
        return LogisticRegression(C=p["C"], class_weight=p.get("class_weight"), max_iter=300,
                                  random_state=ctx.seed)
    if p.get("kind") == "elastic_net":
        return ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=2000,
                          random_state=ctx.seed)
    return Ridge(alpha=p["alpha"], random_state=ctx.seed)


def _linear_defaults(ctx: DataContext) -> dict[str, Any]:
    if ctx.task == "classification":
        return {"C": 1.0, "class_weight": None}
    return {"kind": "ridge", "alpha": 1.0, "l1_ratio": 0.5}


LINEAR = Family("linear", "onehot", _linear_space, _linear_build, _linear_defaults, _always)


# --- k-nearest neighbours ------------------------------------------------------------------


def _knn_space(ctx: DataContext) -> list[Param]:
    high = max(1, min(50, ctx.n_rows // 2))
    return [Int("n_neighbors", 1, high, log=True), Choice("weights", ["uniform", "distance"]),
            Choice("p", [1, 2])]


def _knn_build(ctx: DataContext, p: dict[str, Any]) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if ctx.task == "classification" else KNeighborsRegressor
    return cls(n_neighbors=p["n_neighbors"], weights=p["weights"], p=p["p"],
               n_jobs=ctx.n_threads)


def _knn_defaults(ctx: DataContext) -> dict[str, Any]:
    return {"n_neighbors": min(5, max(1, ctx.n_rows // 2)), "weights": "distance", "p": 2}


def _knn_available(ctx: DataContext) -> str | None:
    if ctx.n_rows > KNN_MAX_ROWS:
        return f"more than {KNN_MAX_ROWS} training rows"
    return None


KNN = Family("knn", "onehot", _knn_space, _knn_build, _knn_defaults, _knn_available)


# --- support vector machines ---------------------------------------------------------------


def _svm_space(ctx: DataContext) -> list[Param]:
    space: list[Param] = [Float("C", 1e-2, 1e3, log=True), Float("gamma", 1e-4, 1.0, log=True)]
    if ctx.task == "regression":
        space.append(Float("epsilon", 1e-3, 1.0, log=True))
    return space


def _svm_build(ctx: DataContext, p: dict[str, Any]) -> Any:
    from sklearn.svm import SVC, SVR

    if ctx.task == "classification":
        return SVC(C=p["C"], gamma=p["gamma"], probability=True, random_state=ctx.seed,
                   cache_size=500)
    return SVR(C=p["C"], gamma=p["gamma"], epsilon=p["epsilon"], cache_size=500)


def _svm_defaults(ctx: DataContext) -> dict[str, Any]:
    gamma = min(1.0, max(1e-4, 1.0 / max(ctx.n_features, 1)))
    return {"C": 1.0, "gamma": gamma, "epsilon": 0.1}


def _svm_available(ctx: DataContext) -> str | None:
    if ctx.n_rows > SVM_MAX_ROWS:
        return f"more than {SVM_MAX_ROWS} training rows (SVM cost grows quadratically)"
    return None


SVM = Family("svm", "onehot", _svm_space, _svm_build, _svm_defaults, _svm_available)


# --- forests -------------------------------------------------------------------------------


def _forest_space(ctx: DataContext) -> list[Param]:
    leaf_high = max(1, min(30, ctx.n_rows // 20))
    return [
        Int("n_estimators", 50, 300, log=True),
        Choice("max_features", ["sqrt", 0.3, 0.6, 1.0]),
        Int("min_samples_leaf", 1, leaf_high, log=True),
        Choice("bootstrap", [True, False]),
    ]


def _forest_builder(kind: str) -> Callable[[DataContext, dict[str, Any]], Any]:
    def build(ctx: DataContext, p: dict[str, Any]) -> Any:
        from sklearn import ensemble

        name = ("RandomForest" if kind == "rf" else "ExtraTrees") + (
            "Classifier" if ctx.task == "classification" else "Regressor")
        cls = getattr(ensemble, name)
        max_samples = None
        if p["bootstrap"] and ctx.n_rows > 50_000:
            max_samples = 50_000 / ctx.n_rows
        return cls(n_estimators=p["n_estimators"], max_features=p["max_features"],
                   min_samples_leaf=p["min_samples_leaf"], bootstrap=p["bootstrap"],
                   max_samples=max_samples, n_jobs=ctx.n_threads, random_state=ctx.seed)

    return build


def _rf_defaults(ctx: DataContext) -> dict[str, Any]:
    mf = "sqrt" if ctx.task == "classification" else 1.0
    return {"n_estimators": 100, "max_features": mf, "min_samples_leaf": 1, "bootstrap": True}


def _et_defaults(ctx: DataContext) -> dict[str, Any]:
    mf = "sqrt" if ctx.task == "classification" else 1.0
    return {"n_estimators": 100, "max_features": mf, "min_samples_leaf": 1, "bootstrap": False}


RANDOM_FOREST = Family("random_forest", "ordinal", _forest_space, _forest_builder("rf"),
                       _rf_defaults, _always, resource="n_estimators")
EXTRA_TREES = Family("extra_trees", "ordinal", _forest_space, _forest_builder("et"),
                     _et_defaults, _always, resource="n_estimators")


# --- histogram gradient boosting -----------------------------------------------------------


def _hgb_space(ctx: DataContext) -> list[Param]:
    leaf_high = max(2, min(200, ctx.n_rows // 10))
    return [
        Float("learning_rate", 0.01, 0.3, log=True),
        Int("max_leaf_nodes", 4, 128, log=True),
        Int("min_samples_leaf", 2, leaf_high, log=True),
        Float("l2_regularization", 1e-8, 10.0, log=True),
        Float("max_features", 0.3, 1.0),
        # without early stopping (small data) every iteration is paid for: fewer of them
        Int("max_iter", 50, 500 if ctx.n_rows >= HGB_EARLY_STOP_ROWS else 300, log=True),
    ]


def _hgb_build(ctx: DataContext, p: dict[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (HistGradientBoostingClassifier if ctx.task == "classification"
           else HistGradientBoostingRegressor)
    return cls(learning_rate=p["learning_rate"], max_leaf_nodes=p["max_leaf_nodes"],
               min_samples_leaf=min(p["min_samples_leaf"], max(1, ctx.n_rows // 4)),
               l2_regularization=p["l2_regularization"], max_features=p["max_features"],
               max_iter=p["max_iter"], early_stopping=ctx.n_rows >= HGB_EARLY_STOP_ROWS,
               random_state=ctx.seed)


def _hgb_defaults(ctx: DataContext) -> dict[str, Any]:
    return {"learning_rate": 0.1, "max_leaf_nodes": 31,
            "min_samples_leaf": min(20, max(2, ctx.n_rows // 10)), "l2_regularization": 1e-8,
            "max_features": 1.0, "max_iter": 200}


HIST_GRADIENT_BOOSTING = Family("hist_gradient_boosting", "native", _hgb_space, _hgb_build,
                                _hgb_defaults, _always, resource="max_iter")

#: Order in which default configurations are tried first (strongest and cheapest first).
DEFAULT_ORDER = ("hist_gradient_boosting", "random_forest", "linear", "extra_trees", "knn",
                 "svm")
