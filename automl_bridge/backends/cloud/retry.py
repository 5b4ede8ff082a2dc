"""Retries with exponential backoff and full jitter, for SDKs that have none of their own.

Example:
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise TimeoutError("busy")
    ...     return "ok"
    >>> retry_call(flaky, is_transient=lambda e: isinstance(e, TimeoutError),
    ...            sleep=lambda s: None)
    'ok'
    >>> len(calls)
    3
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry_call(fn: Callable[[], T], *, is_transient: Callable[[BaseException], bool],
               attempts: int = 5, initial_s: float = 1.0, max_s: float = 30.0,
               sleep: Callable[[float], None] = time.sleep,
               rng: random.Random | None = None) -> T:
    """Call ``fn`` until it succeeds, retrying errors ``is_transient`` accepts.

    Args:
        fn: the call.
        is_transient: whether an error is worth retrying (throttling, 5xx, unavailable).
        attempts: calls at most (>= 1); the last error is raised as it is.
        initial_s / max_s: first and largest backoff ceiling; each wait is uniform in
            ``[0, min(max_s, initial_s * 2**k)]`` (full jitter).
        sleep / rng: injectable for tests.
    """
    rnd = rng or random.Random()
    for k in range(max(1, attempts)):
        try:
            return fn()
        except Exception as exc:
            if k == attempts - 1 or not is_transient(exc):
                raise
            sleep(rnd.uniform(0.0, min(max_s, initial_s * 2 ** k)))
    raise AssertionError("unreachable")  # pragma: no cover
