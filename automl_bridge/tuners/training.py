"""Training glue between the tuners and :mod:`automl_bridge.models.nn.trainer`.

Nothing here trains by itself: :func:`fit_module` sets up a
:class:`~automl_bridge.models.nn.trainer.TrainState` and calls
:func:`~automl_bridge.models.nn.trainer.train`. The rest prepares the data of ``search``
(arrays or tensors, a validation split) and reads a fit's result.

Example:
    >>> import numpy as np
    >>> x, y = np.zeros((10, 2), "float32"), np.arange(10) % 2
    >>> (xt, yt), (xv, yv) = split_validation(x, y, validation_split=0.2)
    >>> len(xt), len(xv), infer_task(y)
    (8, 2, 'classification')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_bridge.exceptions import SpecError

#: Metrics the trainer computes by name (others come from the user's ``metrics``).
TRAINER_METRICS = ("accuracy", "mae", "mse")


def fit_module(model: nn.Module, x: Any, y: Any, *, epochs: int, task: str,
               batch_size: int = 32, validation_data: tuple[Any, Any] | None = None,
               callbacks: Sequence[Any] = (), optimizer: Any = "adamw",
               learning_rate: float = 1e-3, weight_decay: float = 1e-4, loss: Any = None,
               metrics: Any = None, device: str = "auto", seed: int | None = 0,
               on_epoch: Callable[[dict[str, float]], bool | None] | None = None,
               verbose: int = 0) -> list[dict[str, float]]:
    """Train ``model`` with the shared trainer; returns the epoch logs."""
    from automl_bridge.models.nn.trainer import TrainState, train

    state = TrainState.create(model, optimizer=optimizer, learning_rate=learning_rate,
                              weight_decay=weight_decay, device=device, seed=seed)

    def hook(logs: dict[str, float]) -> bool | None:
        if verbose >= 2:
            print("  " + "  ".join(f"{k}={v:.4g}" for k, v in logs.items() if k != "seconds"))
        return on_epoch(logs) if on_epoch is not None else None

    return train(state, x, y, task=task, epochs=epochs,  # type: ignore[arg-type]
                 batch_size=batch_size, valid=validation_data, loss=loss,
                 callbacks=list(callbacks), on_epoch=hook, metrics=metrics)


def infer_task(y: Any) -> str:
    """``"classification"`` for integer or boolean labels, ``"regression"`` for floats."""
    if isinstance(y, torch.Tensor):
        return "regression" if y.is_floating_point() else "classification"
    kind = np.asarray(y).dtype.kind
    if kind in "iub":
        return "classification"
    if kind == "f":
        return "regression"
    raise SpecError(f"The targets y of search() must be integer class codes (classification) "
                    f"or floats (regression). Got dtype {np.asarray(y).dtype}; encode labels "
                    "first, e.g. numpy.unique(y, return_inverse=True)[1].")


def _rows(a: Any) -> int:
    return int(a.shape[0]) if hasattr(a, "shape") else len(a)


def as_array(a: Any) -> Any:
    """Tensors as given; anything else as a numpy array."""
    return a if isinstance(a, torch.Tensor) else np.asarray(a)


def split_validation(x: Any, y: Any, *, validation_split: float | None = None,
                     validation_data: tuple[Any, Any] | None = None,
                     ) -> tuple[tuple[Any, Any], tuple[Any, Any] | None]:
    """Training and validation data; ``validation_split`` holds out the *last* rows (Keras).

    Raises:
        SpecError: both or an invalid split, mismatched row counts.
    """
    x, y = as_array(x), as_array(y)
    if _rows(x) != _rows(y) or _rows(x) == 0:
        raise SpecError(f"x and y of search() must have the same number of rows (>= 1). "
                        f"Got {_rows(x)} and {_rows(y)}.")
    if validation_data is not None:
        if validation_split:
            raise SpecError("Pass either validation_data or validation_split to search(), "
                            "not both.")
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise SpecError("The 'validation_data' of search() must be a pair (x_val, y_val). "
                            f"Got {type(validation_data).__name__}.")
        return (x, y), (as_array(validation_data[0]), as_array(validation_data[1]))
    if not validation_split:
        return (x, y), None
    if not 0.0 < float(validation_split) < 1.0:
        raise SpecError(f"The 'validation_split' of search() must be in (0, 1). "
                        f"Got {validation_split!r}.")
    n = _rows(x)
    cut = int(n * (1.0 - float(validation_split)))  # Keras' split: the same rows as Keras
    if cut < 1 or cut >= n:
        raise SpecError(f"validation_split={validation_split} leaves no validation or no "
                        f"training rows out of {n}.")
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def trainer_metrics(task: str, objective: str, metrics: Any) -> Any:
    """The trainer's ``metrics``: the user's, else the task's default plus the objective's
    base name when the trainer knows it (``val_mse`` adds ``mse``)."""
    if metrics is not None:
        return metrics
    default = "accuracy" if task == "classification" else "mae"
    base = objective.removeprefix("val_")
    names = [default]
    if base in TRAINER_METRICS and base != default:
        names.append(base)
    return names


def result_value(result: Any, objective: str) -> float | None:
    """The objective's value in what a custom fit returned: a number, or a dict holding it;
    for a history (list of epoch logs) the best is taken by the caller. ``None`` if absent."""
    if isinstance(result, int | float) and not isinstance(result, bool):
        return float(result)
    if isinstance(result, Mapping) and objective in result:
        return float(result[objective])
    return None


def parameter_count(model: Any) -> int:
    """Number of scalars in the module's parameters."""
    if isinstance(model, nn.Module):
        return int(sum(p.numel() for p in model.parameters()))
    return 0


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the module's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


__all__ = ["as_array", "cpu_state_dict", "fit_module", "infer_task", "parameter_count",
           "result_value", "split_validation", "trainer_metrics"]
