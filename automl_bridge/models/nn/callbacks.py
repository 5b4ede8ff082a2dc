"""Keras-style training callbacks for :func:`automl_bridge.models.nn.trainer.train`.

Protocol (duck-typed; subclass :class:`Callback` for the no-op defaults):

- ``on_train_begin(state)`` once per :func:`train` call, before its first epoch. ``state`` is the
  :class:`~automl_bridge.models.nn.trainer.TrainState`; ``state.log_keys`` already names the
  keys every epoch's logs will hold, so a callback can refuse a bad ``monitor`` up front.
- ``on_epoch_end(epoch, logs) -> bool | None`` after each epoch (``epoch`` is 1-based: the
  number of epochs done). Return ``True`` to stop training after this epoch.
- ``on_train_end(state)`` once per :func:`train` call after the last epoch (not when an error
  stops training).

A callback is reset by ``on_train_begin``, as in Keras: passing the same
:class:`EarlyStopping` to a second ``train`` call (continuation) starts its patience afresh.

Example:
    >>> stop = EarlyStopping(monitor="val_loss", patience=2)
    >>> stop.mode
    'min'
    >>> [stop.on_epoch_end(e, {"val_loss": v}) for e, v in enumerate([1.0, 0.9, 0.95, 0.92], 1)]
    [False, False, False, True]
    >>> stop.best, stop.best_epoch
    (0.9, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import torch

from automl_bridge.exceptions import SpecError

if TYPE_CHECKING:
    from automl_bridge.models.nn.trainer import TrainState

_MAXIMISED = ("acc", "accuracy", "auc", "r2", "f1", "precision", "recall")


class Callback:
    """Base class with no-op hooks; see the module docstring for the protocol."""

    def on_train_begin(self, state: TrainState) -> None:
        """Called once before the first epoch of a :func:`train` call."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool | None:
        """Called after each epoch; return ``True`` to stop training."""
        return None

    def on_train_end(self, state: TrainState) -> None:
        """Called once after the last epoch of a :func:`train` call."""


def _resolve_mode(monitor: str, mode: str, owner: str) -> Literal["min", "max"]:
    if mode not in ("auto", "min", "max"):
        raise SpecError(
            f"The 'mode' of {owner} must be 'auto', 'min' or 'max'. Got {mode!r}."
        )
    if mode != "auto":
        return "max" if mode == "max" else "min"
    name = monitor.removeprefix("val_")
    return "max" if any(name == m or name.endswith("_" + m) for m in _MAXIMISED) else "min"


def _check_monitor(monitor: str, state: TrainState, owner: str) -> None:
    keys = tuple(getattr(state, "log_keys", ()))
    if keys and monitor not in keys:
        hint = " Pass validation data to train() to get 'val_*' keys." if (
            monitor.startswith("val_") and not any(k.startswith("val_") for k in keys)
        ) else ""
        raise SpecError(
            f"The 'monitor' of {owner} must be one of the logged keys {sorted(keys)}. "
            f"Got {monitor!r}.{hint}"
        )


class _Monitor(Callback):
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor: str, min_delta: float, mode: str) -> None:
        if min_delta < 0:
            raise SpecError(
                f"The 'min_delta' of {type(self).__name__} must be >= 0. Got {min_delta}."
            )
        self.monitor = monitor
        self.min_delta = float(min_delta)
        self.mode: Literal["min", "max"] = _resolve_mode(monitor, mode, type(self).__name__)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0

    def _current(self, logs: Mapping[str, float]) -> float:
        if self.monitor not in logs:
            raise SpecError(
                f"The 'monitor' of {type(self).__name__} must be one of the logged keys "
                f"{sorted(logs)}. Got {self.monitor!r}."
            )
        return float(logs[self.monitor])

    def _improved(self, current: float) -> bool:
        if math.isnan(current):
            return False
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras semantics).

    Args:
        monitor: a key of the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement before stopping (>= 0).
        min_delta: an improvement must exceed this (absolute) amount.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (maximise names ending in acc, accuracy, auc,
            r2, f1, precision or recall; minimise the rest).
        restore_best_weights: at the end of training, load the weights of the best epoch
            (kept as a CPU copy), whether or not training stopped early.

    Attributes:
        best: best monitored value seen; ``best_epoch``: its epoch (1-based);
        stopped_epoch: epoch at which this callback stopped training (0 if it did not).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: Literal["auto", "min", "max"] = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if int(patience) != patience or patience < 0:
            raise SpecError(f"The 'patience' of EarlyStopping must be an integer >= 0. "
                            f"Got {patience!r}.")
        super().__init__(monitor, min_delta, mode)
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.stopped_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._state: TrainState | None = None

    def on_train_begin(self, state: TrainState) -> None:
        """Reset the counters and check that ``monitor`` will be logged."""
        _check_monitor(self.monitor, state, "EarlyStopping")
        self._reset()
        self.stopped_epoch = 0
        self.best_weights = None
        self._state = state

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Record an improvement or count a stale epoch; ``True`` once patience runs out."""
        current = self._current(logs)
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights and self._state is not None:
                self.best_weights = {
                    k: v.detach().to("cpu", copy=True)
                    for k, v in self._state.module.state_dict().items()
                }
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, state: TrainState) -> None:
        """Load the best weights when ``restore_best_weights`` is set."""
        if self.restore_best_weights and self.best_weights is not None:
            state.module.load_state_dict(self.best_weights)
        self._state = None


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs.
        factor: multiplier in (0, 1).
        patience: stale epochs before a reduction.
        min_delta: an improvement must exceed this (absolute) amount.
        mode: as for :class:`EarlyStopping`.
        cooldown: epochs to wait after a reduction before counting stale epochs again.
        min_lr: the learning rate never goes below this.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: Literal["auto", "min", "max"] = "auto",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise SpecError(f"The 'factor' of ReduceLROnPlateau must be in (0, 1). Got {factor}.")
        super().__init__(monitor, min_delta, mode)
        self.factor = float(factor)
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._cooldown_left = 0
        self._state: TrainState | None = None

    def on_train_begin(self, state: TrainState) -> None:
        """Reset the counters and check that ``monitor`` will be logged."""
        _check_monitor(self.monitor, state, "ReduceLROnPlateau")
        self._reset()
        self._cooldown_left = 0
        self._state = state

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Reduce the learning rate of every parameter group after ``patience`` stale epochs."""
        current = self._current(logs)
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            return False
        if self._cooldown_left == 0:
            self.wait += 1
        if self.wait >= self.patience and self._state is not None:
            for group in self._state.optimizer.param_groups:
                group["lr"] = max(float(group["lr"]) * self.factor, self.min_lr)
            self._cooldown_left, self.wait = self.cooldown, 0
        return False

    def on_train_end(self, state: TrainState) -> None:
        """Drop the reference to the training state."""
        self._state = None


__all__ = ["Callback", "EarlyStopping", "ReduceLROnPlateau"]
