"""The ``automl-bridge`` command line: a thin shell over the library.

Commands:
    run CONFIG       fit the config's job on ``data.train``; print the leaderboard, the best
                     candidate, where the result and model were written and the test score.
    predict MODEL DATA -o OUT.csv
                     predictions (and class probabilities) of a saved model.
    validate CONFIG  check config, backend options and training data; train nothing.
    backends         list the backends and whether each is installed (imports no SDK).

Exit codes: 0 success, 1 a run ended without completing, 2 bad input or any automl-bridge
error (printed as ``error: <message>``, no traceback), 130 interrupted.

Example:
    >>> from automl_bridge.cli import main
    >>> main(["backends"])  # doctest: +ELLIPSIS
    name...
    0
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge import __version__
from automl_bridge.exceptions import AutoMLBridgeError, ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from automl_bridge.config import Config
    from automl_bridge.job import AutoMLJob
    from automl_bridge.results import RunResult

LEADERBOARD_ROWS = 10
_LEADERBOARD_COLUMNS = ("rank", "candidate_id", "family", "score", "fit_time_s")


# --- output helpers ------------------------------------------------------------------------


def _out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _is_terminal() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                title: str | None = None, right: Sequence[str] = (), rich: bool | None = None,
                file: Any = None) -> None:
    """Print a table: a rich table on a terminal, aligned plain text elsewhere.

    Args:
        headers: column names.
        rows: cells, already formatted as strings.
        title: a line above the table.
        right: headers of the columns to right-align (numbers).
        rich: force (or refuse) rich output; default: whether stdout is a terminal.
        file: where to write (default: ``sys.stdout``).
    """
    file = file if file is not None else sys.stdout
    if rich if rich is not None else _is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table()
        for h in headers:
            table.add_column(h, overflow="fold", justify="right" if h in right else "left")
        for row in rows:
            table.add_row(*row)
        console = Console(file=file, highlight=False)
        if title:
            console.print(title, markup=False)
        console.print(table)
        return
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if h in right else c.ljust(w)
                         for c, w, h in zip(cells, widths, headers, strict=True)).rstrip()

    lines = [title] if title else []
    lines += [line(headers)] + [line(r) for r in rows]
    print("\n".join(lines), file=file)


def _fmt(value: Any, spec: str = ".5g") -> str:
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return "-" if value is None else str(value)


# --- run -----------------------------------------------------------------------------------


@dataclass
class HoldoutScore:
    """The best model's score on ``data.test``."""

    value: float
    n_rows: int
    source: str
    notes: list[str] = field(default_factory=list)


def _load(args: argparse.Namespace) -> Config:
    from automl_bridge.config import load_config

    return load_config(args.config, overrides=args.set or (), backend=args.backend)


def _require_train(cfg: Config) -> Path | str:
    if cfg.train is None:
        raise ConfigError(
            f"The config {str(cfg.source)!r} has no 'data.train'. Add "
            "data: {train: path/to/train.csv} or pass --set data.train=PATH."
        )
    return cfg.train


def _read_test(cfg: Config) -> pd.DataFrame | None:
    """Read ``data.test`` before training, so a bad test file fails early."""
    from automl_bridge.data import read_table

    if cfg.test is None or isinstance(cfg.test, str):
        return None
    frame = read_table(cfg.test)
    target = cfg.spec.target
    if target not in frame.columns:
        raise DataError(
            f"The test data {str(cfg.test)!r} has no target column {target!r}, so the best "
            f"model cannot be scored on it. Columns are {[str(c) for c in frame.columns][:20]}. "
            "Add the column or remove data.test."
        )
    return frame


def _pos_label(given: Any, classes: list[Any]) -> Any:
    if given is None or given in classes:
        return given
    return next((c for c in classes if str(c) == str(given)), given)


def score_on_test(job: AutoMLJob, result: RunResult, frame: pd.DataFrame,
                  source: str) -> HoldoutScore:
    """Score the job's best model on a test frame with the run's metric."""
    from automl_bridge.metrics import get_metric, score

    metric = get_metric(result.metric)
    target = job.spec.target
    notes: list[str] = []
    keep = frame[target].notna()
    if not keep.all():
        notes.append(f"{int((~keep).sum())} test rows with a missing target were left out.")
    if metric.task == "classification":
        classes = list(job.model.classes_)
        y = _as_class_labels(frame.loc[keep, target], classes)
        seen = y.isin(classes)
        if not seen.all():
            unseen = sorted({str(v) for v in y[~seen]})
            notes.append(f"{int((~seen).sum())} test rows of classes unseen in training "
                         f"{unseen[:10]} were left out.")
        X = frame.loc[keep].loc[seen.to_numpy()].drop(columns=[target])
        y = y[seen]
        proba = job.predict_proba(X).to_numpy() if metric.needs_proba else None
        pred = None if metric.needs_proba else job.predict(X).to_numpy()
        value = score(metric, y.to_numpy(), y_pred=pred, y_proba=proba, classes=classes,
                      pos_label=_pos_label(job.spec.pos_label, classes))
    else:
        X = frame.loc[keep].drop(columns=[target])
        y = frame.loc[keep, target]
        value = score(metric, y.to_numpy(), y_pred=job.predict(X).to_numpy())
    return HoldoutScore(value=value, n_rows=len(X), source=source, notes=notes)


def _as_class_labels(y: pd.Series, classes: list[Any]) -> pd.Series:
    """Test labels of the training labels' type (CSV integers become floats next to NaN)."""
    import pandas as pd

    ints = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    if ints and pd.api.types.is_float_dtype(y) and (y % 1 == 0).all():
        return y.astype("int64")
    if all(isinstance(c, str) for c in classes) and not pd.api.types.is_string_dtype(y):
        return y.astype(str)
    return y


def _result_path(job: AutoMLJob, result: RunResult) -> Path | None:
    """Where the run's ``result.json`` is; the CLI writes it when the backend did not."""
    backend = job.backend
    run_dir = getattr(backend, "run_dir", Path("runs"))
    if run_dir is None or not result.run_id:
        return None
    path = Path(run_dir) / result.run_id / "result.json"
    if not path.exists():
        result.save(path)
    return path


def _print_leaderboard(result: RunResult) -> None:
    from automl_bridge.metrics import get_metric

    board = result.leaderboard()
    direction = "higher" if get_metric(result.metric).greater_is_better else "lower"
    shown = board.head(LEADERBOARD_ROWS)
    rows = [[str(r.get("rank", "")), str(r.get("candidate_id", "")), str(r.get("family", "")),
             _fmt(r.get("score")), _fmt(r.get("fit_time_s"), ".2f")]
            for r in shown.to_dict("records")]
    if board.empty:
        _out(f"Leaderboard: no candidate completed ({len(result.candidates)} tried).")
        return
    title = (f"Leaderboard: {result.metric} ({direction} is better), top {len(shown)} of "
             f"{len(board)} complete candidates ({len(result.candidates)} tried)")
    print_table(_LEADERBOARD_COLUMNS, rows, title=title, right=("rank", "score", "fit_time_s"))


def _budget_text(result: RunResult, spec: Any) -> str:
    parts = [f"{result.wall_time_s:.1f} s"]
    if spec.time_budget_s is not None:
        parts.append(f"of a {spec.time_budget_s:g} s time budget")
        over = result.wall_time_s - spec.time_budget_s
        if over >= 0.05:
            parts.append(f"(over by {over:.1f} s)")
    if spec.max_trials is not None:
        parts.append(f"({len(result.candidates)} of at most {spec.max_trials} trials)")
    return " ".join(parts)


def _print_report(job: AutoMLJob, result: RunResult, result_path: Path | None,
                  test: HoldoutScore | None) -> None:
    _print_leaderboard(result)
    best = result.best
    _out()
    if best is None:
        _out("Best candidate: none completed.")
    else:
        trained = best.extra.get("trained_on")
        _out(f"Best candidate: {best.candidate_id} ({best.family}), validation "
             f"{result.metric} {_fmt(best.score)}"
             + (f", trained on {trained}" if trained else "")
             + (" [budget exhausted: baseline model]" if result.budget_exhausted else ""))
        if best.params:
            _out(f"  params: {best.params}")
    fields = [
        ("Run", f"{result.run_id} ({result.backend}, {result.status.value})"),
        ("Run directory", str(result_path.parent) if result_path else "not saved (run_dir: null)"),
        ("Result", str(result_path) if result_path else "not saved"),
        ("Model", result.model_path or "not saved"),
        ("Wall time", _budget_text(result, job.spec)),
    ]
    if test is not None:
        fields.append(("Test score", f"{result.metric} {_fmt(test.value)} on {test.n_rows} "
                                     f"rows of {test.source}"))
    width = max(len(k) for k, _ in fields) + 1
    for key, value in fields:
        _out(f"{(key + ':').ljust(width)} {value}")
    notes = list(result.warnings) + (test.notes if test else [])
    if notes:
        _out(f"Warnings ({len(notes)}):")
        for w in notes:
            _out(f"  - {w}")


def _summary(result: RunResult, test: HoldoutScore | None, spec: Any) -> str:
    best = result.best
    what = (f"best {best.family} {result.metric}={_fmt(best.score)}" if best is not None
            else "no candidate completed")
    if test is not None:
        what += f" (test {_fmt(test.value)})"
    model = f", model {result.model_path}" if result.model_path else ""
    return (f"run {result.run_id} {result.status.value}: {what}, "
            f"{result.n_complete}/{len(result.candidates)} candidates in "
            f"{_budget_text(result, spec)}{model}")


def cmd_run(args: argparse.Namespace) -> int:
    """``automl-bridge run``: fit, then report."""
    from automl_bridge.progress import make_progress
    from automl_bridge.results import RunStatus

    cfg = _load(args)
    train = _require_train(cfg)
    test_frame = _read_test(cfg)
    job = cfg.job()
    result = job.fit(train, resume=args.resume, progress=make_progress(quiet=args.quiet))
    test = None
    if test_frame is not None and result.best is not None and result.best.model is not None:
        test = score_on_test(job, result, test_frame, str(cfg.test))
    result_path = _result_path(job, result)
    if not args.quiet:
        _print_report(job, result, result_path, test)
        _out()
    _out(_summary(result, test, job.spec))
    if args.report:
        from automl_bridge.reports import compare

        folder = result_path.parent if result_path is not None else Path(".")
        scorable = result.best is not None and result.best.model is not None
        report = compare([result], holdout=test_frame if scorable else None)
        written = report.save(folder / "report.html")
        _out(f"Report:   {written}")
    return 0 if result.status is RunStatus.COMPLETED else 1


# --- worker --------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    """``automl-bridge worker``: join a shared run on PostgreSQL and work until it ends."""
    import os

    from automl_bridge.progress import make_progress

    cfg = _load(args)
    if cfg.backend != "local":
        raise ConfigError(f"Workers run the local engine; the config chose the backend "
                          f"{cfg.backend!r} ({cfg.backend_origin}). Pass --backend local.")
    train = _require_train(cfg)
    options = dict(cfg.backend_options)
    storage = args.storage or os.environ.get("AUTOML_BRIDGE_STORAGE") or options.get("storage")
    if not storage:
        raise ConfigError(
            "A worker needs a PostgreSQL storage shared by all workers: pass --storage "
            "postgresql://user:password@host/db, set AUTOML_BRIDGE_STORAGE (keeps the password "
            "out of the process list), or set backends.local.storage in the config.")
    options["storage"] = storage
    if args.run_id:
        options["run_id"] = args.run_id
    if args.n_jobs is not None:
        options["n_jobs"] = args.n_jobs
    job = cfg.job().with_backend("local", **options)
    result = job.work(train, progress=make_progress(quiet=args.quiet))
    here = result.extra.get("trials_here", 0)
    final = result.extra.get("final") or {}
    if result.extra.get("finalized_here"):
        where = f"final model written here: {result.model_path}"
    else:
        where = f"final model written by {final.get('process', '?')}"
        if final.get("model_path"):
            where += f" at {final['model_path']}"
    best = result.best
    best_text = "no complete candidate" if best is None else \
        f"best {result.metric} {_fmt(best.score)} ({best.family}, candidate {best.candidate_id})"
    _out(f"Run {result.run_id}: {result.status.value}; {len(result.candidates)} trials in all, "
         f"{here} run by this worker; {best_text}; {where}.")
    from automl_bridge.results import RunStatus

    return 0 if result.status is RunStatus.COMPLETED else 1


# --- predict -------------------------------------------------------------------------------


def predictions_frame(model: Any, frame: pd.DataFrame, *, keep: Sequence[str] = ()) -> Any:
    """A frame with ``keep`` columns, ``prediction`` and (classifiers) ``proba_<class>``."""
    import pandas as pd

    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise DataError(
            f"The --keep column(s) {missing} are not in the data. Columns are "
            f"{[str(c) for c in frame.columns][:20]}."
        )
    out = pd.DataFrame({c: frame[c].to_numpy() for c in keep}, index=range(len(frame)))
    out["prediction"] = model.predict(frame)
    classes = getattr(model, "classes_", None)
    if classes is not None and getattr(model, "task", "classification") == "classification":
        proba = model.predict_proba(frame)
        for j, c in enumerate(classes):
            out[f"proba_{c}"] = proba[:, j]
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    """``automl-bridge predict``: a saved model's predictions on a CSV/Parquet file."""
    from automl_bridge.data import read_table
    from automl_bridge.models.persistence import load_model

    model = load_model(args.model)
    frame = read_table(args.data)
    out = predictions_frame(model, frame, keep=args.keep or ())
    if args.output == "-":
        out.to_csv(sys.stdout, index=False)
        return 0
    target = Path(args.output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() in (".parquet", ".pq"):
            out.to_parquet(target, index=False)
        else:
            out.to_csv(target, index=False)
    except OSError as exc:
        raise ConfigError(f"The output file {str(target)!r} cannot be written: {exc}.") from exc
    _out(f"Wrote {len(out)} predictions ({', '.join(map(str, out.columns))}) to {target}")
    return 0


# --- validate ------------------------------------------------------------------------------


def _check_backend(cfg: Config) -> str:
    from automl_bridge.registry import registry_for

    entry = registry_for("backends").entry(cfg.backend)
    head = f"{cfg.backend} (chosen by {cfg.backend_origin})"
    if not entry.is_installed():
        return (f"{head}: not installed here, so its options were not checked. "
                f"Install it with: {entry.install_hint}")
    _ = cfg.job().backend  # constructing the backend validates its options
    keys = ", ".join(sorted(cfg.backend_options)) or "none set"
    return f"{head}: options OK ({keys})"


def cmd_validate(args: argparse.Namespace) -> int:
    """``automl-bridge validate``: check everything a run needs; train nothing."""
    from automl_bridge.data import prepare_training_data

    cfg = _load(args)
    train = _require_train(cfg)
    spec = cfg.spec
    _out(f"Config:   {cfg.source}")
    _out(f"Job:      task={spec.task}, target={spec.target!r}, metric={spec.metric}, "
         f"time_budget_s={spec.time_budget_s}, max_trials={spec.max_trials}, "
         f"search={spec.search_strategy}, models={list(spec.models or []) or 'all'}")
    _out(f"Backend:  {_check_backend(cfg)}")
    if isinstance(train, str):
        _out(f"Data:     {train} is a remote URI; it was not checked here.")
        _out("Valid (nothing was trained).")
        return 0
    data = prepare_training_data(train, spec)
    n_cols = int(data.fingerprint.get("columns", data.X.shape[1] + 1))
    _out(f"Data:     {train}")
    _out(f"  rows: {data.n_rows}, columns: {n_cols} (target {spec.target!r})")
    _out(f"  task: {data.task} ({data.task_reason or 'as given'})")
    if data.classes is not None:
        _out(f"  classes: {data.classes[:20]}")
    _out(f"  metric: {data.metric}" + ("" if spec.metric else " (default for the task)"))
    kinds: dict[str, list[str]] = {}
    for col, kind in data.schema.kinds.items():
        kinds.setdefault(kind, []).append(col)
    for kind, cols in kinds.items():
        _out(f"  {kind} features ({len(cols)}): {', '.join(cols)}")
    for col, why in data.schema.dropped.items():
        _out(f"  dropped {col!r}: {why}")
    test = _read_test(cfg)
    if test is not None:
        _out(f"Test:     {cfg.test} ({len(test)} rows, has the target)")
    warnings = list(data.warnings)
    backend = cfg.job().backend if _installed(cfg.backend) else None
    if backend is not None and hasattr(backend, "check"):
        cloud = [w for w in backend.check(spec, train) if w not in warnings]
        _out(f"Service:  the spec maps onto {cfg.backend} (checked offline; nothing uploaded)")
        warnings += cloud
    if warnings:
        _out(f"Warnings ({len(warnings)}):")
        for w in warnings:
            _out(f"  - {w}")
    _out("Valid (nothing was trained).")
    return 0


def _installed(backend: str) -> bool:
    from automl_bridge.registry import registry_for

    return registry_for("backends").entry(backend).is_installed()


# --- backends ------------------------------------------------------------------------------


def cmd_backends(args: argparse.Namespace) -> int:
    """``automl-bridge backends``: one line per registered backend; imports none of them."""
    from automl_bridge.registry import registry_for

    reg = registry_for("backends")
    rows = []
    for name in reg.names():
        e = reg.entry(name)
        rows.append([name, "yes" if e.is_installed() else "no", e.extra or "-",
                     e.install_hint, e.description])
    print_table(["name", "installed", "extra", "install", "description"], rows)
    return 0


# --- report --------------------------------------------------------------------------------


def _result_with_model(path: str) -> Any:
    """A saved result, with its best model loaded back when the run saved one."""
    from automl_bridge.models.persistence import load_model
    from automl_bridge.results import load_result

    result = load_result(path)
    model_path = result.model_path
    if result.best is not None and model_path:
        candidate = Path(model_path)
        if not candidate.is_absolute() and not candidate.exists():
            candidate = Path(path).parent / candidate.name
        if candidate.exists():
            result.best.model = load_model(candidate)
    return result


def cmd_report(args: argparse.Namespace) -> int:
    """``automl-bridge report``: compare saved runs in one HTML, Markdown or JSON file."""
    from automl_bridge.data import read_table
    from automl_bridge.reports import compare

    results = [_result_with_model(p) for p in args.results]
    holdout = read_table(args.holdout) if args.holdout else None
    report = compare(results, holdout=holdout, labels=args.label or None)
    if args.title:
        report.title = args.title
    written = report.save(args.output)
    _out(f"Compared {len(results)} run(s): {written}")
    return 0


# --- cancel and cleanup (clouds) ----------------------------------------------------------


def _cloud_backend(args: argparse.Namespace) -> Any:
    """The configured backend, which must be a cloud backend."""
    cfg = _load(args)
    backend = cfg.job().backend
    if not hasattr(backend, "cleanup"):
        raise ConfigError(
            f"'automl-bridge {args.command}' acts on cloud jobs; the backend {cfg.backend!r} "
            "runs on this machine (stop a local run with Ctrl-C). Pick a cloud backend with "
            "--backend sagemaker|vertex|azure.")
    return backend


def cmd_cancel(args: argparse.Namespace) -> int:
    """``automl-bridge cancel``: ask the service to stop one job."""
    from automl_bridge.backends.cloud.adapter import RemoteJob

    backend = _cloud_backend(args)
    state = backend.adapter.cancel(RemoteJob(backend.name, args.job))
    _out(f"Asked {backend.name} to stop {args.job}: it is now {state.raw}.")
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    """``automl-bridge cleanup``: find the jobs this SDK started that still run, stop them."""
    backend = _cloud_backend(args)
    jobs = backend.cleanup(dry_run=args.dry_run)
    verb = "would stop" if args.dry_run else "stopped"
    if not jobs:
        _out(f"No running {backend.name} job started by automl-bridge.")
        return 0
    for job in jobs:
        _out(f"{verb}: {job.job_id}" + (f" (run {job.run_id})" if job.run_id else ""))
    _out(f"{len(jobs)} job(s) {verb}.")
    return 0


# --- parser and entry point ----------------------------------------------------------------


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="the YAML config file")
    p.add_argument("--backend", metavar="NAME",
                   help="backend to use (beats AUTOML_BRIDGE_BACKEND and the file's backend:)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config value, e.g. --set job.time_budget_s=30 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``automl-bridge``."""
    parser = argparse.ArgumentParser(
        prog="automl-bridge",
        description="One tabular AutoML spec, run locally or on SageMaker, Vertex AI, Azure ML.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show the library's log messages on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run a config's job and report",
                         description="Fit the job on data.train and print the leaderboard.")
    _config_args(run)
    run.add_argument("--resume", action="store_true",
                     help="continue the newest unfinished run (the spec must match)")
    run.add_argument("-q", "--quiet", action="store_true",
                     help="no live progress; print only the final one-line summary")
    run.add_argument("--report", action="store_true",
                     help="also write report.html beside the result (scored on data.test)")
    run.set_defaults(func=cmd_run)

    work = sub.add_parser(
        "worker", parents=[common], help="join a shared run on PostgreSQL as one worker",
        description="Work on the config's job together with any number of other workers "
                    "(on this or other machines) that share a PostgreSQL storage. The run ends "
                    "when its budget, counted over all workers, is spent; one worker then "
                    "refits and writes the final model.")
    _config_args(work)
    work.add_argument("--storage", metavar="URL",
                      help="postgresql://user:password@host:port/db (default: the environment "
                           "variable AUTOML_BRIDGE_STORAGE, then backends.local.storage)")
    work.add_argument("--run-id", metavar="ID",
                      help="the shared run's name (default: derived from the spec and data, "
                           "so workers given the same config and data agree)")
    work.add_argument("--n-jobs", type=int, metavar="N",
                      help="trials this worker runs at once (default: the config's n_jobs, 1)")
    work.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    work.set_defaults(func=cmd_worker)

    rep = sub.add_parser("report", parents=[common], help="compare runs in one report",
                         description="Compare saved runs (result.json files, local or cloud) "
                                     "in one self-contained HTML, Markdown or JSON file.")
    rep.add_argument("results", nargs="+", metavar="RESULT", help="result.json files")
    rep.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="report.html, report.md or report.json (by the suffix)")
    rep.add_argument("--holdout", metavar="DATA",
                     help="rows with the target that every best model is scored on (CSV, "
                          "TSV or Parquet): bootstrap confidence intervals of each score and "
                          "of the differences")
    rep.add_argument("--label", action="append", metavar="NAME", default=[],
                     help="a name per result, in order (default: backend/strategy)")
    rep.add_argument("--title", help="the report's title")
    rep.set_defaults(func=cmd_report)

    pred = sub.add_parser("predict", parents=[common], help="predict with a saved model",
                          description="Write predictions of a .skops model to a CSV file.")
    pred.add_argument("model", metavar="MODEL", help="a model.skops file written by a run")
    pred.add_argument("data", metavar="DATA", help="rows to predict (CSV, TSV or Parquet)")
    pred.add_argument("-o", "--output", required=True, metavar="OUT",
                      help="output CSV (.parquet writes Parquet; '-' writes CSV to stdout)")
    pred.add_argument("--keep", action="append", metavar="COLUMN", default=[],
                      help="copy this input column (e.g. an id) into the output (repeatable)")
    pred.set_defaults(func=cmd_predict)

    val = sub.add_parser("validate", parents=[common], help="check a config and its data",
                         description="Check the spec, backend options and training data "
                                     "without training anything.")
    _config_args(val)
    val.set_defaults(func=cmd_validate)

    cancel = sub.add_parser("cancel", parents=[common], help="stop one cloud job",
                            description="Ask the configured cloud backend to stop a job.")
    _config_args(cancel)
    cancel.add_argument("--job", required=True, metavar="JOB_ID",
                        help="the job's name or resource name (RunResult.extra['job_id'])")
    cancel.set_defaults(func=cmd_cancel)

    clean = sub.add_parser("cleanup", parents=[common],
                           help="stop cloud jobs this SDK started and left running",
                           description="Find the configured cloud's jobs tagged as started by "
                                       "automl-bridge that still run, and stop them.")
    _config_args(clean)
    clean.add_argument("--dry-run", action="store_true", help="list them, stop nothing")
    clean.set_defaults(func=cmd_cleanup)

    bk = sub.add_parser("backends", parents=[common], help="list backends and their extras",
                        description="List the registered backends; imports none of them.")
    bk.set_defaults(func=cmd_backends)
    return parser


@contextlib.contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    """Library log lines on stderr with ``--verbose``; otherwise errors only (warnings are
    printed in the report). The logger is restored afterwards."""
    logger = logging.getLogger("automl_bridge")
    level, propagate = logger.level, logger.propagate
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if verbose:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    else:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse errors raise ``SystemExit(2)``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    with _logging(args.verbose):
        try:
            return int(args.func(args))
        except AutoMLBridgeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # e.g. `predict ... -o - | head`
            _silence_stdout()
            return 141
        except KeyboardInterrupt as exc:
            hint = (" The partial run was kept; continue it with --resume."
                    if args.command == "run" else "")
            if args.command == "worker":
                hint = " Its running trial was released; start the worker again to go on."
            print(f"interrupted.{hint}", file=sys.stderr)
            return 143 if getattr(exc, "signal", "") == "SIGTERM" else 130
