"""Keras-Tuner-style hyperparameter tuning for PyTorch modules and scikit-learn estimators.

Importing this package does not import torch: the PyTorch tuners load on first use.

- :class:`HyperParameters` (``Int``, ``Float``, ``Choice``, ``Boolean``, ``Fixed``,
  ``conditional_scope``), :class:`HyperModel`, :class:`Objective`;
- PyTorch: :class:`Tuner` (any registered strategy), :class:`RandomSearch`,
  :class:`GridSearch`, :class:`Hyperband`, :class:`BayesianOptimization`, and the trainer's
  :class:`EarlyStopping`;
- scikit-learn: :class:`SklearnTuner`.

See docs/tuners.md.

Example:
    >>> from automl_bridge.tuners import HyperParameters
    >>> HyperParameters().Choice("activation", ["relu", "tanh"])
    'relu'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from automl_bridge.tuners.hypermodel import HyperModel
from automl_bridge.tuners.hyperparameters import HyperParameters
from automl_bridge.tuners.objective import Objective

if TYPE_CHECKING:
    from automl_bridge.models.nn.callbacks import EarlyStopping
    from automl_bridge.tuners.sklearn_tuner import SklearnTuner
    from automl_bridge.tuners.tuner import (
        BayesianOptimization,
        GridSearch,
        Hyperband,
        RandomSearch,
        Tuner,
    )

_LAZY = {
    "Tuner": "automl_bridge.tuners.tuner",
    "RandomSearch": "automl_bridge.tuners.tuner",
    "GridSearch": "automl_bridge.tuners.tuner",
    "Hyperband": "automl_bridge.tuners.tuner",
    "BayesianOptimization": "automl_bridge.tuners.tuner",
    "SklearnTuner": "automl_bridge.tuners.sklearn_tuner",
    "EarlyStopping": "automl_bridge.models.nn.callbacks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "BayesianOptimization",
    "EarlyStopping",
    "GridSearch",
    "HyperModel",
    "HyperParameters",
    "Hyperband",
    "Objective",
    "RandomSearch",
    "SklearnTuner",
    "Tuner",
]
