"""Child-run metrics through MLflow: the only way Azure exposes them (optional extra).

Needs ``mlflow`` (``mlflow-skinny`` is enough) and the ``azureml-mlflow`` plugin, which
resolves the workspace's ``azureml://`` tracking URI and signs requests with the Azure
credential. Without them :func:`make_reader` returns ``None`` and the backend records a
warning saying how to install them (``pip install 'automl-bridge[azure-metrics]'``).

Example:
    >>> make_reader(None) is None or callable(make_reader(None))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Reader = Callable[[str, list[str]], dict[str, dict[str, float]]]


def make_reader(ml: Any) -> Reader | None:
    """A reader of each child run's logged metrics, or ``None`` when MLflow is missing."""
    try:
        import azureml.mlflow  # noqa: F401  (registers the azureml:// tracking scheme)
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    if ml is None:
        return None

    def read(job_name: str, child_names: list[str]) -> dict[str, dict[str, float]]:
        uri = ml.workspaces.get(ml.workspace_name).mlflow_tracking_uri
        client = MlflowClient(tracking_uri=uri)  # no global mlflow.set_tracking_uri
        out: dict[str, dict[str, float]] = {}
        for name in child_names:
            run = client.get_run(name)
            out[name] = {str(k): float(v) for k, v in run.data.metrics.items()}
        return out

    return read
