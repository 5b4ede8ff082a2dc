"""Several search strategies on one spec, a Pareto search and an ensemble, side by side.

Run: .venv/bin/python examples/search_strategies.py            (about 2 minutes)
     .venv/bin/python examples/search_strategies.py --quick    (about 40 seconds)

The same job runs with five strategies (Bayesian, evolutionary, reinforcement learning,
predictor-guided and multi-fidelity); each result's test log-loss is printed beside its
validation score. Then a multi-objective run trades accuracy against model size and prediction
latency under a size constraint, and prints its Pareto front.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from automl_bridge import AutoMLJob
from automl_bridge.metrics import score

HERE = Path(__file__).parent
STRATEGIES = ("tpe", "evolution", "rl", "surrogate", "bohb")


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="tiny budgets (a smoke run)")
    quick = args.parse_args(argv).quick
    budget = 10.0 if quick else 20.0
    train = pd.read_csv(HERE / "data" / "penguins_train.csv")
    test = pd.read_csv(HERE / "data" / "penguins_test.csv")

    rows = []
    for strategy in STRATEGIES[:2] if quick else STRATEGIES:
        job = AutoMLJob(task="classification", target="species", metric="log_loss",
                        time_budget_s=budget, search=strategy, seed=0)
        result = job.fit(train)
        proba = job.predict_proba(test)
        test_loss = score("log_loss", test["species"], y_proba=proba.to_numpy(),
                          classes=list(proba.columns))
        states = pd.Series([c.state.value for c in result.candidates]).value_counts()
        rows.append({"strategy": strategy, "trials": len(result.candidates),
                     "pruned": int(states.get("pruned", 0)),
                     "final model": result.best.family if result.best else None,
                     "validation": round(result.best.score, 4) if result.best else None,
                     "test log-loss": round(test_loss, 4),
                     "wall s": round(result.wall_time_s, 1)})
    print(pd.DataFrame(rows).to_string(index=False))

    # Accuracy against size and latency, with a hard size limit.
    job = AutoMLJob(task="classification", target="species", metric="log_loss",
                    objectives=["log_loss", "model_size", "predict_latency"],
                    constraints={"max_model_bytes": 200_000},
                    time_budget_s=budget, search="nsga2", seed=0)
    result = job.fit(train)
    front = [c for c in result.candidates if c.candidate_id in result.pareto_front]
    print(f"\nPareto front: {len(front)} of {len(result.candidates)} candidates "
          f"({sum(not c.feasible for c in result.candidates)} broke the size limit)")
    for c in sorted(front, key=lambda c: c.score):
        print(f"  {c.family:24s} log-loss {c.score:.4f}  "
              f"{c.measures['model_size'] / 1e3:8.1f} kB  "
              f"{c.measures['predict_latency']:6.2f} ms / 1k rows")
    print(f"best (lowest log-loss among feasible): {result.best.family if result.best else None}")


if __name__ == "__main__":
    main()
