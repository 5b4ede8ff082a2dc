"""Weight inheritance between trials: save a network's trained weights, morph them for a child.

Under the ``morphism`` strategy every network trial saves its trained weights, one ``.npz``
file per validation fold (``<prefix>_f<fold>.npz``: the architecture string under
``__architecture__`` and the network's state dict as plain arrays; read back with
``allow_pickle=False``, so a file runs no code). A child trial names its parent and a morphism;
for each fold the parent's weights of the *same* fold are morphed (function-preserving, see
:mod:`automl_bridge.models.nas.morphism`) and loaded into the child's network before its brief
training. Same fold, same training rows, same fitted preprocessing: the inherited network sees
the inputs it was trained on.

Example:
    >>> import numpy as np, tempfile, os
    >>> class Net:  # any model with these two members can be saved
    ...     architecture = "dense(4,relu,0.0)"
    ...     def state_dict_numpy(self): return {"w": np.ones((2, 2), np.float32)}
    >>> d = tempfile.mkdtemp()
    >>> save_fold_weights(os.path.join(d, "t3"), {0: Net()})
    >>> arch, sd = load_fold_weights(os.path.join(d, "t3"), 0)
    >>> arch, sd["w"].shape
    ('dense(4,relu,0.0)', (2, 2))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from automl_bridge.exceptions import AutoMLBridgeError

#: Key of the architecture string inside a weights file.
ARCH_KEY = "__architecture__"
#: Trial user attribute: the trial's weights were saved (it can be a parent).
WEIGHTS_ATTR = "automl_bridge:weights"


def weights_file(prefix: str, fold: int) -> str:
    """The file of one fold's weights."""
    return f"{prefix}_f{fold}.npz"


def save_fold_weights(prefix: str, models: Mapping[int, Any]) -> None:
    """Save each fold's network (``architecture`` and ``state_dict_numpy()``) atomically."""
    for fold, model in models.items():
        arrays = {k: np.asarray(v) for k, v in model.state_dict_numpy().items()}
        arrays[ARCH_KEY] = np.asarray(str(model.architecture))
        target = weights_file(prefix, fold)
        directory = os.path.dirname(target) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".w-", suffix=".npz")
        os.close(fd)
        try:
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load_fold_weights(prefix: str, fold: int) -> tuple[str, dict[str, np.ndarray]]:
    """The architecture string and state dict saved for ``fold`` (no pickle is read)."""
    path = weights_file(prefix, fold)
    if not os.path.exists(path):
        raise AutoMLBridgeError(
            f"The weights of the parent trial are missing ({path}); they are saved when a "
            "network trial completes under the 'morphism' strategy. Was the run directory "
            "moved or cleaned?")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arch = str(arrays.pop(ARCH_KEY))
    return arch, arrays


def inherited_weights(inherit: Mapping[str, Any], fold: int,
                      params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The parent's weights of ``fold``, morphed into the child's architecture.

    Args:
        inherit: ``{"path": parent prefix, "morphism": string, "seed": int, "trial": int}``.
        fold: the validation fold.
        params: the child's family parameters (its architecture must be the morph's result).

    Raises:
        AutoMLBridgeError: the parent's weights are missing, or the morph does not lead to the
            child's architecture.
    """
    from automl_bridge.models.nas import apply_morphism, arch_from_params, parse, parse_morphism

    parent_arch, state = load_fold_weights(str(inherit["path"]), fold)
    rng = np.random.default_rng([int(inherit.get("seed", 0)) & 0xFFFFFFFF,
                                 int(inherit.get("trial", 0)), fold])
    child_arch, child_state = apply_morphism(parse(parent_arch), state,
                                             parse_morphism(str(inherit["morphism"])), rng=rng)
    expected = arch_from_params(dict(params))
    if str(child_arch) != str(expected):
        raise AutoMLBridgeError(
            f"The morphism {inherit['morphism']!r} of {parent_arch!r} gives {str(child_arch)!r},"
            f" but the trial's parameters describe {str(expected)!r}.")
    return {k: np.asarray(v) for k, v in child_state.items()}
