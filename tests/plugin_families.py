"""Test-only model families, installed as an entry-point plugin by the `plugin_families`
fixture so worker processes see them too."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from automl_bridge.models.families import DataContext, Family
from automl_bridge.search.space import Choice


class SleepyEstimator(ClassifierMixin, RegressorMixin, BaseEstimator):
    """Sleeps, then predicts the most frequent class / the mean; may raise on request."""

    def __init__(self, sleep: float = 0.0, fail: bool = False) -> None:
        self.sleep = sleep
        self.fail = fail

    def fit(self, X: Any, y: Any) -> SleepyEstimator:
        if self.fail:
            raise ValueError("flaky family failed on purpose")
        time.sleep(self.sleep)
        y = np.asarray(y)
        if y.dtype.kind in "fc":
            self.value_ = float(y.mean())
            self.classes_ = None
        else:
            self.classes_, counts = np.unique(y, return_counts=True)
            self.prior_ = counts / counts.sum()
        return self

    def predict(self, X: Any) -> np.ndarray:
        n = len(X)
        if self.classes_ is None:
            return np.full(n, self.value_)
        return np.repeat(self.classes_[np.argmax(self.prior_)], n)

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile(self.prior_, (len(X), 1))


def _build(ctx: DataContext, p: dict[str, Any]) -> Any:
    return SleepyEstimator(sleep=p.get("sleep", 0.0), fail=p.get("fail", False))


SLOW = Family("slow", "onehot", lambda ctx: [Choice("sleep", [60.0])], _build,
              lambda ctx: {"sleep": 60.0})
FLAKY = Family("flaky", "onehot", lambda ctx: [Choice("fail", [True])], _build,
               lambda ctx: {"fail": True})
