"""Training data as an MLTable folder on the workspace's datastore.

The folder holds the CSV (streamed from disk in blocks of ``UPLOAD_BLOCK_BYTES``) and an
``MLTable`` file that tells AutoML how to read it. Its path is derived from the data's
fingerprint (``automl-bridge/<sha256>/``), so the same data is uploaded once: a folder whose
``MLTable`` file exists is reused. The job reads it as
``azureml://datastores/<datastore>/paths/automl-bridge/<sha256>/``.

Example:
    >>> print(mltable_yaml("train.csv"), end="")
    type: mltable
    paths:
      - file: ./train.csv
    transformations:
      - read_delimited:
          delimiter: ','
          encoding: utf8
          header: all_files_same_headers
          support_multi_line: true
    >>> datastore_uri("workspaceblobstore", "f" * 64)[:60]
    'azureml://datastores/workspaceblobstore/paths/automl-bridge/'
"""

from __future__ import annotations

import os
from typing import Any

from automl_bridge.backends.azure.client import UPLOAD_BLOCK_BYTES, call
from automl_bridge.exceptions import CloudRequestError

PREFIX = "automl-bridge"
CSV_NAME = "train.csv"


def mltable_yaml(csv_name: str) -> str:
    """The ``MLTable`` file for one CSV with a header row (quoted newlines allowed)."""
    return (
        "type: mltable\n"
        "paths:\n"
        f"  - file: ./{csv_name}\n"
        "transformations:\n"
        "  - read_delimited:\n"
        "      delimiter: ','\n"
        "      encoding: utf8\n"
        "      header: all_files_same_headers\n"
        "      support_multi_line: true\n"
    )


def folder_for(sha256: str) -> str:
    """The datastore folder of the data with fingerprint ``sha256``."""
    return f"{PREFIX}/{(sha256 or 'nohash')[:64]}"


def datastore_uri(datastore: str, sha256: str) -> str:
    """The job's input path for the data's MLTable folder."""
    return f"azureml://datastores/{datastore}/paths/{folder_for(sha256)}/"


def upload_mltable(ml: Any, *, csv_path: str, sha256: str, datastore: str | None,
                   credential: Any, transport: Any = None) -> dict[str, Any]:
    """Upload the CSV and its ``MLTable`` file unless the folder is already there.

    Returns:
        ``{"uri", "datastore", "folder", "uploaded", "bytes"}`` (JSON-ready; no secrets).
    """
    from azure.storage.blob import BlobServiceClient

    store = call("read the datastore", lambda: (
        ml.datastores.get(datastore, include_secrets=True) if datastore
        else ml.datastores.get_default(include_secrets=True)))
    kind = str(getattr(getattr(store, "type", ""), "value", getattr(store, "type", "")))
    if kind.lower().replace("_", "") != "azureblob":
        raise CloudRequestError(
            f"Azure ML: the datastore {store.name!r} is of type {kind!r}; the azure "
            "backend uploads to Azure Blob datastores only. Pass datastore= naming one (the "
            "workspace's workspaceblobstore is), or data_asset= for data already uploaded.")
    secret = _secret(store)
    endpoint = getattr(store, "endpoint", None) or "core.windows.net"
    protocol = getattr(store, "protocol", None) or "https"
    account_url = f"{protocol}://{store.account_name}.blob.{endpoint}"
    kwargs: dict[str, Any] = {"max_single_put_size": UPLOAD_BLOCK_BYTES,
                              "max_block_size": UPLOAD_BLOCK_BYTES}
    if transport is not None:
        kwargs["transport"] = transport
    service = BlobServiceClient(account_url, credential=secret or credential, **kwargs)
    container = service.get_container_client(store.container_name)
    folder = folder_for(sha256)
    marker = container.get_blob_client(f"{folder}/MLTable")
    secrets = [secret] if isinstance(secret, str) else []
    size = os.path.getsize(csv_path)
    info = {"uri": datastore_uri(store.name, sha256), "datastore": store.name,
            "folder": folder, "bytes": size}
    if call("check the uploaded data", marker.exists, secrets=secrets):
        return {**info, "uploaded": False}
    with open(csv_path, "rb") as stream:
        call("upload the training data",
             lambda: container.upload_blob(f"{folder}/{CSV_NAME}", stream, length=size,
                                           overwrite=True, max_concurrency=2),
             secrets=secrets)
    call("upload the MLTable file",
         lambda: marker.upload_blob(mltable_yaml(CSV_NAME).encode(), overwrite=True),
         secrets=secrets)
    return {**info, "uploaded": True}


def _secret(store: Any) -> Any:
    """The datastore's account key or SAS token (``None``: identity-based access)."""
    creds = getattr(store, "credentials", None)
    for attr in ("account_key", "sas_token"):
        value = getattr(creds, attr, None)
        if value:
            return value
    return None
