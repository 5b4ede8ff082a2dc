"""Crashes and signals on a run of one process (SQLite): nothing committed is lost, the trial
budget stays exact, and an interrupted run resumes to the end.

The runs are real child processes (``automl_bridge.testing.fit_child``) killed with real
signals. CI runs a short kill loop; ``benchmarks/reliability.py --part kill`` runs the full
20 kills. Each test prints its figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from automl_bridge.testing.fit_child import (
    child_command,
    kill_loop,
    sqlite_ok,
    study_figures,
    wait_for_complete,
)


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_breast_cancer

    path = tmp_path_factory.mktemp("data") / "train.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


def test_sigkill_loop_loses_nothing_and_ends_exactly_at_the_target(train_csv: Path,
                                                                   tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    figures = kill_loop(str(train_csv), storage, "kills", target=16, kills=4, seed=1,
                        sleep=0.3, window=(2.5, 5.0))
    final = figures["final"]
    print(f"\nSIGKILL x{figures['kills']} + resume: completed trials lost {figures['lost']}, "
          f"duplicate numbers {figures['duplicate_numbers']}, integrity failures "
          f"{figures['integrity_failures']}, final complete {final['complete']}/16, running "
          f"{final['running']}, void {final['void']} retried {final['retried']}")
    assert figures["kills"] == 4
    assert figures["lost"] == 0 and figures["duplicate_numbers"] == 0
    assert figures["integrity_failures"] == 0
    assert final["complete"] == 16 and final["counted"] == 16  # exactly the target
    assert final["running"] == 0 and final["waiting"] == 0
    assert final["params_completed_twice"] == 0
    assert final["status"] == "completed"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_fit_interrupts_cleanly_and_resume_finishes(
        sig: signal.Signals, train_csv: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    run_dir = tmp_path / "runs"
    args = ("--max-trials", "10", "--sleep", "0.4", "--run-dir", str(run_dir))
    proc = subprocess.Popen(child_command(str(train_csv), storage, "sig", "--mode", "fit",
                                          *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_complete(storage, "sig", 2, timeout=90)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    expected = 143 if sig == signal.SIGTERM else 130
    assert proc.returncode == expected, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["status"] == "interrupted"
    saved = json.loads((run_dir / "sig" / "result.json").read_text())
    assert saved["status"] == "interrupted"
    assert any(f"interrupted ({sig.name})" in w for w in saved["warnings"])
    fig = study_figures(storage, "sig")
    assert sqlite_ok(storage)
    assert fig["running"] == 0 and fig["status"] == "interrupted"
    assert 2 <= fig["complete"] < 10
    resumed = subprocess.run(child_command(str(train_csv), storage, "sig", "--mode", "resume",
                                           *args), capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["status"] == "completed"
    final = study_figures(storage, "sig")
    print(f"\n{sig.name} during fit: exit {proc.returncode}, status interrupted, "
          f"running left 0; after resume {final['complete']}/10 complete, "
          f"counted {final['counted']}")
    assert final["complete"] == 10 and final["counted"] == 10
    assert final["running"] == 0 and final["status"] == "completed"


def test_second_live_process_on_sqlite_is_refused(train_csv: Path, tmp_path: Path) -> None:
    from automl_bridge import AutoMLJob
    from automl_bridge.exceptions import ConfigError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    proc = subprocess.Popen(child_command(str(train_csv), storage, "busy", "--mode", "fit",
                                          "--max-trials", "40", "--sleep", "0.5"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_complete(storage, "busy", 1, timeout=90)
        job = AutoMLJob(task="classification", target="target", max_trials=40,
                        time_budget_s=None, models=["linear"], search="random", seed=0
                        ).with_backend("local", storage=storage, run_id="busy", run_dir=None)
        with pytest.raises(ConfigError, match=f"another process \\(pid {proc.pid}\\).*"
                                              "PostgreSQL"):
            job.fit(str(train_csv), resume=True)
    finally:
        proc.kill()
        proc.communicate()
