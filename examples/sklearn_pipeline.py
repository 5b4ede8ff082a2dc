"""AutoMLClassifier inside a scikit-learn Pipeline, cross-validated, on the breast cancer data.

Each ``fit`` of the classifier is a small AutoML search (at most 6 candidates of two model
families within 5 seconds), so ``cross_val_score`` runs three searches, one per outer fold, and
the final fit a fourth. With a time budget, trials run in worker processes that are stopped
when the budget ends.

Run: .venv/bin/python examples/sklearn_pipeline.py   (about 25 seconds)
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from automl_bridge import AutoMLClassifier


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    pipe = Pipeline([
        ("scale", StandardScaler().set_output(transform="pandas")),  # keeps column names
        ("automl", AutoMLClassifier(metric="roc_auc", time_budget_s=5, max_trials=6,
                                    models=["linear", "hist_gradient_boosting"],
                                    validation="holdout", seed=0)),
    ])

    scores = cross_val_score(pipe, X_train, y_train, cv=3, scoring="roc_auc")
    print(f"3-fold ROC-AUC of the whole pipeline: {scores.round(4)} (mean {scores.mean():.4f})")

    pipe.fit(X_train, y_train)
    automl = pipe.named_steps["automl"]
    print(f"best family {automl.best_family_!r} with {automl.best_params_}")
    print(f"validation {automl.metric_} {automl.best_score_:.4f}; "
          f"search took {automl.result_.wall_time_s:.1f}s")
    print(automl.result_.leaderboard()[["rank", "family", "score", "accuracy"]].to_string())
    print(f"test accuracy {pipe.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
