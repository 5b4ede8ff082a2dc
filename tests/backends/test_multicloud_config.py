"""One job file, four backends: examples/multicloud.yaml runs on each by changing the backend
(the clouds over their offline fakes, with the file's own backend options)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from automl_bridge.config import load_config
from automl_bridge.results import RunResult, RunStatus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multicloud.yaml"
ENV = {"AUTOML_ROLE_ARN": "arn:aws:iam::123456789012:role/automl",
       "AUTOML_S3_OUTPUT": "s3://my-bucket/automl/", "GOOGLE_CLOUD_PROJECT": "my-project",
       "AUTOML_GCS_BUCKET": "gs://my-bucket", "AZURE_SUBSCRIPTION_ID":
       "00000000-0000-0000-0000-000000000000", "AZURE_RESOURCE_GROUP": "rg",
       "AZURE_ML_WORKSPACE": "ws"}


def _sagemaker(options: dict[str, Any]) -> Any:
    pytest.importorskip("boto3")
    from automl_bridge.backends.sagemaker import SageMakerBackend
    from automl_bridge.testing.fakes.sagemaker import make_fake_clients

    sm, s3 = make_fake_clients(outcome="completed")
    return SageMakerBackend(**options, client=sm, s3_client=s3, sleep=lambda s: None)


def _azure(options: dict[str, Any]) -> Any:
    pytest.importorskip("azure.ai.ml")
    from automl_bridge.testing.fakes.azure import FakeAzureML

    fake = FakeAzureML(script=("NotStarted", "Running", "Completed"),
                       subscription_id=options["subscription_id"],
                       resource_group=options["resource_group"],
                       workspace=options["workspace"])
    return fake.backend(**options)


def _vertex(options: dict[str, Any]) -> Any:
    pytest.importorskip("google.cloud.aiplatform")
    from automl_bridge.backends.vertex import VertexBackend
    from automl_bridge.testing.fakes.vertex import FakeVertex

    fake = FakeVertex(project=options["project"], location=options["location"])
    backend = VertexBackend(**{**fake.options(), **options}, sleep=lambda s: None)
    backend.serve = fake.serve  # type: ignore[attr-defined]
    return backend


CLOUDS = {"sagemaker": _sagemaker, "azure": _azure, "vertex": _vertex}


@pytest.mark.parametrize("backend", ["local", "sagemaker", "vertex", "azure"])
def test_the_same_job_file_runs_on_every_backend(backend, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(EXAMPLE, backend=backend, environ=ENV)
    local = load_config(EXAMPLE, environ=ENV)
    assert cfg.backend == backend and cfg.spec == local.spec  # the same spec everywhere
    train = pd.read_csv(cfg.train)
    if backend == "local":  # the file's one-hour budget, cut for CI (the only change)
        cfg = load_config(EXAMPLE, backend=backend, environ=ENV,
                          overrides=["job.time_budget_s=15"])
        result = cfg.job().fit(train)
    else:
        cloud = CLOUDS[backend](dict(cfg.backend_options))
        with getattr(cloud, "serve", contextlib.nullcontext)():
            result = cloud.run(cfg.spec, train)
    assert isinstance(result, RunResult) and result.backend == backend
    assert result.status is RunStatus.COMPLETED and result.metric == "roc_auc"
    assert result.best is not None and result.candidates


def test_validate_checks_the_spec_against_the_service_offline(monkeypatch, capsys) -> None:
    pytest.importorskip("boto3")
    from automl_bridge import cli

    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["validate", str(EXAMPLE), "--backend", "sagemaker"]) == 0
    assert "the spec maps onto sagemaker" in capsys.readouterr().out
    quickstart = EXAMPLE.parent / "quickstart.yaml"
    code = cli.main(["validate", str(quickstart), "--backend", "sagemaker",
                     "--set", f"backends.sagemaker.role_arn={ENV['AUTOML_ROLE_ARN']}",
                     "--set", f"backends.sagemaker.s3_output={ENV['AUTOML_S3_OUTPUT']}"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot honour" in err and "log_loss" in err and "tpe" in err
