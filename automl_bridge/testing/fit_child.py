"""A run in a child process, for crash and concurrency tests (killed for real by the parent).

``python -m automl_bridge.testing.fit_child --data train.csv --storage URL --run-id ID
--max-trials N [--mode fit|resume|work] [--sleep S] [--budget S] [--models linear]``

Each trial sleeps ``--sleep`` seconds before fitting (so a kill lands inside a trial), then
fits as usual. ``fit`` starts a new run, ``resume`` continues it (``fit(resume=True)``), and
``work`` joins it as a worker. The run's outcome is printed as one JSON line on stdout:
``{"status", "trials_here", "finalized_here", "pid"}``; an interrupted run exits with 130
(SIGINT) or 143 (SIGTERM) after writing its partial result.

The study itself is what the tests inspect (:func:`study_figures`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def _slow_evaluate(seconds: float) -> None:
    import automl_bridge.engine.evaluate as ev
    import automl_bridge.engine.workers as workers

    real = ev.evaluate

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return real(*args, **kwargs)

    ev.evaluate = slow
    workers.evaluate = slow


def main(argv: list[str] | None = None) -> int:
    """Run as the command line says (see the module docstring)."""
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--target", default="target")
    p.add_argument("--storage", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--max-trials", type=int, default=None)
    p.add_argument("--budget", type=float, default=None)
    p.add_argument("--mode", choices=("fit", "resume", "work"), default="fit")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--models", nargs="+", default=["linear"])
    p.add_argument("--search", default="random")
    p.add_argument("--search-options", type=json.loads, default=None, metavar="JSON")
    p.add_argument("--heartbeat", type=float, default=5.0)
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--isolation", default="auto")
    args = p.parse_args(argv)
    import signal

    # a child started in the background (nohup ..., CI runners) inherits SIGINT ignored, and
    # Python then leaves it ignored: restore Ctrl-C, which these tests send
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.sleep:
        _slow_evaluate(args.sleep)
    from automl_bridge import AutoMLJob
    from automl_bridge.exceptions import FitInterrupted

    job = AutoMLJob(task="classification", target=args.target, max_trials=args.max_trials,
                    time_budget_s=args.budget, models=args.models,
                    search={"strategy": args.search, **args.search_options}
                    if args.search_options else args.search, seed=0).with_backend(
        "local", storage=args.storage, run_id=args.run_id, run_dir=args.run_dir,
        heartbeat_s=args.heartbeat, n_jobs=args.n_jobs, isolation=args.isolation)
    try:
        if args.mode == "work":
            result = job.work(args.data, progress=_silent())
        else:
            result = job.fit(args.data, resume=args.mode == "resume", progress=_silent())
    except FitInterrupted as exc:
        print(json.dumps({"status": "interrupted", "signal": exc.signal, "pid": os.getpid()}),
              flush=True)
        return 143 if exc.signal == "SIGTERM" else 130
    print(json.dumps({"status": result.status.value, "pid": os.getpid(),
                      "trials_here": result.extra.get("trials_here"),
                      "finalized_here": bool(result.extra.get("finalized_here")),
                      "model_path": result.model_path}), flush=True)
    return 0


def _silent() -> Any:
    from automl_bridge.progress import SilentProgress

    return SilentProgress()


def study_figures(storage: str, run_id: str) -> dict[str, Any]:
    """What the reliability tests check, read from the stored study.

    Returns counts by Optuna state, how many trials count against the budget
    (``counted``: started and not void), duplicate trial numbers, void trials and the states
    of their retries, and parameter sets completed more than once.
    """
    import optuna

    from automl_bridge.engine.coordination import RETRY_OF_ATTR, VOID_ATTR

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=run_id, storage=storage)
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    numbers = [t.number for t in trials]
    void = [t for t in trials if t.user_attrs.get(VOID_ATTR)]
    retries = {t.user_attrs[RETRY_OF_ATTR]: t for t in trials if RETRY_OF_ATTR in t.user_attrs}
    done = [json.dumps(t.params, sort_keys=True) for t in trials
            if t.state.name == "COMPLETE"]
    return {
        "trials": len(trials), "states": states,
        "counted": sum(t.state.name != "WAITING" and not t.user_attrs.get(VOID_ATTR)
                       for t in trials),
        "complete": states.get("COMPLETE", 0), "running": states.get("RUNNING", 0),
        "waiting": states.get("WAITING", 0),
        "duplicate_numbers": len(numbers) - len(set(numbers)),
        "void": [t.number for t in void],
        "retried": {n: retries[n].state.name for n in sorted(retries)},
        "params_completed_twice": len(done) - len(set(done)),
        "status": study.user_attrs.get("automl_bridge:status"),
        "spec_stored": "automl_bridge:spec" in study.user_attrs,
        "final": study.user_attrs.get("automl_bridge:final"),
    }


def wait_for_complete(storage: str, run_id: str, n: int, timeout: float = 120) -> None:
    """Wait until the run has at least ``n`` complete trials.

    Raises:
        TimeoutError: not within ``timeout`` seconds.
    """
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            if study_figures(storage, run_id)["complete"] >= n:
                return
        except KeyError:
            pass  # the run is not created yet
        time.sleep(0.05)
    raise TimeoutError(f"the run {run_id!r} did not complete {n} trials in {timeout:g} s")


def running_trial_of(storage: str, run_id: str, pid: int, timeout: float = 120) -> int:
    """Wait until the process ``pid`` runs a trial of the run (shared storage); its number.

    Raises:
        TimeoutError: not within ``timeout`` seconds.
    """
    import optuna

    from automl_bridge.engine.coordination import OWNER_ATTR

    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            study = optuna.load_study(study_name=run_id, storage=storage)
            for t in study.get_trials(deepcopy=False,
                                      states=(optuna.trial.TrialState.RUNNING,)):
                if (t.system_attrs.get(OWNER_ATTR) or {}).get("pid") == pid:
                    return int(t.number)
        except KeyError:
            pass  # the run is not created yet
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} ran no trial of {run_id!r} in {timeout:g} s")


def child_command(data: str, storage: str, run_id: str, *args: str) -> list[str]:
    """The command line of one child run."""
    return [sys.executable, "-m", "automl_bridge.testing.fit_child", "--data", data,
            "--storage", storage, "--run-id", run_id, *args]


def sqlite_ok(storage: str) -> bool:
    """``PRAGMA integrity_check`` of an SQLite storage is ``ok`` (True for other storages)."""
    import sqlite3

    if not storage.startswith("sqlite:///"):
        return True
    con = sqlite3.connect(storage.removeprefix("sqlite:///"))
    try:
        return bool(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        con.close()


def kill_loop(data: str, storage: str, run_id: str, *, target: int, kills: int,
              seed: int = 0, sleep: float = 0.3, window: tuple[float, float] = (1.0, 6.0),
              extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """SIGKILL a run at random moments ``kills`` times, resuming it each time, then let it
    finish; check the invariants after every kill.

    Returns the figures: kills done, trials lost (complete before a kill, not after), SQLite
    integrity failures, duplicate numbers seen, and the final :func:`study_figures`.
    """
    import random
    import signal
    import subprocess

    rng = random.Random(seed)
    complete: set[int] = set()
    lost = integrity_failures = duplicates = done_kills = 0
    timeline = []
    started = False
    while done_kills < kills:
        mode = "resume" if started else "fit"
        proc = subprocess.Popen(child_command(data, storage, run_id, "--mode", mode,
                                              "--max-trials", str(target), "--sleep",
                                              str(sleep), *extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait = rng.uniform(*window)
        try:
            proc.wait(timeout=wait)
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"child failed ({proc.returncode}): {err[-2000:]}")
            break  # finished before the kill
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            done_kills += 1
        integrity_failures += not sqlite_ok(storage)
        try:
            fig = study_figures(storage, run_id)
        except KeyError:
            continue  # killed before the run was created
        if fig["spec_stored"]:
            started = True  # else killed while creating it: the next "fit" replaces it
        now = _complete_numbers(storage, run_id)
        lost += len(complete - now)
        duplicates += fig["duplicate_numbers"]
        complete = now
        timeline.append({"after_s": round(wait, 2), "complete": len(now),
                         "running": fig["running"]})
    last = subprocess.run(child_command(data, storage, run_id, "--mode",
                                        "resume" if started else "fit", "--max-trials",
                                        str(target), "--sleep", str(sleep), *extra),
                          capture_output=True, text=True)
    if last.returncode != 0:
        raise RuntimeError(f"final child failed ({last.returncode}): {last.stderr[-2000:]}")
    final = study_figures(storage, run_id)
    lost += len(complete - _complete_numbers(storage, run_id))
    return {"kills": done_kills, "lost": lost, "integrity_failures": integrity_failures,
            "duplicate_numbers": duplicates + final["duplicate_numbers"], "final": final,
            "timeline": timeline}


def _complete_numbers(storage: str, run_id: str) -> set[int]:
    import optuna

    study = optuna.load_study(study_name=run_id, storage=storage)
    return {t.number for t in study.get_trials(deepcopy=False,
                                                 states=(optuna.trial.TrialState.COMPLETE,))}


if __name__ == "__main__":
    sys.exit(main())
