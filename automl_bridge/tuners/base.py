"""The tuner core shared by the PyTorch tuners and :class:`~automl_bridge.tuners.SklearnTuner`.

A tuner discovers its search space by building the hypermodel (as Keras Tuner does), opens
its project (an Optuna study), builds the search strategy from the registry and runs trials:
``study.ask()``, build and evaluate through the subclass's ``_run_trial``, ``study.tell()``.
The strategy's sampler draws every ``hp.X(...)`` declaration; its pruner (Hyperband, ASHA,
...) sees each epoch's (or fold's) value reported with ``trial.report``.

Example:
    >>> bracket_trials(max_epochs=10, factor=3)
    17
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl_bridge.exceptions import AllTrialsFailedError, SpecError
from automl_bridge.search.strategies import Strategy, StrategyContext, make_strategy
from automl_bridge.tuners.hypermodel import HyperModel, as_hypermodel
from automl_bridge.tuners.hyperparameters import HyperParameters, discover_space
from automl_bridge.tuners.objective import Objective
from automl_bridge.tuners.project import Project

ATTR_VALUES = "automl_bridge:hp_values"
ATTR_SCORE = "automl_bridge:score"
ATTR_FAIL = "automl_bridge:fail_reason"
ATTR_INTERRUPTED = "automl_bridge:interrupted"
ATTR_SKIPPED = "automl_bridge:skipped"


class FatalSearchError(SpecError):
    """A configuration error that would fail every trial (stops the search at once)."""


class SkipTrial(Exception):
    """Raised by ``_run_trial`` for a trial recorded as failed without counting as a crash
    (a model over ``max_model_size``)."""


def bracket_trials(max_epochs: int, factor: int) -> int:
    """Configurations in one Hyperband iteration: ``sum_s ceil((s_max + 1) / (s + 1) *
    factor**s)`` with ``s_max = floor(log_factor(max_epochs))``."""
    s_max = 0
    while factor ** (s_max + 1) <= max_epochs:
        s_max += 1
    return sum(math.ceil((s_max + 1) / (s + 1) * factor**s) for s in range(s_max + 1))


class BaseTuner:
    """Search loop, storage and results; subclasses implement ``_run_trial``.

    Args:
        hypermodel: a :class:`~automl_bridge.tuners.HyperModel` or a function ``build(hp)``.
        strategy: a registered search strategy (``registry_for("strategies").names()``).
        objective: a name (direction inferred) or an :class:`Objective`.
        max_trials: trials in the project, failed ones included (``None``: until the
            strategy is exhausted, for grids).
        seed: seeds the strategy and each trial (``None``: a random seed).
        strategy_options: options of the strategy (as in ``search={"strategy": ...}``).
        directory: folder of the project (``None``: in memory, nothing written).
        project_name: the project's folder name under ``directory``.
        overwrite: delete an existing project and start again.
        resume: continue an existing project (same search space and objective required).
        max_consecutive_failed_trials: stop after this many failures in a row (``None``:
            never stop).
        verbose: 0 silent, 1 a line per trial, 2 also the epoch logs (default of ``search``).
    """

    def __init__(self, hypermodel: HyperModel | Callable[[HyperParameters], Any], *,
                 strategy: str, objective: str | Objective, max_trials: int | None,
                 seed: int | None, strategy_options: Mapping[str, Any] | None,
                 directory: str | Path | None, project_name: str, overwrite: bool,
                 resume: bool, max_consecutive_failed_trials: int | None) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.hypermodel = as_hypermodel(hypermodel)
        self.objective = Objective.of(objective)
        if max_trials is not None and (isinstance(max_trials, bool) or int(max_trials) != max_trials
                                       or max_trials < 1):
            raise SpecError(f"The 'max_trials' of {type(self).__name__} must be an integer "
                            f">= 1 or None. Got {max_trials!r}.")
        self.max_trials = None if max_trials is None else int(max_trials)
        if seed is None:
            import numpy as np

            seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31 - 1))
        self.seed = int(seed)
        self.strategy_name = strategy
        self.strategy_options = dict(strategy_options or {})
        self.max_consecutive_failed_trials = max_consecutive_failed_trials
        self.hyperparameters = discover_space(self.hypermodel.build)
        self.project = Project.open(
            directory, project_name, overwrite=overwrite, resume=resume,
            space=self.hyperparameters.to_dicts(), objective=self.objective.name,
            direction=self.objective.optuna_direction, tuner=type(self).__name__)
        self.project_name = project_name
        self._close_interrupted()
        self._strategy: Strategy | None = None

    # --- public -----------------------------------------------------------------------------

    @property
    def study(self) -> optuna.Study:
        """The Optuna study of the project (for power users)."""
        return self.project.study

    @property
    def project_dir(self) -> str:
        """The project folder (or a note that it lives in memory)."""
        return self.project.describe()

    @property
    def remaining_trials(self) -> int | None:
        """Trials left before ``max_trials`` (``None`` without a limit)."""
        if self.max_trials is None:
            return None
        return max(0, self.max_trials - self._n_counted())

    def get_best_trials(self, num_trials: int = 1) -> list[FrozenTrial]:
        """The best trials, best first: completed trials by score, then those stopped by
        the pruner (by their best reported value)."""
        sign = 1.0 if self.objective.direction == "max" else -1.0
        done = [t for t in self.study.get_trials(deepcopy=False)
                if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                and t.user_attrs.get(ATTR_SCORE) is not None]
        done.sort(key=lambda t: (t.state != TrialState.COMPLETE,
                                 -sign * float(t.user_attrs[ATTR_SCORE]), t.number))
        return done[:num_trials]

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The hyperparameters of the best trials, best first (pass one to
        ``tuner.hypermodel.build(hp)``)."""
        return [self._trial_hp(t) for t in self.get_best_trials(num_trials)]

    def search_space_summary(self, extended: bool = False) -> None:
        """Print the search space (Keras Tuner's format)."""
        print("Search space summary")
        print(f"Default search space size: {len(self.hyperparameters.space)}")
        for p in self.hyperparameters.space:
            print(f"{p.name} ({p.kind})")
            print(p.summary_config())

    def results_summary(self, num_trials: int = 10) -> None:
        """Print the best trials: hyperparameter values and score (Keras Tuner's format)."""
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(repr(self.objective))
        for t in self.get_best_trials(num_trials):
            print()
            print(f"Trial {t.number:04d} summary")
            print("Hyperparameters:")
            for name, value in self._trial_values(t).items():
                print(f"{name}: {value}")
            print(f"Score: {t.user_attrs[ATTR_SCORE]}")
            if t.state == TrialState.PRUNED:
                print(f"Stopped by the pruner after step {t.last_step}")
        failed = [t for t in self.study.get_trials(deepcopy=False)
                  if t.state == TrialState.FAIL and not t.user_attrs.get(ATTR_INTERRUPTED)]
        if failed:
            print()
            print(f"{len(failed)} failed trial(s); first: trial {failed[0].number:04d}: "
                  f"{failed[0].user_attrs.get(ATTR_FAIL, 'unknown reason')}")

    # --- the loop ---------------------------------------------------------------------------

    def _run_trial(self, trial: optuna.Trial, hp: HyperParameters) -> float:
        """Build, train and score one trial; return its score (best epoch value).

        Raise ``optuna.TrialPruned`` when the pruner stopped it (after setting
        :data:`ATTR_SCORE`), :class:`SkipTrial` to skip it, anything else to fail it.
        """
        raise NotImplementedError

    def _make_strategy(self, fidelity_steps: int | None) -> Strategy:
        """The strategy; a multi-fidelity one gets rungs in units of ``fidelity_steps``
        (epochs or folds) when it takes the option ``min_fraction``."""
        ctx = StrategyContext(seed=self.seed, options=self.strategy_options,
                              directions=(self.objective.optuna_direction,),
                              space=self.hyperparameters.nodes(), max_trials=self.max_trials,
                              resumed_trials=len(self.study.trials))
        strategy = make_strategy(self.strategy_name, ctx)
        if (strategy.plan is not None and fidelity_steps is not None and fidelity_steps >= 2
                and "min_fraction" not in self.strategy_options
                and strategy.plan.max_step != fidelity_steps):
            options = {**self.strategy_options, "min_fraction": 1.0 / fidelity_steps}
            # a strategy without the option keeps its own rungs: _step() rescales the epochs
            with contextlib.suppress(SpecError):
                strategy = make_strategy(self.strategy_name, replace(ctx, options=options))
        return strategy

    def _step(self, index: int, n_steps: int) -> int:
        """The step reported for epoch (or fold) ``index`` (1-based) out of ``n_steps``."""
        plan = self._strategy.plan if self._strategy is not None else None
        if plan is None or plan.max_step == n_steps:
            return index
        return max(1, round(index * plan.max_step / n_steps))

    def _search(self, fidelity_steps: int | None, verbose: int) -> None:
        self._strategy = strategy = self._make_strategy(fidelity_steps)
        self.study.sampler = strategy.sampler
        self.study.pruner = strategy.pruner or optuna.pruners.NopPruner()
        start = time.perf_counter()
        consecutive = 0
        while self.max_trials is None or self._n_counted() < self.max_trials:
            if strategy.exhausted is not None and strategy.exhausted(self.study):
                break
            trial = self.study.ask()
            hp = HyperParameters.from_trial(trial, self.hyperparameters)
            t0 = time.perf_counter()
            state, value, reason = TrialState.COMPLETE, None, None
            try:
                value = self._run_trial(trial, hp)
                if not math.isfinite(value):
                    raise RuntimeError(f"the objective {self.objective.name!r} is {value}")
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except SkipTrial as exc:
                state, reason = TrialState.FAIL, str(exc)
                trial.set_user_attr(ATTR_SKIPPED, True)
            except FatalSearchError:
                self._tell(trial, hp, TrialState.FAIL, None, "stopped: configuration error")
                raise
            except Exception as exc:  # a trial's failure is recorded, not raised
                state, reason = TrialState.FAIL, f"{type(exc).__name__}: {exc}"
            self._tell(trial, hp, state, value, reason)
            if verbose >= 1:
                self._print_trial(trial.number, hp, state, value, reason, t0, start)
            if state == TrialState.FAIL and not trial.user_attrs.get(ATTR_SKIPPED):
                consecutive += 1
            else:
                consecutive = 0
            limit = self.max_consecutive_failed_trials
            if limit is not None and consecutive >= limit:
                if self.get_best_trials(1):
                    warnings.warn(f"{limit} trials failed in a row; the search stops (the "
                                  f"last: {reason}). Results so far are kept.",
                                  RuntimeWarning, stacklevel=3)
                break
        if not self.get_best_trials(1):
            self._raise_all_failed()

    def _tell(self, trial: optuna.Trial, hp: HyperParameters, state: TrialState,
              value: float | None, reason: str | None) -> None:
        self.hyperparameters.merge(hp)
        trial.set_user_attr(ATTR_VALUES, json.dumps(hp.values, default=str))
        if reason is not None:
            trial.set_user_attr(ATTR_FAIL, reason)
        if state == TrialState.COMPLETE:
            trial.set_user_attr(ATTR_SCORE, value)
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=state)

    def _raise_all_failed(self) -> None:
        failed = [t for t in self.study.get_trials(deepcopy=False)
                  if t.state == TrialState.FAIL and not t.user_attrs.get(ATTR_INTERRUPTED)]
        first = failed[0].user_attrs.get(ATTR_FAIL, "unknown reason") if failed else "none ran"
        raise AllTrialsFailedError(
            f"All {len(failed)} trials of the tuner project {self.project_name!r} failed. "
            f"The first failure: {first}")

    def _n_counted(self) -> int:
        return sum(1 for t in self.study.get_trials(deepcopy=False)
                   if t.state.is_finished() and not t.user_attrs.get(ATTR_INTERRUPTED))

    def _close_interrupted(self) -> None:
        """Trials left running by an interrupted session are failed (not counted)."""
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study._storage.set_trial_user_attr(t._trial_id, ATTR_INTERRUPTED, True)
            self.study.tell(t.number, state=TrialState.FAIL)

    def _trial_values(self, trial: FrozenTrial) -> dict[str, Any]:
        raw = trial.user_attrs.get(ATTR_VALUES)
        return dict(json.loads(raw)) if isinstance(raw, str) else dict(trial.params)

    def _trial_hp(self, trial: FrozenTrial) -> HyperParameters:
        return HyperParameters.from_values(self._trial_values(trial), self.hyperparameters)

    def _print_trial(self, number: int, hp: HyperParameters, state: TrialState,
                     value: float | None, reason: str | None, t0: float, start: float) -> None:
        elapsed = time.perf_counter() - t0
        label = {TrialState.COMPLETE: "Complete", TrialState.PRUNED: "Pruned"}.get(state,
                                                                                  "Failed")
        print(f"Trial {number} {label} [{_hms(elapsed)}]")
        print("Hyperparameters: " + ", ".join(f"{k}={v}" for k, v in hp.values.items()))
        if value is not None:
            print(f"{self.objective.name}: {value}")
        if reason is not None:
            print(f"reason: {reason}")
        best = self.get_best_trials(1)
        if best:
            print(f"Best {self.objective.name} So Far: {best[0].user_attrs[ATTR_SCORE]}")
        print(f"Total elapsed time: {_hms(time.perf_counter() - start)}")
        print()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}h {s % 3600 // 60:02d}m {s % 60:02d}s"


__all__ = ["BaseTuner", "FatalSearchError", "SkipTrial", "bracket_trials"]
