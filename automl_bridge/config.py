"""Config files: one YAML file -> a JobSpec, a backend name and that backend's options.

A config file has four top-level sections, all but ``job`` optional::

    job: {task: classification, target: species, metric: log_loss, time_budget_s: 20}
    data: {train: data/train.csv, test: data/test.csv}   # relative to this file's folder
    backend: local
    backends:
      local: {run_dir: runs, n_jobs: 1}
      sagemaker: {role_arn: "${AUTOML_ROLE_ARN}", s3_output: "s3://bucket/automl/"}

``job`` holds :class:`~automl_bridge.spec.JobSpec` fields, ``backends.<name>`` the engine
options of each backend (``${VAR}`` in those strings is read from the environment, so secrets
can stay out of the file). The backend is chosen by, in order: the ``backend`` argument
(``--backend``), the ``AUTOML_BRIDGE_BACKEND`` environment variable, the file's ``backend:``,
then ``"local"``. ``overrides`` (``--set``) are ``dotted.key=value`` strings whose value is
read as YAML. This module and :mod:`automl_bridge.cli` are the only ones that read the
environment.

Example:
    >>> import tempfile, pathlib
    >>> from automl_bridge.config import load_config
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "job.yaml").write_text(
    ...     "job: {task: classification, target: y, max_trials: 3}\\n"
    ...     "data: {train: train.csv}\\n"
    ...     "backends: {local: {n_jobs: 1}}\\n")
    >>> cfg = load_config(folder / "job.yaml", overrides=["job.max_trials=5"], environ={})
    >>> cfg.spec.max_trials, cfg.backend, cfg.backend_options, cfg.train == folder / "train.csv"
    (5, 'local', {'n_jobs': 1}, True)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.exceptions import ConfigError, UnknownNameError
from automl_bridge.spec import JobSpec

if TYPE_CHECKING:
    from automl_bridge.job import AutoMLJob

#: Environment variable that chooses the backend (beaten only by ``--backend``).
ENV_BACKEND = "AUTOML_BRIDGE_BACKEND"
#: Backend used when nothing chooses one.
DEFAULT_BACKEND = "local"
#: Top-level sections of a config file.
SECTIONS = ("job", "data", "backend", "backends")
#: Keys of the ``data`` section.
DATA_KEYS = ("train", "test")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Config:
    """A loaded config: everything ``automl-bridge run`` needs.

    Attributes:
        spec: the validated job spec.
        backend: the chosen backend name (a registered one).
        backend_options: options of that backend (the ``backends.<backend>`` section).
        train: training data: a local path (resolved against the file's folder), a URI such
            as ``s3://...`` kept as a string, or ``None``.
        test: test data, like ``train``.
        source: absolute path of the config file.
        backend_origin: what chose the backend (``"the --backend option"``, ...).
    """

    spec: JobSpec
    backend: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    train: Path | str | None = None
    test: Path | str | None = None
    source: Path = field(default_factory=Path)
    backend_origin: str = "the default"

    def job(self) -> AutoMLJob:
        """An :class:`~automl_bridge.job.AutoMLJob` for the spec, backend and options.

        The backend itself is created (and its options checked) on first use, e.g. by
        ``job.backend`` or ``job.fit``.
        """
        from automl_bridge.job import AutoMLJob

        return AutoMLJob(self.spec, backend=self.backend,
                         backend_options=dict(self.backend_options))


def load_config(
    path: str | os.PathLike[str],
    *,
    overrides: Iterable[str] = (),
    backend: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Config:
    """Read a config file, apply ``--set`` overrides and choose the backend.

    Args:
        path: the YAML config file.
        overrides: ``"dotted.key=value"`` strings; each value is parsed with
            ``yaml.safe_load`` (``job.time_budget_s=30`` gives an int,
            ``job.models=[linear,knn]`` a list). Paths set in ``data`` this way are relative
            to the current directory.
        backend: backend name that beats every other choice (the ``--backend`` flag).
        environ: the environment (``AUTOML_BRIDGE_BACKEND`` and ``${VAR}`` references).

    Returns:
        The loaded :class:`Config`.

    Raises:
        ConfigError: the file is missing or not YAML, a section or key is unknown, an
            override is malformed, or an option refers to an unset environment variable.
        SpecError: a ``job`` field is invalid (raised by :class:`JobSpec` as is).
        UnknownNameError: the chosen backend is not registered.
    """
    source = Path(path).expanduser().absolute()
    raw = _read_yaml(source)
    raw = _resolve_file_paths(raw, source.parent)
    for item in overrides:
        _apply_override(raw, item)
    _check_sections(raw, source)
    spec = JobSpec(**_mapping(raw.get("job"), "job", source, required=True))
    data = _mapping(raw.get("data"), "data", source)
    name, origin = _choose_backend(backend, environ, raw.get("backend"))
    options = _backend_options(raw.get("backends"), name, source, environ)
    return Config(spec=spec, backend=name, backend_options=options,
                  train=_data_path(data, "train"), test=_data_path(data, "test"), source=source,
                  backend_origin=origin)


# --- reading -------------------------------------------------------------------------------


def _read_yaml(source: Path) -> dict[str, Any]:
    import yaml

    if not source.is_file():
        raise ConfigError(f"The config file {str(source)!r} does not exist. Check the path.")
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"The config file {str(source)!r} is not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {str(source)!r} cannot be read: {exc}") from exc
    if raw is None:
        raise ConfigError(
            f"The config file {str(source)!r} is empty. It needs at least a 'job:' section, "
            "e.g. job: {target: label, time_budget_s: 60}."
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"The config file {str(source)!r} must be a YAML mapping with the sections "
            f"{list(SECTIONS)}. Got a {type(raw).__name__}."
        )
    return raw


def _check_sections(raw: dict[str, Any], source: Path) -> None:
    unknown = sorted(str(k) for k in raw if k not in SECTIONS)
    if unknown:
        raise ConfigError(
            f"The config file {str(source)!r} has unknown top-level key(s) {unknown}. Allowed "
            f"keys are {list(SECTIONS)}; spec fields go under 'job:', engine options under "
            "'backends: {<name>: {...}}'."
        )
    data = raw.get("data")
    if isinstance(data, dict):
        bad = sorted(str(k) for k in data if k not in DATA_KEYS)
        if bad:
            raise ConfigError(
                f"The 'data' section of {str(source)!r} has unknown key(s) {bad}. Allowed "
                f"keys are {list(DATA_KEYS)}."
            )


def _mapping(value: Any, section: str, source: Path, *, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise ConfigError(
                f"The config file {str(source)!r} has no '{section}:' section. Add one, e.g. "
                "job: {task: classification, target: label, time_budget_s: 60}."
            )
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"The '{section}' section of {str(source)!r} must be a mapping of keys to values. "
            f"Got a {type(value).__name__}."
        )
    return dict(value)


# --- data paths ----------------------------------------------------------------------------


def _is_uri(value: str) -> bool:
    return "://" in value


def _resolve_file_paths(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make the file's relative ``data`` paths relative to its folder (before overrides)."""
    data = raw.get("data")
    if not isinstance(data, dict):
        return raw
    resolved = dict(data)
    for key in DATA_KEYS:
        value = resolved.get(key)
        if isinstance(value, str) and value and not _is_uri(value):
            p = Path(value).expanduser()
            resolved[key] = str(p if p.is_absolute() else folder / p)
    return {**raw, "data": resolved}


def _data_path(data: dict[str, Any], key: str) -> Path | str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(
            f"The 'data.{key}' of the config must be a file path or URI. Got {value!r}."
        )
    text = str(value)
    return text if _is_uri(text) else Path(text).expanduser()


# --- overrides -----------------------------------------------------------------------------


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], yaml value)``.

    Raises:
        ConfigError: no ``=``, an empty key part, an unknown section or a value that is not
            YAML.
    """
    import yaml

    key, sep, text = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise ConfigError(
            f"The override {item!r} is malformed. Write KEY=VALUE with a dotted key, e.g. "
            "--set job.time_budget_s=30 or --set backends.local.n_jobs=2."
        )
    parts = [p.strip() for p in parts]
    if parts[0] not in SECTIONS:
        raise ConfigError(
            f"The override {key.strip()!r} names an unknown section {parts[0]!r}. Keys start "
            f"with one of {list(SECTIONS)}, e.g. job.max_trials=10."
        )
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        shown = "" if parts[0] == "backends" else f" {text!r}"
        raise ConfigError(
            f"The value{shown} of the override {key.strip()!r} is not valid YAML "
            f"({getattr(exc, 'problem', None) or type(exc).__name__}). Quote strings with "
            "special characters, write lists as [a,b]."
        ) from exc
    return parts, value


def _apply_override(raw: dict[str, Any], item: str) -> None:
    parts, value = parse_override(item)
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(
                f"The override {'.'.join(parts)!r} goes inside {where!r}, which is a "
                f"{type(child).__name__}, not a mapping. Set {where!r} itself instead."
            )
        else:
            child = node[part] = dict(child)  # never mutate what the caller may share
        node = child
    node[parts[-1]] = value


# --- backend -------------------------------------------------------------------------------


def _choose_backend(flag: str | None, environ: Mapping[str, str],
                    from_file: Any) -> tuple[str, str]:
    from automl_bridge.registry import registry_for

    env = (environ.get(ENV_BACKEND) or "").strip()
    if flag:
        name, origin = flag, "the --backend option"
    elif env:
        name, origin = env, f"the {ENV_BACKEND} environment variable"
    elif from_file is not None:
        if not isinstance(from_file, str) or not from_file:
            raise ConfigError(
                f"The 'backend' of the config must be a backend name such as 'local'. "
                f"Got {from_file!r}."
            )
        name, origin = from_file, "the config's 'backend:'"
    else:
        name, origin = DEFAULT_BACKEND, "the default"
    try:
        registry_for("backends").entry(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} It was chosen by {origin}.") from exc
    return name, origin


def _backend_options(sections: Any, name: str, source: Path,
                     environ: Mapping[str, str]) -> dict[str, Any]:
    from automl_bridge.registry import registry_for

    sections = _mapping(sections, "backends", source)
    known = registry_for("backends").names()
    unknown = sorted(str(k) for k in sections if k not in known)
    if unknown:
        raise ConfigError(
            f"The 'backends' section of {str(source)!r} has options for unknown backend(s) "
            f"{unknown}. Known backends are {known}."
        )
    options = sections.get(name)
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ConfigError(
            f"The 'backends.{name}' section of {str(source)!r} must be a mapping of option "
            f"names to values. Got a {type(options).__name__}."
        )
    return {str(k): _expand_env(v, f"backends.{name}.{k}", environ) for k, v in options.items()}


def _expand_env(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` in strings (also inside lists and mappings) by the variable's value."""
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, where, environ) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in environ:
            raise ConfigError(
                f"The option {where!r} refers to the environment variable {var!r}, which is "
                f"not set. Set it (export {var}=...) or write the value in the config."
            )
        return environ[var]

    return _ENV_REF.sub(repl, value)
