"""Micro architecture search: regularized evolution designs a cell, stacked N times.

Run: .venv/bin/python examples/nas_micro.py            (about 2 minutes)
     .venv/bin/python examples/nas_micro.py --quick    (about 30 seconds)

The ``mlp_cells`` family's space is a cell of 3 nodes (each node picks one or two earlier
nodes as inputs and an operation), stacked 1 to 4 times at one width, with the cell's
activation and dropout and the training hyper-parameters. Aging evolution mutates one decision
of a good parent per trial.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from automl_bridge import AutoMLJob

sys.path.insert(0, str(Path(__file__).parent))
from nas_macro import digits  # the same data as the macro example


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small budget (smoke run)")
    quick = parser.parse_args(argv).quick
    train, test = digits()
    job = AutoMLJob(task="classification", target="digit", metric="accuracy",
                    models=["mlp_cells"],
                    search={"strategy": "evolution", "population_size": 4 if quick else 8},
                    max_trials=3 if quick else 24, time_budget_s=60 if quick else 240,
                    validation="holdout", ensemble=False, seed=0)
    result = job.fit(train)
    done = sorted((c for c in result.candidates if c.score == c.score),
                  key=lambda c: -c.score)
    pd.set_option("display.max_colwidth", 90)
    print(pd.DataFrame([{"trial": c.candidate_id, "accuracy": round(c.score, 4),
                         "architecture": c.extra.get("architecture")}
                        for c in done[:10]]).to_string(index=False))
    accuracy = (job.predict(test) == test["digit"].to_numpy()).mean()
    print(f"\nbest cell network: {result.best.extra.get('architecture')}")
    print(f"validation accuracy {result.best.score:.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
