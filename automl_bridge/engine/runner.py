"""The search loop: ask the strategy, evaluate with a deadline, tell the result.

:class:`Search` runs trials on ``n_jobs`` executors until the trial budget, the time budget or
a cancel request ends it, then picks the final model: the best candidate refit on all rows if
the time left pays for it, else the best candidate's model from its last validation split,
else the baseline. Every trial is recorded in the study with its candidate record, so a run
can be resumed and rebuilt into a :class:`~automl_bridge.results.RunResult`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automl_bridge.engine.study import TRIAL_ATTR, candidate_attr
from automl_bridge.engine.workers import TrialCancelled, TrialFailed, TrialTimeout
from automl_bridge.metrics import is_better
from automl_bridge.models.families import DataContext, Family
from automl_bridge.progress import Progress, SilentProgress
from automl_bridge.results import Candidate, CandidateState
from automl_bridge.search.space import sample

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
            return left - self._best[1] - REFIT_MARGIN_S  # type: ignore[index]
        return left

    def _refit_affordable(self, left: float) -> bool:
        return self._best is not None and self._best[1] + REFIT_MARGIN_S <= left

    def _slot(self, executor: Any) -> None:
        while True:
            with self._lock:
                reason = self._should_stop(executor)
                if reason:
                    self.stop_reason = self.stop_reason or reason
                    return
                trial = self.study.ask()
                self._started += 1
                family, params = self._sample(trial)
            timeout = None if self.budget.deadline is None else self._time_for_trial()
            self._evaluate(executor, trial, family, params, timeout)

    def _sample(self, trial: Any) -> tuple[str, dict[str, Any]]:
        names = list(self.families)
        family = names[0] if len(names) == 1 else trial.suggest_categorical("model", names)
        if len(names) == 1:
            trial.set_user_attr("automl_bridge:model", family)
        params = sample(trial, self.families[family].space(self.space_ctx), prefix=f"{family}.")
        return family, params

    def _evaluate(self, executor: Any, trial: Any, family: str, params: dict[str, Any],
                  timeout: float | None) -> None:
        import optuna

        rec: dict[str, Any] = {"family": family, "params": params, "session": self.session}
        start = time.perf_counter()
        state = optuna.trial.TrialState.FAIL
        try:
            out = executor.call("eval", family, params, timeout=timeout, cancel=self.cancel)
            rec.update(state=CandidateState.COMPLETE.value, score=out["score"],
                       metrics=out["metrics"], n_splits=out["n_splits"],
                       refit_estimate_s=self._refit_estimate(out["fit_time_s"],
                                                             out["n_splits"]))
            state = optuna.trial.TrialState.COMPLETE
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

    def _record(self, trial: Any, rec: dict[str, Any], start: float, state: Any,
                executor: Any = None) -> None:
        rec["fit_time_s"] = round(time.perf_counter() - start, 4)
        with self._lock:
            trial.set_user_attr(TRIAL_ATTR, json.dumps(rec, default=_json_default))
            if rec["state"] == CandidateState.COMPLETE.value:
                self.study.tell(trial, float(rec["score"]))
                self._done += 1
                was = self._best
                self._note_best(float(rec["score"]), float(rec["refit_estimate_s"]))
                if self._best is not was and executor is not None:
                    self._keep_fallback(executor)
            else:
                self.study.tell(trial, state=state)
                if rec["state"] != CandidateState.INTERRUPTED.value:
                    self._failed += 1
            best = self._best[0] if self._best else None
            self.progress.update(done=self._done, failed=self._failed, best=best,
                                 time_left_s=None if self.budget.deadline is None
                                 else self.budget.time_left())

    def _refit_estimate(self, fit_time_s: float, n_splits: int) -> float:
        """Seconds a fit on all rows should take, from the time of the validation fits."""
        if n_splits > 1:
            per_fit = fit_time_s / n_splits * n_splits / (n_splits - 1)
        else:
            per_fit = fit_time_s * 1.25
        return round(per_fit * 1.2 + 0.05, 4)


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
        out.append(Candidate(
            candidate_id=str(trial.number), family=rec["family"], params=rec["params"],
            score=float(rec.get("score", float("nan"))), metrics=rec.get("metrics", {}),
            fit_time_s=float(rec.get("fit_time_s", 0.0)),
            state=CandidateState(rec["state"]), error=rec.get("error"),
            extra={k: rec[k] for k in ("session", "n_splits", "refit_estimate_s") if k in rec},
        ))
    return out


def best_candidates(candidates: Sequence[Candidate], direction: str) -> list[Candidate]:
    """Complete candidates, best first (ties: earlier first)."""
    done = [c for c in candidates if c.state is CandidateState.COMPLETE]
    sign = -1.0 if direction == "maximize" else 1.0
    return sorted(done, key=lambda c: (sign * c.score, int(c.candidate_id)))
