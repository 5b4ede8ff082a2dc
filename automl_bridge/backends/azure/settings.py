"""The Azure backend's options, checked once without the network.

Example:
    >>> s = AzureSettings.from_options(subscription_id="0000", resource_group="rg",
    ...                                workspace="ws", compute="cpu-cluster")
    >>> (s.workspace, s.compute, s.experiment, s.strict)
    ('ws', 'cpu-cluster', 'automl-bridge', True)
    >>> try:
    ...     AzureSettings.from_options(resource_group="rg", workspace="ws")
    ... except ConfigError as exc:
    ...     print(str(exc)[:57])
    The azure backend needs the option(s) ['subscription_id']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl_bridge.exceptions import ConfigError

#: The Azure backend's own options (the common ones are in ``cloud.backend.COMMON_OPTIONS``).
OPTIONS: dict[str, str] = {
    "subscription_id": "Azure subscription id of the workspace",
    "resource_group": "resource group of the workspace",
    "workspace": "Azure ML workspace name",
    "config_path": "a workspace config.json (subscription_id, resource_group, workspace_name) "
                   "read instead of the three options above",
    "compute": "name of an AmlCompute cluster; omitted: serverless compute (instance_type)",
    "instance_type": "VM size of serverless compute (default Standard_DS3_v2)",
    "instance_count": "nodes of serverless compute (default 1)",
    "experiment": "experiment name the job is filed under (default automl-bridge)",
    "datastore": "datastore the training data is uploaded to (default: the workspace default)",
    "data_asset": "an existing MLTable data asset 'azureml:name:version' used instead of "
                  "uploading the data (the local data is only checked)",
    "trial_timeout_minutes": "time limit of each trial in minutes (default: the service's)",
    "max_concurrent_trials": "trials run in parallel (default 1; needs as many nodes)",
    "metrics": "'auto' (MLflow if installed, default), 'mlflow' (required) or 'none': how "
               "child-run metrics are read",
    "price_per_node_hour": "USD per node hour for the cost estimate (default: a built-in "
                           "table of list prices)",
    "retry_total": "azure-core retries per request (default 10)",
    "retry_backoff_factor": "azure-core exponential backoff factor in seconds (default 0.8)",
    "credential": "an azure-core TokenCredential (default: DefaultAzureCredential())",
    "transport": "an azure-core HttpTransport (tests and proxies)",
    "metrics_reader": "a callable(job_name, child_names) -> {child: {metric: value}} that "
                      "replaces the MLflow reader (tests)",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_COMPUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,31}$")
_VM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,63}$")
_ASSET = re.compile(r"^azureml:[A-Za-z0-9_.-]{1,255}:[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class AzureSettings:
    """Validated options of the Azure backend (no SDK objects except the injected ones)."""

    subscription_id: str
    resource_group: str
    workspace: str
    compute: str | None = None
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
    experiment: str = "automl-bridge"
    datastore: str | None = None
    data_asset: str | None = None
    trial_timeout_minutes: int | None = None
    max_concurrent_trials: int | None = None
    metrics: str = "auto"
    price_per_node_hour: float | None = None
    retry_total: int | None = None
    retry_backoff_factor: float | None = None
    strict: bool = True
    credential: Any = None
    transport: Any = None
    metrics_reader: Any = None

    @property
    def serverless(self) -> bool:
        """Whether the job runs on serverless compute (no cluster named)."""
        return self.compute is None

    @classmethod
    def from_options(cls, *, strict: bool = True, **options: Any) -> AzureSettings:
        """Check ``options`` (see :data:`OPTIONS`) and build the settings.

        Raises:
            ConfigError: an unknown option, a missing workspace coordinate or a bad value.
        """
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"The azure backend has no option(s) {unknown}. Its options are "
                              f"{sorted(OPTIONS)}.")
        opts = dict(options)
        config_path = opts.pop("config_path", None)
        if config_path is not None:
            for key, value in _read_config(config_path).items():
                opts.setdefault(key, value)
        missing = [k for k in ("subscription_id", "resource_group", "workspace")
                   if not opts.get(k)]
        if missing:
            raise ConfigError(
                f"The azure backend needs the option(s) {missing} (the workspace's "
                "coordinates), or config_path= pointing at the workspace's config.json "
                "(downloadable from the workspace's overview page in the Azure portal).")
        for key in ("subscription_id", "resource_group", "workspace"):
            _check_str(key, opts[key])
        compute = opts.get("compute")
        if compute is not None and not (isinstance(compute, str) and _COMPUTE.match(compute)):
            raise ConfigError("The option 'compute' of the azure backend must name a compute "
                              "cluster (2-32 letters, digits or '-', starting with a letter). "
                              f"Got {compute!r}.")
        experiment = opts.get("experiment", "automl-bridge")
        if not (isinstance(experiment, str) and _NAME.match(experiment)):
            raise ConfigError("The option 'experiment' of the azure backend must be 1-255 "
                              "letters, digits, '_' or '-', starting with a letter or digit. "
                              f"Got {experiment!r}.")
        instance_type = opts.get("instance_type", "Standard_DS3_v2")
        if not (isinstance(instance_type, str) and _VM.match(instance_type)):
            raise ConfigError("The option 'instance_type' of the azure backend must be a VM "
                              f"size such as 'Standard_DS3_v2'. Got {instance_type!r}.")
        if compute is not None and ("instance_type" in opts or "instance_count" in opts):
            raise ConfigError("The azure backend options 'instance_type'/'instance_count' "
                              "size serverless compute; with compute= the cluster's own VM "
                              "size is used. Drop one of them.")
        data_asset = opts.get("data_asset")
        if data_asset is not None and not (isinstance(data_asset, str)
                                           and _ASSET.match(data_asset)):
            raise ConfigError("The option 'data_asset' of the azure backend must be "
                              f"'azureml:<name>:<version>'. Got {data_asset!r}.")
        datastore = opts.get("datastore")
        if datastore is not None:
            _check_str("datastore", datastore)
        metrics = opts.get("metrics", "auto")
        if metrics not in ("auto", "mlflow", "none"):
            raise ConfigError("The option 'metrics' of the azure backend must be 'auto', "
                              f"'mlflow' or 'none'. Got {metrics!r}.")
        price = opts.get("price_per_node_hour")
        if price is not None and not (isinstance(price, int | float) and price >= 0):
            raise ConfigError("The option 'price_per_node_hour' of the azure backend must be "
                              f"a non-negative number of USD. Got {price!r}.")
        backoff = opts.get("retry_backoff_factor")
        if backoff is not None and not (isinstance(backoff, int | float) and backoff >= 0):
            raise ConfigError("The option 'retry_backoff_factor' of the azure backend must be "
                              f"a non-negative number of seconds. Got {backoff!r}.")
        return cls(
            subscription_id=str(opts["subscription_id"]),
            resource_group=str(opts["resource_group"]),
            workspace=str(opts["workspace"]),
            compute=compute,
            instance_type=instance_type,
            instance_count=_int("instance_count", opts.get("instance_count", 1), low=1),
            experiment=experiment,
            datastore=datastore,
            data_asset=data_asset,
            trial_timeout_minutes=_int_or_none("trial_timeout_minutes",
                                               opts.get("trial_timeout_minutes"), low=1),
            max_concurrent_trials=_int_or_none("max_concurrent_trials",
                                               opts.get("max_concurrent_trials"), low=1),
            metrics=metrics,
            price_per_node_hour=None if price is None else float(price),
            retry_total=_int_or_none("retry_total", opts.get("retry_total"), low=0),
            retry_backoff_factor=None if backoff is None else float(backoff),
            strict=bool(strict),
            credential=opts.get("credential"),
            transport=opts.get("transport"),
            metrics_reader=opts.get("metrics_reader"),
        )


def _read_config(path: Any) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The azure backend's config_path {str(path)!r} cannot be read as "
                          f"a workspace config.json: {exc}.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"The azure backend's config_path {str(path)!r} must hold a JSON "
                          "object with subscription_id, resource_group and workspace_name.")
    out = {"subscription_id": data.get("subscription_id"),
           "resource_group": data.get("resource_group"),
           "workspace": data.get("workspace_name") or data.get("workspace")}
    return {k: str(v) for k, v in out.items() if v}


def _check_str(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ConfigError(f"The option {key!r} of the azure backend must be a non-empty "
                          f"name without spaces. Got {value!r}.")


def _int(key: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"The option {key!r} of the azure backend must be an integer >= "
                          f"{low}. Got {value!r}.")
    return value


def _int_or_none(key: str, value: Any, *, low: int) -> int | None:
    return None if value is None else _int(key, value, low=low)
