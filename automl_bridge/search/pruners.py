"""Pruning by learning-curve extrapolation: stop a trial whose curve will not beat the best.

:class:`LearningCurvePruner` is an Optuna pruner. Each time a trial reports a score at a step
(a resource: boosting iterations, epochs), it extrapolates the trial's curve to the final
resource with :func:`automl_bridge.search.curves.extrapolate` and prunes the trial when the
predicted final score is unlikely to beat the best final score of the complete trials.

Example:
    >>> import optuna
    >>> from automl_bridge.search.pruners import LearningCurvePruner
    >>> study = optuna.create_study(direction="maximize", pruner=LearningCurvePruner())
    >>> def objective(trial):
    ...     ceiling = trial.suggest_categorical("ceiling", [0.9, 0.5])
    ...     for step in range(1, 51):
    ...         trial.report(ceiling - 0.4 * step ** -0.5, step)
    ...         if trial.should_prune():
    ...             raise optuna.TrialPruned()
    ...     return ceiling - 0.4 * 50 ** -0.5
    >>> study.enqueue_trial({"ceiling": 0.9})
    >>> study.enqueue_trial({"ceiling": 0.5})
    >>> study.optimize(objective, n_trials=2)
    >>> [t.state.name for t in study.trials]
    ['COMPLETE', 'PRUNED']
    >>> max(study.trials[1].intermediate_values)  # pruned after 7 of 50 steps
    7
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna

from automl_bridge.exceptions import SpecError
from automl_bridge.search.curves import extrapolate

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

#: Optional user attribute of a running trial: its own final resource (e.g. its ``max_iter``),
#: used as the extrapolation target instead of ``max_resource`` when present.
MAX_RESOURCE_ATTR = "automl_bridge:max_resource"
#: System attribute written on a trial when it is pruned: the prediction behind the decision.
PREDICTION_ATTR = "automl_bridge:curve_prediction"
_MAX_POINTS = 50  # longer curves are thinned to this many points before fitting (speed)


class LearningCurvePruner(optuna.pruners.BasePruner):
    """Prune a trial when its extrapolated final score will probably not beat the best.

    At every report, with ``steps``/``values`` the trial's intermediate values (steps are the
    resource), the pruner:

    1. returns False (keeps the trial) when the study is multi-objective, the trial has fewer
       than ``min_points`` finite intermediate values, or fewer than ``min_complete_trials``
       trials are complete; also between checkpoints: with ``n`` points reported, the curve is
       only fitted when ``floor(log(n / min_points) / log(recheck_ratio))`` has grown since
       ``n - 1`` points (every report up to about ``1 / (recheck_ratio - 1)`` points, then
       every time the curve has grown by ``recheck_ratio``), so a trial reporting every
       boosting iteration pays for about 40 fits per 300 iterations, not 300;
    2. takes the final score of every complete trial: the value at its last intermediate step
       (the same scale as the curves), or ``trial.value`` when it reported none; the best of
       them (by the study direction) is the score to beat;
    3. picks the target resource: the trial's user attribute :data:`MAX_RESOURCE_ATTR` when
       set, else ``max_resource`` (``"auto"``: the largest last step among complete trials;
       when no complete trial reported steps, nothing is pruned); once the trial has reached
       the target it is kept;
    4. extrapolates the curve to the target (:func:`~automl_bridge.search.curves.extrapolate`
       on at most 50 evenly spread points; mean ``m``, standard deviation ``s``), and under
       a normal approximation computes
       ``p = P(final better than best - margin)`` (``best + margin`` when minimizing);
    5. prunes when ``p < confidence``. The prediction is stored in the pruned trial's system
       attribute :data:`PREDICTION_ATTR`.

    The pruner keeps no state: every decision is recomputed from the study, so it works with
    several workers and after a resume. Failed, pruned and running trials are ignored.

    Args:
        min_points: reports needed before the first decision (>= 3; default 3).
        max_resource: the final resource of a trial, an int >= 1, or ``"auto"`` (default).
        confidence: prune when the probability of beating the best is below this (in (0, 1);
            default 0.05). Lower prunes less.
        margin: a trial is kept while it may come within ``margin`` (in score units, >= 0;
            default 0) of the best; larger prunes less.
        min_complete_trials: complete trials needed before pruning starts (>= 1; default 1).
        recheck_ratio: growth of the number of points between two fits (>= 1; default 1.1;
            1 fits at every report).
        bounds: ``(low, high)`` the score cannot leave (e.g. ``(0.0, 1.0)`` for accuracy);
            predictions are clipped to it. Default: unbounded.
        families: curve families to fit (default: all of
            :data:`~automl_bridge.search.curves.FAMILIES`).

    Raises:
        SpecError: an option out of its range.
    """

    def __init__(self, *, min_points: int = 3, max_resource: int | str = "auto",
                 confidence: float = 0.05, margin: float = 0.0, min_complete_trials: int = 1,
                 recheck_ratio: float = 1.1,
                 bounds: tuple[float | None, float | None] | None = None,
                 families: Sequence[str] | None = None) -> None:
        from automl_bridge.search.curves import FAMILIES

        name = "LearningCurvePruner"
        if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
            raise SpecError(f"The option 'min_points' of {name} must be an int >= 3 (three "
                            f"points are needed to fit a curve). Got {min_points!r}.")
        if max_resource != "auto" and (isinstance(max_resource, bool)
                                       or not isinstance(max_resource, int)
                                       or max_resource < 1):
            raise SpecError(f"The option 'max_resource' of {name} must be 'auto' or an int "
                            f">= 1. Got {max_resource!r}.")
        if (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                or not 0.0 < confidence < 1.0):
            raise SpecError(f"The option 'confidence' of {name} must be a number in (0, 1), "
                            f"e.g. 0.05. Got {confidence!r}.")
        if (isinstance(margin, bool) or not isinstance(margin, (int, float))
                or not math.isfinite(margin) or margin < 0):
            raise SpecError(f"The option 'margin' of {name} must be a finite number >= 0. "
                            f"Got {margin!r}.")
        if (isinstance(min_complete_trials, bool) or not isinstance(min_complete_trials, int)
                or min_complete_trials < 1):
            raise SpecError(f"The option 'min_complete_trials' of {name} must be an int >= 1. "
                            f"Got {min_complete_trials!r}.")
        if (isinstance(recheck_ratio, bool) or not isinstance(recheck_ratio, (int, float))
                or not 1.0 <= recheck_ratio < math.inf):
            raise SpecError(f"The option 'recheck_ratio' of {name} must be a finite number "
                            f">= 1 (1 fits the curve at every report). Got {recheck_ratio!r}.")
        if bounds is not None and (len(bounds) != 2 or (
                bounds[0] is not None and bounds[1] is not None and bounds[0] >= bounds[1])):
            raise SpecError(f"The option 'bounds' of {name} must be (low, high) with low < high "
                            f"(either may be None). Got {bounds!r}.")
        if families is not None and (not families or any(f not in FAMILIES for f in families)):
            raise SpecError(f"The option 'families' of {name} must name some of "
                            f"{sorted(FAMILIES)}. Got {families!r}.")
        self.min_points = min_points
        self.max_resource = max_resource
        self.confidence = float(confidence)
        self.margin = float(margin)
        self.min_complete_trials = min_complete_trials
        self.recheck_ratio = float(recheck_ratio)
        self.bounds = bounds
        self.families = list(families) if families is not None else None

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should stop now (see the class docstring for the rule)."""
        decision = self.evaluate(study, trial)
        if decision is None or not decision["prune"]:
            return False
        with contextlib.suppress(Exception):  # a diagnostic must never break a run
            study._storage.set_trial_system_attr(trial._trial_id, PREDICTION_ATTR, decision)
        return True

    def _checkpoint(self, n: int) -> bool:
        """Whether the curve is fitted when it has ``n >= min_points`` points."""
        if n == self.min_points or self.recheck_ratio == 1.0:
            return True
        log_r = math.log(self.recheck_ratio)
        return (math.floor(math.log(n / self.min_points) / log_r + 1e-9)
                > math.floor(math.log((n - 1) / self.min_points) / log_r + 1e-9))

    def evaluate(self, study: Study, trial: FrozenTrial) -> dict[str, Any] | None:
        """The decision for ``trial`` with its numbers, or ``None`` when none can be made.

        ``None`` also between checkpoints (see ``recheck_ratio``).

        Returns:
            ``{"prune", "p_better", "mean", "std", "best", "target_step", "last_step"}``.
        """
        if len(study.directions) > 1:
            return None
        curve = sorted((int(s), float(v)) for s, v in trial.intermediate_values.items()
                       if v is not None and math.isfinite(v))
        if len(curve) < self.min_points or not self._checkpoint(len(curve)):
            return None
        complete = study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,))
        finals: list[float] = []
        last_steps: list[int] = []
        for t in complete:
            inter = {s: v for s, v in t.intermediate_values.items()
                     if v is not None and math.isfinite(v)}
            if inter:
                step = max(inter)
                finals.append(float(inter[step]))
                last_steps.append(int(step))
            elif t.value is not None and math.isfinite(t.value):
                finals.append(float(t.value))
        if len(finals) < self.min_complete_trials:
            return None
        own = trial.user_attrs.get(MAX_RESOURCE_ATTR)
        if isinstance(own, (int, float)) and not isinstance(own, bool) and own > 0:
            target = float(own)
        elif self.max_resource == "auto":
            if not last_steps:
                return None
            target = float(max(last_steps))
        else:
            target = float(self.max_resource)
        last_step = curve[-1][0]
        if last_step >= target:
            return None
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        best = max(finals) if maximize else min(finals)
        pred = extrapolate([s for s, _ in curve], [v for _, v in curve], target,
                           direction="maximize" if maximize else "minimize",
                           families=self.families, bounds=self.bounds, max_points=_MAX_POINTS)
        threshold = best - self.margin if maximize else best + self.margin
        ahead = (pred.mean - threshold) if maximize else (threshold - pred.mean)
        if pred.std > 0:
            p_better = 0.5 * math.erfc(-ahead / (pred.std * math.sqrt(2.0)))
        else:
            p_better = 1.0 if ahead >= 0 else 0.0
        return {"prune": p_better < self.confidence, "p_better": p_better, "mean": pred.mean,
                "std": pred.std, "best": best, "target_step": target, "last_step": last_step}
