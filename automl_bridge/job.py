"""AutoMLJob: the façade users hold.

A job is a :class:`~automl_bridge.spec.JobSpec` plus a backend name and its options. ``fit``
runs the spec where the backend says and keeps the fitted model for ``predict``;
``with_backend`` returns the same job aimed at another engine.

Example:
    >>> from automl_bridge import AutoMLJob
    >>> job = AutoMLJob(task="classification", target="label", max_trials=3)
    >>> job.with_backend("local", run_dir=None).backend_name
    'local'
"""

from __future__ import annotations

import os
from typing import Any

from automl_bridge.exceptions import ConfigError, ModelNotFittedError, SpecError
from automl_bridge.results import RunResult, RunStatus
from automl_bridge.spec import JobSpec


class AutoMLJob:
    """One AutoML job: a spec, an engine, and (after ``fit``) a model.

    Args:
        spec: a :class:`JobSpec`, or nothing and the spec's fields as keywords.
        backend: backend name (``"local"``, ``"sagemaker"``, ``"vertex"``, ``"azure"``).
        backend_options: engine options for that backend (see ``with_backend``).
        **fields: JobSpec fields (``task``, ``target``, ``metric``, ``time_budget_s``, ...).

    Raises:
        SpecError: a field is invalid, or both a spec and fields were given.
    """

    def __init__(self, spec: JobSpec | None = None, /, *, backend: str = "local",
                 backend_options: dict[str, Any] | None = None, **fields: Any) -> None:
        if spec is not None and fields:
            raise SpecError(
                f"Give AutoMLJob either a JobSpec or its fields, not both. Got a spec and "
                f"{sorted(fields)}. Use spec.replace(...) to change fields."
            )
        if spec is not None and not isinstance(spec, JobSpec):
            raise SpecError(f"AutoMLJob(spec) needs a JobSpec. Got {type(spec).__name__}.")
        self._spec = spec if spec is not None else JobSpec(**fields)
        from automl_bridge.registry import registry_for

        registry_for("backends").entry(backend)  # unknown names fail here, clearly
        self._backend_name = backend
        self._backend_options = dict(backend_options or {})
        self._backend: Any = None
        self._result: RunResult | None = None

    def __repr__(self) -> str:
        return f"AutoMLJob(spec={self._spec!r}, backend={self._backend_name!r})"

    @property
    def spec(self) -> JobSpec:
        """The job's spec."""
        return self._spec

    @property
    def backend_name(self) -> str:
        """Name of the backend the job runs on."""
        return self._backend_name

    @property
    def backend(self) -> Any:
        """The backend instance (created on first use)."""
        if self._backend is None:
            from automl_bridge.registry import registry_for

            cls = registry_for("backends").get(self._backend_name)
            self._backend = cls(**self._backend_options)
        return self._backend

    def with_backend(self, name: str, **options: Any) -> AutoMLJob:
        """The same spec on another backend (or the same backend with other options)."""
        job = AutoMLJob(self._spec, backend=name, backend_options=options)
        _ = job.backend  # validate options now
        return job

    # --- running -----------------------------------------------------------------------------

    def fit(self, data: Any, *, resume: bool = False, progress: Any = None) -> RunResult:
        """Run the job and wait for it; keep the best model for ``predict``.

        Args:
            data: a pandas DataFrame, a CSV/Parquet path, or an ``(X, y)`` pair.
            resume: continue the newest unfinished run (the spec and data must match).
            progress: a :class:`~automl_bridge.progress.Progress` (default: live on a
                terminal, silent elsewhere).
        """
        backend = self.backend
        if hasattr(backend, "run"):
            if progress is None:
                from automl_bridge.progress import make_progress

                progress = make_progress()
            result: RunResult = backend.run(self._spec, data, resume=resume, progress=progress)
        else:
            handle = backend.submit(self._spec, data, resume=resume)
            try:
                result = backend.result(handle)
            except BaseException:
                backend.cancel(handle)
                raise
        self._result = result
        return result

    def work(self, data: Any, *, progress: Any = None) -> RunResult:
        """Join this job's shared run as one worker (local backend on PostgreSQL).

        Start the same call (or ``automl-bridge worker``) in as many processes and machines
        as you like; they share the budget, and exactly one of them refits and writes the
        final model (see :meth:`automl_bridge.backends.local.LocalBackend.work`).
        """
        backend = self.backend
        if not hasattr(backend, "work"):
            raise ConfigError(
                f"Workers run on the local backend; this job's backend is "
                f"{self._backend_name!r}. Use job.with_backend('local', "
                "storage='postgresql://...').")
        if progress is None:
            from automl_bridge.progress import make_progress

            progress = make_progress()
        result: RunResult = backend.work(self._spec, data, progress=progress)
        if result.best is not None and result.best.model is not None:
            self._result = result
        return result

    def submit(self, data: Any, *, resume: bool = False) -> Any:
        """Start the job and return a handle at once (see ``status``, ``result``, ``cancel``)."""
        return self.backend.submit(self._spec, data, resume=resume)

    def status(self, handle: Any) -> RunStatus:
        """Status of a submitted run."""
        status: RunStatus = self.backend.status(handle)
        return status

    def result(self, handle: Any, *, timeout: float | None = None) -> RunResult:
        """Wait for a submitted run; keep its best model for ``predict``."""
        result: RunResult = self.backend.result(handle, timeout=timeout)
        self._result = result
        return result

    def cancel(self, handle: Any) -> None:
        """Stop a submitted run."""
        self.backend.cancel(handle)

    # --- the fitted model --------------------------------------------------------------------

    @property
    def last_result(self) -> RunResult | None:
        """The result of the latest ``fit`` or ``result``."""
        return self._result

    @property
    def model(self) -> Any:
        """The fitted best model of the latest run."""
        r = self._result
        if r is None or r.best is None or r.best.model is None:
            raise ModelNotFittedError(
                "This job has no fitted model. Call job.fit(data) first (a cancelled or "
                "interrupted run keeps no model)."
            )
        return r.best.model

    def predict(self, data: Any) -> Any:
        """Predictions for raw rows like the training features (a pandas Series)."""
        import pandas as pd

        frame = _features(data)
        pred = self.model.predict(frame)
        index = frame.index if isinstance(frame, pd.DataFrame) else None
        return pd.Series(pred, index=index, name=self._spec.target)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, one column per class (a pandas DataFrame)."""
        import pandas as pd

        frame = _features(data)
        proba = self.model.predict_proba(frame)
        index = frame.index if isinstance(frame, pd.DataFrame) else None
        return pd.DataFrame(proba, index=index, columns=list(self.model.classes_))

    def save_model(self, path: str | os.PathLike[str]) -> Any:
        """Save the fitted model in the skops format; read it with ``load_model``."""
        from automl_bridge.models.persistence import save_model

        return save_model(self.model, path)


def _features(data: Any) -> Any:
    """Prediction input: a frame or path; the target column, if present, is ignored."""
    from automl_bridge.data import read_table

    if isinstance(data, (str, os.PathLike)):
        data = read_table(data)
    return data
