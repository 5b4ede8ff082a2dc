"""Google Vertex AI AutoML Tabular backend (``backend="vertex"``; extra ``gcp``).

- :mod:`.translate`: spec -> request JSON, states -> common status (pure).
- :mod:`.validate`: options, spec fields and data checked without the network.
- :mod:`.client`: the only module that imports ``google.*`` (lazily): gapic clients over REST
  or gRPC, GCS, retries, errors mapped to our tree.
- :mod:`.results`: evaluation metrics -> canonical names, the cost estimate (pure).
- :mod:`.adapter` / :mod:`.backend`: the adapter protocol and the backend.

Example:
    >>> from automl_bridge.backends.vertex import VertexBackend
    >>> VertexBackend.name
    'vertex'
"""

from __future__ import annotations

from automl_bridge.backends.vertex.adapter import VertexAdapter
from automl_bridge.backends.vertex.backend import VertexBackend

__all__ = ["VertexAdapter", "VertexBackend"]
