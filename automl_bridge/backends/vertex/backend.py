"""The ``vertex`` backend: :class:`~automl_bridge.backends.cloud.backend.CloudBackend` around
:class:`~automl_bridge.backends.vertex.adapter.VertexAdapter`.

Example:
    >>> b = VertexBackend(project="my-project", staging_bucket="gs://my-bucket")
    >>> b.name, b.adapter.location, "budget_milli_node_hours" in VertexBackend.OPTIONS
    ('vertex', 'us-central1', True)
"""

from __future__ import annotations

from typing import Any, ClassVar

from automl_bridge.backends.cloud.adapter import CloudAdapter
from automl_bridge.backends.cloud.backend import CloudBackend
from automl_bridge.backends.vertex.adapter import VertexAdapter


class VertexBackend(CloudBackend):
    """Google Vertex AI AutoML Tabular (training pipelines with the ``automl_tabular`` task).

    Options: see :data:`OPTIONS` and ``docs/clouds/vertex.md``; the common ones (``strict``,
    polling, ``deadline_s``, ``run_id``, ``work_dir``) come from the cloud layer.
    """

    name: ClassVar[str] = "vertex"
    OPTIONS: ClassVar[dict[str, str]] = {
        "project": "Google Cloud project id (required)",
        "location": "Vertex AI region, e.g. us-central1 (default); the bucket should be there",
        "staging_bucket": "gs://bucket[/prefix] for the training CSV and prediction files "
                          "(required)",
        "credentials": "google-auth credentials object (default: Application Default "
                       "Credentials)",
        "api_transport": "'rest' (default) or 'grpc'",
        "budget_milli_node_hours": "training budget, 1000-72000 (1000 = one node hour); "
                                   "default: one node hour per hour of time_budget_s",
        "usd_per_node_hour": "training price for the cost estimate (default: the us-central1 "
                             "list price)",
        "request_timeout_s": "timeout of each API request in seconds (default 120)",
        "retry_attempts": "calls at most per request on throttling or unavailability "
                          "(default 6)",
        "retry_sleep": "function that waits between retries and prediction polls (tests)",
        "predict_timeout_s": "how long predict() waits for its batch prediction job "
                             "(default 3600)",
    }

    def make_adapter(self, *, strict: bool, **options: Any) -> CloudAdapter:
        """The Vertex adapter for ``options``."""
        return VertexAdapter(strict=strict, **options)
