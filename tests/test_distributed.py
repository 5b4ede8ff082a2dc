"""Workers on one shared run (PostgreSQL): exact global budget, lost trials, one finalizer.

These need a PostgreSQL server: ``.ci/run`` starts one on loopback and sets
``AUTOML_BRIDGE_TEST_PG_URL`` (``bash scripts/postgres.sh start`` does it by hand); without it
they are skipped. Workers are real processes (``automl_bridge.testing.fit_child``); a killed
worker is killed with SIGKILL. Each test prints its figures (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from automl_bridge.testing.fit_child import running_trial_of, study_figures

PG_URL = os.environ.get("AUTOML_BRIDGE_TEST_PG_URL")
pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL, reason="needs AUTOML_BRIDGE_TEST_PG_URL "
                                 "(bash scripts/postgres.sh start)")]


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_breast_cancer

    path = tmp_path_factory.mktemp("data") / "train.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


def _child(train_csv: Path, run_id: str, *extra: str, run_dir: Path | None = None
           ) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "automl_bridge.testing.fit_child", "--data", str(train_csv),
           "--storage", str(PG_URL), "--run-id", run_id, *extra]
    if run_dir is not None:
        cmd += ["--run-dir", str(run_dir)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _outcome(proc: subprocess.Popen[str], timeout: float = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_four_workers_share_an_exact_budget(train_csv: Path, tmp_path: Path) -> None:
    run_id = f"t4x50-{uuid.uuid4().hex[:8]}"
    procs = [_child(train_csv, run_id, "--mode", "work", "--max-trials", "200",
                    run_dir=tmp_path / f"w{i}") for i in range(4)]
    outcomes = [_outcome(p) for p in procs]
    fig = study_figures(str(PG_URL), run_id)
    print(f"\n4 workers x 50 trials: {fig['trials']} trials, {fig['complete']} complete, "
          f"duplicate numbers {fig['duplicate_numbers']}, running {fig['running']}, "
          f"per worker {[o['trials_here'] for o in outcomes]}")
    assert fig["trials"] == 200 and fig["complete"] == 200
    assert fig["duplicate_numbers"] == 0 and fig["params_completed_twice"] == 0
    assert fig["running"] == 0 and fig["waiting"] == 0 and fig["void"] == []
    assert sum(o["trials_here"] for o in outcomes) == 200
    assert all(o["status"] == "completed" for o in outcomes)
    final = [o for o in outcomes if o["finalized_here"]]
    assert len(final) == 1  # exactly one worker refit and wrote the model
    assert Path(final[0]["model_path"]).exists()
    written = [p for p in tmp_path.glob("w*/*/model.skops")]
    assert len(written) == 1
    assert fig["status"] == "completed" and fig["final"]["best"] is not None


def test_killed_worker_loses_only_its_trial_which_is_retried_once(train_csv: Path,
                                                                   tmp_path: Path) -> None:
    run_id = f"tkill-{uuid.uuid4().hex[:8]}"
    common = ("--mode", "work", "--max-trials", "24", "--heartbeat", "0.5")
    victim = _child(train_csv, run_id, *common, "--sleep", "5")  # long trials: killed in one
    others = [_child(train_csv, run_id, *common, "--sleep", "0.3") for _ in range(2)]
    running_trial_of(str(PG_URL), run_id, others[0].pid)
    number = running_trial_of(str(PG_URL), run_id, victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    outcomes = [_outcome(p) for p in others]
    fig = study_figures(str(PG_URL), run_id)
    print(f"\nkill 1 of 3 workers: trial {number} lost -> void {fig['void']}, retried "
          f"{fig['retried']}; {fig['complete']} complete of 24, running {fig['running']}")
    assert fig["void"] == [number]  # the killed worker lost exactly its running trial
    assert fig["retried"] == {number: "COMPLETE"}  # retried once, completed
    assert fig["complete"] == 24 and fig["counted"] == 24  # nothing lost, budget exact
    assert fig["running"] == 0 and fig["waiting"] == 0
    assert fig["duplicate_numbers"] == 0 and fig["params_completed_twice"] == 0
    assert sum(o["finalized_here"] for o in outcomes) == 1


def test_silent_trial_of_another_host_is_lost_after_its_grace_period(train_csv: Path) -> None:
    """A trial whose owner is on another host is lost once its heartbeat is older than the
    grace period (4 heartbeats), measured by the database's clock."""
    import optuna

    from automl_bridge import AutoMLJob
    from automl_bridge.engine.coordination import OWNER_ATTR, VOID_ATTR

    run_id = f"tstale-{uuid.uuid4().hex[:8]}"
    job = AutoMLJob(task="classification", target="target", max_trials=3, time_budget_s=None,
                    models=["linear"], seed=0).with_backend(
        "local", storage=PG_URL, run_id=run_id, run_dir=None, heartbeat_s=0.25)
    first = job.work(str(train_csv))  # creates the run and completes it: 3 trials
    assert len(first.candidates) == 3
    study = optuna.load_study(study_name=run_id, storage=PG_URL)
    study.set_user_attr("automl_bridge:status", "running")
    trial = study.ask({"linear.C": optuna.distributions.FloatDistribution(1e-3, 10.0, log=True)})
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR,
                                  {"host": "elsewhere", "pid": 1, "start": "0"})
    storage.record_heartbeat(trial._trial_id)
    time.sleep(1.3)  # > 4 x 0.25 s without a heartbeat
    bigger = AutoMLJob(task="classification", target="target", max_trials=3,
                       time_budget_s=None, models=["linear"], seed=0).with_backend(
        "local", storage=PG_URL, run_id=run_id, run_dir=None, heartbeat_s=0.25)
    again = bigger.work(str(train_csv))
    assert any(f"Trial {trial.number} was lost with elsewhere:1" in w for w in again.warnings)
    lost = optuna.load_study(study_name=run_id, storage=PG_URL).trials[trial.number]
    assert lost.state.name == "FAIL" and lost.user_attrs[VOID_ATTR] is True


def test_sqlite_and_memory_refuse_workers(tmp_path: Path, train_csv: Path) -> None:
    from automl_bridge import AutoMLJob
    from automl_bridge.exceptions import ConfigError

    job = AutoMLJob(task="classification", target="target", max_trials=2, time_budget_s=None,
                    models=["linear"])
    for storage in (f"sqlite:///{tmp_path / 's.db'}", "memory"):
        with pytest.raises(ConfigError, match="PostgreSQL"):
            job.with_backend("local", storage=storage, run_dir=None).work(str(train_csv))
    with pytest.raises(ConfigError, match="PostgreSQL URL"):
        job.with_backend("local", run_dir=None).work(str(train_csv))


def test_time_budget_is_shared_by_workers(train_csv: Path, tmp_path: Path) -> None:
    run_id = f"ttime-{uuid.uuid4().hex[:8]}"
    procs = [_child(train_csv, run_id, "--mode", "work", "--budget", "15", "--sleep", "0.2",
                    run_dir=tmp_path / f"w{i}") for i in range(2)]
    time.sleep(4)
    late = _child(train_csv, run_id, "--mode", "work", "--budget", "15", "--sleep", "0.2",
                  run_dir=tmp_path / "late")
    outcomes = [_outcome(p) for p in [*procs, late]]
    fig = study_figures(str(PG_URL), run_id)
    import datetime as dt

    import optuna

    from automl_bridge.backends.local import allowed_overrun

    study = optuna.load_study(study_name=run_id, storage=PG_URL)
    deadline = dt.datetime.fromisoformat(study.user_attrs["automl_bridge:deadline"])
    created = dt.datetime.fromisoformat(study.user_attrs["automl_bridge:created_at"])
    final_at = dt.datetime.fromisoformat(fig["final"]["at"])
    last = max(t.datetime_complete for t in study.trials if t.datetime_complete is not None)
    last = last.astimezone(dt.timezone.utc)
    print(f"\nshared 15 s budget, 3 workers (one joined 4 s late): deadline "
          f"{(deadline - created).total_seconds():.1f} s after the run was created; last "
          f"trial {(last - deadline).total_seconds():+.2f} s and the final model "
          f"{(final_at - deadline).total_seconds():+.2f} s from it; {fig['complete']} trials")
    assert (deadline - created).total_seconds() <= 15.0
    margin = dt.timedelta(seconds=allowed_overrun(15.0))  # the documented overrun: 2 s
    assert last <= deadline + margin  # no worker ran a trial past the run's deadline...
    # ...and the final model came soon after (the refit and the write fit the margin on a
    # quiet machine, docs/benchmarks.md section 4; a loaded CI machine may add seconds)
    assert final_at <= deadline + margin + dt.timedelta(seconds=4)
    assert sum(o["finalized_here"] for o in outcomes) == 1
    assert [o["status"] for o in outcomes] == ["completed"] * 3
    assert fig["running"] == 0 and fig["complete"] > 0


def test_cli_worker(train_csv: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "job.yaml"
    cfg.write_text(f"job:\n  task: classification\n  target: target\n  max_trials: 6\n"
                   f"  time_budget_s: null\n  models: [linear]\n"
                   f"data:\n  train: {train_csv}\nbackends:\n  local:\n    run_dir: "
                   f"{tmp_path / 'runs'}\n")
    run_id = f"tcli-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AUTOML_BRIDGE_STORAGE": str(PG_URL)}
    out = subprocess.run([sys.executable, "-m", "automl_bridge", "worker", str(cfg),
                          "--run-id", run_id, "-q"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"Run {run_id}: completed; 6 trials in all, 6 run by this worker" in out.stdout
    assert "final model written here" in out.stdout
    assert (tmp_path / "runs" / run_id / "model.skops").exists()
    password = str(PG_URL).split(":")[2].split("@")[0]
    assert password not in out.stdout + out.stderr
    # a second worker after the end: nothing left; it reports the run and who wrote the model
    again = subprocess.run([sys.executable, "-m", "automl_bridge", "worker", str(cfg),
                            "--run-id", run_id, "-q"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "0 run by this worker" in again.stdout and "written by" in again.stdout


def test_workers_example(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "workers.py"
    env = {**os.environ, "AUTOML_BRIDGE_STORAGE": str(PG_URL)}
    out = subprocess.run([sys.executable, str(example), "--quick", "--workers", "2",
                          "--run-dir", str(tmp_path / "runs")], capture_output=True, text=True,
                         env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all("completed; 12 trials in all" in ln for ln in lines)
    assert sum("final model written here" in ln for ln in lines) == 1


def test_workers_started_together_on_a_fresh_database() -> None:
    """8 processes open the storage at the same instant on a database without Optuna's
    tables: all succeed (without the schema lock, 3 of 8 failed with IntegrityError)."""
    import sqlalchemy as sa

    schema = f"fresh_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(str(PG_URL))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        go = time.time() + 4  # past every interpreter's start-up
        code = (f"import time\nfrom automl_bridge.engine.study import open_storage\n"
                f"time.sleep(max(0.0, {go} - time.time()))\nopen_storage({url!r})\n")
        procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE,
                                  text=True) for _ in range(8)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        failed = [e.strip().splitlines()[-1] for p, e in zip(procs, errors, strict=True)
                  if p.returncode != 0]
        print(f"\n8 workers opening a fresh database together: {8 - len(failed)} of 8 ok")
        assert failed == []
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
