"""The layer every cloud backend shares: adapter types, naming, redaction, retries, the backend.

A cloud backend is an *adapter* (one per service: :mod:`automl_bridge.backends.sagemaker`,
:mod:`~automl_bridge.backends.vertex`, :mod:`~automl_bridge.backends.azure`) wrapped by
:class:`~automl_bridge.backends.cloud.backend.CloudBackend`, which implements the backend
protocol once for all of them: data checks, submission, polling with backoff and a deadline,
cancellation on interrupt, and the :class:`~automl_bridge.results.RunResult`. Nothing here
imports a cloud SDK.
"""
