"""LearningCurvePruner: prunes hopeless curves, keeps late bloomers, waits for evidence."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import optuna
import pytest

from automl_bridge.exceptions import SpecError
from automl_bridge.search.pruners import (
    MAX_RESOURCE_ATTR,
    PREDICTION_ATTR,
    LearningCurvePruner,
)

Curve = Callable[[int], float]
STEPS = 100


def _good(t: int) -> float:
    return 0.9 - 0.4 * t ** -0.5


def _flat(t: int) -> float:
    """Nearly flat far below the best: even its current slope kept to step 100 ends < 0.7."""
    return 0.5 - 0.02 * t ** -0.5


def _bad(t: int) -> float:
    """Still rising steeply early on, but a power law that ends at 0.56."""
    return 0.6 - 0.4 * t ** -0.5


def _run(study: optuna.Study, curve: Curve, steps: int = STEPS,
         attrs: dict | None = None) -> tuple[optuna.trial.TrialState, int]:
    """Report ``curve`` step by step; return the final state and the last step reported."""
    trial = study.ask()
    for key, value in (attrs or {}).items():
        trial.set_user_attr(key, value)
    for step in range(1, steps + 1):
        trial.report(curve(step), step)
        if trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return optuna.trial.TrialState.PRUNED, step
    study.tell(trial, curve(steps))
    return optuna.trial.TrialState.COMPLETE, steps


def _study(direction: str = "maximize", **options: object) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=direction, pruner=LearningCurvePruner(**options))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_clearly_bad_curve_is_pruned_at_min_points(direction: str) -> None:
    sign = 1.0 if direction == "maximize" else -1.0
    study = _study(direction)
    assert _run(study, lambda t: sign * _good(t)) == (optuna.trial.TrialState.COMPLETE, STEPS)
    assert _run(study, lambda t: sign * _flat(t)) == (optuna.trial.TrialState.PRUNED, 3)
    decision = study.trials[1].system_attrs[PREDICTION_ATTR]
    assert decision["p_better"] < 0.05 and decision["target_step"] == STEPS
    assert decision["best"] == pytest.approx(sign * _good(STEPS))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_bad_but_steep_curve_is_pruned_once_its_bend_shows(direction: str) -> None:
    """At 3 points the steep curve could still reach the best (its slope kept for 97 steps
    would); it is pruned once it visibly bends, long before the end."""
    sign = 1.0 if direction == "maximize" else -1.0
    study = _study(direction)
    _run(study, lambda t: sign * _good(t))
    state, step = _run(study, lambda t: sign * _bad(t))
    assert state == optuna.trial.TrialState.PRUNED and 3 < step <= 20


def test_min_points_is_respected() -> None:
    study = _study(min_points=6)
    _run(study, _good)
    assert _run(study, _flat) == (optuna.trial.TrialState.PRUNED, 6)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_late_bloomer_that_overtakes_the_best_is_kept(direction: str) -> None:
    """The first trial saturates fast at 0.80; the second is a slow power law, behind until
    step 47 (0.67 against 0.76 at step 10) but ending at 0.84."""
    sign = 1.0 if direction == "maximize" else -1.0
    study = _study(direction)

    def fast(t: int) -> float:
        return sign * (0.8 - 0.3 * np.exp(-t / 5))

    def slow(t: int) -> float:
        return sign * (0.95 - 0.7 * t ** -0.4)

    assert slow(10) * sign < fast(10) * sign - 0.05 and slow(46) * sign < fast(46) * sign
    _run(study, fast)
    assert _run(study, slow) == (optuna.trial.TrialState.COMPLETE, STEPS)
    assert study.best_trial.number == 1


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_no_pruning_without_a_complete_trial(direction: str) -> None:
    sign = 1.0 if direction == "maximize" else -1.0
    study = _study(direction)
    assert _run(study, lambda t: sign * _bad(t)) == (optuna.trial.TrialState.COMPLETE, STEPS)
    # a pruned or failed trial does not count as complete either
    study2 = _study(direction)
    trial = study2.ask()
    trial.report(sign * _good(1), 1)
    study2.tell(trial, state=optuna.trial.TrialState.PRUNED)
    study2.tell(study2.ask(), state=optuna.trial.TrialState.FAIL)
    assert _run(study2, lambda t: sign * _bad(t))[0] == optuna.trial.TrialState.COMPLETE


def test_noisy_curve_close_to_the_best_is_kept() -> None:
    """Same trend as the best, noise sd 0.01, ending 0.005 better: not pruned."""
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, STEPS + 1)
    study = _study()
    _run(study, _good)
    state, _ = _run(study, lambda t: _good(t) + 0.005 + noise[t])
    assert state == optuna.trial.TrialState.COMPLETE


def test_complete_trials_without_curves_use_their_value() -> None:
    study = _study(max_resource=STEPS)
    study.add_trial(optuna.trial.create_trial(value=0.85))
    assert _run(study, _bad)[0] == optuna.trial.TrialState.PRUNED
    # "auto" needs a complete curve to know the final step: no pruning
    auto = _study()
    auto.add_trial(optuna.trial.create_trial(value=0.85))
    assert _run(auto, _bad)[0] == optuna.trial.TrialState.COMPLETE


def test_trial_max_resource_attribute_and_reaching_the_target() -> None:
    study = _study(max_resource=1000)
    _run(study, _good)  # best final 0.86 at step 100
    # a trial that itself stops at step 10 (0.77 there) cannot catch up
    pruner = LearningCurvePruner()
    trial = study.ask()
    trial.set_user_attr(MAX_RESOURCE_ATTR, 10)
    for step in range(1, 11):
        trial.report(_good(step) - 0.05, step)
    frozen = study._storage.get_trial(trial._trial_id)
    decision = pruner.evaluate(study, frozen)
    assert decision is None  # reached its own final step: nothing left to save
    trial2 = study.ask()
    trial2.set_user_attr(MAX_RESOURCE_ATTR, 10)
    for step in range(1, 6):
        trial2.report(_good(step) - 0.05, step)
    decision = pruner.evaluate(study, study._storage.get_trial(trial2._trial_id))
    assert decision is not None and decision["target_step"] == 10 and decision["prune"]


def test_margin_and_confidence_make_pruning_more_careful() -> None:
    study = _study()
    _run(study, _good)
    trial = study.ask()
    for step in range(1, 6):
        trial.report(_good(step) - 0.03, step)
    frozen = study._storage.get_trial(trial._trial_id)
    p = LearningCurvePruner().evaluate(study, frozen)
    assert p is not None
    wide = LearningCurvePruner(margin=0.1).evaluate(study, frozen)
    assert wide is not None and wide["p_better"] > p["p_better"]
    assert not wide["prune"]
    strict = LearningCurvePruner(confidence=p["p_better"] + 1e-6).evaluate(study, frozen)
    lax = LearningCurvePruner(confidence=max(p["p_better"] - 1e-6, 1e-9)).evaluate(study, frozen)
    assert strict is not None and strict["prune"]
    assert lax is not None and not lax["prune"]


def test_checkpoints_thin_out_as_the_curve_grows() -> None:
    every = LearningCurvePruner(recheck_ratio=1.0)
    default = LearningCurvePruner()
    assert all(every._checkpoint(n) for n in range(3, 300))
    points = [n for n in range(3, 301) if default._checkpoint(n)]
    assert points[:10] == list(range(3, 13)) and 35 <= len(points) <= 50
    assert all(b <= 1.1 * a + 1 for a, b in itertools.pairwise(points))


def test_multi_objective_study_is_never_pruned() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(values=[0.9, 1.0]))
    frozen = optuna.trial.create_trial(values=[0.1, 1.0],
                                       intermediate_values={1: 0.1, 2: 0.1, 3: 0.1})
    assert LearningCurvePruner().prune(study, frozen) is False


def test_decisions_are_deterministic_and_stateless() -> None:
    study = _study()
    _run(study, _good)
    trial = study.ask()
    for step in range(1, 8):
        trial.report(_good(step) - 0.04, step)
    frozen = study._storage.get_trial(trial._trial_id)
    assert LearningCurvePruner().evaluate(study, frozen) == \
        LearningCurvePruner().evaluate(study, frozen)


@pytest.mark.parametrize(("options", "fragment"), [
    ({"min_points": 2}, "'min_points'"),
    ({"max_resource": 0}, "'max_resource'"),
    ({"max_resource": "all"}, "'max_resource'"),
    ({"confidence": 1.0}, "'confidence'"),
    ({"margin": -0.1}, "'margin'"),
    ({"min_complete_trials": 0}, "'min_complete_trials'"),
    ({"recheck_ratio": 0.5}, "'recheck_ratio'"),
    ({"bounds": (1.0, 0.0)}, "'bounds'"),
    ({"families": ["spline"]}, "'families'"),
])
def test_bad_options_are_spec_errors(options: dict, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        LearningCurvePruner(**options)
