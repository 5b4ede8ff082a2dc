"""The backend contract (automl_bridge.testing.backends) on every backend: the local engine,
the scripted cloud, and SageMaker, Vertex AI and Azure ML over their fake SDK clients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.backends.local import LocalBackend
from automl_bridge.spec import JobSpec
from automl_bridge.testing.backends import CONTRACT, BackendCase
from automl_bridge.testing.cloud import ScriptedAdapter, ScriptedBackend

#: What every backend honours: a binary target, ROC-AUC, the service's own search, a holdout.
SPEC = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=3600,
               validation="holdout")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """1,200 rows (Vertex AI trains on 1,000 rows at least)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=1200)
    noisy = x + rng.normal(scale=0.5, size=1200)
    return pd.DataFrame({"x": x, "z": rng.normal(size=1200), "y": (noisy > 0).astype(int)})


def _local(outcome: str, strict: bool) -> LocalBackend:
    return LocalBackend(run_dir=None, isolation="inline")


def _scripted(outcome: str, strict: bool) -> ScriptedBackend:
    script = {"completed": ("pending", "running", "completed"),
              "failed": ("running", "failed"), "running": ("running",)}[outcome]
    adapter = ScriptedAdapter(script=script, failure_reason="the data has no rows left")
    return ScriptedBackend(adapter=adapter, strict=strict, sleep=lambda s: None)


def _fakes(module: str, sdk: str):
    """``make(outcome, strict)`` of a cloud's shipped fakes (skips when its SDK is missing)."""
    def make(outcome: str, strict: bool):
        import importlib

        pytest.importorskip(sdk)
        fakes = importlib.import_module(f"automl_bridge.testing.fakes.{module}")
        return fakes.fake_backend(outcome, strict)

    return make


def _cases() -> list[BackendCase]:
    return [
        BackendCase("local", make=_local, reason="flaky family failed on purpose",
                    fail_fields={"models": ["flaky"], "max_trials": 2},
                    spec_fields={"max_trials": 3, "time_budget_s": 60}),
        BackendCase("scripted", make=_scripted, unsupported={"search": "tpe"},
                    reason="the data has no rows left",
                    created=lambda b: len(b.adapter.created)),
        BackendCase("sagemaker", make=_fakes("sagemaker", "boto3"),
                    unsupported={"search": "tpe"}, reason="one value only",
                    created=lambda b: len(b.adapter.sm.created)),
        BackendCase("azure", make=_fakes("azure", "azure.ai.ml"),
                    unsupported={"search": "tpe"}, reason="the data has no rows left",
                    created=lambda b: len(b.adapter.settings.transport.created)),
        BackendCase("vertex", make=_vertex, unsupported={"search": "tpe"},
                    reason="bad input column", created=lambda b: len(b.fake.created)),
    ]


#: The Vertex AI fakes answer the real SDK's HTTP calls while their hub serves.
_HUB: list[Any] = []


def _vertex(outcome: str, strict: bool) -> Any:
    return _HUB[-1].backend(outcome, strict)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_contract(case: BackendCase, check, data, request) -> None:
    if case.name == "local" and check.__name__ == "check_failure_has_reason":
        request.getfixturevalue("plugin_families")
    if case.name != "vertex":
        check(case, data, SPEC)
        return
    pytest.importorskip("google.cloud.aiplatform")
    from automl_bridge.testing.fakes.vertex import FakeVertexHub

    _HUB.append(FakeVertexHub())
    try:
        with _HUB[-1].serve():
            check(case, data, SPEC)
    finally:
        _HUB.pop()
