"""Tier 3 of the Vertex backend: scripted lifecycles through the real SDK and the shipped fake.

:class:`~automl_bridge.testing.fakes.vertex.FakeVertex` answers the REST transport and GCS over
HTTP; the backend runs exactly as in production (upload, dataset, pipeline, polls, evaluation,
batch prediction), with no sleeping.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("google.cloud.aiplatform")
pytest.importorskip("responses")

from automl_bridge.backends.vertex import VertexBackend
from automl_bridge.exceptions import RemoteJobFailedError, RunError
from automl_bridge.results import RunStatus
from automl_bridge.spec import JobSpec
from automl_bridge.testing.backends import CONTRACT, BackendCase
from automl_bridge.testing.fakes.vertex import FakeVertex, FakeVertexHub

PIPELINES = "/trainingPipelines"


def frame(n: int = 1200, task: str = "classification") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x1": rng.normal(size=n).round(4), "color": rng.choice(["r", "g"], n),
                       "row": np.arange(n)})
    df["y"] = rng.choice(["no", "yes"], n) if task == "classification" else \
        (df["x1"] * 3 + rng.normal(size=n)).round(4)
    return df


def backend(fake: FakeVertex, **kw: object) -> VertexBackend:
    opts: dict[str, object] = {"staging_bucket": "gs://stage-bkt/pre", "run_id": "run-1",
                               "sleep": lambda s: None, **fake.options()}
    opts.update(kw)
    return VertexBackend(**opts)  # type: ignore[arg-type]


SPEC = JobSpec(target="y", task="classification", metric="roc_auc", time_budget_s=3600)


def test_pending_running_succeeded() -> None:
    fake = FakeVertex()
    with fake.serve():
        result = backend(fake).run(SPEC, frame())
    assert result.status is RunStatus.COMPLETED
    assert result.best is not None and result.best.score == 0.93
    assert result.best.metrics == {"roc_auc": 0.93, "log_loss": 0.31, "accuracy": 0.85}
    assert result.best.extra["raw_metrics"]["auPrc"] == 0.9
    model = fake.pipelines[fake.created[0]]["modelToUpload"]["name"]
    assert result.extra["model_uri"] == model
    assert result.extra["cost"]["usd"] == round(0.87 * 21.252, 2)
    assert result.extra["raw_state"] == "PIPELINE_STATE_SUCCEEDED"
    assert len(fake.created) == 1 and fake.cancel_requests == []
    assert [m for m, p in fake.calls if p.endswith(PIPELINES)] == ["GET", "POST"]
    body = fake.pipelines[fake.created[0]]
    assert body["trainingTaskInputs"]["trainBudgetMilliNodeHours"] == 1000
    assert body["labels"] == {"automl-bridge": "1", "automl-bridge-run": "run-1"}
    assert (("stage-bkt", f"pre/automl-bridge/{body['displayName']}/train.csv")
            in fake.blobs)


def test_failed_pipeline_surfaces_its_reason() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING", "PIPELINE_STATE_FAILED"),
                      failure=(3, "Weight column cannot be specified in transformations"))
    with fake.serve(), pytest.raises(RemoteJobFailedError) as err:
        backend(fake).run(SPEC, frame())
    assert err.value.reason == "code 3: Weight column cannot be specified in transformations"
    assert "PIPELINE_STATE_FAILED" in str(err.value)
    assert fake.cancel_requests == []


def test_cancelling_then_cancelled_and_cancel_is_idempotent() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        b = backend(fake)
        handle = b.submit(SPEC, frame())
        assert b.status(handle) is RunStatus.RUNNING
        b.cancel(handle)
        first = b.remote_status(handle)
        assert first.raw == "PIPELINE_STATE_CANCELLED"
        b.cancel(handle)  # already stopped: no second request
        assert fake.cancel_requests == fake.created
        assert b.status(handle) is RunStatus.CANCELLED
        result = b.result(handle)
    assert result.status is RunStatus.CANCELLED and result.best is None


def test_cancel_reports_stopping_before_cancelled() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        b = backend(fake)
        job = b.adapter.submit(SPEC, *_staged(b, fake))
        st = b.adapter.cancel(job)
        assert st.stopping and st.status is RunStatus.RUNNING
        assert b.adapter.status(job).status is RunStatus.CANCELLED


def _staged(b: VertexBackend, fake: FakeVertex) -> tuple:
    import tempfile

    table, _, data = b._table(SPEC, frame(), "run-1", Path(tempfile.mkdtemp()))
    data.to_csv(table.path, index=False)
    identity = b._identity("run-1", table)
    return table, b.adapter.stage(table, identity), identity


def test_paused_is_treated_as_stopped() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_PAUSED",))
    with fake.serve():
        b = backend(fake)
        handle = b.submit(SPEC, frame())
        st = b.remote_status(handle)
    assert st.status is RunStatus.CANCELLED and "paused" in st.detail


def test_resubmit_attaches_and_reuses_the_dataset() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        first = backend(fake).submit(SPEC, frame())
        again = backend(fake).submit(SPEC, frame())
    assert len(fake.created) == 1 and len(fake.datasets) == 1
    assert first.info["job"]["job_id"] == again.info["job"]["job_id"]
    assert again.info["job"]["info"]["attached"] is True
    uploads = [p for m, p in fake.calls if p.startswith("/upload/")]
    assert len(uploads) == 1


def test_other_data_same_run_id_is_a_new_pipeline() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        backend(fake).submit(SPEC, frame())
        backend(fake).submit(SPEC, frame().iloc[:1100])
    assert len(fake.created) == 2


@pytest.mark.parametrize("after", [False, True])
def test_interrupt_at_every_call_leaves_no_pipeline_running(after: bool) -> None:
    probe = FakeVertex()
    with probe.serve():
        backend(probe).run(SPEC, frame())
    n_calls = len(probe.calls)
    for k in range(1, n_calls + 1):
        fake = FakeVertex(interrupt_at=k, interrupt_after=after)
        with fake.serve():
            with contextlib.suppress(KeyboardInterrupt):
                backend(fake).run(SPEC, frame())
            for name in fake.created:
                state = fake.pipelines[name]["state"]
                assert state in ("PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_CANCELLED",
                                 "PIPELINE_STATE_SUCCEEDED"), (k, after, state)
        assert len(fake.created) <= 1


def test_deadline_stops_the_pipeline() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    ticks = iter(range(0, 10_000, 100))
    with fake.serve(), pytest.raises(RunError, match="deadline"):
        backend(fake, deadline_s=250, clock=lambda: float(next(ticks))).run(SPEC, frame())
    assert fake.cancel_requests == fake.created


def test_cleanup_stops_only_active_pipelines_of_ours() -> None:
    fake = FakeVertex(script=("PIPELINE_STATE_RUNNING",))
    with fake.serve():
        backend(fake, run_id="a").submit(SPEC, frame())
        backend(fake, run_id="b").submit(SPEC, frame())
        done = FakeVertex().script  # a finished one that must be left alone
        fake.script = done
        backend(fake, run_id="c").run(SPEC, frame())
        fake.script = ("PIPELINE_STATE_RUNNING",)
        found = backend(fake).cleanup()
    assert sorted(j.run_id for j in found) == ["a", "b"]
    assert len(fake.cancel_requests) == 2


def test_regression_run_and_predict_in_input_order(tmp_path: Path) -> None:
    fake = FakeVertex()
    spec = JobSpec(target="y", task="regression", metric="r2", time_budget_s=7200)
    data = frame(task="regression")
    with fake.serve():
        result = backend(fake).run(spec, data)
        assert result.best is not None
        assert result.best.metrics["mse"] == pytest.approx(2.25)
        assert any("rSquared" in w for w in result.warnings)
        out = result.best.model.backend.adapter.predict(
            result.best.model.job, _csv(data.head(7), tmp_path))
        preds = result.best.model.predict(data.head(7))
    assert out["row"].tolist() == list(range(7))  # the fake reverses rows
    assert "y" not in out.columns or out["y"].isna().all()
    assert np.allclose(np.asarray(preds, dtype=float), data["y"].mean(), atol=1e-3)
    jobs = list(fake.batch_jobs.values())
    assert jobs and all(j["inputConfig"]["instancesFormat"] == "csv" for j in jobs)
    assert all("dedicatedResources" not in j for j in jobs)


def test_predict_classification_labels() -> None:
    fake = FakeVertex()
    with fake.serve():
        result = backend(fake).run(SPEC, frame())
        assert result.best is not None
        preds = result.best.model.predict(frame().head(4))
    assert set(preds) <= {"no", "yes"} and len(preds) == 4


def _csv(df: pd.DataFrame, folder: Path) -> str:
    path = str(folder / "input.csv")
    df.to_csv(path, index=False)
    return path


def test_the_example_config_runs_on_the_fake() -> None:
    from automl_bridge.config import load_config
    from automl_bridge.exceptions import DataError

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "examples" / "vertex.yaml", environ={
        "GCP_PROJECT": "my-project", "VERTEX_STAGING_BUCKET": "gs://my-bucket/automl"})
    assert cfg.backend == "vertex"
    fake = FakeVertex(project="my-project")
    train = pd.read_csv(cfg.train)
    with fake.serve():
        opts = {**cfg.backend_options, **fake.options(), "sleep": lambda s: None}
        with pytest.raises(DataError, match="1000 rows"):  # the 275-row penguins sample
            VertexBackend(**opts).run(cfg.spec, train)
        result = VertexBackend(**{**opts, "strict": False}).run(cfg.spec, train)
    assert result.status is RunStatus.COMPLETED and result.best is not None
    assert any("275 rows" in w for w in result.warnings)
    inputs = fake.pipelines[fake.created[0]]["trainingTaskInputs"]
    assert inputs["optimizationObjective"] == "minimize-log-loss"
    assert inputs["trainBudgetMilliNodeHours"] == 1000


def test_importing_the_backend_imports_no_google_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, automl_bridge.backends.vertex, automl_bridge.testing.fakes.vertex\n"
            "bad = [m for m in sys.modules if m.startswith(('google.cloud.aiplatform', "
            "'google.cloud.storage', 'google.api_core', 'google.auth', 'responses'))]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# --- the shipped backend contract ----------------------------------------------------------------

CONTRACT_SPEC = JobSpec(target="y", task="classification", metric="roc_auc",
                        time_budget_s=3600, validation="holdout")


@pytest.mark.parametrize("check", CONTRACT, ids=lambda c: c.__name__)
def test_contract(check: Any, tmp_path: Path) -> None:
    hub = FakeVertexHub()
    case = BackendCase(
        "vertex", make=lambda outcome, strict: hub.backend(outcome, strict,
                                                           work_dir=str(tmp_path)),
        unsupported={"search": "tpe"}, reason="bad input column",
        created=lambda b: len(b.fake.created))
    with hub.serve():
        check(case, frame(), CONTRACT_SPEC)
