"""The final model of a local run: the best candidate refit on all rows, or the next best
thing the time left allows (its validated model, a refit of the next best, an ensemble, the
baseline). A mixin of :class:`~automl_bridge.backends._local_run.LocalRun`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from automl_bridge.backends.local import allowed_overrun
from automl_bridge.results import Candidate, CandidateState

if TYPE_CHECKING:
    from automl_bridge.engine.evaluate import EvalContext
    from automl_bridge.engine.objectives import Objectives
    from automl_bridge.spec import JobSpec


class FinalModel:
    """Chooses and fits the final model (the state below is the run's)."""

    spec: JobSpec
    objectives: Objectives | None
    warnings: list[str]
    write_reserve: float
    _deadline_for_final: float | None
    #: how the final model was made: ("refit" | "split", candidate), ("baseline", metrics),
    #: ("infeasible", None)
    final_note: tuple[str, Any]
    ensemble_info: dict[str, Any] | None

    def _final_model(self, study: Any, direction: str, executors: list[Any],
                     ectx: EvalContext, fallback: tuple[float, Any] | None) -> Any:
        """The best candidate refit on all rows; else its model as validated (fitted on its
        last training split); else a refit of the next best; else the baseline.

        A validated model of the best beats a refit of a worse candidate: on 200k rows a
        refit of the second best (a linear model) scored RMSE 2.63 where the best's validated
        model scored 1.06.
        """
        from automl_bridge.engine.runner import best_candidates, candidates_from_study

        ranked = best_candidates(candidates_from_study(study), direction)
        model = self._refit_first(ranked[:1], executors, ectx)
        if model is not None:
            return model
        model = self._validated_best(ranked, direction, executors, fallback)
        if model is not None:
            return model
        model = self._refit_first(ranked[1:3], executors, ectx)
        if model is not None:
            return model
        if self.objectives is not None and self.objectives.constraints and not ranked and any(
                c.state is CandidateState.COMPLETE for c in candidates_from_study(study)):
            self.final_note = ("infeasible", None)
            return None
        from automl_bridge.engine.evaluate import baseline

        model, metrics = baseline(ectx)
        self.final_note = ("baseline", metrics)
        self.warnings.append("No candidate could be trained within the budget; the final model "
                             "is a baseline (class prior or mean).")
        return model

    def _refit_first(self, cands: list[Candidate], executors: list[Any], ectx: EvalContext
                     ) -> Any:
        """The first of ``cands`` whose refit on all rows fits the time left (or ``None``)."""
        from automl_bridge.engine.workers import TrialFailed, TrialTimeout

        deadline = self._deadline_for_final
        for cand in cands:
            left = float("inf") if deadline is None else \
                deadline - time.monotonic() - self.write_reserve
            # a small refit may use part of the documented overrun margin rather than leave
            # the user a validated-split model or the baseline
            grace = min(1.0, 0.25 * allowed_overrun(float(self.spec.time_budget_s or 0.0)))
            if float(cand.extra.get("refit_estimate_s", 0.0)) > left + grace:
                continue
            left += grace
            try:
                model = self._refit(executors, ectx, cand, None if deadline is None else left)
                self.final_note = ("refit", cand)
                return model
            except (TrialTimeout, TrialFailed) as exc:
                self.warnings.append(f"Refit of candidate {cand.candidate_id} failed or ran out "
                                     f"of time ({type(exc).__name__}).")
        return None

    def _validated_best(self, ranked: list[Candidate], direction: str, executors: list[Any],
                        fallback: tuple[float, Any] | None) -> Any:
        """The best model as validated, kept by a worker or fetched earlier (or ``None``)."""
        deadline = self._deadline_for_final
        constrained = self.objectives is not None and bool(self.objectives.constraints)
        if not ranked or constrained:  # workers keep their best by score, feasible or not
            return None
        wait = None if deadline is None else max(0.1, deadline - time.monotonic())
        champions = [c for ex in executors if (c := _champion(ex, wait)) is not None]
        if fallback is not None:
            champions.append(fallback)
        if not champions:
            return None
        _score, model = sorted(champions, key=lambda sc: sc[0],
                               reverse=direction == "maximize")[0]
        self.warnings.append(
            "There was no time to refit the best candidate on all rows; the final model is "
            "the best candidate evaluated in this session, as fitted on its last validation "
            "split."
        )
        self.final_note = ("split", _match(ranked, model))
        return model

    def _ensemble(self, study: Any, direction: str, executors: list[Any], ectx: EvalContext,
                  search: Any, best_model: Any) -> Any:
        """Greedy ensemble selection over the best candidates' validation predictions.

        Kept when it beats the best single pipeline on validation (``ensemble="auto"``; any
        ensemble of two or more for ``True``) and every member's refit fits the time left.
        """
        import numpy as np

        from automl_bridge.engine.runner import candidates_from_study
        from automl_bridge.engine.workers import TrialFailed, TrialTimeout
        from automl_bridge.metrics import is_better
        from automl_bridge.models.ensemble import (
            EnsembleModel,
            greedy_selection,
            selection_metrics,
        )

        pool = dict(search.predictions)
        if len(pool) < 2:
            return best_model
        mask = np.logical_and.reduce([p[2] for p in pool.values()])
        y = ectx.y[mask]
        selection = greedy_selection({cid: p[1][mask] for cid, p in pool.items()}, y,
                                     metric=ectx.metric, classes=ectx.classes,
                                     pos_label=ectx.pos_label)
        if len(selection.weights) < 2 or (self.spec.ensemble == "auto" and not is_better(
                selection.score, selection.single_score, direction)):  # type: ignore[arg-type]
            self.warnings.append(
                f"Ensemble selection over {len(pool)} candidates did not beat the best single "
                f"pipeline on validation ({ectx.metric} {selection.score:.5g} vs "
                f"{selection.single_score:.5g}); the final model is the single pipeline.")
            return best_model
        by_id = {c.candidate_id: c for c in candidates_from_study(study)}
        refit_best = self.final_note[1]
        todo = [cid for cid in selection.weights if refit_best is None
                or cid != refit_best.candidate_id]
        need = sum(float(by_id[cid].extra.get("refit_estimate_s", 0.0)) for cid in todo)
        deadline = self._deadline_for_final
        left = float("inf") if deadline is None else \
            deadline - time.monotonic() - self.write_reserve
        if need > left:
            self.warnings.append(
                f"An ensemble of {len(selection.weights)} pipelines scored {selection.score:.5g}"
                f" on validation (best single {selection.single_score:.5g}), but refitting its "
                f"members needs ~{need:.1f}s and {max(left, 0):.1f}s were left; the final model "
                "is the single pipeline.")
            return best_model
        members = []
        for cid in selection.weights:
            if refit_best is not None and cid == refit_best.candidate_id:
                members.append(best_model)
                continue
            left = float("inf") if deadline is None else \
                deadline - time.monotonic() - self.write_reserve
            try:
                members.append(self._refit(executors, ectx, by_id[cid],
                                           None if deadline is None else left))
            except (TrialTimeout, TrialFailed) as exc:
                self.warnings.append(f"Refit of ensemble member {cid} failed or ran out of "
                                     f"time ({type(exc).__name__}); the final model is the "
                                     "single pipeline.")
                return best_model
        weights = [selection.weights[cid] for cid in selection.weights]
        model = EnsembleModel(members=members, weights=weights, task=ectx.task,
                              target=ectx.target, classes=ectx.classes)
        metrics = selection_metrics(selection, y, task=ectx.task, classes=ectx.classes,
                                    pos_label=ectx.pos_label)
        self.ensemble_info = {
            "members": [{"candidate_id": cid, "family": by_id[cid].family, "weight": round(w, 4)}
                        for cid, w in selection.weights.items()],
            "score": selection.score, "best_single_score": selection.single_score,
            "metrics": metrics, "pool": len(pool)}
        return model

    def _refit(self, executors: list[Any], ectx: EvalContext, cand: Candidate,
               timeout: float | None) -> Any:
        """Refit in a live worker; in this process when every worker was killed (a restart
        would cost more than a small refit)."""
        from automl_bridge.engine.workers import InlineExecutor, TrialTimeout

        live = [ex for ex in executors if ex.alive]
        if live:
            return live[0].call("refit", cand.family, cand.params, timeout=timeout)
        estimate = float(cand.extra.get("refit_estimate_s", 0.0))
        if timeout is not None and estimate > 0.5 * timeout:
            raise TrialTimeout()  # too risky without a deadline; use the validated model
        inline = InlineExecutor(n_threads=executors[0].n_threads)
        inline.load(ectx)
        return inline.call("refit", cand.family, cand.params)


def _champion(executor: Any, timeout: float | None) -> Any:
    from automl_bridge.engine.workers import TrialFailed, TrialTimeout

    try:
        return executor.call("champion", "", {}, timeout=timeout)
    except (TrialTimeout, TrialFailed):
        return None


def _match(ranked: list[Candidate], model: Any) -> Candidate | None:
    for c in ranked:
        if c.family == getattr(model, "family", None) and c.params == getattr(model, "params",
                                                                             None):
            return c
    return ranked[0] if ranked else None
