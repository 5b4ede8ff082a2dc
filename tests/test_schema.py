from __future__ import annotations

import numpy as np
import pandas as pd

from automl_bridge.data import prepare_training_data
from automl_bridge.schema import infer_schema
from automl_bridge.spec import JobSpec


def test_id_column_found_after_rows_with_missing_target_are_dropped() -> None:
    n = 60
    df = pd.DataFrame({"row_id": np.arange(n), "x": np.random.default_rng(0).normal(size=n),
                       "y": ["a", "b"] * (n // 2)})
    df.loc[[3, 17, 40], "y"] = None
    td = prepare_training_data(df, JobSpec(target="y", max_trials=1))
    assert td.schema.dropped == {"row_id": "ID-like"}
    assert td.n_rows == n - 3


def test_unique_but_spread_integers_are_a_feature() -> None:
    warnings: list[str] = []
    prices = pd.DataFrame({"price": np.arange(0, 4000, 100)})
    assert infer_schema(prices, warnings).kinds == {"price": "numeric"}


def test_leak_check_compares_numbers_as_numbers() -> None:
    n = 40
    x = np.random.default_rng(1).normal(size=n)
    df = pd.DataFrame({"copy": x, "other": x + 1, "y": x})
    td = prepare_training_data(df, JobSpec(target="y", task="regression", max_trials=1))
    leaks = [w for w in td.warnings if "identical to the target" in w]
    assert len(leaks) == 1 and "'copy'" in leaks[0]
