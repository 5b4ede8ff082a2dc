"""Resume: an interrupted run continues without losing or over-running trials."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from automl_bridge import AutoMLJob
from automl_bridge.exceptions import ResumeMismatchError, RunExistsError
from automl_bridge.results import CandidateState


def _complete_numbers(db) -> set[int]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT number FROM trials WHERE state = 'COMPLETE'").fetchall()
    except sqlite3.OperationalError:
        return set()
    finally:
        con.close()
    return {r[0] for r in rows}


def test_resume_after_kill_9(tmp_path, binary_df) -> None:
    data = tmp_path / "train.csv"
    binary_df.to_csv(data, index=False)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    spec = dict(target="label", task="classification", max_trials=10, time_budget_s=None,
                models=["linear", "knn"], seed=5)
    child = textwrap.dedent(f"""
        import time
        from automl_bridge import AutoMLJob
        from automl_bridge.backends.local import LocalBackend
        import automl_bridge.engine.evaluate as ev
        real = ev.evaluate
        def slow(*a, **k):
            time.sleep(0.4)
            return real(*a, **k)
        ev.evaluate = slow
        import automl_bridge.engine.workers as w
        w.evaluate = slow
        job = AutoMLJob(**{spec!r}).with_backend(
            "local", storage={storage!r}, run_dir={str(tmp_path / 'runs')!r})
        job.fit({str(data)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child])
    deadline = time.monotonic() + 60
    while len(_complete_numbers(tmp_path / "study.db")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _complete_numbers(tmp_path / "study.db")
    assert 4 <= len(before) < 10

    job = AutoMLJob(**spec).with_backend("local", storage=storage,
                                         run_dir=str(tmp_path / "runs"))
    result = job.fit(str(data), resume=True)
    finished = [c for c in result.candidates
                if c.state in (CandidateState.COMPLETE, CandidateState.FAILED)]
    assert len(finished) == 10  # exactly max_trials, no more
    assert before <= {int(c.candidate_id) for c in result.candidates
                      if c.state is CandidateState.COMPLETE}
    assert result.best is not None and result.best.model is not None

    # a finished run is not resumed again: a second resume starts nothing new
    again = AutoMLJob(**spec).with_backend("local", storage=storage, run_dir=str(tmp_path / "r2"))
    second = again.fit(str(data), resume=True)
    assert second.run_id != result.run_id
    assert any("found no unfinished run" in w for w in second.warnings)


def test_resume_with_changed_spec_shows_difference(tmp_path, binary_df) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    base = dict(target="label", task="classification", time_budget_s=None, models=["linear"])
    job = AutoMLJob(max_trials=2, **base).with_backend("local", storage=storage,
                                                       run_id="r1", run_dir=None)
    job.fit(binary_df)
    # mark it unfinished, as a crash would leave it
    import optuna

    optuna.load_study(study_name="r1", storage=storage).set_user_attr(
        "automl_bridge:status", "running")
    changed = AutoMLJob(max_trials=5, **base).with_backend("local", storage=storage,
                                                           run_dir=None)
    with pytest.raises(ResumeMismatchError) as info:
        changed.fit(binary_df, resume=True)
    assert "max_trials: 2 != 5" in str(info.value)
    other_data = binary_df.iloc[:-10]
    same = AutoMLJob(max_trials=2, **base).with_backend("local", storage=storage, run_dir=None)
    with pytest.raises(ResumeMismatchError, match="different data"):
        same.fit(other_data, resume=True)


def test_existing_run_id_needs_resume(tmp_path, binary_df) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    job = AutoMLJob(target="label", max_trials=1, time_budget_s=None,
                    models=["linear"]).with_backend("local", storage=storage, run_id="same",
                                                    run_dir=None)
    job.fit(binary_df)
    with pytest.raises(RunExistsError, match="resume=True"):
        job.fit(binary_df)


def test_resume_default_run_dir(tmp_path, binary_df) -> None:
    runs = tmp_path / "runs"
    spec = dict(target="label", max_trials=3, time_budget_s=None, models=["linear"])
    job = AutoMLJob(**spec).with_backend("local", run_dir=str(runs), run_id="20260101-a")
    job.fit(binary_df)
    import optuna

    optuna.load_study(study_name="20260101-a",
                      storage=f"sqlite:///{runs / '20260101-a' / 'study.db'}").set_user_attr(
        "automl_bridge:status", "running")
    resumed = AutoMLJob(**spec).with_backend("local", run_dir=str(runs)).fit(
        binary_df, resume=True)
    assert resumed.run_id == "20260101-a"
    assert len(resumed.candidates) == 3  # nothing left to run
