"""The search loop: ask the strategy, evaluate with a deadline, tell the result.

:class:`Search` runs trials on ``n_jobs`` executors until the trial budget, the time budget or
a cancel request ends it, then picks the final model: the best candidate refit on all rows if
the time left pays for it, else the best candidate's model from its last validation split,
else the baseline. Every trial is recorded in the study with its candidate record, so a run
can be resumed and rebuilt into a :class:`~automl_bridge.results.RunResult`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.engine.coordination import VOID_ATTR
from automl_bridge.engine.fidelity import Plan
from automl_bridge.engine.objectives import Objectives
from automl_bridge.engine.study import TRIAL_ATTR, candidate_attr
from automl_bridge.engine.workers import TrialCancelled, TrialFailed, TrialTimeout
from automl_bridge.metrics import is_better
from automl_bridge.models.families import DataContext, Family
from automl_bridge.progress import Progress, SilentProgress
from automl_bridge.results import Candidate, CandidateState
from automl_bridge.search.space import (
    Choice,
    Conditional,
    Node,
    prefixed,
    sample,
    strip_prefix,
)
from automl_bridge.search.strategies import CONSTRAINTS_ATTR, CRASH_COST_ATTR

log = logging.getLogger("automl_bridge.local")

#: User attribute of the default configurations the engine enqueues first.
WARM_START_ATTR = "automl_bridge:warm_start"
#: Complete candidates whose validation predictions are kept for the final ensemble.
ENSEMBLE_POOL = 25
#: Members (besides the best) whose refit time is held back for the ensemble...
ENSEMBLE_RESERVE_MEMBERS = 4
#: ...but never more than this share of the session's budget.
ENSEMBLE_RESERVE_SHARE = 0.15

#: Seconds a new trial must have at least, or the search stops.
MIN_TRIAL_S = 0.25
#: Seconds kept, beyond its estimate, for the final refit (killing a worker takes a moment).
REFIT_MARGIN_S = 0.3


@dataclass
class Budget:
    """Time and trial limits of one session.

    Attributes:
        deadline: ``time.monotonic()`` value by which everything must be written (or ``None``).
        trials_left: trials this session may still start (or ``None``).
        write_reserve_s: time kept for writing the result and the model.
    """

    deadline: float | None
    trials_left: int | None
    write_reserve_s: float = 0.5

    def time_left(self) -> float:
        """Seconds to the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


@dataclass
class Search:
    """One session of the search over a study.

    Attributes:
        study: the Optuna study (sampler attached).
        families: usable model families by name.
        space_ctx: the data context that shapes the families' spaces.
        executors: one per parallel slot.
        budget: limits of this session.
        direction: ``"maximize"`` or ``"minimize"``.
        session: index of this session (0 for a new run).
        cancel: set to stop the search; running trials are killed.
        progress: live display.
        objectives: objectives and constraints (default: the metric alone).
        plan: fidelity rungs of each trial (``None``: full fidelity).
        exhausted: ``exhausted(study)`` true when the sampler has nothing left to propose.
        keep_predictions: keep the validation predictions of the best candidates (ensemble).
        warm_start_full: evaluate the enqueued default configurations at full fidelity (for
            multi-fidelity strategies: on large data their rungs could outlast a short budget
            and leave no complete model).
        weights_dir: folder where network trials save their trained weights and children
            inherit them (the ``morphism`` strategy); ``None``: nothing is saved.
        coordinator: gives out trials under the run's lock and counts the trial budget over
            every process working on the run (:mod:`automl_bridge.engine.coordination`);
            ``None``: this search alone asks the study for trials.
    """

    study: Any
    families: dict[str, Family]
    space_ctx: DataContext
    executors: Sequence[Any]
    budget: Budget
    direction: str
    session: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Progress = field(default_factory=SilentProgress)
    objectives: Objectives | None = None
    plan: Plan | None = None
    exhausted: Any = None
    keep_predictions: bool = False
    warm_start_full: bool = False
    weights_dir: str | None = None
    coordinator: Any = None
    #: candidate id -> (score, validation predictions, validated-row mask, refit estimate).
    predictions: dict[str, tuple[float, Any, Any, float]] = field(default_factory=dict)
    _t_start: float | None = None
    #: worst objective values of the complete trials: the cost told for a failed trial
    _worst: list[float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _started: int = 0
    _best: tuple[float, float] | None = None  # (score, refit estimate)
    #: (score, model) fetched from a worker when the best could not be refit in time.
    fallback: tuple[float, Any] | None = None
    _done: int = 0
    _failed: int = 0
    stop_reason: str = ""

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Evaluate trials until a limit is reached (blocks; Ctrl-C cancels and re-raises)."""
        self._t_start = time.monotonic()
        self._seed_counters()
        if len(self.executors) == 1:
            self._slot(self.executors[0])
            return
        threads = [threading.Thread(target=self._slot, args=(ex,), daemon=True,
                                    name=f"automl-bridge-slot-{i}")
                   for i, ex in enumerate(self.executors)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
        except KeyboardInterrupt:
            self.cancel.set()
            for t in threads:
                t.join()
            raise

    def _seed_counters(self) -> None:
        for trial in self.study.get_trials(deepcopy=False):
            rec = candidate_attr(trial)
            if rec.get("state") == CandidateState.COMPLETE.value:
                self._note_worst(self._tell_values(rec))
            if rec.get("state") == CandidateState.COMPLETE.value and not rec.get("violations"):
                self._done += 1
                self._note_best(float(rec["score"]), float(rec.get("refit_estimate_s", 0.0)))
            elif rec.get("state") in (CandidateState.FAILED.value, CandidateState.TIMED_OUT.value):
                self._failed += 1

    def _note_best(self, score: float, refit_s: float) -> None:
        if self._best is None or is_better(score, self._best[0], self.direction):  # type: ignore[arg-type]
            self._best = (score, refit_s)

    def _should_stop(self, executor: Any) -> str:
        if self.cancel.is_set():
            return "cancelled"
        if self.budget.trials_left is not None and self._started >= self.budget.trials_left:
            return "max_trials"
        if self.exhausted is not None and self.exhausted(self.study):
            return "search_space_exhausted"
        if self._time_for_trial() - executor.restart_cost < MIN_TRIAL_S:
            return "time_budget"
        return ""

    def _time_for_trial(self) -> float:
        """Time a new trial may take: what is left after writing and refitting the best.

        Time for the refit is held back only while the refit still fits before the deadline;
        otherwise the search goes on and the final model is the best one as validated.
        """
        left = self.budget.time_left() - self.budget.write_reserve_s
        if self._refit_affordable(left):
            return left - self._best[1] - REFIT_MARGIN_S - self._ensemble_reserve()  # type: ignore[index]
        return left

    def _ensemble_reserve(self) -> float:
        """Time held back to refit ensemble members: the refits of the next best
        :data:`ENSEMBLE_RESERVE_MEMBERS` candidates, at most :data:`ENSEMBLE_RESERVE_SHARE` of
        the session's budget."""
        if not self.keep_predictions or len(self.predictions) < 2 or self._t_start is None \
                or self.budget.deadline is None:
            return 0.0
        sign = -1.0 if self.direction == "maximize" else 1.0
        ranked = sorted(self.predictions.values(), key=lambda p: sign * p[0])
        need = sum(p[3] for p in ranked[1:1 + ENSEMBLE_RESERVE_MEMBERS])
        return min(need, ENSEMBLE_RESERVE_SHARE * (self.budget.deadline - self._t_start))

    def _refit_affordable(self, left: float) -> bool:
        return self._best is not None and self._best[1] + REFIT_MARGIN_S <= left

    def _slot(self, executor: Any) -> None:
        while True:
            with self._lock:
                reason = self._should_stop(executor)
                if reason:
                    self.stop_reason = self.stop_reason or reason
                    return
                trial = self._claim()
                if trial is None:
                    self.stop_reason = self.stop_reason or "max_trials"
                    return
                self._started += 1
                family, params = self._sample(trial)
            timeout = None if self.budget.deadline is None else self._time_for_trial()
            self._evaluate(executor, trial, family, params, timeout)

    def _claim(self) -> Any:
        """A new trial (``None`` once the run's trial budget is spent)."""
        if self.coordinator is None:
            return self.study.ask()
        return self.coordinator.claim(self.study)

    def _sample(self, trial: Any) -> tuple[str, dict[str, Any]]:
        names = list(self.families)
        drawn = sample(trial, engine_space(self.families, self.space_ctx))
        family = str(drawn.get("model", names[0]))
        if len(names) == 1:
            trial.set_user_attr("automl_bridge:model", family)
        return family, strip_prefix(drawn, f"{family}.")

    def _reporter(self, trial: Any) -> Any:
        """The callback a multi-fidelity trial reports each rung's score to."""
        def report(step: int, score: float) -> bool:
            with self._lock:
                trial.report(score, step)
                return not trial.should_prune()

        return report

    def _evaluate(self, executor: Any, trial: Any, family: str, params: dict[str, Any],
                  timeout: float | None) -> None:
        import optuna

        rec: dict[str, Any] = {"family": family, "params": params, "session": self.session}
        describe = self.families[family].describe
        if describe is not None:
            rec["architecture"] = describe(params)
        start = time.perf_counter()
        state = optuna.trial.TrialState.FAIL
        plan = self.plan
        if self.warm_start_full and trial.user_attrs.get(WARM_START_ATTR):
            plan = None  # a strong default: a complete model early, no rungs to climb
        multi_fidelity = plan is not None and len(plan.steps) > 1
        options = {"plan": plan, "keep_predictions": self.keep_predictions,
                   "measure": self.objectives.measures if self.objectives else ()}
        inherit = self._inheritance(trial, family, options)
        if inherit is not None:
            rec["inherited"] = {k: inherit[k] for k in ("parent", "morphism", "epochs")}
            plan, multi_fidelity = None, False
        try:
            out = executor.call("eval", family, params, timeout=timeout, cancel=self.cancel,
                                options=options,
                                report=self._reporter(trial) if multi_fidelity else None)
            rec.update(state=CandidateState.COMPLETE.value, score=out["score"],
                       metrics=out["metrics"], n_splits=out["n_splits"],
                       measures=out["measures"],
                       refit_estimate_s=self._refit_estimate(out["fit_time_s"],
                                                             out["n_splits"]))
            if "history" in out:
                rec["history"] = out["history"]
            if plan is not None:
                rec.update(step=out["step"], fidelity=round(plan.fraction(out["step"]), 4),
                           curve=out["curve"])
            elif self.plan is not None:  # a warm-start default, run at full fidelity
                rec.update(step=self.plan.max_step, fidelity=1.0)
            if self.objectives is not None and self.objectives.constraints:
                rec["violations"] = self.objectives.violations(out["measures"])
                rec["constraint_values"] = self.objectives.constraint_values(out["measures"])
            state = optuna.trial.TrialState.COMPLETE
            if out.get("weights_saved"):
                from automl_bridge.engine.weights import WEIGHTS_ATTR

                trial.set_user_attr(WEIGHTS_ATTR, True)
            if out["pruned"]:
                rec["state"] = CandidateState.PRUNED.value
                state = optuna.trial.TrialState.PRUNED
            elif "predictions" in out:
                self._keep_predictions(str(trial.number), rec, out)
        except TrialTimeout:
            rec.update(state=CandidateState.TIMED_OUT.value,
                       error=f"Stopped after {timeout:.1f}s: the time budget ran out.")
        except TrialCancelled:
            rec.update(state=CandidateState.INTERRUPTED.value, error="The run was cancelled.")
        except TrialFailed as exc:
            rec.update(state=CandidateState.FAILED.value, error=str(exc), traceback=exc.detail)
        except BaseException:
            rec.update(state=CandidateState.INTERRUPTED.value, error="Interrupted.")
            self._record(trial, rec, start, state)
            raise
        self._record(trial, rec, start, state, executor)

    def _inheritance(self, trial: Any, family: str,
                     options: dict[str, Any]) -> dict[str, Any] | None:
        """Weight inheritance for a network trial: save its weights, and start it from its
        parent's when the sampler made it a morph (see :mod:`automl_bridge.engine.weights`)."""
        if self.weights_dir is None or not self.families[family].inherits_weights:
            return None
        import os

        from automl_bridge.search.morphism import MORPHISM_ATTR

        options["save_weights"] = os.path.join(self.weights_dir, f"t{trial.number}")
        attrs = self.study._storage.get_trial_system_attrs(trial._trial_id)
        decision = attrs.get(MORPHISM_ATTR) or {}
        if decision.get("parent") is None:
            return None
        inherit = {"path": os.path.join(self.weights_dir, f"t{int(decision['parent'])}"),
                   "morphism": decision["morphism"], "epochs": int(decision["epochs"]),
                   "seed": int(decision.get("seed", 0)), "trial": trial.number,
                   "parent": int(decision["parent"])}
        options["inherit"] = inherit
        options["plan"] = None
        return inherit

    def _keep_fallback(self, executor: Any) -> None:
        """A new best: fetch its validated model now, before a later trial's timeout can kill
        the worker that holds it. It is the final model when the refit cannot be afforded."""
        left = self.budget.time_left() - self.budget.write_reserve_s
        if self.budget.deadline is None or not getattr(executor, "evaluated", 0):
            return
        try:
            got = executor.call("champion", "", {}, timeout=max(left, 0.1))
        except (TrialTimeout, TrialFailed):
            return
        if got is not None:
            self.fallback = got

    def _keep_predictions(self, cid: str, rec: dict[str, Any], out: dict[str, Any]) -> None:
        """Keep the validation predictions of the best :data:`ENSEMBLE_POOL` candidates."""
        if rec.get("violations"):
            return
        with self._lock:
            self.predictions[cid] = (float(out["score"]), out["predictions"], out["validated"],
                                     float(rec["refit_estimate_s"]))
            if len(self.predictions) > ENSEMBLE_POOL:
                sign = -1.0 if self.direction == "maximize" else 1.0
                worst = max(self.predictions, key=lambda k: (sign * self.predictions[k][0],
                                                             -int(k)))
                del self.predictions[worst]

    def _tell_values(self, rec: dict[str, Any]) -> float | list[float]:
        if self.objectives is None or not self.objectives.multi:
            return float(rec["score"])
        return self.objectives.values(rec["metrics"], rec["measures"])

    def _directions(self) -> tuple[str, ...]:
        return self.objectives.directions if self.objectives is not None else (self.direction,)

    def _note_worst(self, values: float | list[float]) -> None:
        vals = [values] if isinstance(values, float) else list(values)
        if self._worst is None:
            self._worst = vals
            return
        self._worst = [min(w, v) if d == "maximize" else max(w, v)
                       for w, v, d in zip(self._worst, vals, self._directions(), strict=True)]

    def _crash_cost(self) -> float | list[float] | None:
        """What the sampler is told for a failed trial: the worst complete value so far.

        Samplers learn nothing from a failed trial, so a family that always fails would look
        unexplored and keep being proposed (TPE did so in 20 of 20 trials); told as the worst
        value (SMAC's "crash cost"), it is avoided. Our candidate record keeps the failure.
        """
        if self._worst is None:
            return None
        return self._worst[0] if len(self._worst) == 1 else list(self._worst)

    def _record(self, trial: Any, rec: dict[str, Any], start: float, state: Any,
                executor: Any = None) -> None:
        import optuna

        from automl_bridge.engine.study import now_iso

        rec["fit_time_s"] = round(time.perf_counter() - start, 4)
        rec["finished_at"] = now_iso()
        coord = self.coordinator
        with self._lock, coord.lock() if coord is not None else contextlib.nullcontext():
            try:
                self._tell(trial, rec, state, executor)
            except optuna.exceptions.UpdateFinishedTrialError:
                # another process declared this trial lost (no heartbeat for too long) and
                # enqueued its retry; the result here is dropped so the trial counts once
                log.warning("Trial %s finished here after another process had declared it "
                            "lost; its result was dropped (the retry stands).", trial.number)
            finally:
                if coord is not None:
                    coord.release(trial)
            best = self._best[0] if self._best else None
            self.progress.update(done=self._done, failed=self._failed, best=best,
                                 time_left_s=None if self.budget.deadline is None
                                 else self.budget.time_left())

    def _tell(self, trial: Any, rec: dict[str, Any], state: Any, executor: Any) -> None:
        """Store the candidate record and tell the study (under the run's lock)."""
        trial.set_user_attr(TRIAL_ATTR, json.dumps(rec, default=_json_default))
        if rec["state"] == CandidateState.INTERRUPTED.value:
            trial.set_user_attr(VOID_ATTR, True)  # stopped, not spent: not counted
        if "constraint_values" in rec:
            trial.set_user_attr(CONSTRAINTS_ATTR, rec["constraint_values"])
            for name, value in zip(sorted(self.objectives.constraints),  # type: ignore[union-attr]
                                   rec["constraint_values"], strict=True):
                trial.set_constraint(name, value)
        if rec["state"] == CandidateState.COMPLETE.value:
            values = self._tell_values(rec)
            self.study.tell(trial, values)
            self._note_worst(values)
            self._done += 1
            was = self._best
            if not rec.get("violations"):
                self._note_best(float(rec["score"]), float(rec["refit_estimate_s"]))
            if self._best is not was and executor is not None:
                self._keep_fallback(executor)
        elif rec["state"] == CandidateState.PRUNED.value:
            self.study.tell(trial, state=state)
            self._done += 1
        else:
            cost = self._crash_cost()
            if rec["state"] == CandidateState.FAILED.value and cost is not None:
                trial.set_user_attr(CRASH_COST_ATTR, True)
                self.study.tell(trial, cost)
            else:
                self.study.tell(trial, state=state)
            if rec["state"] != CandidateState.INTERRUPTED.value:
                self._failed += 1

    def _refit_estimate(self, fit_time_s: float, n_splits: int) -> float:
        """Seconds a fit on all rows should take, from the time of the validation fits.

        A low-fidelity evaluation is scaled up to full fidelity; a multi-fidelity one already
        includes its last (full) rung, and its earlier rungs make the estimate safer.
        """
        if n_splits > 1:
            per_fit = fit_time_s / n_splits * n_splits / (n_splits - 1)
        else:
            per_fit = fit_time_s * 1.25
        if self.plan is not None and self.plan.final_fraction < 1.0:
            per_fit /= max(self.plan.final_fraction, 0.05)
        return round(per_fit * 1.2 + 0.05, 4)


def engine_space(families: dict[str, Family], ctx: DataContext) -> list[Node]:
    """The search space of the engine: the family, then its parameters (``"<family>.<p>"``).

    With one family there is no ``model`` parameter. A family's space may hold conditionals
    (a network's layers exist only up to its ``n_layers``).
    """
    names = list(families)
    if len(names) == 1:
        return prefixed(families[names[0]].space(ctx), f"{names[0]}.")
    return [Conditional(Choice("model", names),
                        {n: prefixed(families[n].space(ctx), f"{n}.") for n in names})]


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)
    return item() if callable(item) else str(obj)


def candidates_from_study(study: Any) -> list[Candidate]:
    """Every trial of the study as a :class:`Candidate`, in trial order."""
    out: list[Candidate] = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "WAITING":
            continue  # enqueued, never started
        rec = candidate_attr(trial)
        if not rec:
            state = CandidateState.RUNNING if trial.state.name == "RUNNING" else \
                CandidateState.INTERRUPTED
            out.append(Candidate(candidate_id=str(trial.number),
                                 family=str(trial.params.get("model", "?")), params={},
                                 state=state, error="No result was recorded (the process "
                                 "stopped while this trial ran)."))
            continue
        violations = rec.get("violations") or {}
        out.append(Candidate(
            candidate_id=str(trial.number), family=rec["family"], params=rec["params"],
            score=float(rec.get("score", float("nan"))), metrics=rec.get("metrics", {}),
            fit_time_s=float(rec.get("fit_time_s", 0.0)),
            state=CandidateState(rec["state"]), error=rec.get("error"),
            extra={k: rec[k] for k in ("session", "n_splits", "refit_estimate_s", "step",
                                       "fidelity", "curve", "finished_at", "inherited",
                                       "architecture", "history")
                   if k in rec},
            measures=dict(rec.get("measures") or {}), feasible=not violations,
            violations=dict(violations),
        ))
    return out


def best_candidates(candidates: Sequence[Candidate], direction: str) -> list[Candidate]:
    """Complete, feasible candidates, best first (ties: earlier first)."""
    done = [c for c in candidates if c.state is CandidateState.COMPLETE and c.feasible]
    sign = -1.0 if direction == "maximize" else 1.0
    return sorted(done, key=lambda c: (sign * c.score, int(c.candidate_id)))
