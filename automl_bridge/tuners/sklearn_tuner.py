"""Tune scikit-learn estimators with cross-validation (Keras Tuner's ``SklearnTuner``).

The hypermodel's ``build(hp)`` returns an unfitted estimator (or pipeline). Each trial
cross-validates it; the score of a fold is ``scoring(estimator, X_test, y_test)`` (a scorer
name such as ``"accuracy"`` or ``"neg_root_mean_squared_error"``, a scorer callable, or the
estimator's own ``score`` when ``None``), and the trial's value is the mean over folds. The
running mean is reported after each fold, so a multi-fidelity strategy (``hyperband``,
``successive_halving``) stops poor configurations after their first folds.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> def build(hp):
    ...     return LogisticRegression(C=hp.Float("C", 1e-3, 10.0, sampling="log"),
    ...                               max_iter=500)
    >>> X, y = load_iris(return_X_y=True)
    >>> tuner = SklearnTuner(build, strategy="random", max_trials=2, cv=3, seed=0)
    >>> tuner.search(X, y, verbose=0)
    >>> type(tuner.get_best_models()[0]).__name__
    'LogisticRegression'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from automl_bridge.exceptions import SpecError
from automl_bridge.tuners.base import ATTR_SCORE, BaseTuner
from automl_bridge.tuners.hypermodel import HyperModel
from automl_bridge.tuners.hyperparameters import HyperParameters
from automl_bridge.tuners.objective import Objective

ATTR_FOLDS = "automl_bridge:fold_scores"
ATTR_METRICS = "automl_bridge:metrics"


class SklearnTuner(BaseTuner):
    """A tuner for scikit-learn estimators, scored by cross-validation.

    Args:
        hypermodel: a :class:`~automl_bridge.tuners.HyperModel` or ``build(hp)`` returning an
            unfitted scikit-learn estimator.
        strategy: a registered strategy name (default ``"tpe"``).
        objective: default ``Objective("score", "max")``: the mean cross-validated score
            (higher is better, as scikit-learn's scorers).
        scoring: ``None`` (``estimator.score``), a scorer name (``sklearn.metrics.get_scorer``)
            or a callable ``scorer(estimator, X, y)``.
        metrics: extra metrics recorded per trial: callables ``metric(y_true, y_pred)``
            (their mean over folds is stored under the function's name).
        cv: a splitter (``KFold``, ``StratifiedKFold``, ``GroupKFold``, ...) or a number of
            folds (default 5: ``KFold(5, shuffle=True, random_state=1)``, as Keras Tuner).
        max_trials: trials in the project, failed ones included (default 10).
        seed, strategy_options, directory, project_name, overwrite, resume,
        max_consecutive_failed_trials: as for :class:`~automl_bridge.tuners.base.BaseTuner`.
    """

    def __init__(self, hypermodel: HyperModel | Callable[[HyperParameters], Any], *,
                 strategy: str = "tpe", objective: str | Objective | None = None,
                 scoring: str | Callable[..., float] | None = None,
                 metrics: Sequence[Callable[..., float]] | None = None, cv: Any = 5,
                 max_trials: int | None = 10, seed: int | None = None,
                 strategy_options: Mapping[str, Any] | None = None,
                 directory: str | Path | None = None, project_name: str = "untitled_project",
                 overwrite: bool = False, resume: bool = False,
                 max_consecutive_failed_trials: int | None = 3) -> None:
        from sklearn.metrics import get_scorer
        from sklearn.model_selection import KFold

        if isinstance(cv, bool) or (isinstance(cv, int) and cv < 2):
            raise SpecError(f"The 'cv' of SklearnTuner must be a splitter or an integer >= 2. "
                            f"Got {cv!r}.")
        self.cv = KFold(cv, shuffle=True, random_state=1) if isinstance(cv, int) else cv
        if not hasattr(self.cv, "split"):
            raise SpecError("The 'cv' of SklearnTuner must have a split(X, y, groups) method "
                            f"(a scikit-learn splitter). Got {type(cv).__name__}.")
        if isinstance(scoring, str):
            try:
                self.scoring: Callable[..., float] | None = get_scorer(scoring)
            except ValueError as exc:
                raise SpecError(f"The 'scoring' of SklearnTuner must be a scikit-learn scorer "
                                f"name or a callable. Got {scoring!r}.") from exc
        else:
            self.scoring = scoring
        self.metrics = list(metrics or [])
        self._data: dict[str, Any] | None = None
        super().__init__(hypermodel, strategy=strategy,
                         objective=objective if objective is not None
                         else Objective("score", "max"),
                         max_trials=max_trials, seed=seed, strategy_options=strategy_options,
                         directory=directory, project_name=project_name, overwrite=overwrite,
                         resume=resume,
                         max_consecutive_failed_trials=max_consecutive_failed_trials)

    def search(self, X: Any, y: Any = None, groups: Any = None, sample_weight: Any = None, *,
               verbose: int = 1) -> None:
        """Cross-validate ``max_trials`` configurations.

        Raises:
            AllTrialsFailedError: no trial succeeded (the first failure is shown).
        """
        n_splits = int(self.cv.get_n_splits(X, y, groups))
        self._data = {"X": X, "y": y, "groups": groups, "sample_weight": sample_weight,
                      "folds": list(self.cv.split(X, y, groups))}
        self._search(n_splits, verbose)

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' estimators, refit on all the data of the last :meth:`search`.

        Raises:
            SpecError: no :meth:`search` in this session (the data is not stored).
        """
        if self._data is None:
            raise SpecError("get_best_models() refits on the data of search(); call "
                            "search(X, y) in this session first (with max_trials reached it "
                            "runs no new trial).")
        d = self._data
        models = []
        for t in self.get_best_trials(num_models):
            est = self.hypermodel.build(self._trial_hp(t))
            models.append(_fit(est, d["X"], d["y"], d["sample_weight"]))
        return models

    def _run_trial(self, trial: optuna.Trial, hp: HyperParameters) -> float:
        from sklearn.base import clone

        assert self._data is not None
        d = self._data
        template = self.hypermodel.build(hp)
        if not hasattr(template, "fit"):
            raise SpecError("build(hp) of SklearnTuner must return a scikit-learn estimator. "
                            f"Got {type(template).__name__}.")
        scores: list[float] = []
        names = [getattr(m, "__name__", f"metric_{i}") for i, m in enumerate(self.metrics)]
        extra: list[list[float]] = [[] for _ in self.metrics]
        folds = d["folds"]
        for i, (train, test) in enumerate(folds, start=1):
            est = _fit(clone(template), _take(d["X"], train), _take(d["y"], train),
                       _take(d["sample_weight"], train))
            X_test, y_test = _take(d["X"], test), _take(d["y"], test)
            if self.scoring is not None:
                sw = _take(d["sample_weight"], test)
                kwargs = {"sample_weight": sw} if sw is not None else {}
                scores.append(float(self.scoring(est, X_test, y_test, **kwargs)))
            else:
                scores.append(float(est.score(X_test, y_test)))
            if extra:
                pred = est.predict(X_test)
                for values, metric in zip(extra, self.metrics, strict=True):
                    values.append(float(metric(y_test, pred)))
            running = float(np.mean(scores))
            trial.report(running, self._step(i, len(folds)))
            if i < len(folds) and trial.should_prune():
                trial.set_user_attr(ATTR_SCORE, running)
                trial.set_user_attr(ATTR_FOLDS, scores)
                raise optuna.TrialPruned()
        trial.set_user_attr(ATTR_FOLDS, scores)
        if extra:
            trial.set_user_attr(ATTR_METRICS, {k: float(np.mean(v))
                                               for k, v in zip(names, extra, strict=True)})
        value = float(np.mean(scores))
        trial.set_user_attr(ATTR_SCORE, value)
        return value


def _take(a: Any, idx: np.ndarray) -> Any:
    if a is None:
        return None
    if hasattr(a, "iloc"):
        return a.iloc[idx]
    return np.asarray(a)[idx] if not hasattr(a, "shape") else a[idx]


def _fit(est: Any, X: Any, y: Any, sample_weight: Any) -> Any:
    if sample_weight is not None:
        return est.fit(X, y, sample_weight=sample_weight)
    return est.fit(X, y)


__all__ = ["SklearnTuner"]
