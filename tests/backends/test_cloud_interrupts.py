"""Interrupts at random points of submit and poll, 100 runs per cloud: every job that was
created is asked to stop, none is left running (each cloud's real adapter over its fakes; the
interrupt is raised inside the k-th SDK call, before or after the service acted on it, as a
Ctrl-C arriving during that call would)."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_bridge.spec import JobSpec

RUNS = 100
SPEC = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=3600)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=1200)
    return pd.DataFrame({"x": x.round(4), "c": rng.choice(["a", "b"], size=1200),
                         "y": np.where(x + rng.normal(size=1200) > 0, "yes", "no")})


def _report(cloud: str, created: int, stopped: int, orphaned: int) -> None:
    print(f"\n{cloud}: {RUNS} interrupted runs, {created} jobs created, {stopped} asked to "
          f"stop, {orphaned} left running")


def test_sagemaker(data, tmp_path) -> None:
    pytest.importorskip("boto3")
    from automl_bridge.backends.sagemaker import SageMakerBackend
    from automl_bridge.testing.fakes.sagemaker import ROLE, make_fake_clients

    rng = random.Random(1)
    created = stopped = orphaned = 0
    for i in range(RUNS):
        k = rng.randint(1, 14)
        sm, s3 = make_fake_clients(outcome="running", interrupt_at=k)
        backend = SageMakerBackend(role_arn=ROLE, s3_output="s3://bkt/automl/", client=sm,
                                   s3_client=s3, work_dir=str(tmp_path), run_id=f"r{i}",
                                   sleep=lambda s: None, deadline_s=1e9)
        with contextlib.suppress(KeyboardInterrupt):
            backend.run(SPEC, data)
        for name in sm.created:
            created += 1
            last = sm.jobs[name]["lifecycle"][-1][0]
            stopped += last in ("Stopping", "Stopped")
            orphaned += last not in ("Stopping", "Stopped", "Completed", "Failed")
    _report("sagemaker", created, stopped, orphaned)
    assert orphaned == 0 and created > 30


def test_azure(data) -> None:
    pytest.importorskip("azure.ai.ml")
    from automl_bridge.testing.fakes.azure import FakeAzureML

    rng = random.Random(2)
    created = stopped = orphaned = 0
    for i in range(RUNS):
        fake = FakeAzureML(script=("Running",), interrupt_at=rng.randint(1, 14))
        with contextlib.suppress(KeyboardInterrupt):
            fake.backend(run_id=f"r{i}").run(SPEC, data.head(200))
        created += len(fake.created)
        stopped += len(set(fake.cancelled) & set(fake.created))
        orphaned += sum(j["properties"]["status"] == "Running" for j in fake.jobs.values())
    _report("azure", created, stopped, orphaned)
    assert orphaned == 0 and created > 30


def test_vertex(data) -> None:
    pytest.importorskip("google.cloud.aiplatform")
    from automl_bridge.backends.vertex import VertexBackend
    from automl_bridge.testing.fakes.vertex import FakeVertex

    rng = random.Random(3)
    created = stopped = orphaned = 0
    for i in range(RUNS):
        fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",), interrupt_at=rng.randint(1, 16),
                          interrupt_after=rng.random() < 0.5)
        options: dict[str, Any] = {"staging_bucket": "gs://stage-bkt/pre", "run_id": f"r{i}",
                                   "sleep": lambda s: None, **fake.options()}
        with fake.serve(), contextlib.suppress(KeyboardInterrupt):
            VertexBackend(**options).run(SPEC, data)
        for name in fake.created:
            created += 1
            state = fake.pipelines[name]["state"]
            stopped += state in ("PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_CANCELLED")
            orphaned += state not in ("PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_CANCELLED",
                                      "PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED")
    _report("vertex", created, stopped, orphaned)
    assert orphaned == 0 and created > 30
