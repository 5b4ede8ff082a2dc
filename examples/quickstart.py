"""Quickstart: a local AutoML run on the bundled penguins data, then predictions.

Run: .venv/bin/python examples/quickstart.py   (about 20 seconds)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from automl_bridge import AutoMLJob, load_model
from automl_bridge.metrics import score

HERE = Path(__file__).parent


def main() -> None:
    train = pd.read_csv(HERE / "data" / "penguins_train.csv")
    test = pd.read_csv(HERE / "data" / "penguins_test.csv")
    job = AutoMLJob(task="classification", target="species", metric="log_loss",
                    time_budget_s=20, seed=0)
    result = job.fit(train)
    print(result.leaderboard()[["rank", "family", "score", "accuracy", "fit_time_s"]].head())
    print(f"best: {result.best.family} {result.best.params}")
    print(f"wall time {result.wall_time_s:.1f}s for a {job.spec.time_budget_s:.0f}s budget")
    for warning in result.warnings:
        print("warning:", warning)

    proba = job.predict_proba(test)
    test_loss = score("log_loss", test["species"], y_proba=proba.to_numpy(),
                      classes=list(proba.columns))
    print(f"test log-loss {test_loss:.4f}")

    model = load_model(result.model_path)  # skops file with a fixed allowlist of types
    same = (model.predict(test) == job.predict(test).to_numpy()).all()
    print(f"saved model at {result.model_path} predicts the same: {same}")


if __name__ == "__main__":
    main()
