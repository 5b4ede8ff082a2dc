"""PyTorch training for automl_bridge: a Keras-style trainer and scikit-learn estimators.

Importing this package does not import torch; the names below load their module on first use.

- :mod:`.trainer`: :class:`TrainState`, :func:`train`, :func:`resolve_device`,
  :func:`predict_batches`, :class:`TrainingDivergedError`.
- :mod:`.callbacks`: :class:`Callback`, :class:`EarlyStopping`, :class:`ReduceLROnPlateau`.
- :mod:`.estimator`: :class:`NeuralClassifier`, :class:`NeuralRegressor`.

Example:
    >>> from automl_bridge.models.nn import EarlyStopping
    >>> EarlyStopping(monitor="val_accuracy").mode
    'max'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainState": "trainer",
    "TrainingDivergedError": "trainer",
    "predict_batches": "data",
    "state_dict_numpy": "data",
    "load_state_dict_numpy": "data",
    "resolve_device": "trainer",
    "train": "trainer",
    "Callback": "callbacks",
    "EarlyStopping": "callbacks",
    "ReduceLROnPlateau": "callbacks",
    "NeuralClassifier": "estimator",
    "NeuralRegressor": "estimator",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
