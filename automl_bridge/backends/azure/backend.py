"""``AzureBackend``: the cloud backend around :class:`AzureAdapter`.

Example:
    >>> from automl_bridge.backends.azure.backend import AzureBackend
    >>> AzureBackend.name, "compute" in AzureBackend.OPTIONS
    ('azure', True)
"""

from __future__ import annotations

from typing import Any, ClassVar

from automl_bridge.backends.azure.adapter import AzureAdapter
from automl_bridge.backends.azure.settings import OPTIONS
from automl_bridge.backends.cloud.backend import CloudBackend


class AzureBackend(CloudBackend):
    """Azure ML AutoML (azure-ai-ml); see docs/clouds/azure.md."""

    name: ClassVar[str] = "azure"
    OPTIONS: ClassVar[dict[str, str]] = OPTIONS

    def make_adapter(self, *, strict: bool, **options: Any) -> AzureAdapter:
        """The adapter for these options (checked without the network)."""
        return AzureAdapter(strict=strict, **options)
