"""Config files: sections, backend precedence, --set overrides, data paths, env references."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from automl_bridge.config import ENV_BACKEND, Config, load_config, parse_override
from automl_bridge.exceptions import ConfigError, MetricError, SpecError, UnknownNameError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"

BASE = """\
job: {task: classification, target: label, max_trials: 3}
data: {train: data/train.csv, test: data/test.csv}
backend: azure
backends:
  local: {n_jobs: 2, run_dir: runs}
  sagemaker: {region: eu-west-1}
  vertex: {project: p}
  azure: {workspace: ws}
"""


def write(folder: Path, text: str, name: str = "job.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- the example ------------------------------------------------------------------------------


def test_quickstart_example_loads() -> None:
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.spec.task == "classification"
    assert cfg.spec.target == "species"
    assert cfg.spec.metric == "log_loss"
    assert cfg.spec.time_budget_s == 20
    assert cfg.spec.search == "tpe"
    assert cfg.backend == "local"
    assert cfg.backend_options == {"run_dir": "runs", "n_jobs": 1}
    assert isinstance(cfg.train, Path) and cfg.train.is_file()
    assert isinstance(cfg.test, Path) and cfg.test.is_file()
    assert cfg.source == EXAMPLE


# --- backend precedence -----------------------------------------------------------------------


def test_backend_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    env = {ENV_BACKEND: "sagemaker"}
    flag = load_config(path, backend="vertex", environ=env)
    assert (flag.backend, flag.backend_options) == ("vertex", {"project": "p"})
    assert "--backend" in flag.backend_origin
    from_env = load_config(path, environ=env)
    assert (from_env.backend, from_env.backend_options) == ("sagemaker", {"region": "eu-west-1"})
    assert ENV_BACKEND in from_env.backend_origin
    from_file = load_config(path, environ={})
    assert (from_file.backend, from_file.backend_options) == ("azure", {"workspace": "ws"})
    default = load_config(write(tmp_path, "job: {target: y}\n", "bare.yaml"), environ={})
    assert (default.backend, default.backend_options) == ("local", {})


def test_empty_env_variable_is_ignored(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE), environ={ENV_BACKEND: " "}).backend == "azure"


def test_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_BACKEND, "vertex")
    path = write(tmp_path, BASE)
    assert load_config(path).backend == "vertex"
    assert load_config(path, environ={}).backend == "azure"


def test_missing_backend_section_gives_empty_options(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\nbackend: vertex\nbackends: {local: {n_jobs: 1}}\n")
    assert load_config(path, environ={}).backend_options == {}


def test_unknown_backend_names_where_it_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    with pytest.raises(UnknownNameError, match=ENV_BACKEND) as exc:
        load_config(path, environ={ENV_BACKEND: "sagemkr"})
    assert "sagemaker" in str(exc.value)  # the message lists the known names
    with pytest.raises(UnknownNameError, match="--backend"):
        load_config(path, backend="nope", environ={})


def test_backend_must_be_a_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'backend'"):
        load_config(write(tmp_path, "job: {target: y}\nbackend: [local]\n"), environ={})


def test_unknown_backend_section_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\nbackends: {locl: {n_jobs: 1}}\n")
    with pytest.raises(ConfigError, match=r"\['locl'\]"):
        load_config(path, environ={})


def test_backend_section_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\nbackends: {local: secret-value}\n")
    with pytest.raises(ConfigError, match=r"backends\.local") as exc:
        load_config(path, environ={})
    assert "secret-value" not in str(exc.value)


# --- sections ---------------------------------------------------------------------------------


def test_unknown_top_level_key_lists_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\ntime_budget_s: 10\n")
    with pytest.raises(ConfigError, match="time_budget_s") as exc:
        load_config(path, environ={})
    for key in ("job", "data", "backend", "backends"):
        assert repr(key) in str(exc.value)


def test_unknown_data_key_lists_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\ndata: {train: a.csv, valid: b.csv}\n")
    with pytest.raises(ConfigError, match=r"valid.*'train', 'test'"):
        load_config(path, environ={})


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"),
    ("- job\n", "mapping"),
    ("job: {target: y\n", "not valid YAML"),
    ("data: {train: a.csv}\n", "no 'job:' section"),
    ("job: [target, y]\n", "'job' section .* mapping"),
    ("job: {target: y}\ndata: [a.csv]\n", "'data' section .* mapping"),
    ("job: {target: y}\ndata: {train: 3}\n", r"data\.train"),
])
def test_malformed_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text), environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_yaml_tags_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "job: !!python/object/apply:os.system [echo hi]\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})


def test_spec_errors_propagate_unwrapped(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y, metric: auc2}\n")
    with pytest.raises(MetricError) as exc:
        load_config(path, environ={})
    assert not isinstance(exc.value, ConfigError)
    with pytest.raises(SpecError, match="storage"):
        load_config(write(tmp_path, "job: {target: y, storage: x}\n"), environ={})


# --- data paths -------------------------------------------------------------------------------


def test_data_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "conf", BASE)
    cfg = load_config(path, environ={})
    assert cfg.train == tmp_path / "conf" / "data" / "train.csv"
    assert cfg.test == tmp_path / "conf" / "data" / "test.csv"


def test_absolute_paths_and_uris_are_kept(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "train.csv"
    path = write(tmp_path / "conf", f"job: {{target: y}}\n"
                 f"data: {{train: '{absolute}', test: 's3://bucket/test.csv'}}\n")
    cfg = load_config(path, environ={})
    assert cfg.train == absolute
    assert cfg.test == "s3://bucket/test.csv"


def test_relative_config_path_is_made_absolute(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "conf", BASE)
    monkeypatch.chdir(tmp_path)
    cfg = load_config("conf/job.yaml", environ={})
    assert cfg.source == tmp_path / "conf" / "job.yaml"
    assert cfg.train == tmp_path / "conf" / "data" / "train.csv"


def test_data_overrides_are_relative_to_the_current_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "conf", BASE)
    cfg = load_config(path, overrides=["data.train=other.csv", "data.test=null"], environ={})
    assert cfg.train == Path("other.csv")
    assert cfg.test is None


# --- overrides --------------------------------------------------------------------------------


def test_overrides_parse_values_as_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    cfg = load_config(path, environ={}, backend="local", overrides=[
        "job.time_budget_s=30", "job.models=[linear,knn]", "job.max_trials=null",
        "backends.local.n_jobs=3", "backends.local.storage=sqlite:///runs/s.db",
        "job.validation={method: cv, folds: 3}",
    ])
    assert cfg.spec.time_budget_s == 30
    assert cfg.spec.models == ("linear", "knn")
    assert cfg.spec.max_trials is None
    assert cfg.spec.validation_folds == 3
    assert cfg.backend_options == {"n_jobs": 3, "run_dir": "runs",
                                   "storage": "sqlite:///runs/s.db"}


def test_overrides_apply_in_order_and_create_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\n")
    cfg = load_config(path, environ={}, overrides=[
        "job.max_trials=2", "job.max_trials=4", "backend=vertex",
        "backends.vertex.project=p1"])
    assert cfg.spec.max_trials == 4
    assert (cfg.backend, cfg.backend_options) == ("vertex", {"project": "p1"})


def test_override_of_backend_is_still_beaten_by_env(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    cfg = load_config(path, overrides=["backend=vertex"], environ={ENV_BACKEND: "local"})
    assert cfg.backend == "local"


def test_parse_override() -> None:
    assert parse_override("job.seed=7") == (["job", "seed"], 7)
    assert parse_override(" job.target = a=b ") == (["job", "target"], "a=b")
    assert parse_override("job.metric=") == (["job", "metric"], None)


@pytest.mark.parametrize(("item", "match"), [
    ("job.max_trials", "malformed"),
    ("=3", "malformed"),
    ("job..seed=1", "malformed"),
    ("jobs.seed=1", "unknown section 'jobs'"),
    ("seed=1", "unknown section 'seed'"),
    ("job.models=[linear", "not valid YAML"),
    ("backend.name=local", "'backend'.*not a mapping"),
])
def test_malformed_overrides_name_the_override(tmp_path: Path, item: str, match: str) -> None:
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError, match=match) as exc:
        load_config(path, overrides=[item], environ={})
    assert item.split("=")[0].strip().split(".")[0] in str(exc.value)


def test_override_of_unknown_data_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'train', 'test'"):
        load_config(write(tmp_path, BASE), overrides=["data.valid=x.csv"], environ={})


def test_bad_backend_override_value_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, BASE), environ={},
                    overrides=["backends.azure.client_secret=[hunter2"])
    assert "hunter2" not in str(exc.value)
    assert "backends.azure.client_secret" in str(exc.value)


def test_overrides_do_not_change_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    load_config(path, overrides=["job.max_trials=9"], environ={})
    assert path.read_text() == BASE


# --- environment references -------------------------------------------------------------------


def test_env_references_in_backend_options(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\nbackend: sagemaker\nbackends:\n"
                 "  sagemaker: {role_arn: '${ROLE}', s3_output: 's3://${BUCKET}/out/', n: 3}\n")
    cfg = load_config(path, environ={"ROLE": "arn:aws:iam::1:role/r", "BUCKET": "b"})
    assert cfg.backend_options == {"role_arn": "arn:aws:iam::1:role/r",
                                   "s3_output": "s3://b/out/", "n": 3}


def test_unset_env_reference_names_the_variable_not_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "job: {target: y}\nbackend: azure\nbackends:\n"
                 "  azure: {client_secret: '${AZ_SECRET}', key: 'sk-123'}\n")
    with pytest.raises(ConfigError, match="AZ_SECRET") as exc:
        load_config(path, environ={"OTHER": "sk-456"})
    assert "backends.azure.client_secret" in str(exc.value)
    assert "sk-123" not in str(exc.value) and "sk-456" not in str(exc.value)


# --- Config -----------------------------------------------------------------------------------


def test_config_is_frozen_and_builds_a_job(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE), backend="local", environ={})
    assert isinstance(cfg, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.backend = "vertex"  # type: ignore[misc]
    job = cfg.job()
    assert job.spec is cfg.spec
    assert job.backend_name == "local"
    assert job.backend.n_jobs == 2  # options reach the backend
    assert str(job.backend.run_dir) == "runs"
