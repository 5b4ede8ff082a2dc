"""Shared fixtures: small offline datasets and a quiet local backend."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live cloud tests (``@pytest.mark.live``) run only with ``AUTOML_BRIDGE_LIVE=1`` and the
    cloud's own credentials in the environment (see docs/clouds/)."""
    if os.environ.get("AUTOML_BRIDGE_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="live cloud test: set AUTOML_BRIDGE_LIVE=1 and credentials")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _torch_one_thread() -> Iterator[None]:
    """Tests that use torch (imported by their module) run it on one thread: fast on a shared
    2-core machine, and the same numbers everywhere; the setting is restored afterwards."""
    torch = sys.modules.get("torch")
    try:  # torch may still be importing in another thread (partially initialised)
        before = torch.get_num_threads() if torch is not None else None
    except (AttributeError, ImportError):
        before = None
    if before is None:
        yield
        return
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.fixture
def plugin_families(tmp_path_factory, monkeypatch):
    """Install tests/plugin_families.py as a third-party entry-point plugin.

    It registers the families ``slow`` (sleeps 60 s in fit) and ``flaky`` (always raises),
    visible to this process and to worker processes (through PYTHONPATH).
    """
    import os
    import shutil
    from pathlib import Path

    root = tmp_path_factory.mktemp("plugin")
    shutil.copy(Path(__file__).with_name("plugin_families.py"), root / "ab_test_plugin.py")
    dist = root / "ab_test_plugin-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ab-test-plugin\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[automl_bridge.families]\nslow = ab_test_plugin:SLOW\nflaky = ab_test_plugin:FLAKY\n"
    )
    monkeypatch.syspath_prepend(str(root))
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(root) + (os.pathsep + old if old else ""))
    return root
