"""The backend contract (automl_bridge.testing.backends) on every backend: the local engine,
the scripted cloud, and SageMaker, Vertex AI and Azure ML over their fake SDK clients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_bridge.backends.local import LocalBackend
from automl_bridge.spec import JobSpec
from automl_bridge.testing.backends import CONTRACT, BackendCase
from automl_bridge.testing.cloud import ScriptedAdapter, ScriptedBackend

SPEC = JobSpec(target="y", task="classification", metric="accuracy", time_budget_s=60,
               max_trials=3, validation="holdout")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    return pd.DataFrame({"x": x, "z": rng.normal(size=120), "y": (x > 0).astype(int)})


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
                    fail_fields={"models": ["flaky"], "max_trials": 2}),
        BackendCase("scripted", make=_scripted, unsupported={"search": "tpe"},
                    reason="the data has no rows left",
                    created=lambda b: len(b.adapter.created)),
        BackendCase("sagemaker", make=_fakes("sagemaker", "boto3"),
                    unsupported={"search": "tpe"}, reason="one value only",
                    created=lambda b: len(b.adapter.sm.created)),
        BackendCase("azure", make=_fakes("azure", "azure.ai.ml"),
                    unsupported={"search": "tpe"}, reason="the data has no rows left",
                    created=lambda b: len(b.adapter.settings.transport.created)),
    ]


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_contract(case: BackendCase, check, data, request) -> None:
    if case.name == "local" and check.__name__ == "check_failure_has_reason":
        request.getfixturevalue("plugin_families")
    check(case, data, SPEC)
