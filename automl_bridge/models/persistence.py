"""Save and load fitted models in the skops format, with a fixed allowlist of trusted types.

Never plain pickle: :func:`load_model` reads a ``.skops`` file and refuses it, naming the
offending types, when it holds any type outside :data:`TRUSTED_TYPES`, the list of classes
our pipelines are made of, reviewed and fixed in this file. A file from elsewhere is only as
trusted as those types.

Example:
    >>> from automl_bridge.models.persistence import TRUSTED_TYPES
    >>> "automl_bridge.models.pipeline.TabularModel" in TRUSTED_TYPES
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from automl_bridge.exceptions import AutoMLInputError, UntrustedModelError

#: Types a model file may hold beyond skops' own defaults (sorted; reviewed by hand).
TRUSTED_TYPES: tuple[str, ...] = (
    "automl_bridge.models.ensemble.EnsembleModel",
    "automl_bridge.models.nn.estimator.NeuralClassifier",  # weights as numpy arrays, no torch
    "automl_bridge.models.nn.estimator.NeuralRegressor",
    "automl_bridge.models.pipeline.TabularModel",
    "automl_bridge.models.preprocessing.FrameAligner",
    "automl_bridge.models.preprocessing.TextFeatures",
    "functools.partial",  # holds sklearn's check_array below, nothing else is allowed
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
)


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` in the skops format (atomically: temp file + rename)."""
    import tempfile

    import skops.io as sio

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(model, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_model(path: str | os.PathLike[str]) -> Any:
    """Read a model written by :func:`save_model`.

    Raises:
        AutoMLInputError: the file is missing or not a skops file.
        UntrustedModelError: the file holds types outside :data:`TRUSTED_TYPES`.
    """
    import skops.io as sio

    p = Path(path)
    if not p.exists():
        raise AutoMLInputError(f"No model file at {str(p)!r}.")
    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:
        raise AutoMLInputError(
            f"The file {str(p)!r} is not a skops model file ({type(exc).__name__}). Models are "
            "saved with job.save_model() or AutoMLJob.fit()."
        ) from exc
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise UntrustedModelError(
            f"The model file {str(p)!r} holds types that automl-bridge does not trust: "
            f"{unknown[:20]}. It was not loaded. Only load files you made with this SDK."
        )
    return sio.load(p, trusted=[t for t in untrusted if t in TRUSTED_TYPES])
