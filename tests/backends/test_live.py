"""Live smoke tests against the real services: opt-in, skipped by default.

They create real jobs and cost money (SageMaker: up to an hour of ml.m5 instances; Vertex: one
node hour, about 21 USD; Azure: an hour of the cluster). Run one cloud at a time:

    AUTOML_BRIDGE_LIVE=1 AUTOML_ROLE_ARN=... AUTOML_S3_OUTPUT=s3://bucket/prefix/ \\
        .venv/bin/python -m pytest -m live tests/backends/test_live.py -k sagemaker -s

Credentials come from each SDK's default chain (AWS profile or environment, Google Application
Default Credentials, Azure DefaultAzureCredential); the backend options come from the same
environment variables as ``examples/multicloud.yaml``. Each test stops its job whatever happens
and then runs ``cleanup`` for jobs left by earlier attempts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from automl_bridge.config import load_config
from automl_bridge.results import RunStatus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multicloud.yaml"
NEEDS = {"sagemaker": ("AUTOML_ROLE_ARN", "AUTOML_S3_OUTPUT"),
         "vertex": ("GOOGLE_CLOUD_PROJECT", "AUTOML_GCS_BUCKET"),
         "azure": ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_ML_WORKSPACE")}


@pytest.mark.live
@pytest.mark.parametrize("cloud", sorted(NEEDS))
def test_the_multicloud_job_runs_on_the_real_service(cloud: str) -> None:
    missing = [v for v in NEEDS[cloud] if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live {cloud} test needs {missing} in the environment")
    cfg = load_config(EXAMPLE, backend=cloud)
    job = cfg.job()
    backend = job.backend
    try:
        result = job.fit(pd.read_csv(cfg.train))
        assert result.status is RunStatus.COMPLETED and result.best is not None
        assert result.extra["model_uri"] and result.candidates
        print(f"\n{cloud}: best {result.best.score:.4f} {result.metric}, "
              f"{len(result.candidates)} candidates, cost {result.extra['cost']}")
    finally:
        stopped = backend.cleanup()
        print(f"{cloud}: cleanup stopped {len(stopped)} job(s)")
