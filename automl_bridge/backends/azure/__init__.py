"""Azure ML AutoML backend (azure-ai-ml; ``pip install 'automl-bridge[azure]'``).

``AutoMLJob(...).with_backend("azure", subscription_id=..., resource_group=..., workspace=...,
compute="cpu-cluster")`` uploads the training CSV as an MLTable folder to the workspace's
datastore, creates an ``automl.classification()``/``automl.regression()`` job under a
deterministic name (attaching to it if it exists), always with its timeout set, never
deploying anything, and returns the AutoML child runs as a
:class:`~automl_bridge.results.RunResult`. Modules: :mod:`.settings` (options),
:mod:`.mapping` (metric, algorithm and state names), :mod:`.translate` (spec -> job plan),
:mod:`.client` (the SDK, errors), :mod:`.staging` (MLTable upload), :mod:`.results`
(candidates, cost), :mod:`.mlflow_metrics` (optional), :mod:`.adapter`, :mod:`.backend`.
``azure.*`` is imported only when a client is made. See ``docs/clouds/azure.md``.

Example:
    >>> from automl_bridge.backends.azure import AzureBackend
    >>> AzureBackend.name
    'azure'
"""

from __future__ import annotations

from automl_bridge.backends.azure.adapter import AzureAdapter
from automl_bridge.backends.azure.backend import AzureBackend

__all__ = ["AzureAdapter", "AzureBackend"]
