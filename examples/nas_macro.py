"""Macro architecture search: the RL controller designs a chain of layers for the 8x8 digits.

Run: .venv/bin/python examples/nas_macro.py            (about 2 minutes)
     .venv/bin/python examples/nas_macro.py --quick    (about 30 seconds)

The ``mlp`` family's space is a chain of 1 to 4 layers; per layer the operation (dense, dense
with batch or layer normalisation, residual block), its width, activation and dropout, then the
optimiser, learning rate, weight decay, batch size and epochs. The REINFORCE controller
(``search="rl"``) emits one token per decision; each trial's architecture string is recorded
with its candidate. The same job from a config file: ``automl-bridge run
examples/nas_macro.yaml``.
"""

from __future__ import annotations

import argparse

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from automl_bridge import AutoMLJob


def digits() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 8x8 digits as frames (64 pixel columns and ``digit``), split 75/25."""
    data = load_digits(as_frame=True)
    frame = data.frame.rename(columns={"target": "digit"})
    train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                   stratify=frame["digit"])
    return train, test


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small budget (smoke run)")
    quick = parser.parse_args(argv).quick
    train, test = digits()
    job = AutoMLJob(task="classification", target="digit", metric="accuracy",
                    models=["mlp"], search="rl", max_trials=4 if quick else 24,
                    time_budget_s=60 if quick else 240, validation="holdout",
                    ensemble=False,  # the final model is the best architecture, not a blend
                    seed=0)
    result = job.fit(train)
    rows = [{"trial": c.candidate_id, "state": c.state.value,
             "accuracy": round(c.score, 4) if c.score == c.score else None,
             "architecture": c.extra.get("architecture")} for c in result.candidates]
    pd.set_option("display.max_colwidth", 90)
    print(pd.DataFrame(rows).to_string(index=False))
    accuracy = (job.predict(test) == test["digit"].to_numpy()).mean()
    print(f"\nbest architecture: {result.best.extra.get('architecture')}")
    print(f"validation accuracy {result.best.score:.4f}, test accuracy {accuracy:.4f}, "
          f"{result.wall_time_s:.0f} s")


if __name__ == "__main__":
    main()
