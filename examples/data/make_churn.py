"""Write churn_train.csv (2,000 rows) and churn_test.csv (500 rows): a synthetic, seeded
customer-churn table with a binary target, large enough for every cloud's minimum (Vertex AI
needs 1,000 rows). Run: python examples/data/make_churn.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, size=n)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=n, p=[0.55, 0.25, 0.2])
    charges = np.round(rng.normal(70, 25, size=n).clip(18, 120), 2)
    calls = rng.poisson(1.5, size=n)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    partner = rng.choice(["yes", "no"], size=n)
    logit = (-1.0 - 0.045 * tenure + 0.02 * (charges - 70) + 0.45 * calls
             + np.where(contract == "month-to-month", 1.3, np.where(contract == "one-year",
                                                                    0.0, -1.2))
             + np.where(partner == "yes", -0.4, 0.0) + rng.normal(0, 0.7, size=n))
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame({"tenure_months": tenure, "contract": contract,
                          "monthly_charges": charges, "support_calls": calls,
                          "region": region, "has_partner": partner, "churn": churn})
    frame.loc[rng.random(n) < 0.03, "monthly_charges"] = np.nan
    return frame


if __name__ == "__main__":
    here = Path(__file__).parent
    make(2000, 0).to_csv(here / "churn_train.csv", index=False)
    make(500, 1).to_csv(here / "churn_test.csv", index=False)
