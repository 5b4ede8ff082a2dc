"""AWS SageMaker Autopilot backend (boto3 only; ``pip install 'automl-bridge[aws]'``).

``AutoMLJob(...).with_backend("sagemaker", role_arn=..., s3_output="s3://bucket/prefix/")``
uploads the training CSV to S3, creates a ``CreateAutoMLJobV2`` tabular job under a
deterministic ``ab-...`` name (attaching to it if it exists), always with
``MaxAutoMLJobRuntimeInSeconds``, never deploying an endpoint, and returns the candidates of
``ListCandidatesForAutoMLJob`` as a :class:`~automl_bridge.results.RunResult`. Modules:
:mod:`.translate` (spec -> request, status), :mod:`.validate` (options, spec, service-model
checks), :mod:`.client` (boto3 clients, error mapping), :mod:`.results` (candidates),
:mod:`.cost`, :mod:`.predict` (batch transform), :mod:`.adapter`, :mod:`.backend`. boto3 is
imported only when a client is made. See ``docs/clouds/sagemaker.md``.

Example:
    >>> from automl_bridge.backends.sagemaker import SageMakerBackend
    >>> SageMakerBackend.name
    'sagemaker'
"""

from __future__ import annotations

from automl_bridge.backends.sagemaker.adapter import SageMakerAdapter
from automl_bridge.backends.sagemaker.backend import SageMakerBackend

__all__ = ["SageMakerAdapter", "SageMakerBackend"]
