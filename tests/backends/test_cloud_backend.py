"""The cloud layer every adapter shares: submit, poll, interrupt, deadline, results, cleanup."""

from __future__ import annotations

import os
import random
import signal
import threading

import numpy as np
import pandas as pd
import pytest

from automl_bridge import AutoMLJob
from automl_bridge.backends.cloud.naming import job_name, labels_for
from automl_bridge.backends.cloud.redact import redact
from automl_bridge.exceptions import (
    ConfigError,
    RemoteJobFailedError,
    RunError,
    UnsupportedSpecError,
)
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec
from automl_bridge.testing.cloud import ScriptedAdapter, ScriptedBackend


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    return pd.DataFrame({"x": x, "z": rng.normal(size=60), "y": (x > 0).astype(int)})


SPEC = JobSpec(target="y", task="classification", metric="accuracy", time_budget_s=600)


def _backend(adapter: ScriptedAdapter, tmp_path, **options) -> ScriptedBackend:
    return ScriptedBackend(adapter=adapter, sleep=lambda s: None, work_dir=str(tmp_path),
                           **options)


def test_a_run_gives_the_same_result_object_as_the_local_engine(frame, tmp_path) -> None:
    adapter = ScriptedAdapter(script=("pending", "running", "running", "completed"))
    result = _backend(adapter, tmp_path, run_id="r-1").run(SPEC, frame)
    assert result.status is RunStatus.COMPLETED and result.backend == "scripted"
    assert result.run_id == "r-1" and result.metric == "accuracy"
    assert result.direction == "maximize" and result.task == "classification"
    assert [c.candidate_id for c in result.candidates] == ["c0", "c1"]
    assert result.best.candidate_id == "c1" and result.best.model is not None
    assert result.extra["model_uri"].startswith("mem://") and result.extra["cost"]["usd"] > 0
    assert result.extra["raw_state"] == "completed"
    assert result.data_fingerprint["rows"] == 60
    assert len(adapter.created) == 1 and adapter.calls["status"] == 4
    # the CSV sent to the service holds what the user gave
    sent = pd.read_csv(tmp_path / "r-1-train.csv")
    assert list(sent.columns) == ["x", "z", "y"] and len(sent) == 60
    # the best model predicts through the service
    assert list(result.best.model.predict(frame.drop(columns="y"))) == [1] * 60
    # and the result round-trips like any other
    assert result.leaderboard()["candidate_id"].tolist() == ["c1", "c0"]


def test_the_same_run_id_and_data_attach_to_one_job(frame, tmp_path) -> None:
    adapter = ScriptedAdapter()
    backend = _backend(adapter, tmp_path, run_id="same")
    backend.submit(SPEC, frame)
    backend.submit(SPEC, frame)
    assert len(adapter.created) == 1


def test_a_failed_job_raises_with_the_services_reason_redacted(frame, tmp_path) -> None:
    adapter = ScriptedAdapter(script=("running", "failed"),
                              failure_reason="ClientError: bad data at https://b/k?X-Amz-"
                                             "Signature=abc123 AKIAABCDEFGHIJKLMNOP")
    with pytest.raises(RemoteJobFailedError) as info:
        _backend(adapter, tmp_path).run(SPEC, frame)
    assert "bad data" in info.value.reason
    assert "abc123" not in str(info.value) and "ABCDEFGHIJKLMNOP" not in str(info.value)
    assert adapter.stop_requests == []  # a failed job is not "stopped" again


def test_unsupported_fields_are_refused_or_recorded(frame, tmp_path) -> None:
    spec = JobSpec(target="y", task="classification", time_budget_s=60, search="tpe")
    adapter = ScriptedAdapter()
    with pytest.raises(UnsupportedSpecError, match="search='tpe'"):
        _backend(adapter, tmp_path).run(spec, frame)
    assert adapter.created == []  # refused before any upload or job
    result = _backend(ScriptedAdapter(), tmp_path, strict=False).run(spec, frame)
    assert any("search='tpe' was ignored" in w for w in result.warnings)


def test_the_deadline_stops_the_job(frame, tmp_path) -> None:
    adapter = ScriptedAdapter(script=("running",))
    clock = iter(range(0, 10_000, 100))
    backend = ScriptedBackend(adapter=adapter, sleep=lambda s: None,
                              clock=lambda: float(next(clock)), deadline_s=1000,
                              work_dir=str(tmp_path))
    with pytest.raises(RunError, match="client-side deadline of 1000 s; it was asked to stop"):
        backend.run(SPEC, frame)
    assert adapter.stop_requests == adapter.created


def test_polling_backs_off_to_the_maximum(frame, tmp_path) -> None:
    waits: list[float] = []
    adapter = ScriptedAdapter(script=("running",) * 8 + ("completed",))
    ScriptedBackend(adapter=adapter, sleep=waits.append, poll_initial_s=10, poll_max_s=60,
                    work_dir=str(tmp_path)).run(SPEC, frame)
    assert waits == [10, 20, 40, 60, 60, 60, 60, 60]


def test_bad_options_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="has no option"):
        ScriptedBackend(adapter=ScriptedAdapter(), regoin="x")
    with pytest.raises(ConfigError, match=r"'poll_initial_s'.*positive"):
        ScriptedBackend(adapter=ScriptedAdapter(), poll_initial_s=0)


def test_cleanup_stops_only_our_running_jobs(frame, tmp_path) -> None:
    adapter = ScriptedAdapter(script=("running",))
    backend = _backend(adapter, tmp_path)
    for rid in ("a", "b"):
        backend.run_id = rid
        backend.submit(SPEC, frame)
    assert [j.job_id for j in backend.cleanup(dry_run=True)] == adapter.created
    assert adapter.stop_requests == []
    stopped = backend.cleanup()
    assert sorted(j.job_id for j in stopped) == sorted(adapter.created)
    assert sorted(adapter.stop_requests) == sorted(adapter.created)


def test_job_fit_goes_through_run_and_keeps_the_result(frame, tmp_path) -> None:
    adapter = ScriptedAdapter()
    job = AutoMLJob(SPEC)
    job._backend = _backend(adapter, tmp_path)  # an injected backend instance
    result = job.fit(frame)
    assert result.status is RunStatus.COMPLETED and job.last_result is result
    assert list(job.predict(frame.drop(columns="y"))) == [1] * 60  # through the service


# --- interrupts -----------------------------------------------------------------------------


INTERRUPT_POINTS = [(m, k, after) for m, ks in (
    ("validate", (1,)), ("stage", (1,)), ("submit", (1,)), ("status", (1, 2, 3, 4)))
    for k in ks for after in (False, True)]


def test_an_interrupt_at_100_random_points_never_orphans_a_job(frame, tmp_path) -> None:
    """Ctrl-C arriving before or after any SDK call of submit and poll, 100 seeded draws:
    every job that was created is asked to stop; none is left running unasked."""
    rng = random.Random(0)
    created = stopped = 0
    for i in range(100):
        method, k, after = rng.choice(INTERRUPT_POINTS)
        adapter = ScriptedAdapter(script=("pending",) + ("running",) * 6 + ("completed",),
                                  interrupt_at=(method, k), after=after)
        with pytest.raises(KeyboardInterrupt):
            _backend(adapter, tmp_path, run_id=f"r{i}").run(SPEC, frame)
        assert adapter.orphans() == [], (method, k, after)
        created += len(adapter.created)
        stopped += len(set(adapter.stop_requests))
    print(f"\n100 interrupted runs: {created} jobs created, {stopped} stopped, 0 orphaned")
    assert created == stopped and created > 30


def test_sigterm_while_polling_stops_the_job(frame, tmp_path) -> None:
    adapter = ScriptedAdapter(script=("running",))
    sent = []

    def sleep(_: float) -> None:
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGTERM)

    backend = ScriptedBackend(adapter=adapter, sleep=sleep, work_dir=str(tmp_path))
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(KeyboardInterrupt) as info:
        backend.run(SPEC, frame)
    assert adapter.stop_requests == adapter.created
    assert any("asked to stop" in n for n in getattr(info.value, "__notes__", []))
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler was restored


# --- names and redaction --------------------------------------------------------------------


def test_job_names_are_deterministic_and_legal() -> None:
    name = job_name("20261127-101500-ab12cd", "9" * 64, max_len=32)
    assert name == job_name("20261127-101500-ab12cd", "9" * 64, max_len=32)
    assert len(name) <= 32 and name.startswith("ab-")
    assert job_name("a", "1" * 64) != job_name("a", "2" * 64)
    assert job_name("x" * 50, "1" * 64) != job_name("x" * 49 + "y", "1" * 64)
    assert labels_for("vertex", "RUN.01")["automl-bridge-run"] == "run-01"


@pytest.mark.parametrize("secret", [
    "AKIAABCDEFGHIJKLMNOP", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sig=Zm9vYmFy", "X-Amz-Signature=deadbeef", "eyJ0eXAiOiJKV1Qi.eyJzdWIiOiIx.c2ln",
])
def test_redaction_removes_secrets(secret) -> None:
    texts = [f"aws_secret_access_key={secret}", f"https://acct.blob.core.windows.net/c/f?sv=1&"
             f"{secret}", f"Authorization: Bearer {secret}", f"token: {secret}",
             f"key {secret}"]
    for text in texts:
        out = redact(text, secrets=[secret])
        assert secret not in out


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_cleanup_and_cancel(frame, tmp_path, monkeypatch, capsys) -> None:
    from automl_bridge import cli

    adapter = ScriptedAdapter(script=("running",))
    backend = _backend(adapter, tmp_path)
    for rid in ("a", "b"):
        backend.run_id = rid
        backend.submit(SPEC, frame)
    monkeypatch.setattr(cli, "_cloud_backend", lambda args: backend)
    config = str(tmp_path / "job.yaml")
    assert cli.main(["cleanup", config, "--dry-run"]) == 0
    assert "2 job(s) would stop" in capsys.readouterr().out and adapter.stop_requests == []
    assert cli.main(["cancel", config, "--job", adapter.created[0]]) == 0
    assert "it is now Stopping" in capsys.readouterr().out
    assert cli.main(["cleanup", config]) == 0
    out = capsys.readouterr().out
    assert "2 job(s) stopped" in out and sorted(set(adapter.stop_requests)) == \
        sorted(adapter.created)


def test_cli_refuses_cleanup_on_the_local_backend(tmp_path, capsys) -> None:
    from automl_bridge import cli

    config = tmp_path / "job.yaml"
    config.write_text("job: {target: y, task: classification}\nbackend: local\n")
    assert cli.main(["cleanup", str(config)]) != 0
    assert "acts on cloud jobs" in capsys.readouterr().err


def test_no_copy_of_the_data_is_left_behind(frame, tmp_path, monkeypatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    backend = ScriptedBackend(adapter=ScriptedAdapter(), sleep=lambda s: None)
    result = backend.run(SPEC, frame)
    assert list(result.best.model.predict(frame.drop(columns="y"))) == [1] * 60
    refused = JobSpec(target="y", task="classification", time_budget_s=60, search="tpe")
    with pytest.raises(UnsupportedSpecError):
        backend.run(refused, frame)
    assert backend.check(SPEC, frame) == []
    assert list(tmp_path.iterdir()) == []  # uploaded, then the CSV and its folder removed
