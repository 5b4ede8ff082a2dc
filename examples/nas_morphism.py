"""Network morphism search: children inherit their parent's trained weights.

Run: .venv/bin/python examples/nas_morphism.py            (about 2 minutes)
     .venv/bin/python examples/nas_morphism.py --quick    (about 40 seconds)

The first networks are drawn at random and trained from scratch. Then every trial takes one of
the best networks so far, widens a layer or inserts an identity layer (a function-preserving
morph: the child computes exactly what its parent computed), starts from the parent's trained
weights and trains for a third of the parent's epochs. The table shows each child's parent,
morphism and score.
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
    job = AutoMLJob(task="classification", target="digit", metric="accuracy", models=["mlp"],
                    search={"strategy": "morphism", "n_initial": 2 if quick else 5},
                    max_trials=5 if quick else 24, time_budget_s=90 if quick else 240,
                    validation="holdout", ensemble=False, seed=0)
    result = job.fit(train)
    rows = []
    for c in result.candidates:
        inherited = c.extra.get("inherited") or {}
        rows.append({"trial": c.candidate_id,
                     "accuracy": round(c.score, 4) if c.score == c.score else None,
                     "parent": inherited.get("parent", "-"),
                     "morphism": inherited.get("morphism", "from scratch"),
                     "epochs": inherited.get("epochs", c.params.get("epochs")),
                     "architecture": c.extra.get("architecture")})
    pd.set_option("display.max_colwidth", 80)
    print(pd.DataFrame(rows).to_string(index=False))
    accuracy = (job.predict(test) == test["digit"].to_numpy()).mean()
    print(f"\nbest: {result.best.extra.get('architecture')} "
          f"(validation {result.best.score:.4f}, test {accuracy:.4f})")


if __name__ == "__main__":
    main()
