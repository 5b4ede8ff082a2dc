"""automl_bridge: one tabular AutoML spec, run locally or on SageMaker, Vertex AI and Azure ML.

Importing the package is cheap: it imports no optuna, scikit-learn, torch or cloud SDK. The
public names are loaded on first use.

Example:
    >>> import automl_bridge
    >>> automl_bridge.AutoMLJob.__name__
    'AutoMLJob'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from automl_bridge.exceptions import AutoMLBridgeError

__version__ = "0.1.0"

_LAZY = {
    "AutoMLJob": "automl_bridge.job",
    "JobSpec": "automl_bridge.spec",
    "RunResult": "automl_bridge.results",
    "Candidate": "automl_bridge.results",
    "CandidateState": "automl_bridge.results",
    "RunStatus": "automl_bridge.results",
    "load_result": "automl_bridge.results",
    "load_model": "automl_bridge.models.persistence",
    "save_model": "automl_bridge.models.persistence",
    "AutoMLClassifier": "automl_bridge.sklearn_api",
    "AutoMLRegressor": "automl_bridge.sklearn_api",
    "RunHandle": "automl_bridge.backends.base",
    "load_config": "automl_bridge.config",
}

__all__ = [
    "AutoMLBridgeError",
    "AutoMLClassifier",
    "AutoMLJob",
    "AutoMLRegressor",
    "Candidate",
    "CandidateState",
    "JobSpec",
    "RunHandle",
    "RunResult",
    "RunStatus",
    "__version__",
    "load_config",
    "load_model",
    "load_result",
    "save_model",
]

if TYPE_CHECKING:
    from automl_bridge.backends.base import RunHandle
    from automl_bridge.config import load_config
    from automl_bridge.job import AutoMLJob
    from automl_bridge.models.persistence import load_model, save_model
    from automl_bridge.results import Candidate, CandidateState, RunResult, RunStatus, load_result
    from automl_bridge.sklearn_api import AutoMLClassifier, AutoMLRegressor
    from automl_bridge.spec import JobSpec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'automl_bridge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
