"""Live progress of a run: trials done, best score so far, time left.

The engine reports to a :class:`Progress`; :func:`make_progress` picks a live ``rich`` display
when standard error is a terminal and ``quiet`` is false, and a silent one otherwise.

Example:
    >>> from automl_bridge.progress import make_progress, SilentProgress
    >>> isinstance(make_progress(quiet=True), SilentProgress)
    True
"""

from __future__ import annotations

import sys
from typing import Any, Protocol


class Progress(Protocol):
    """What the engine calls while a run goes on."""

    def start(self, *, run_id: str, metric: str, max_trials: int | None,
              time_budget_s: float | None) -> None: ...

    def update(self, *, done: int, failed: int, best: float | None,
               time_left_s: float | None) -> None: ...

    def stop(self) -> None: ...


class SilentProgress:
    """Reports nothing."""

    def start(self, **kwargs: Any) -> None:
        """Nothing."""

    def update(self, **kwargs: Any) -> None:
        """Nothing."""

    def stop(self) -> None:
        """Nothing."""


class RichProgress:
    """A one-line live display on standard error."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._live: Any = None
        self._head = ""

    def start(self, *, run_id: str, metric: str, max_trials: int | None,
              time_budget_s: float | None) -> None:
        """Open the live line."""
        from rich.live import Live

        self._head = f"[bold]{run_id}[/] {metric}"
        self._max = max_trials
        self._live = Live(self._line(0, 0, None, time_budget_s), console=self._console,
                          refresh_per_second=4, transient=False)
        self._live.start()

    def _line(self, done: int, failed: int, best: float | None, left: float | None) -> str:
        trials = f"{done}/{self._max}" if self._max else f"{done}"
        best_s = "-" if best is None else f"{best:.5g}"
        left_s = "" if left is None else f"  time left {max(left, 0):.0f}s"
        fail_s = f" ({failed} failed)" if failed else ""
        return f"{self._head}  trials {trials}{fail_s}  best {best_s}{left_s}"

    def update(self, *, done: int, failed: int, best: float | None,
               time_left_s: float | None) -> None:
        """Redraw the line."""
        if self._live is not None:
            self._live.update(self._line(done, failed, best, time_left_s))

    def stop(self) -> None:
        """Close the live line."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def make_progress(*, quiet: bool = False, stream: Any = None) -> Progress:
    """A live display on a terminal, a silent one elsewhere or when ``quiet``."""
    stream = stream if stream is not None else sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return SilentProgress()
    return RichProgress()
