"""Shared fixtures: small offline datasets and a quiet local backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def binary_df() -> pd.DataFrame:
    """300 rows, numeric + categorical + missing values, binary string target."""
    rng = np.random.default_rng(0)
    n = 300
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    cat = rng.choice(["a", "b", "c"], size=n)
    logit = 1.5 * x1 - x2 + (cat == "a") * 1.0
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    x2[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"x1": x1, "x2": x2, "cat": cat, "label": y})


@pytest.fixture
def regression_df() -> pd.DataFrame:
    """200 rows of a noisy linear target."""
    rng = np.random.default_rng(1)
    n = 200
    X = rng.normal(size=(n, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.1, size=n)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
