"""Tensors in and out of the trainer: features, targets, batches, predictions and weights.

Numpy arrays (or tensors) become tensors once per call; prediction runs in batches; weights
travel as numpy state dicts (what the estimators pickle and what weight inheritance morphs).

Example:
    >>> import numpy as np
    >>> from torch import nn
    >>> net = nn.Linear(3, 2)
    >>> predict_batches(net, np.zeros((5, 3)), batch_size=2).shape
    (5, 2)
    >>> sorted(state_dict_numpy(net))
    ['bias', 'weight']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_bridge.exceptions import SpecError

#: Data goes to the GPU at once when it takes less than this share of the free memory.
_GPU_DATA_SHARE = 0.25


def _features(X: Any) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        return X.detach()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(X), dtype=np.float32))


def _targets(y: Any, task: str, default_loss: bool) -> torch.Tensor:
    if isinstance(y, torch.Tensor):
        t = y.detach()
        if not default_loss:
            return t
    else:
        t = torch.from_numpy(np.ascontiguousarray(np.asarray(y)))
    if task == "regression":
        if not (t.is_floating_point() or t.dtype in (torch.int64, torch.int32, torch.bool)):
            raise SpecError(f"Regression targets must be numeric. Got dtype {t.dtype}.")
        return t.float()
    if t.is_floating_point():
        if not bool(torch.all(t == torch.round(t))):
            raise SpecError(
                "Classification targets must be integer class codes 0..C-1. Got non-integer "
                "floats; encode the labels first (e.g. numpy.unique(y, return_inverse=True))."
            )
    elif t.dtype == torch.bool or not (t.dtype.is_signed or t.dtype == torch.uint8):
        raise SpecError(f"Classification targets must be integer class codes. Got {t.dtype}.")
    return t.long()


def _place(tensors: Sequence[torch.Tensor], device: torch.device) -> bool:
    """Whether ``tensors`` should move to ``device`` at once (always true on CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return sum(t.numel() * t.element_size() for t in tensors) < _GPU_DATA_SHARE * free


def _batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch slices; a trailing batch of one row joins the previous one (BatchNorm needs 2)."""
    bounds = [(a, min(a + batch_size, n)) for a in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def predict_batches(module: nn.Module, X: Any, *, batch_size: int = 4096) -> np.ndarray:
    """Outputs of ``module`` on ``X`` in eval mode under ``torch.no_grad``, batch by batch.

    The module's device is taken from its first parameter (CPU without parameters); its
    train/eval mode is restored afterwards. Returns a float numpy array on the CPU.
    """
    first = next(module.parameters(), None)
    dev = first.device if first is not None else torch.device("cpu")
    Xt = _features(X)
    was_training = module.training
    module.eval()
    chunks = []
    try:
        with torch.no_grad():  # one (empty) batch when X has no rows, for the output shape
            for a in range(0, max(Xt.shape[0], 1), batch_size):
                chunks.append(module(Xt[a:a + batch_size].to(dev)).float().cpu().numpy())
    finally:
        module.train(was_training)
    return np.concatenate(chunks)


def state_dict_numpy(module: nn.Module) -> dict[str, np.ndarray]:
    """The module's state dict as CPU numpy arrays (copies), keys in module order."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_state_dict_numpy(module: nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Load numpy ``weights`` into ``module`` strictly (same keys and shapes), or SpecError."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: {tuple(np.shape(weights[k]))} != {tuple(own[k].shape)}"
              for k in own if k in weights and tuple(np.shape(weights[k])) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        raise SpecError(
            "The weights do not fit the network (strict loading): "
            f"missing keys {missing[:10]}, unexpected keys {unexpected[:10]}, "
            f"shape mismatches {shapes[:10]}. Pass weights saved from the same architecture "
            "and data shape."
        )
    module.load_state_dict(
        {k: torch.as_tensor(np.asarray(weights[k])).to(own[k].dtype) for k in own}, strict=True
    )


__all__ = ["load_state_dict_numpy", "predict_batches", "state_dict_numpy"]
