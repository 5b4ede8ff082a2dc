"""The backend protocol, small on purpose, and the helpers that live beside it.

A backend turns a :class:`~automl_bridge.spec.JobSpec` plus data into a
:class:`~automl_bridge.results.RunResult`: ``submit`` starts a run and returns a
:class:`RunHandle`; ``status``, ``result`` and ``cancel`` act on it; ``capabilities`` says what
the engine can honour. Waiting with backoff is a helper (:func:`wait_for`), not a method.

Example:
    >>> from automl_bridge.backends.base import Capabilities
    >>> Capabilities(strategies=("tpe",), families=("linear",)).supports_resume
    False
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from automl_bridge.exceptions import ConfigError
from automl_bridge.results import RunResult, RunStatus
from automl_bridge.spec import JobSpec


@dataclass(frozen=True)
class Capabilities:
    """What a backend can honour.

    Attributes:
        strategies: search strategies it runs (empty = its own, not selectable).
        families: model families it can restrict the search to.
        supports_resume: ``fit(resume=True)`` continues an interrupted run.
        supports_max_trials: honours ``max_trials``.
        hard_time_budget: ends within the time budget plus a small margin.
    """

    strategies: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    supports_resume: bool = False
    supports_max_trials: bool = True
    hard_time_budget: bool = False


@dataclass
class RunHandle:
    """A reference to a submitted run.

    Attributes:
        run_id: id of the run.
        backend: name of the backend that holds it.
        info: backend-specific details (job names, run directory, ...), JSON-ready.
    """

    run_id: str
    backend: str
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """What every backend implements."""

    name: str

    @property
    def capabilities(self) -> Capabilities: ...

    def submit(self, spec: JobSpec, data: Any, *, resume: bool = False) -> RunHandle: ...

    def status(self, handle: RunHandle) -> RunStatus: ...

    def result(self, handle: RunHandle, *, timeout: float | None = None) -> RunResult: ...

    def cancel(self, handle: RunHandle) -> None: ...


def check_options(backend: str, given: dict[str, Any], allowed: dict[str, str]) -> None:
    """Refuse unknown backend options with the list of known ones.

    Args:
        backend: backend name for the message.
        given: options the user passed.
        allowed: option name -> one-line description.
    """
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        known = ", ".join(f"{k} ({v})" for k, v in allowed.items())
        raise ConfigError(
            f"The {backend} backend has no option(s) {unknown}. Its options are: {known}. "
            "Spec fields (task, metric, budgets, ...) go to AutoMLJob(...), not with_backend()."
        )


def wait_for(
    poll: Callable[[], RunStatus], *, timeout: float | None = None, initial_s: float = 0.2,
    max_s: float = 30.0, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RunStatus:
    """Poll until a terminal status, with exponential backoff and full jitter.

    Args:
        poll: returns the current status.
        timeout: give up after this many seconds (``TimeoutError``).
        initial_s / max_s: first and largest wait between polls.
        sleep / clock: injectable for tests.
    """
    start = clock()
    attempt = 0
    while True:
        status = poll()
        if status.is_terminal:
            return status
        if timeout is not None and clock() - start >= timeout:
            raise TimeoutError(f"The run is still {status.value} after {timeout:.0f}s.")
        delay = min(max_s, initial_s * 2 ** attempt)
        sleep(random.uniform(0, delay) if attempt else delay)
        attempt += 1
