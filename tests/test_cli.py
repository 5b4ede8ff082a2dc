"""The automl-bridge command line, called in-process (and once in a subprocess)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from automl_bridge import cli
from automl_bridge.cli import main
from automl_bridge.config import ENV_BACKEND
from automl_bridge.results import load_result

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

JOB = """\
job: {task: classification, target: species, metric: log_loss, time_budget_s: null,
      max_trials: 2, models: [linear], seed: 0}
data: {train: data/penguins_train.csv, test: data/penguins_test.csv}
backend: local
backends:
  local: {run_dir: runs, n_jobs: 1}
"""


def make_project(folder: Path) -> Path:
    """A folder with the penguin CSVs under data/ and a tiny job.yaml."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for name in ("penguins_train.csv", "penguins_test.csv"):
        shutil.copy(EXAMPLES / "data" / name, folder / "data" / name)
    (folder / "job.yaml").write_text(JOB)
    return folder / "job.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ENV_BACKEND, raising=False)
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


@dataclass
class Trained:
    folder: Path
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """One real run of the tiny job, shared by the tests that need its outputs."""
    folder = tmp_path_factory.mktemp("cli_run")
    make_project(folder)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV_BACKEND, raising=False)
        mp.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run", "job.yaml"])
    yield Trained(folder, code, out.getvalue(), err.getvalue())


def run_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "runs").iterdir() if p.is_dir())


# --- run --------------------------------------------------------------------------------------


def test_run_writes_result_and_model_and_prints_the_report(trained: Trained) -> None:
    assert trained.code == 0, trained.err
    (run_dir,) = run_dirs(trained.folder)
    assert (run_dir / "result.json").is_file()
    assert (run_dir / "model.skops").is_file()
    result = load_result(run_dir / "result.json")
    assert len(result.candidates) == 2
    out = trained.out
    assert "Leaderboard: log_loss (lower is better)" in out
    header = next(line for line in out.splitlines() if line.startswith("rank"))
    assert header.split() == ["rank", "candidate_id", "family", "score", "fit_time_s"]
    assert "Best candidate:" in out
    assert f"runs/{run_dir.name}/result.json" in out
    assert f"runs/{run_dir.name}/model.skops" in out
    assert "Test score:    log_loss" in out and "on 69 rows" in out
    assert "Wall time:" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"run {run_dir.name} completed: best linear log_loss=")


def test_run_quiet_prints_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "job.yaml", "--quiet", "--set", "job.max_trials=1"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    assert "completed" in out and "(test " in out


def test_run_with_unknown_backend_flag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "job.yaml", "--backend", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown backend 'nope'")
    assert "Traceback" not in err


def test_env_backend_is_used_and_flag_beats_it(project: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_BACKEND, "nope")
    assert main(["validate", "job.yaml"]) == 2
    assert ENV_BACKEND in capsys.readouterr().err
    assert main(["validate", "job.yaml", "--backend", "local"]) == 0


def test_run_with_bad_override(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "job.yaml", "--set", "job.max_trials"]) == 2
    assert "'job.max_trials'" in capsys.readouterr().err


def test_run_refuses_bad_test_file_before_training(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    test = pd.read_csv("data/penguins_test.csv").drop(columns=["species"])
    test.to_csv("data/penguins_test.csv", index=False)
    assert main(["run", "job.yaml"]) == 2
    assert "no target column 'species'" in capsys.readouterr().err
    assert not Path("runs").exists()


def test_run_with_missing_train_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "job.yaml", "--set", "data.train=missing.csv"]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_run_without_train_data(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "job.yaml", "--set", "data=null"]) == 2
    assert "data.train" in capsys.readouterr().err


def test_interrupt_exits_130(project: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_run", interrupted)
    assert main(["run", "job.yaml"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted.") and "--resume" in err
    assert len(err.strip().splitlines()) == 1


# --- predict ----------------------------------------------------------------------------------


def test_predict_writes_predictions_and_probabilities(trained: Trained, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir,) = run_dirs(trained.folder)
    out = tmp_path / "out" / "preds.csv"
    data = trained.folder / "data" / "penguins_test.csv"
    assert main(["predict", str(run_dir / "model.skops"), str(data), "-o", str(out)]) == 0
    assert "Wrote 69 predictions" in capsys.readouterr().out
    preds = pd.read_csv(out)
    assert list(preds.columns) == ["prediction", "proba_Adelie", "proba_Chinstrap",
                                   "proba_Gentoo"]
    assert len(preds) == len(pd.read_csv(data)) == 69
    assert set(preds["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert preds.filter(like="proba_").sum(axis=1).round(6).eq(1).all()


def test_predict_keeps_columns_and_writes_stdout(trained: Trained,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir,) = run_dirs(trained.folder)
    data = trained.folder / "data" / "penguins_test.csv"
    assert main(["predict", str(run_dir / "model.skops"), str(data), "-o", "-",
                 "--keep", "island"]) == 0
    preds = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(preds.columns)[:2] == ["island", "prediction"]
    assert len(preds) == 69
    assert main(["predict", str(run_dir / "model.skops"), str(data), "-o", "-",
                 "--keep", "row_id"]) == 2
    assert "row_id" in capsys.readouterr().err


def test_predict_reports_missing_feature_columns(trained: Trained, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir,) = run_dirs(trained.folder)
    data = tmp_path / "partial.csv"
    pd.read_csv(trained.folder / "data" / "penguins_test.csv").drop(
        columns=["bill_length_mm"]).to_csv(data, index=False)
    assert main(["predict", str(run_dir / "model.skops"), str(data),
                 "-o", str(tmp_path / "p.csv")]) == 2
    assert "bill_length_mm" in capsys.readouterr().err


def test_predict_refuses_missing_and_non_model_files(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    data = EXAMPLES / "data" / "penguins_test.csv"
    assert main(["predict", str(tmp_path / "none.skops"), str(data), "-o", "p.csv"]) == 2
    assert "No model file" in capsys.readouterr().err
    fake = tmp_path / "fake.skops"
    fake.write_text("not a model")
    assert main(["predict", str(fake), str(data), "-o", "p.csv"]) == 2
    assert "not a skops model file" in capsys.readouterr().err


def test_predict_regression_has_no_proba_columns(regression_df: pd.DataFrame, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from automl_bridge import AutoMLJob

    job = AutoMLJob(task="regression", target="y", max_trials=1, time_budget_s=None,
                    models=["linear"]).with_backend("local", run_dir=None)
    job.fit(regression_df)
    model = job.save_model(tmp_path / "reg.skops")
    regression_df.drop(columns=["y"]).to_parquet(tmp_path / "x.parquet")
    assert main(["predict", str(model), str(tmp_path / "x.parquet"), "-o",
                 str(tmp_path / "p.csv")]) == 0
    preds = pd.read_csv(tmp_path / "p.csv")
    assert list(preds.columns) == ["prediction"]
    assert len(preds) == len(regression_df)


# --- validate ---------------------------------------------------------------------------------


def test_validate_reports_and_trains_nothing(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "job.yaml"]) == 0
    out = capsys.readouterr().out
    assert "rows: 275, columns: 8" in out
    assert "task: classification" in out
    assert "metric: log_loss" in out
    assert "categorical features (2): island, sex" in out
    assert "numeric features" in out
    assert "options OK (n_jobs, run_dir)" in out
    assert "69 rows" in out
    assert not Path("runs").exists()


def test_validate_reports_dropped_columns_and_warnings(project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv("data/penguins_train.csv")
    frame["source"] = "field"
    frame["species"] = frame["species"].where(frame.index % 50 != 0)
    frame.to_csv("data/penguins_train.csv", index=False)
    assert main(["validate", "job.yaml"]) == 0
    out = capsys.readouterr().out
    assert "dropped 'source': constant" in out
    assert "Warnings (" in out and "missing" in out


def test_validate_reports_bad_data_naming_the_column(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "job.yaml", "--set", "job.target=specie"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'specie'" in err and "'species'" in err
    assert not Path("runs").exists()


def test_validate_reports_bad_backend_options(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "job.yaml", "--set", "backends.local.n_jobs=0"]) == 2
    assert "n_jobs" in capsys.readouterr().err
    assert main(["validate", "job.yaml", "--set", "backends.local.region=x"]) == 2
    assert "region" in capsys.readouterr().err


def test_validate_reports_spec_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "job.yaml", "--set", "job.metric=rmse"]) == 2
    assert "regression metric" in capsys.readouterr().err


def test_validate_cloud_backend_not_installed(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from automl_bridge.registry import registry_for

    if registry_for("backends").entry("sagemaker").is_installed():
        pytest.skip("the aws extra is installed here")
    assert main(["validate", "job.yaml", "--backend", "sagemaker"]) == 0
    out = capsys.readouterr().out
    assert "sagemaker (chosen by the --backend option): not installed" in out
    assert "pip install 'automl-bridge[aws]'" in out


# --- backends ---------------------------------------------------------------------------------


def test_backends_lists_every_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["name", "installed", "extra", "install"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) >= {"local", "sagemaker", "vertex", "azure"}
    assert rows["local"].split()[1] == "yes"
    assert "automl-bridge[aws]" in rows["sagemaker"]
    assert "automl-bridge[gcp]" in rows["vertex"]
    assert "automl-bridge[azure]" in rows["azure"]


def test_backends_imports_no_backend_or_sdk() -> None:
    code = (
        "import sys, json\n"
        "from automl_bridge.cli import main\n"
        "assert main(['backends']) == 0\n"
        "mods = ['boto3', 'google.cloud.aiplatform', 'azure', 'sklearn', 'optuna', 'pandas',\n"
        "        'automl_bridge.backends.local']\n"
        "print(json.dumps({m: m in sys.modules for m in mods}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not any(imported.values()), imported


def test_python_dash_m_works() -> None:
    proc = subprocess.run([sys.executable, "-m", "automl_bridge", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("automl-bridge ")


# --- parsing, output, logging -----------------------------------------------------------------


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["predict", "m.skops", "d.csv"])  # -o is required
    assert exc.value.code == 2
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_rich_table_rendering() -> None:
    buf = io.StringIO()
    cli.print_table(["name", "score"], [["linear", "0.5"]], title="Board", rich=True, file=buf)
    text = buf.getvalue()
    assert "Board" in text and "linear" in text and "score" in text


def test_logger_is_restored(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("automl_bridge")
    before = (logger.level, logger.propagate, list(logger.handlers))
    assert main(["validate", "job.yaml", "--verbose"]) == 0
    assert main(["validate", "job.yaml"]) == 0
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_run_with_a_strategy_objectives_and_constraints_from_overrides(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "job.yaml", "--quiet",
                 "--set", "job.search={strategy: nsga2, population_size: 2}",
                 "--set", "job.max_trials=4", "--set", "job.models=[linear,knn]",
                 "--set", "job.objectives=[log_loss,model_size]",
                 "--set", "job.constraints={max_model_bytes: 1e7}"])
    assert code == 0, capsys.readouterr().err
    (run_dir,) = run_dirs(project.parent)
    result = load_result(run_dir / "result.json")
    assert result.spec["search"] == {"strategy": "nsga2", "population_size": 2}
    assert result.objectives == ["log_loss", "model_size"] and result.pareto_front
    assert len(result.candidates) == 4 and all(c.feasible for c in result.candidates)
