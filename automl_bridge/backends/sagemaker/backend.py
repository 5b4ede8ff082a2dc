"""``SageMakerBackend``: the cloud backend around :class:`SageMakerAdapter`.

Example:
    >>> from automl_bridge.backends.sagemaker.backend import OPTIONS
    >>> sorted(OPTIONS)[:3]
    ['client', 'estimate_cost', 'max_attempts']
"""

from __future__ import annotations

from typing import Any, ClassVar

from automl_bridge.backends.cloud.backend import CloudBackend
from automl_bridge.backends.sagemaker.adapter import SageMakerAdapter

#: The sagemaker backend's own options (besides the common cloud options).
OPTIONS: dict[str, str] = {
    "role_arn": "IAM role SageMaker assumes (arn:aws:iam::<account>:role/<name>); required to "
                "submit and predict",
    "s3_output": "s3://bucket/prefix/ in the job's region for data, results and predictions; "
                 "required to submit",
    "region": "AWS region, e.g. us-east-1 (default: the AWS profile's or environment's)",
    "profile": "AWS profile name (default: boto3's credential chain)",
    "client": "an injected boto3 SageMaker client (or a fake)",
    "s3_client": "an injected boto3 S3 client (or a fake)",
    "max_runtime_per_trial_s": "MaxRuntimePerTrainingJobInSeconds of each candidate",
    "max_attempts": "botocore standard-mode attempts per call (default 5)",
    "estimate_cost": "describe the candidates' jobs for a cost estimate (default True)",
    "transform_instance_type": "instance of the batch transform behind predict() "
                               "(default ml.m5.large)",
    "predict_timeout_s": "deadline of a batch transform in seconds (default 3600)",
}


class SageMakerBackend(CloudBackend):
    """AWS SageMaker Autopilot (CreateAutoMLJobV2) through boto3; see docs/clouds/sagemaker.md."""

    name: ClassVar[str] = "sagemaker"
    OPTIONS: ClassVar[dict[str, str]] = OPTIONS

    def make_adapter(self, *, strict: bool, **options: Any) -> SageMakerAdapter:
        """The adapter, with this backend's sleep and clock for prediction polling."""
        return SageMakerAdapter(strict=strict, sleep=self.sleep, clock=self.clock, **options)
