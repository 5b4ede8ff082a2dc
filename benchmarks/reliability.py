"""Reliability figures of issue 7: crashes, signals, workers, throughput, long runs.

Parts (``--part``; several may be given, default all):

* ``kill``: SIGKILL a run (SQLite) at random moments 20 times, resuming each time: completed
  trials lost, duplicate trial numbers, SQLite integrity failures, final complete count
  against the target, trials left RUNNING.
* ``signals``: SIGINT and SIGTERM during ``fit`` (5 each): exit code, ``status`` of the saved
  result, RUNNING trials left, and whether ``resume=True`` then completes the target.
* ``workers``: 4 workers x 50 trials on PostgreSQL: trials, unique numbers, RUNNING left;
  then 4 workers with one SIGKILLed mid-trial: the lost trial's retry, nothing else lost.
* ``throughput``: complete trials per minute of 1 worker and of 2 workers (2 cores) on
  CPU-bound families (random_forest, extra_trees; about 1 s per trial), on PostgreSQL.
* ``memory``: RSS of a run of 2,000 cheap trials (SQLite), sampled every 0.2 s from outside;
  RSS after 200, 500, 1000, 1500, 2000 trials and the growth after the first 200.

The PostgreSQL parts need ``AUTOML_BRIDGE_TEST_PG_URL`` (``eval "$(bash
scripts/postgres.sh start)"``). Results: ``benchmarks/results/reliability.json``; the time
budget figure (30 runs at 10, 30 and 60 s) is ``budget.py --budgets 10 30 60 --per-budget
10``.

Run::

    eval "$(bash scripts/postgres.sh start)"
    .venv/bin/python benchmarks/reliability.py --out benchmarks/results/reliability.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import log, new_document, now_iso, write_json

from automl_bridge.testing.fit_child import (
    child_command,
    kill_loop,
    running_trial_of,
    sqlite_ok,
    study_figures,
    wait_for_complete,
)

PARTS = ("kill", "signals", "workers", "throughput", "memory")


def _data(folder: Path) -> str:
    from sklearn.datasets import load_breast_cancer

    path = folder / "train.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return str(path)


def part_kill(folder: Path, data: str, kills: int) -> dict[str, Any]:
    """20 SIGKILLs at random moments, each followed by a resume."""
    storage = f"sqlite:///{folder / 'kill.db'}"
    t0 = time.monotonic()
    fig = kill_loop(data, storage, "kill", target=60, kills=kills, seed=7, sleep=0.3,
                    window=(2.0, 6.0))
    wall = time.monotonic() - t0
    final = fig["final"]
    out = {"kills": fig["kills"], "completed_lost": fig["lost"],
           "duplicate_numbers": fig["duplicate_numbers"],
           "integrity_failures": fig["integrity_failures"], "target": 60,
           "final_complete": final["complete"], "final_counted": final["counted"],
           "running_left": final["running"], "waiting_left": final["waiting"],
           "params_completed_twice": final["params_completed_twice"],
           "void_trials": len(final["void"]), "retries": final["retried"],
           "wall_s": round(wall, 1)}
    log(f"kill: {out}")
    return out


def part_signals(folder: Path, data: str, repeats: int) -> dict[str, Any]:
    """SIGINT / SIGTERM during fit, then resume."""
    rows = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        for i in range(repeats):
            storage = f"sqlite:///{folder / f'sig-{sig.name}-{i}.db'}"
            run_dir = folder / f"runs-{sig.name}-{i}"
            args = ("--max-trials", "12", "--sleep", "0.3", "--run-dir", str(run_dir))
            proc = subprocess.Popen(child_command(data, storage, "s", "--mode", "fit", *args),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for_complete(storage, "s", 1 + i % 4)
            proc.send_signal(sig)
            proc.communicate(timeout=60)
            saved = json.loads((run_dir / "s" / "result.json").read_text())
            fig = study_figures(storage, "s")
            resumed = subprocess.run(child_command(data, storage, "s", "--mode", "resume",
                                                   *args), capture_output=True, text=True)
            final = study_figures(storage, "s")
            row = {"signal": sig.name, "exit": proc.returncode, "status": saved["status"],
                   "running_left": fig["running"], "integrity_ok": sqlite_ok(storage),
                   "complete_at_signal": fig["complete"], "resume_exit": resumed.returncode,
                   "final_complete": final["complete"], "final_running": final["running"]}
            rows.append(row)
            log(f"signals: {row}")
    ok = [r for r in rows if r["status"] == "interrupted" and r["running_left"] == 0
          and r["final_complete"] == 12 and r["resume_exit"] == 0 and r["integrity_ok"]]
    return {"runs": rows, "runs_ok": len(ok), "runs_total": len(rows)}


def _workers(data: str, url: str, run_id: str, n: int, *args: str) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen(child_command(data, url, run_id, "--mode", "work", *args),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(n)]


def _outcomes(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(stderr[-2000:])
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def part_workers(data: str, url: str) -> dict[str, Any]:
    """4 x 50 on PostgreSQL; then 4 workers, one SIGKILLed mid-trial."""
    run_id = f"b4x50-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    outcomes = _outcomes(_workers(data, url, run_id, 4, "--max-trials", "200"))
    fig = study_figures(url, run_id)
    plain = {"trials": fig["trials"], "complete": fig["complete"],
             "unique_numbers": fig["trials"] - fig["duplicate_numbers"],
             "running_left": fig["running"], "per_worker": [o["trials_here"] for o in outcomes],
             "finalizers": sum(o["finalized_here"] for o in outcomes),
             "params_completed_twice": fig["params_completed_twice"],
             "wall_s": round(time.monotonic() - t0, 1)}
    log(f"workers 4x50: {plain}")
    run_id = f"bkill-{uuid.uuid4().hex[:6]}"
    common = ("--max-trials", "200", "--heartbeat", "1")
    victim = subprocess.Popen(child_command(data, url, run_id, "--mode", "work", *common,
                                            "--sleep", "4"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    others = _workers(data, url, run_id, 3, *common, "--sleep", "0.05")
    number = running_trial_of(url, run_id, victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    outcomes = _outcomes(others)
    fig = study_figures(url, run_id)
    killed = {"killed_trial": number, "void": fig["void"], "retried": fig["retried"],
              "complete": fig["complete"], "counted": fig["counted"], "trials": fig["trials"],
              "running_left": fig["running"], "waiting_left": fig["waiting"],
              "unique_numbers": fig["trials"] - fig["duplicate_numbers"],
              "params_completed_twice": fig["params_completed_twice"],
              "finalizers": sum(o["finalized_here"] for o in outcomes)}
    log(f"workers kill one: {killed}")
    return {"four_by_fifty": plain, "one_killed": killed}


def part_throughput(data: str, url: str, trials: int, repeats: int,
                    search: str = "grid") -> dict[str, Any]:
    """Trials per minute with 1 and 2 workers (alternating, ``repeats`` times each).

    ``grid`` (default) gives both the same work: the grid sampler hands out the same
    configurations by trial number, whichever worker asks, so 1 and 2 workers evaluate the
    same ``trials`` configurations. Random or TPE draws differ per worker (their samplers are
    seeded per process), and so does the cost of what they draw.
    """
    import optuna

    rows = []
    for rep in range(repeats):
        for n in (1, 2):
            run_id = f"bthr{n}-{uuid.uuid4().hex[:6]}"
            _outcomes(_workers(data, url, run_id, n, "--max-trials", str(trials), "--models",
                               "random_forest", "extra_trees", "--isolation", "inline",
                               "--search", search, "--search-options",
                               '{"allow_truncation": true}' if search == "grid" else "{}"))
            study = optuna.load_study(study_name=run_id, storage=url)
            done = [t for t in study.trials if t.state.name == "COMPLETE"]
            first = min(t.datetime_start for t in done)
            last = max(t.datetime_complete for t in done)
            minutes = (last - first).total_seconds() / 60
            mean_fit = sum((t.datetime_complete - t.datetime_start).total_seconds()
                           for t in done) / len(done)
            configs = sorted(json.dumps(t.params, sort_keys=True) for t in done)
            row = {"workers": n, "repeat": rep, "complete": len(done), "search": search,
                   "configs_sha": _sha(configs),
                   "minutes": round(minutes, 3),
                   "trials_per_minute": round(len(done) / minutes, 2),
                   "mean_trial_s": round(mean_fit, 3)}
            rows.append(row)
            log(f"throughput: {row}")
    by = {n: sorted(r["trials_per_minute"] for r in rows if r["workers"] == n) for n in (1, 2)}
    med = {n: v[len(v) // 2] for n, v in by.items()}
    same = len({r["configs_sha"] for r in rows}) == 1
    return {"runs": rows, "median_trials_per_minute": med, "same_configurations": same,
            "speedup_2_over_1": round(med[2] / med[1], 3)}


def _sha(items: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:12]


def part_memory(folder: Path, data: str, trials: int) -> dict[str, Any]:
    """RSS (run process + its children) during a run of ``trials`` cheap trials."""
    import psutil

    storage = f"sqlite:///{folder / 'memory.db'}"
    proc = subprocess.Popen(child_command(data, storage, "mem", "--mode", "fit", "--max-trials",
                                          str(trials), "--isolation", "inline"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    marks = [200, 500, 1000, 1500, trials]
    at: dict[int, float] = {}
    last_check = 0.0
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
        except psutil.Error:
            break
        samples.append((time.monotonic() - t0, rss / 2**20))
        if time.monotonic() - last_check > 2.0:
            last_check = time.monotonic()
            try:
                n = study_figures(storage, "mem")["complete"]
            except Exception:
                n = 0
            for m in marks:
                if n >= m and m not in at:
                    at[m] = samples[-1][1]
        time.sleep(0.2)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err[-2000:])
    fig = study_figures(storage, "mem")
    peak = max(s[1] for s in samples)
    base = at.get(200)
    out = {"trials": fig["complete"], "wall_s": round(time.monotonic() - t0, 1),
           "rss_mb_at": {str(k): round(v, 1) for k, v in sorted(at.items())},
           "peak_rss_mb": round(peak, 1),
           "growth_after_200_mb": round(peak - base, 1) if base is not None else None,
           "growth_per_1000_trials_mb": round((peak - base) / (fig["complete"] - 200) * 1000, 2)
           if base is not None else None}
    log(f"memory: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the parts asked for; write the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--signal-repeats", type=int, default=5)
    p.add_argument("--throughput-trials", type=int, default=40)
    p.add_argument("--throughput-repeats", type=int, default=3)
    p.add_argument("--throughput-search", default="grid")
    p.add_argument("--memory-trials", type=int, default=2000)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/reliability.json"))
    args = p.parse_args(argv)
    url = os.environ.get("AUTOML_BRIDGE_TEST_PG_URL")
    if {"workers", "throughput"} & set(args.part) and not url:
        p.error("the workers and throughput parts need AUTOML_BRIDGE_TEST_PG_URL "
                "(eval \"$(bash scripts/postgres.sh start)\")")
    doc = json.loads(args.out.read_text()) if args.out.exists() else new_document(
        "reliability", quick=False, config={})
    doc.setdefault("parts", {})
    with tempfile.TemporaryDirectory(prefix="automl-bridge-rel-") as tmp:
        folder = Path(tmp)
        data = _data(folder)
        for part in args.part:
            log(f"part {part}")
            if part == "kill":
                doc["parts"]["kill"] = part_kill(folder, data, args.kills)
            elif part == "signals":
                doc["parts"]["signals"] = part_signals(folder, data, args.signal_repeats)
            elif part == "workers":
                doc["parts"]["workers"] = part_workers(data, str(url))
            elif part == "throughput":
                doc["parts"]["throughput"] = part_throughput(
                    data, str(url), args.throughput_trials, args.throughput_repeats,
                    args.throughput_search)
            elif part == "memory":
                doc["parts"]["memory"] = part_memory(folder, data, args.memory_trials)
            doc["parts"][part]["measured_at"] = now_iso()
            write_json(args.out, doc)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
