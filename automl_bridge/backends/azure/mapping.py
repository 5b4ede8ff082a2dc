"""What Azure ML AutoML calls things: primary metrics, algorithms, job states, logged metrics.

Pure data and small functions (no SDK). The primary-metric and algorithm names are the ones
``azure-ai-ml`` accepts (its ``ClassificationPrimaryMetrics``/``RegressionPrimaryMetrics`` and
``ClassificationModels``/``RegressionModels`` enums; a test checks them against the installed
SDK); the logged metric names are those AutoML child runs report.

Example:
    >>> primary_metric("roc_auc", "classification", n_classes=2)
    PrimaryMetric(name='AUC_weighted', exact=True, note='')
    >>> primary_metric("rmse", "regression").exact
    False
    >>> canonical_metrics({"norm_macro_recall": 0.5, "accuracy": 0.8}, "classification", 3)
    {'accuracy': 0.8, 'balanced_accuracy': 0.6666666666666667}
    >>> job_state("CancelRequested")
    (<RunStatus.RUNNING: 'running'>, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from automl_bridge.results import RunStatus

#: The primary metrics of the installed SDK (snake-case spellings it accepts).
CLASSIFICATION_PRIMARY = ("accuracy", "AUC_weighted", "norm_macro_recall",
                          "average_precision_score_weighted", "precision_score_weighted")
REGRESSION_PRIMARY = ("spearman_correlation", "normalized_root_mean_squared_error", "r2_score",
                      "normalized_mean_absolute_error")

#: Training algorithms of the installed SDK.
CLASSIFICATION_ALGORITHMS = ("LogisticRegression", "SGD", "MultinomialNaiveBayes",
                             "BernoulliNaiveBayes", "SVM", "LinearSVM", "KNN", "DecisionTree",
                             "RandomForest", "ExtremeRandomTrees", "LightGBM",
                             "GradientBoosting", "XGBoostClassifier")
REGRESSION_ALGORITHMS = ("ElasticNet", "GradientBoosting", "DecisionTree", "KNN", "LassoLars",
                         "SGD", "RandomForest", "ExtremeRandomTrees", "LightGBM",
                         "XGBoostRegressor")


@dataclass(frozen=True)
class PrimaryMetric:
    """The Azure primary metric for a canonical metric.

    Attributes:
        name: Azure's name (``AUC_weighted``, ...); empty when there is none.
        exact: optimising it is optimising the canonical metric (same ranking of models).
        note: why it is only an approximation (empty when exact).
    """

    name: str
    exact: bool
    note: str = ""


def primary_metric(metric: str, task: str, n_classes: int = 0) -> PrimaryMetric:
    """The primary metric that optimises canonical ``metric`` (``name=""`` when none does).

    ``balanced_accuracy`` maps to ``norm_macro_recall``, which is balanced accuracy rescaled
    (``(recall_macro - 1/C) / (1 - 1/C)``), so both rank models the same way.
    """
    if task == "classification":
        if metric == "accuracy":
            return PrimaryMetric("accuracy", True)
        if metric == "roc_auc":
            if n_classes <= 2:  # the support-weighted AUC of both classes is the binary AUC
                return PrimaryMetric("AUC_weighted", True)
            return PrimaryMetric("AUC_weighted", False, (
                "Azure's AUC_weighted averages the one-vs-rest AUCs weighted by class "
                "support; the canonical multiclass roc_auc is their unweighted (macro) mean"))
        if metric == "balanced_accuracy":
            return PrimaryMetric("norm_macro_recall", True)
        if metric == "precision":
            return PrimaryMetric("precision_score_weighted", False, (
                "Azure has no precision of the positive class as a primary metric; "
                "precision_score_weighted averages the precision of every class"))
        return PrimaryMetric("", False)
    if metric == "r2":
        return PrimaryMetric("r2_score", True)
    if metric in ("rmse", "mse"):
        return PrimaryMetric("normalized_root_mean_squared_error", False, (
            "Azure optimises normalized_root_mean_squared_error (RMSE divided by the range of "
            f"the target), not {metric}"))
    if metric == "mae":
        return PrimaryMetric("normalized_mean_absolute_error", False, (
            "Azure optimises normalized_mean_absolute_error (MAE divided by the range of the "
            "target), not mae"))
    return PrimaryMetric("", False)


def supported_metrics(task: str) -> list[str]:
    """Canonical metrics Azure can optimise exactly for ``task`` (binary for classification)."""
    names = ("accuracy", "roc_auc", "balanced_accuracy") if task == "classification" \
        else ("r2",)
    return list(names)


#: Canonical model family -> (Azure algorithms, exact?) per task.
FAMILIES: dict[str, dict[str, tuple[tuple[str, ...], bool]]] = {
    "linear": {"classification": (("LogisticRegression",), True),
               "regression": (("ElasticNet",), True)},
    "knn": {"classification": (("KNN",), True), "regression": (("KNN",), True)},
    "svm": {"classification": (("SVM", "LinearSVM"), True)},
    "random_forest": {"classification": (("RandomForest",), True),
                      "regression": (("RandomForest",), True)},
    "extra_trees": {"classification": (("ExtremeRandomTrees",), True),
                    "regression": (("ExtremeRandomTrees",), True)},
    "hist_gradient_boosting": {"classification": (("LightGBM",), False),
                               "regression": (("LightGBM",), False)},
}


def algorithms_for(family: str, task: str) -> tuple[tuple[str, ...], bool] | None:
    """Azure algorithms for a model family, and whether the mapping is exact; ``None``: none."""
    return FAMILIES.get(family, {}).get(task)


#: Azure JobStatus -> (common status, stopping). ``Unknown`` keeps the job running (polled).
STATES: dict[str, tuple[RunStatus, bool]] = {
    "NotStarted": (RunStatus.PENDING, False),
    "Queued": (RunStatus.PENDING, False),
    "Preparing": (RunStatus.PENDING, False),
    "Provisioning": (RunStatus.PENDING, False),
    "Starting": (RunStatus.PENDING, False),
    "Running": (RunStatus.RUNNING, False),
    "Finalizing": (RunStatus.RUNNING, False),
    "CancelRequested": (RunStatus.RUNNING, True),
    "Completed": (RunStatus.COMPLETED, False),
    "Failed": (RunStatus.FAILED, False),
    "NotResponding": (RunStatus.FAILED, False),
    "Canceled": (RunStatus.CANCELLED, False),
    "Paused": (RunStatus.CANCELLED, False),
    "Unknown": (RunStatus.RUNNING, False),
}


def job_state(raw: str | None) -> tuple[RunStatus, bool]:
    """The common status of an Azure job state (case-insensitive; unknown -> running)."""
    key = str(raw or "Unknown")
    for name, value in STATES.items():
        if name.lower() == key.lower():
            return value
    return RunStatus.RUNNING, False


#: Canonical metric <- Azure logged metric (taken as is).
_DIRECT: dict[str, str] = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_score_macro",
    "f1_weighted": "f1_score_weighted",
    "log_loss": "log_loss",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
}
_BINARY: dict[str, str] = {"f1": "f1_score_binary", "precision": "precision_score_binary",
                           "recall": "recall_score_binary"}


def canonical_metrics(raw: dict[str, float], task: str, n_classes: int = 0) -> dict[str, float]:
    """Azure's logged metrics under canonical names and conventions (only what converts
    exactly: e.g. AUC_weighted is roc_auc for two classes only; mse is rmse squared)."""
    vals = {k: float(v) for k, v in raw.items() if _is_number(v)}
    out: dict[str, float] = {}
    wanted = ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "log_loss") \
        if task == "classification" else ("rmse", "mae", "r2")
    for name in wanted:
        if _DIRECT[name] in vals:
            out[name] = vals[_DIRECT[name]]
    if task == "classification":
        binary = n_classes <= 2
        if binary:
            for name, key in _BINARY.items():
                if key in vals:
                    out[name] = vals[key]
            auc = vals.get("AUC_binary", vals.get("AUC_weighted"))
        else:
            auc = vals.get("AUC_macro")
        if auc is not None:
            out["roc_auc"] = auc
        if "balanced_accuracy" not in out and "norm_macro_recall" in vals and n_classes >= 2:
            chance = 1.0 / n_classes
            out["balanced_accuracy"] = chance + vals["norm_macro_recall"] * (1.0 - chance)
    elif "rmse" in out:
        out["mse"] = out["rmse"] ** 2
    return dict(sorted(out.items()))


def _is_number(value: object) -> bool:
    try:
        return not math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
