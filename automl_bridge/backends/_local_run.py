"""One execution of a local run, from raw data to a saved RunResult.

Order of work (all inside the time budget): start the worker processes (they import
scikit-learn while the data is validated here), validate the data, open or resume the study,
search, choose the final model, write ``result.json`` and ``model.skops``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.backends._local_final import FinalModel
from automl_bridge.backends.local import (
    _check_run_id,
    available_memory_bytes,
    check_memory,
    new_run_id,
    summarize_failures,
    usable_families,
)
from automl_bridge.engine.coordination import FINAL_ATTR, Coordinator
from automl_bridge.engine.objectives import Objectives, objective_points, pareto_front
from automl_bridge.engine.study import (
    ATTR_SESSIONS,
    ATTR_STATUS,
    create_run_study,
    derived_run_id,
    find_resumable,
    join_run_study,
    load_run_study,
    now_iso,
    open_storage,
    stored_trials,
)
from automl_bridge.exceptions import ConfigError, FitInterrupted
from automl_bridge.metrics import get_metric
from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus
from automl_bridge.spec import COST_OBJECTIVES

if TYPE_CHECKING:
    from automl_bridge.backends.local import LocalBackend
    from automl_bridge.data import TrainingData
    from automl_bridge.engine.evaluate import EvalContext
    from automl_bridge.spec import JobSpec

log = logging.getLogger("automl_bridge.local")

#: Fraction of the budget (at least 0.5 s, at most 5 s) kept for writing results.
WRITE_RESERVE_REL = 0.03
#: Default configurations of these families are tried first, in this order: on small data the
#: cheap linear model first (a model exists within a second), on large data gradient boosting
#: first (it stops early and is the strongest; a linear model there still costs seconds).
WARM_START = ("linear", "hist_gradient_boosting", "random_forest", "mlp", "mlp_cells")
WARM_START_LARGE = ("hist_gradient_boosting", "linear", "random_forest", "mlp", "mlp_cells")
#: Training rows from which the large-data order applies.
LARGE_ROWS = 10_000


class LocalRun(FinalModel):
    """Executes one run; see the module docstring."""

    def __init__(self, *, backend: LocalBackend, spec: JobSpec, resume: bool,
                 run_id: str | None, cancel: threading.Event, progress: Any,
                 join: bool = False) -> None:
        from automl_bridge.progress import SilentProgress

        self.backend = backend
        self.spec = spec
        self.resume = resume
        self.join = join  # a worker: join the run if it exists, else create it
        self.coord: Coordinator | None = None
        self._signal = "SIGINT"
        self.run_id = run_id
        self.cancel = cancel
        self.progress = progress or SilentProgress()
        self.t0 = time.monotonic()
        self.started_at = now_iso()
        self.warnings: list[str] = []
        self._storage_label = "memory"
        self._created_dir: str | None = None
        self._study_made = False
        self._scratch: str | None = None
        self._deadline_for_final: float | None = None
        self.final_note: tuple[str, Any] = ("", None)
        self.ensemble_info: dict[str, Any] | None = None
        self.objectives: Objectives | None = None
        budget = spec.time_budget_s
        self.deadline = None if budget is None else self.t0 + budget
        self.write_reserve = 0.0 if budget is None else min(5.0, max(0.5, WRITE_RESERVE_REL
                                                                     * budget))

    # --- top level ---------------------------------------------------------------------------

    def execute(self, data: Any) -> RunResult:
        """Run everything; Ctrl-C writes a partial result marked ``interrupted`` and re-raises."""
        import optuna

        from automl_bridge.data import prepare_training_data

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress replaces its log
        from concurrent.futures import ThreadPoolExecutor

        executors = self._start_executors()
        # While the data is checked here: skops scans every scikit-learn estimator on import,
        # and opening an SQLite storage costs about a second.
        threading.Thread(target=_import_quietly, args=("skops.io",), daemon=True).start()
        pool = ThreadPoolExecutor(1, thread_name_prefix="automl-bridge-storage")
        self._located = pool.submit(self._locate_storage)
        pool.shutdown(wait=False)
        restore = self._catch_sigterm()
        try:
            tdata = prepare_training_data(data, self.spec)
            return self._execute(tdata, executors)
        except BaseException:
            self._discard_unused_run_dir()
            raise
        finally:
            restore()
            if self.coord is not None:
                self.coord.close()
            for ex in executors:
                ex.close()
            if self._scratch is not None:
                import shutil

                shutil.rmtree(self._scratch, ignore_errors=True)

    def _catch_sigterm(self) -> Any:
        """SIGTERM stops the run like Ctrl-C (Python's default would skip every ``finally``).

        Only in the main thread (where signal handlers live); returns the undo function.
        """
        import signal

        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_term(_signum: int, _frame: Any) -> None:
            self._signal = "SIGTERM"
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough
            raise KeyboardInterrupt("SIGTERM")

        before = signal.signal(signal.SIGTERM, on_term)
        return lambda: signal.signal(signal.SIGTERM, before)

    def _weights_dir(self, strategy: Any) -> str | None:
        """Where network trials save weights for their children (``morphism``): the run
        directory's ``weights/``, or a scratch folder removed after the run."""
        if not strategy.inherit_weights:
            return None
        import tempfile

        run_dir = self.backend.run_dir
        if run_dir is not None and self.run_id:
            path = run_dir / self.run_id / "weights"
            path.mkdir(parents=True, exist_ok=True)
            return str(path)
        self._scratch = tempfile.mkdtemp(prefix="automl-bridge-weights-")
        return self._scratch

    def _locate_storage(self) -> tuple[Any, str | None, bool]:
        """The storage and run id of this run, and whether it resumes an earlier one."""
        storage, run_id = self._storage_for_run()
        if self.resume and run_id is not None:
            return storage, run_id, True
        if self.join:
            return storage, run_id, False  # the run id may come from the data (_open_study)
        run_id = run_id or new_run_id()
        if storage is None:
            storage = self._default_storage(run_id)
            self._created_dir = run_id
        return storage, run_id, False

    def _discard_unused_run_dir(self) -> None:
        """Remove the run directory this run created when it failed before any trial."""
        import shutil

        created = self._created_dir
        if created is None or self.backend.run_dir is None or self._study_made:
            return
        with contextlib.suppress(BaseException):
            self._located.result()  # wait until the storage is open before removing it
        shutil.rmtree(self.backend.run_dir / created, ignore_errors=True)

    def _start_executors(self) -> list[Any]:
        from automl_bridge.engine.workers import InlineExecutor, ProcessExecutor

        b = self.backend
        isolation = b.isolation
        if isolation == "auto":
            isolation = "inline" if self.spec.time_budget_s is None else "process"
        self.isolation = isolation
        cores = _cores()
        n_threads = max(1, cores // b.n_jobs)
        kind = ProcessExecutor if isolation == "process" else InlineExecutor
        return [kind(n_threads=n_threads) for _ in range(b.n_jobs)]

    def _execute(self, tdata: TrainingData, executors: list[Any]) -> RunResult:
        from automl_bridge.engine.evaluate import EvalContext
        from automl_bridge.engine.runner import Budget, Search
        from automl_bridge.engine.splits import make_splits
        from automl_bridge.engine.workers import threads_for
        from automl_bridge.models.families import DataContext

        spec = self.spec
        self.warnings.extend(tdata.warnings)
        check_memory(int(tdata.X.memory_usage(deep=True).sum()), 4 + 2 * len(executors),
                     available_memory_bytes())
        splits, scheme, split_warnings = make_splits(
            tdata.y, tdata.task, spec.validation_method, folds=spec.validation_folds,
            fraction=spec.validation_fraction, seed=spec.seed, target=spec.target)
        self.warnings.extend(split_warnings)
        n_train = len(splits[0][0])
        space_ctx = DataContext(task=tdata.task, n_rows=n_train, n_features=len(tdata.schema.kinds),
                                n_classes=tdata.n_classes, seed=spec.seed)
        families, fam_warnings = usable_families(spec, tdata.task, space_ctx)
        self.warnings.extend(fam_warnings)
        ectx = EvalContext(X=tdata.X, y=tdata.y, task=tdata.task, classes=tdata.classes,
                           metric=tdata.metric, pos_label=tdata.pos_label,
                           kinds=tdata.schema.kinds, input_columns=list(tdata.X.columns),
                           splits=splits, target=spec.target, seed=spec.seed,
                           n_threads=threads_for(len(tdata.y), executors[0].n_threads))
        for ex in executors:
            ex.load(ectx)
        direction = get_metric(tdata.metric).direction
        objectives = Objectives.of(
            spec.objectives if spec.objectives is not None else (tdata.metric,),
            spec.constraints)
        for name in objectives.names:
            if name not in COST_OBJECTIVES:
                get_metric(name, tdata.task)  # a metric of another task: MetricError
        study, session, strategy = self._open_study(tdata, objectives, families, space_ctx)
        coord = self.coord
        assert coord is not None
        self.objectives = objectives
        budget = Budget(deadline=self._session_deadline(study, session),
                        trials_left=None, write_reserve_s=self.write_reserve)
        self._deadline_for_final = budget.deadline
        ensemble = spec.ensemble is True or (spec.ensemble == "auto" and not objectives.multi
                                             and not objectives.constraints)
        if ensemble and coord.shared:
            ensemble = False
            self.warnings.append(
                "Ensemble selection was skipped: it needs every candidate's validation "
                "predictions, and with a shared storage they stay in the process that "
                "evaluated them. The final model is the best single pipeline.")
        search = Search(study=study, families=families, space_ctx=space_ctx,
                        executors=executors, budget=budget, direction=direction,
                        session=session, cancel=self.cancel, progress=self.progress,
                        objectives=objectives, plan=strategy.plan,
                        exhausted=strategy.exhausted, keep_predictions=ensemble,
                        warm_start_full=strategy.multi_fidelity and spec.estimation is None,
                        weights_dir=self._weights_dir(strategy), coordinator=coord)
        self.progress.start(run_id=self.run_id or "", metric=tdata.metric,
                            max_trials=spec.max_trials, time_budget_s=spec.time_budget_s)
        extra = {"validation": scheme, "storage": self._storage_label,
                 "isolation": self.isolation, "n_jobs": len(executors),
                 "families": list(families), "task_reason": tdata.task_reason,
                 "strategy": strategy.name,
                 "plan": strategy.plan.to_dict() if strategy.plan is not None else None,
                 "process": coord.me.label}
        if self.join and study.user_attrs.get(ATTR_STATUS) == "completed":
            search.stop_reason = "completed"  # joined a finished run: nothing left to do
        else:
            try:
                search.run()
            except KeyboardInterrupt:
                raise self._interrupted(study, tdata, direction, extra) from None
        self.progress.stop()
        extra["stop_reason"] = search.stop_reason
        extra["trials_here"] = search._started
        if search.stop_reason == "cancelled":
            if not coord.shared:
                study.set_user_attr(ATTR_STATUS, "cancelled")
            return self._finish(study, tdata, direction, RunStatus.CANCELLED, None, extra, "")
        if coord.shared:
            return self._finish_shared(study, tdata, direction, executors, ectx, search, extra)
        return self._finish_own(study, tdata, direction, executors, ectx, search, extra,
                                ensemble)

    def _interrupted(self, study: Any, tdata: TrainingData, direction: str,
                     extra: dict[str, Any]) -> FitInterrupted:
        """Ctrl-C or SIGTERM: fail this process's running trials (void: they are not counted
        and a resume replaces them), write the partial result, and say so."""
        import signal

        main = threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.progress.stop()
            assert self.coord is not None
            self.coord.abandon(study)
            if not self.coord.shared:  # other workers may go on with a shared run
                study.set_user_attr(ATTR_STATUS, "interrupted")
            result = self._finish(study, tdata, direction, RunStatus.INTERRUPTED, None, extra,
                                  f"interrupted ({self._signal})")
        finally:
            if before is not None:
                signal.signal(signal.SIGINT, before)
        return FitInterrupted(result, self._signal)

    def _finish_own(self, study: Any, tdata: TrainingData, direction: str,
                    executors: list[Any], ectx: EvalContext, search: Any,
                    extra: dict[str, Any], ensemble: bool) -> RunResult:
        """The final step of a run this process owns (SQLite, memory)."""
        from automl_bridge.engine.runner import candidates_from_study

        summarize_failures(candidates_from_study(study))
        model = self._final_model(study, direction, executors, ectx, search.fallback)
        if ensemble and model is not None and self.final_note[0] == "refit":
            model = self._ensemble(study, direction, executors, ectx, search, model)
        study.set_user_attr(ATTR_STATUS, "completed")
        return self._finish(study, tdata, direction, RunStatus.COMPLETED, model, extra, "")

    def _finish_shared(self, study: Any, tdata: TrainingData, direction: str,
                       executors: list[Any], ectx: EvalContext, search: Any,
                       extra: dict[str, Any]) -> RunResult:
        """The final step of a shared run: exactly one process refits and writes the model.

        The first process to get here holds the run's final lock, waits for the other
        processes' running trials (or the deadline), refits the best candidate, writes
        ``result.json`` and ``model.skops`` in its run directory and marks the run completed.
        The others wait for the lock, then return the same candidates without the model (the
        result names the process and the path that hold it). Should the finalizing process
        die, the next process to get the lock finalizes instead.
        """
        from automl_bridge.engine.runner import candidates_from_study

        coord = self.coord
        assert coord is not None
        with coord.finalizing():
            if study.user_attrs.get(ATTR_STATUS) == "completed":
                return self._follower_result(study, tdata, direction, extra)
            self._wait_for_others(study)
            summarize_failures(candidates_from_study(study))
            model = self._final_model(study, direction, executors, ectx, search.fallback)
            extra["finalized_here"] = True
            result = self._finish(study, tdata, direction, RunStatus.COMPLETED, model, extra,
                                  "")
            study.set_user_attr(FINAL_ATTR, {
                "process": coord.me.label, "at": now_iso(),
                "best": result.best.candidate_id if result.best is not None else None,
                "model_path": None if result.model_path is None
                else str(Path(result.model_path).absolute())})
            study.set_user_attr(ATTR_STATUS, "completed")
            return result

    def _wait_for_others(self, study: Any, poll_s: float = 0.2) -> None:
        """Until no other process runs a trial of this run (lost ones are swept), or the
        deadline."""
        coord = self.coord
        assert coord is not None
        deadline = self._deadline_for_final
        while coord.running_elsewhere(study):
            if deadline is not None and time.monotonic() >= deadline - self.write_reserve:
                self.warnings.append("Trials of other workers were still running at the "
                                     "deadline; the final model was chosen without them.")
                return
            if self.cancel.is_set():
                return
            with coord.lock():
                coord.sweep(study)
            time.sleep(poll_s)

    def _follower_result(self, study: Any, tdata: TrainingData, direction: str,
                         extra: dict[str, Any]) -> RunResult:
        """This process's view of a run another process finalized: the candidates, and
        where the final model is (no model object here)."""
        final = dict(study.user_attrs.get(FINAL_ATTR) or {})
        extra["final"] = final
        result = self._finish(study, tdata, direction, RunStatus.COMPLETED, None, extra, "",
                              write=False)
        best_id = final.get("best")
        if best_id is not None:
            result.best = next((c for c in result.candidates if c.candidate_id == best_id),
                               result.best)
        where = final.get("model_path") or "its run directory"
        result.warnings.append(
            f"The final model was refit and written by the process {final.get('process')} "
            f"({where}); this process returns the candidates only.")
        return result

    # --- study -------------------------------------------------------------------------------

    def _open_study(self, tdata: TrainingData, objectives: Objectives,
                    families: dict[str, Any], space_ctx: Any) -> tuple[Any, int, Any]:
        from automl_bridge.engine.runner import engine_space
        from automl_bridge.search.estimation import apply_estimation
        from automl_bridge.search.strategies import StrategyContext, make_strategy

        spec, b = self.spec, self.backend
        storage, run_id, resuming = self._located.result()
        sha = tdata.fingerprint["sha256"]
        if self.join and run_id is None:
            run_id = derived_run_id(spec, sha)
        assert run_id is not None
        self.run_id = run_id
        coord = self.coord = Coordinator(storage, run_id, max_trials=spec.max_trials,
                                         heartbeat_s=b.heartbeat_s)
        if self.join and not coord.shared:
            raise ConfigError(
                f"A worker needs a PostgreSQL storage, which several processes can share; got "
                f"{self._storage_label!r}. SQLite serves one process per run (use "
                "`automl-bridge run` / job.fit for that), and an in-memory study lives in one "
                "process. Start PostgreSQL and pass storage='postgresql://user:password@host/db'"
                " (see docs/scaling.md).")
        existing = stored_trials(storage, run_id) if resuming or self.join else 0
        strategy = make_strategy(spec.search_strategy, StrategyContext(
            seed=spec.seed, n_jobs=b.n_jobs, options=spec.search_options,
            directions=objectives.directions, space=engine_space(families, space_ctx),
            max_trials=spec.max_trials, time_budget_s=spec.time_budget_s,
            n_rows=space_ctx.n_rows, constrained=bool(objectives.constraints),
            resumed_trials=existing, salt=coord.salt))
        strategy = apply_estimation(strategy, spec.estimation_method, spec.estimation_options,
                                    metric=tdata.metric)
        self.warnings.extend(strategy.notes)
        created = False
        if resuming:
            study = load_run_study(storage, run_id=run_id, spec=spec, data_sha256=sha,
                                   sampler=strategy.sampler, pruner=strategy.pruner)
        elif self.join:
            study, created = join_run_study(storage, run_id=run_id, spec=spec,
                                            data_sha256=sha, directions=objectives.directions,
                                            sampler=strategy.sampler, pruner=strategy.pruner)
        else:
            if self.resume:
                self.warnings.append("resume=True found no unfinished run; a new run started.")
            self._study_made = True
            created = True
            study = create_run_study(storage, run_id=run_id, spec=spec, data_sha256=sha,
                                     directions=objectives.directions,
                                     sampler=strategy.sampler, pruner=strategy.pruner,
                                     recover=not coord.shared)
        coord.take_run(study)  # SQLite, memory: refuses a second live process
        if created and strategy.warm_start:
            self._warm_start(study, families, space_ctx)
        with coord.lock():
            if not created:
                coord.sweep(study)  # trials lost with a killed process: failed, retried once
            sessions = list(study.user_attrs.get(ATTR_SESSIONS, []))
            sessions.append({"start": now_iso(), "budget_s": spec.time_budget_s,
                             "process": coord.me.label})
            study.set_user_attr(ATTR_SESSIONS, sessions)
            if study.user_attrs.get(ATTR_STATUS) != "completed" or not self.join:
                study.set_user_attr(ATTR_STATUS, "running")
        return study, len(sessions) - 1, strategy

    def _storage_for_run(self) -> tuple[Any, str | None]:
        """The storage holding the run to resume (or given explicitly), and that run's id."""
        b = self.backend
        if b.storage_url is not None:
            from automl_bridge.engine.study import redact

            self._storage_label = redact(b.storage_url)
            storage = open_storage(b.storage_url)
            if self.resume and self.run_id is None:
                found = find_resumable(storage)
                if found is not None:
                    _check_run_id(found)  # names a folder; the storage may be shared
                return storage, found
            return storage, self.run_id
        if not self.resume or b.run_dir is None:
            return None, self.run_id
        candidates = [self.run_id] if self.run_id else sorted(
            (p.name for p in b.run_dir.glob("*") if (p / "study.db").exists()), reverse=True)
        for rid in candidates:
            path = b.run_dir / rid / "study.db"
            if not path.exists():
                continue
            storage = open_storage(f"sqlite:///{path}")
            if self.run_id or find_resumable(storage) == rid:
                self._storage_label = f"sqlite:///{path}"
                return storage, rid
        return None, None

    def _default_storage(self, run_id: str) -> Any:
        b = self.backend
        if b.run_dir is None:
            self._storage_label = "memory"
            return open_storage("memory")
        url = f"sqlite:///{b.run_dir / run_id / 'study.db'}"
        self._storage_label = url
        return open_storage(url)

    def _warm_start(self, study: Any, families: dict[str, Any], space_ctx: Any) -> None:
        """Enqueue strong default configurations first (as many as the trial budget allows).

        Under a multi-fidelity strategy they run at full fidelity (see ``Search``)."""
        from automl_bridge.engine.runner import WARM_START_ATTR

        order = WARM_START_LARGE if space_ctx.n_rows >= LARGE_ROWS else WARM_START
        limit = self.spec.max_trials if self.spec.max_trials is not None else len(order)
        for name in [n for n in order if n in families][:limit]:
            defaults = families[name].defaults(space_ctx)
            params = {f"{name}.{k}": v for k, v in defaults.items()}
            if len(families) > 1:
                params["model"] = name
            study.enqueue_trial(params, user_attrs={WARM_START_ATTR: True}, skip_if_exists=True)

    def _session_deadline(self, study: Any, session: int) -> float | None:
        """This session's deadline: the budget minus the time earlier sessions spent.

        On a shared storage, the run's deadline: set by the process that starts the run and
        followed by every worker (``fit(resume=True)`` there sets a new one, for the budget
        left).
        """
        if self.deadline is None:
            return None
        assert self.coord is not None
        if self.coord.shared and not self.resume:  # if this process starts the run, the
            # budget counts from this fit's start, as for a run of one process
            return self.coord.shared_deadline(study, self.deadline - time.monotonic())
        spent = _spent_before(study, session)
        if spent > 0:
            self.warnings.append(f"Earlier sessions of this run spent {spent:.1f}s of the "
                                 f"{self.spec.time_budget_s:.0f}s budget.")
        budget = float(self.spec.time_budget_s or 0.0)
        left = max(budget - spent, 0.1 * budget)
        if self.coord.shared:  # workers that join later follow this deadline
            return self.coord.shared_deadline(study, left, reset=True)
        return self.t0 + left

    # --- result ------------------------------------------------------------------------------

    def _finish(self, study: Any, tdata: TrainingData, direction: str, status: RunStatus,
                model: Any, extra: dict[str, Any], note: str, *, write: bool = True
                ) -> RunResult:
        from automl_bridge.engine.runner import best_candidates, candidates_from_study

        candidates = candidates_from_study(study)
        ranked = best_candidates(candidates, direction)
        best: Candidate | None = ranked[0] if ranked else None
        budget_exhausted = False
        kind = self.final_note
        if model is not None:
            if kind[0] == "baseline":
                best = Candidate(candidate_id="baseline", family="baseline", params={},
                                 score=kind[1].get(tdata.metric, float("nan")),
                                 metrics=kind[1], extra={"trained_on": "all rows"})
                budget_exhausted = True
            elif kind[0] == "refit" and self.ensemble_info is not None:
                info = self.ensemble_info
                best = Candidate(candidate_id="ensemble", family="ensemble",
                                 params={"members": info["members"]}, score=info["score"],
                                 metrics=info["metrics"],
                                 extra={"trained_on": "all rows", "members": info["members"]})
            elif kind[0] == "refit":
                best = kind[1]
                best.extra["trained_on"] = "all rows"
            elif kind[0] == "split" and kind[1] is not None:
                best = kind[1]
                best.extra["trained_on"] = "last validation split"
            if best is not None:
                best.model = model
        result = RunResult(
            run_id=self.run_id or "", backend="local", status=status, metric=tdata.metric,
            direction=direction, candidates=candidates, best=best, spec=self.spec.to_dict(),
            task=tdata.task, started_at=self.started_at, warnings=list(self.warnings),
            data_fingerprint={**tdata.fingerprint, "features": tdata.schema.to_dict()},
            package_versions=package_versions(), seed=self.spec.seed,
            budget_exhausted=budget_exhausted, extra=extra,
            objectives=list(self.objectives.names) if self.objectives else [tdata.metric],
            ensemble=self.ensemble_info,
        )
        if self.objectives is not None and self.objectives.multi:
            result.pareto_front = pareto_front(objective_points(candidates, self.objectives),
                                               self.objectives.directions)
        if self.objectives is not None and self.objectives.constraints and candidates and \
                not any(c.feasible for c in candidates if c.state is CandidateState.COMPLETE):
            result.warnings.append(
                "No candidate met the constraints "
                f"{self.objectives.constraints}; the run has no best candidate that respects "
                "them (see each candidate's 'violations').")
        if note:
            result.warnings.append(f"The run was {note}.")
        if self.coord is not None:
            result.warnings.extend(n for n in self.coord.notes if n not in result.warnings)
        run_dir = self.backend.run_dir if write else None
        if run_dir is not None and self.run_id:
            out = run_dir / self.run_id
            if model is not None:
                from automl_bridge.models.persistence import save_model

                result.model_path = str(save_model(model, out / "model.skops"))
        result.ended_at = now_iso()
        result.wall_time_s = round(time.monotonic() - self.t0, 3)
        if run_dir is not None and self.run_id:
            result.save(run_dir / self.run_id / "result.json")
        return result


def _spent_before(study: Any, session: int) -> float:
    """Wall time of earlier sessions, from their start to their last finished trial."""
    import datetime as dt

    from automl_bridge.engine.study import candidate_attr

    sessions = study.user_attrs.get(ATTR_SESSIONS, [])
    total = 0.0
    for i, sess in enumerate(sessions[:session]):
        start = dt.datetime.fromisoformat(sess["start"])
        ends = [t.datetime_complete for t in study.get_trials(deepcopy=False)
                if t.datetime_complete is not None and candidate_attr(t).get("session") == i]
        if ends:
            end = max(ends)
            if end.tzinfo is None:
                end = end.astimezone()
            total += max(0.0, (end - start).total_seconds())
    return total


def _import_quietly(module: str) -> None:
    import importlib

    with contextlib.suppress(ImportError):  # a core dependency; save_model reports it
        importlib.import_module(module)


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def package_versions() -> dict[str, str]:
    """Versions of Python and the libraries a local run uses."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for dist in ("automl-bridge", "optuna", "scikit-learn", "pandas", "numpy", "skops",
                 "pyarrow", "torch"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return out
