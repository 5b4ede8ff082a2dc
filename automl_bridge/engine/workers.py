"""Run trials inline or in killable worker processes, so time budgets are hard.

:class:`ProcessExecutor` starts a fresh interpreter (``python -m
automl_bridge.engine.workers``) connected by a socket pair. It never forks the calling process
(forking after OpenMP work hangs the child) and never re-imports the user's ``__main__``. A
call that outlives its deadline kills the worker and raises :class:`TrialTimeout`; the next
call starts a new worker. :class:`InlineExecutor` runs in the calling thread (no deadline);
the engine uses it when the run has no time budget.

Example:
    >>> from automl_bridge.engine.workers import InlineExecutor
    >>> InlineExecutor(n_threads=1).close()
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from automl_bridge.engine.evaluate import EvalContext, evaluate, refit
from automl_bridge.metrics import get_metric, is_better

#: Fits use more than one thread only from this many training rows on. Below it, OpenMP's
#: per-iteration cost dominates: HGB on 275 rows took 8.0 s with 2 passive threads, 1.1 s with
#: one (and spinning threads crawl when the cores are shared).
THREADED_ROWS = 20_000


def threads_for(n_rows: int, n_threads: int) -> int:
    """Threads one fit on ``n_rows`` rows should use."""
    return 1 if n_rows < THREADED_ROWS else n_threads
#: Assumed start-up time of a worker before one was measured (import of scikit-learn).
DEFAULT_STARTUP_S = 2.0


class TrialTimeout(Exception):
    """A call ran past its deadline; the worker was killed."""


class TrialCancelled(Exception):
    """The run was cancelled while the call ran; the worker was killed."""


class TrialFailed(Exception):
    """The evaluated code raised; ``args[0]`` is ``"Type: message"``, ``detail`` the trace."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class Champion:
    """Keeps the model of the best trial evaluated here (fitted on its last training split).

    It is the fallback final model when the time left cannot pay for a refit on all rows.
    """

    def __init__(self) -> None:
        self.score = float("nan")
        self.model: Any = None

    def handle(self, ctx: EvalContext, kind: str, family: str, params: dict[str, Any],
               options: dict[str, Any] | None = None,
               report: Callable[[int, float], bool] | None = None) -> Any:
        """Run one request against ``ctx``.

        ``options`` are keyword arguments of :func:`evaluate` (``plan``, ``measure``,
        ``keep_predictions``); ``report`` receives each rung's score.
        """
        if kind == "champion":
            return None if self.model is None else (self.score, self.model)
        if kind == "refit":
            return refit(ctx, family, params)
        out = evaluate(ctx, family, params, report=report, **(options or {}))
        model = out.pop("model")
        direction = get_metric(ctx.metric).direction
        if not out["pruned"] and is_better(out["score"], self.score, direction):
            self.score, self.model = out["score"], model
        return out


class InlineExecutor:
    """Evaluate in the calling thread (no isolation, no deadline)."""

    def __init__(self, *, n_threads: int) -> None:
        self.n_threads = n_threads
        self.ctx: EvalContext | None = None
        self.champion = Champion()

    alive = True
    restart_cost = 0.0

    def load(self, ctx: EvalContext) -> None:
        """Hold the evaluation context."""
        self.ctx = ctx

    def call(self, kind: str, family: str, params: dict[str, Any], *,
             timeout: float | None = None, cancel: threading.Event | None = None,
             options: dict[str, Any] | None = None,
             report: Callable[[int, float], bool] | None = None) -> Any:
        """Run ``evaluate``, ``refit`` or fetch the champion now."""
        from threadpoolctl import threadpool_limits

        assert self.ctx is not None
        try:
            with threadpool_limits(threads_for(len(self.ctx.y), self.n_threads)):
                return self.champion.handle(self.ctx, kind, family, params, options, report)
        except Exception as exc:
            raise TrialFailed(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from exc

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """One worker process, restarted after a kill; calls have hard deadlines.

    Args:
        n_threads: BLAS/OpenMP threads the worker may use.
        poll_s: how often a waiting call checks the cancel event.
    """

    def __init__(self, *, n_threads: int, poll_s: float = 0.05) -> None:
        self.n_threads = n_threads
        self.poll_s = poll_s
        self._ctx_blob: bytes | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._loaded = False
        self._sender: threading.Thread | None = None
        self._started_at = 0.0
        self.startup_s: float | None = None
        self.restarts = 0
        self.evaluated = 0  # calls answered by the current worker (0: no champion to fetch)
        self.start()

    def start(self) -> None:
        """Start the worker process (it imports scikit-learn while the caller goes on)."""
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(self.n_threads)
        # Idle OpenMP threads sleep instead of spinning: spinning threads slow HistGradient-
        # Boosting down 50x when the cores are shared (measured: 0.4 s -> 30 s at load 6).
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "automl_bridge.engine.workers", str(child_sock.fileno())],
            pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL,
            start_new_session=False,
        )
        child_sock.close()
        self._conn = Connection(parent_sock.detach())
        self._loaded = False
        self._started_at = time.monotonic()

    @property
    def restart_cost(self) -> float:
        """Seconds before a call can run: 0 while the worker lives, else its start-up time."""
        if self.alive:
            return 0.0
        return self.startup_s if self.startup_s is not None else DEFAULT_STARTUP_S

    def load(self, ctx: EvalContext) -> None:
        """Send the evaluation context (kept to reload a restarted worker).

        The send runs in a thread: it blocks until the worker has imported scikit-learn, and
        the caller has other work to do meanwhile. The first call waits for it.
        """
        self._ctx_blob = pickle.dumps(ctx, protocol=pickle.HIGHEST_PROTOCOL)
        self._begin_send()

    def _begin_send(self) -> None:
        self._loaded = True
        self._sender = threading.Thread(target=self._send_quietly, daemon=True,
                                        name="automl-bridge-send-context")
        self._sender.start()

    def _send_quietly(self) -> None:
        with contextlib.suppress(OSError, AssertionError):
            self._send_ctx()
            # the worker reads the context once its imports are done: that is its start-up
            self.startup_s = time.monotonic() - self._started_at

    def _send_ctx(self) -> None:
        assert self._conn is not None and self._ctx_blob is not None
        self._conn.send_bytes(b"C" + self._ctx_blob)
        self._loaded = True

    def call(self, kind: str, family: str, params: dict[str, Any], *,
             timeout: float | None = None, cancel: threading.Event | None = None,
             options: dict[str, Any] | None = None,
             report: Callable[[int, float], bool] | None = None) -> Any:
        """Run ``evaluate`` (``kind="eval"``), ``refit`` or ``champion`` in the worker.

        ``options`` go to :func:`evaluate`; ``report(step, score)`` is called here, in the
        caller's thread, after each rung the worker reports, and its answer (go on or stop)
        is sent back.

        Raises:
            TrialTimeout: the deadline passed (the worker was killed).
            TrialCancelled: ``cancel`` was set (the worker was killed).
            TrialFailed: the call raised in the worker, or the worker died.
        """
        if kind == "champion" and not self.evaluated:
            return None
        if self._proc is None or self._proc.poll() is not None:
            if kind == "champion":
                return None  # it died with the worker
            self.evaluated = 0
            self.restarts += 1
            self.start()
            self._begin_send()
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        if self._sender is not None:
            self._sender.join(None if deadline is None else max(deadline - time.monotonic(), 0))
            if self._sender.is_alive():  # the worker is still starting: out of time
                self.kill()
                raise TrialTimeout()
            self._sender = None
        if not self._loaded:
            self._send_ctx()
        assert self._conn is not None
        self._conn.send_bytes(b"R" + pickle.dumps((kind, family, params, options,
                                                   report is not None)))
        while True:
            wait = self.poll_s
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                ready = self._conn.poll(wait)
            except (EOFError, OSError):
                ready = True
            if ready:
                status, payload = self._receive()
                if status != "report":
                    return payload
                go = report(*payload) if report is not None else True
                with contextlib.suppress(EOFError, OSError):
                    self._conn.send_bytes(b"G" if go else b"S")
                continue
            if cancel is not None and cancel.is_set():
                self.kill()
                raise TrialCancelled()
            if deadline is not None and time.monotonic() >= deadline:
                self.kill()
                raise TrialTimeout()

    def _receive(self) -> tuple[str, Any]:
        assert self._conn is not None
        try:
            status, payload = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError):
            code = self._proc.wait(timeout=5) if self._proc is not None else None
            self.kill()
            raise TrialFailed(f"WorkerDied: the worker process ended with exit code {code} "
                              "(out of memory or a crash in native code).") from None
        if status == "ok":
            self.evaluated += 1
            return status, payload
        if status == "report":
            return status, payload
        raise TrialFailed(payload[0], payload[1])

    @property
    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """Kill the worker now; the next call starts a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
        self._loaded = False

    def close(self) -> None:
        """Stop the worker now: it holds nothing worth waiting for."""
        self.kill()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies (best effort elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover
            pass


def _reporter(conn: Connection) -> Callable[[int, float], bool]:
    """Send a rung's score to the parent and wait for its answer (go on or stop)."""
    def report(step: int, score: float) -> bool:
        conn.send_bytes(pickle.dumps(("report", (step, score)),
                                     protocol=pickle.HIGHEST_PROTOCOL))
        return conn.recv_bytes() == b"G"

    return report


def _serve(fd: int) -> None:
    """Worker loop: receive a context once, then evaluate requests until told to quit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from threadpoolctl import threadpool_limits

    n_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    threadpool_limits(n_threads)
    conn = Connection(fd)
    ctx: EvalContext | None = None
    champion = Champion()
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            return
        tag, body = msg[:1], msg[1:]
        if tag == b"Q":
            return
        if tag == b"C":
            ctx = pickle.loads(body)
            champion = Champion()
            threadpool_limits(threads_for(len(ctx.y), n_threads))
            continue
        kind, family, params, options, wants_reports = pickle.loads(body)
        report = _reporter(conn) if wants_reports else None
        try:
            assert ctx is not None, "no context loaded"
            reply = ("ok", champion.handle(ctx, kind, family, params, options, report))
        except Exception as exc:
            reply = ("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except (EOFError, OSError):
            return


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
