from __future__ import annotations

import numpy as np
import pytest
import skops.io as sio

from automl_bridge import AutoMLJob, load_model
from automl_bridge.exceptions import AutoMLInputError, UntrustedModelError
from automl_bridge.models.persistence import TRUSTED_TYPES, save_model


class Evil:
    def __init__(self) -> None:
        self.payload = "rm -rf /"


def test_untrusted_types_are_refused(tmp_path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"model": Evil()}, path)
    with pytest.raises(UntrustedModelError) as info:
        load_model(path)
    assert "Evil" in str(info.value)


def test_not_a_model_file(tmp_path) -> None:
    path = tmp_path / "x.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(AutoMLInputError, match="not a skops model file"):
        load_model(path)
    with pytest.raises(AutoMLInputError, match="No model file"):
        load_model(tmp_path / "missing.skops")


def test_allowlist_is_fixed_and_small() -> None:
    assert len(TRUSTED_TYPES) < 20
    assert not any(t.startswith(("builtins.eval", "os.", "subprocess", "posix")) for t in
                   TRUSTED_TYPES)


@pytest.mark.parametrize("family", ["linear", "knn", "svm", "random_forest", "extra_trees",
                                    "hist_gradient_boosting"])
def test_every_family_round_trips(tmp_path, binary_df, family) -> None:
    df = binary_df.copy()
    df["when"] = np.datetime64("2024-01-01") + np.arange(len(df)).astype("timedelta64[D]")
    df["note"] = [f"good item number {i % 7} very nice" if i % 2 else f"bad thing {i % 5} poor"
                  for i in range(len(df))]
    df["flag"] = np.arange(len(df)) % 3 == 0
    job = AutoMLJob(target="label", max_trials=1, time_budget_s=None, models=[family])
    job = job.with_backend("local", run_dir=None)
    job.fit(df)
    path = save_model(job.model, tmp_path / f"{family}.skops")
    loaded = load_model(path)
    X = df.drop(columns=["label"])
    assert loaded.predict(X).tolist() == job.model.predict(X).tolist()
    assert loaded.predict_proba(X) == pytest.approx(job.model.predict_proba(X))
