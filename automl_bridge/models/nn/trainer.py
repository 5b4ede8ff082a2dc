"""A small, deterministic mini-batch trainer for any ``torch.nn.Module`` (Keras ``fit`` style).

:class:`TrainState` holds the module, its optimizer, the device, the random streams and the
history; :func:`train` runs epochs ``state.epoch + 1 .. epochs`` on it, so calling it again with
a larger ``epochs`` continues where it stopped, optimizer state and random streams included.

- Mini-batches come from a seeded ``torch.Generator`` (a fresh permutation each epoch) over
  tensors made once per call: no copy of the dataset per epoch. The data moves to the device
  once when it fits in a quarter of the free GPU memory, else batch by batch.
- Default loss: cross-entropy on integer class codes 0..C-1 (classification; the module emits
  C logits), mean squared error (regression). Default metrics: ``accuracy`` / ``mae``.
- Each epoch logs a Keras-style dict, e.g. ``{"epoch": 3, "loss": .., "accuracy": ..,
  "val_loss": .., "val_accuracy": .., "learning_rate": .., "seconds": ..}`` ("epoch" counts
  the epochs done, so it is 1-based). Train metrics are averaged over the epoch's batches in
  train mode (dropout on), validation ones in eval mode under ``torch.no_grad``.
- Dropout and other random layers draw from a random state kept in the TrainState and swapped
  in only while training (``torch.random.fork_rng``): the global torch RNG is left unchanged,
  and on CPU the same seed gives bitwise identical weights and history, whether the epochs run
  in one call or several.
- A non-finite training loss raises :class:`TrainingDivergedError` (a ``RuntimeError``).

Example:
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype("int64")
    >>> torch.manual_seed(0) and None
    >>> state = TrainState.create(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
    ...                           learning_rate=1e-2, device="cpu", seed=0)
    >>> history = train(state, X, y, task="classification", epochs=3, batch_size=16,
    ...                 valid=(X, y))
    >>> sorted(history[-1])
    ['accuracy', 'epoch', 'learning_rate', 'loss', 'seconds', 'val_accuracy', 'val_loss']
    >>> state.epoch, len(train(state, X, y, task="classification", epochs=5))
    (3, 5)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from automl_bridge.exceptions import SpecError, TrainingDivergedError
from automl_bridge.models.nn.callbacks import Callback, EarlyStopping, ReduceLROnPlateau
from automl_bridge.models.nn.data import (
    _batch_bounds,
    _features,
    _place,
    _targets,
    load_state_dict_numpy,
    predict_batches,
    state_dict_numpy,
)

Task = Literal["classification", "regression"]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: A metric maps (outputs, targets) of one batch to the batch mean (a scalar tensor).
MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
OptimizerSpec = (
    str | torch.optim.Optimizer | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
)

_OPTIMIZERS = ("adamw", "adam", "sgd")
_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "cross_entropy": nn.CrossEntropyLoss,
    "mse": nn.MSELoss,
    "mae": nn.L1Loss,
    "huber": nn.HuberLoss,
}
_TASKS = ("classification", "regression")


def _accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out.argmax(dim=-1) == y).double().mean()


def _mae(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out - y).abs().mean()


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((out - y) ** 2).mean()


_METRICS: dict[str, MetricFn] = {"accuracy": _accuracy, "mae": _mae, "mse": _mse}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda[:i]"`` into a device.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise SpecError(
                f"The 'device' must be 'auto', 'cpu', 'cuda', 'cuda:<i>' or a torch.device. "
                f"Got {device!r}."
            ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SpecError(
            f"The 'device' {str(device)!r} needs CUDA, which this machine lacks. "
            "Use device='auto' or 'cpu'."
        )
    return resolved


def _seeds(seed: int | None) -> tuple[int, int]:
    """Two independent 32-bit seeds (shuffling, layer randomness) from one user seed."""
    seq = np.random.SeedSequence(seed)
    a, b = seq.generate_state(2)
    return int(a), int(b)


def _make_optimizer(
    spec: OptimizerSpec, module: nn.Module, lr: float, weight_decay: float, momentum: float
) -> torch.optim.Optimizer:
    if isinstance(spec, torch.optim.Optimizer):
        own = {id(p) for p in module.parameters()}
        if not any(id(p) in own for g in spec.param_groups for p in g["params"]):
            raise SpecError(
                "The 'optimizer' given to TrainState.create must optimise the module's "
                "parameters; this one holds none of them. Build it from module.parameters()."
            )
        return spec
    if isinstance(spec, str):
        name = spec.lower()
        if name == "adamw":
            return torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
        if name == "adam":
            return torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
        if name == "sgd":
            return torch.optim.SGD(module.parameters(), lr=lr, momentum=momentum,
                                   weight_decay=weight_decay, nesterov=momentum > 0)
        raise SpecError(
            f"The 'optimizer' must be one of {list(_OPTIMIZERS)}, a torch optimizer or a "
            f"callable(params) -> optimizer. Got {spec!r}."
        )
    if callable(spec):
        opt = spec(module.parameters())
        if not isinstance(opt, torch.optim.Optimizer):
            raise SpecError(
                "The 'optimizer' callable must return a torch.optim.Optimizer. "
                f"Got {type(opt).__name__}."
            )
        return opt
    raise SpecError(f"The 'optimizer' must be a name, an optimizer or a callable. Got {spec!r}.")


@dataclass(eq=False)
class TrainState:
    """Everything :func:`train` needs to run and to continue: build it with :meth:`create`.

    Attributes:
        module: the network (on ``device``). optimizer: its optimizer.
        epoch: epochs done so far. history: one logs dict per epoch done.
        stop_reason: why the last :func:`train` call stopped before its ``epochs``
            (``"on_epoch"`` or a callback's class name), else ``None``.
        log_keys: keys of the logs of the current/last :func:`train` call.
    """

    module: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    seed: int | None
    generator: torch.Generator = field(repr=False)
    rng_state: torch.Tensor = field(repr=False)
    cuda_rng_state: torch.Tensor | None = field(default=None, repr=False)
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list, repr=False)
    stop_reason: str | None = None
    log_keys: tuple[str, ...] = ()

    @classmethod
    def create(
        cls,
        module: nn.Module,
        *,
        optimizer: OptimizerSpec = "adamw",
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        device: str | torch.device = "auto",
        seed: int | None = 0,
    ) -> TrainState:
        """Move ``module`` to ``device`` and set up its optimizer and random streams.

        Args:
            module: any ``nn.Module``; it is moved (in place) to ``device``.
            optimizer: ``"adamw"``, ``"adam"``, ``"sgd"``, a ready optimizer over the module's
                parameters (``learning_rate``/``weight_decay``/``momentum`` are then ignored),
                or a callable ``params -> optimizer``.
            learning_rate: step size (> 0). weight_decay: L2 / decoupled decay (>= 0).
            momentum: SGD (Nesterov) momentum; 0 for plain SGD.
            device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda[:i]"``.
            seed: seeds the batch order and random layers (dropout); ``None``: fresh entropy.
        """
        if not learning_rate > 0 or not math.isfinite(learning_rate):
            raise SpecError(f"The 'learning_rate' must be a finite number > 0. "
                            f"Got {learning_rate!r}.")
        if not weight_decay >= 0:
            raise SpecError(f"The 'weight_decay' must be >= 0. Got {weight_decay!r}.")
        dev = resolve_device(device)
        module.to(dev)
        opt = _make_optimizer(optimizer, module, learning_rate, weight_decay, momentum)
        shuffle_seed, layer_seed = _seeds(seed)
        gen = torch.Generator(device="cpu")
        gen.manual_seed(shuffle_seed)
        rng_state = torch.Generator(device="cpu").manual_seed(layer_seed).get_state()
        cuda_state = None
        if dev.type == "cuda":
            cuda_state = torch.Generator(device=dev).manual_seed(layer_seed).get_state()
        return cls(module=module, optimizer=opt, device=dev, seed=seed, generator=gen,
                   rng_state=rng_state, cuda_rng_state=cuda_state)


def _probe(state: TrainState, X: torch.Tensor, y: torch.Tensor, task: str, name: str,
           ) -> torch.Tensor:
    """Check the targets against one forward pass (eval mode) and shape regression targets."""
    was_training = state.module.training
    state.module.eval()
    with torch.no_grad():
        out = state.module(X[:1].to(state.device))
    state.module.train(was_training)
    if task == "classification":
        if out.ndim != 2:
            raise SpecError(f"For classification the module must return (batch, n_classes) "
                            f"logits. Got output shape {tuple(out.shape)}.")
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= out.shape[1]:
            raise SpecError(
                f"The {name} class codes must lie in 0..{out.shape[1] - 1} (the module has "
                f"{out.shape[1]} outputs). Got codes from {lo} to {hi}."
            )
        return y
    per_row = int(math.prod(out.shape[1:]))
    if y[0].numel() != per_row:
        raise SpecError(
            f"The {name} targets have {y[0].numel()} value(s) per row but the module returns "
            f"{per_row} (output shape {tuple(out.shape)})."
        )
    return y.reshape(y.shape[0], *out.shape[1:])


# --- loop ------------------------------------------------------------------------------------


def _resolve_loss(loss: str | LossFn | None, task: str) -> LossFn:
    if loss is None:
        return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise SpecError(f"The 'loss' must be one of {sorted(_LOSSES)} or a callable "
                            f"(outputs, targets) -> scalar tensor. Got {loss!r}.")
        return _LOSSES[loss]()
    return loss


def _resolve_metrics(
    metrics: Sequence[str] | Mapping[str, MetricFn] | None, task: str
) -> dict[str, MetricFn]:
    if metrics is None:
        return {"accuracy" if task == "classification" else "mae":
                _METRICS["accuracy" if task == "classification" else "mae"]}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    unknown = [m for m in metrics if m not in _METRICS]
    if unknown or isinstance(metrics, str):
        raise SpecError(f"The 'metrics' must be a list of names from {sorted(_METRICS)} or a "
                        f"mapping name -> callable(outputs, targets). Got {metrics!r}.")
    return {m: _METRICS[m] for m in metrics}


def _evaluate(state: TrainState, X: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
              metrics: Mapping[str, MetricFn], batch_size: int, on_device: bool,
              ) -> dict[str, float]:
    module, dev = state.module, state.device
    was_training = module.training
    module.eval()
    sums = torch.zeros(1 + len(metrics), dtype=torch.float64, device=dev)
    try:
        with torch.no_grad():
            for a, b in _batch_bounds(X.shape[0], max(batch_size, 1024)):
                xb, yb = X[a:b], y[a:b]
                if not on_device:
                    xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
                out = module(xb)
                vals = [loss_fn(out, yb)] + [fn(out, yb) for fn in metrics.values()]
                sums += torch.stack([v.detach().double() for v in vals]) * (b - a)
    finally:
        module.train(was_training)
    means = (sums / X.shape[0]).tolist()
    return dict(zip(["loss", *metrics], means, strict=True))


def train(
    state: TrainState,
    X: Any,
    y: Any,
    *,
    task: Task,
    epochs: int,
    batch_size: int = 64,
    valid: tuple[Any, Any] | None = None,
    loss: str | LossFn | None = None,
    callbacks: Sequence[Callback] = (),
    on_epoch: Callable[[dict[str, float]], bool | None] | None = None,
    metrics: Sequence[str] | Mapping[str, MetricFn] | None = None,
    clip_grad_norm: float | None = None,
) -> list[dict[str, float]]:
    """Train ``state.module`` from epoch ``state.epoch + 1`` up to ``epochs`` (in total).

    Args:
        state: from :meth:`TrainState.create`; updated in place.
        X: features (numpy arrays are cast to float32; tensors are used as given), any shape
            whose first axis is the rows.
        y: integer class codes 0..C-1 (classification) or values (regression; 1-D for a
            single output).
        task: ``"classification"`` or ``"regression"``.
        epochs: total epochs after this call (not additional ones).
        batch_size: rows per mini-batch (a trailing batch of one row joins the previous one).
        valid: optional ``(X_valid, y_valid)`` evaluated after each epoch (``val_*`` logs).
        loss: ``None`` (cross-entropy / MSE), ``"cross_entropy"``, ``"mse"``, ``"mae"``,
            ``"huber"`` or a callable ``(outputs, targets) -> scalar``. Built-in losses get
            targets checked against the module's outputs (and regression targets shaped like
            them); with a callable, target tensors are passed as given.
        callbacks: objects following the protocol of :mod:`.callbacks`.
        on_epoch: ``logs -> bool | None`` after the callbacks; ``False`` stops (pruning).
        metrics: names from ``accuracy``, ``mae``, ``mse`` or a mapping name -> callable
            ``(outputs, targets) -> batch mean``; default ``accuracy`` / ``mae``.
        clip_grad_norm: clip the global gradient norm to this value before each step.

    Returns:
        ``state.history``: the logs of all epochs so far.

    Raises:
        SpecError: bad arguments, targets that do not fit the module's outputs, a callback
            monitoring a key that is not logged.
        TrainingDivergedError: the epoch's training loss is NaN or infinite.
    """
    if task not in _TASKS:
        raise SpecError(f"The 'task' must be one of {list(_TASKS)}. Got {task!r}.")
    if int(epochs) != epochs or epochs < 0:
        raise SpecError(f"The 'epochs' must be an integer >= 0. Got {epochs!r}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise SpecError(f"The 'batch_size' must be an integer >= 1. Got {batch_size!r}.")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise SpecError(f"The 'clip_grad_norm' must be > 0 or None. Got {clip_grad_norm!r}.")
    epochs, batch_size = int(epochs), int(batch_size)
    if epochs <= state.epoch:
        return state.history
    loss_fn = _resolve_loss(loss, task)
    metric_fns = _resolve_metrics(metrics, task)
    builtin_loss = loss is None or isinstance(loss, str)
    Xt, yt = _features(X), _targets(y, task, builtin_loss)
    if Xt.shape[0] != yt.shape[0] or Xt.shape[0] == 0:
        raise SpecError(f"X and y must have the same number of rows (>= 1). "
                        f"Got {Xt.shape[0]} and {yt.shape[0]}.")
    Xv = yv = None
    if valid is not None:
        Xv, yv = _features(valid[0]), _targets(valid[1], task, builtin_loss)
        if Xv.shape[0] != yv.shape[0] or Xv.shape[0] == 0:
            raise SpecError(f"The validation X and y must have the same number of rows (>= 1)."
                            f" Got {Xv.shape[0]} and {yv.shape[0]}.")
    keys = ["epoch", "loss", *metric_fns]
    if valid is not None:
        keys += ["val_loss", *(f"val_{m}" for m in metric_fns)]
    state.log_keys = (*keys, "learning_rate", "seconds")
    state.stop_reason = None
    dev = state.device
    cuda_devices = [dev.index if dev.index is not None else torch.cuda.current_device()] \
        if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.set_rng_state(state.rng_state)
        if state.cuda_rng_state is not None:
            torch.cuda.set_rng_state(state.cuda_rng_state, dev)
        try:
            if builtin_loss:
                yt = _probe(state, Xt, yt, task, "training")
                if Xv is not None and yv is not None:
                    yv = _probe(state, Xv, yv, task, "validation")
            on_dev = _place([Xt, yt], dev)
            if on_dev:
                Xt, yt = Xt.to(dev), yt.to(dev)
            v_on_dev = Xv is not None and yv is not None and _place([Xv, yv], dev)
            if v_on_dev and Xv is not None and yv is not None:
                Xv, yv = Xv.to(dev), yv.to(dev)
            for cb in callbacks:
                cb.on_train_begin(state)
            while state.epoch < epochs:
                start = time.perf_counter()
                logs = _run_epoch(state, Xt, yt, loss_fn, metric_fns, batch_size, on_dev,
                                  clip_grad_norm)
                if Xv is not None and yv is not None:
                    val = _evaluate(state, Xv, yv, loss_fn, metric_fns, batch_size, v_on_dev)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                logs["learning_rate"] = float(state.optimizer.param_groups[0]["lr"])
                logs["seconds"] = time.perf_counter() - start
                state.epoch += 1
                state.history.append(logs)
                for cb in callbacks:
                    if cb.on_epoch_end(state.epoch, logs) and state.stop_reason is None:
                        state.stop_reason = type(cb).__name__
                if on_epoch is not None and on_epoch(logs) is False:
                    state.stop_reason = state.stop_reason or "on_epoch"
                if state.stop_reason is not None:
                    break
            for cb in callbacks:
                cb.on_train_end(state)
        finally:
            state.rng_state = torch.get_rng_state()
            if state.cuda_rng_state is not None:
                state.cuda_rng_state = torch.cuda.get_rng_state(dev)
    return state.history


def _run_epoch(state: TrainState, X: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
               metrics: Mapping[str, MetricFn], batch_size: int, on_device: bool,
               clip: float | None) -> dict[str, float]:
    module, opt, dev = state.module, state.optimizer, state.device
    module.train()
    n = X.shape[0]
    perm = torch.randperm(n, generator=state.generator)
    if on_device:
        perm = perm.to(dev)
    bounds = _batch_bounds(n, batch_size)
    # Per-batch means stay on the device (no sync per batch) and are averaged at the end.
    records: list[list[torch.Tensor]] = [[] for _ in range(1 + len(metrics))]
    for a, b in bounds:
        idx = perm[a:b]
        xb, yb = X[idx], y[idx]
        if not on_device:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        out = module(xb)
        batch_loss = loss_fn(out, yb)
        batch_loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(module.parameters(), clip)
        opt.step()
        records[0].append(batch_loss.detach())
        if metrics:
            with torch.no_grad():
                for rec, fn in zip(records[1:], metrics.values(), strict=True):
                    rec.append(fn(out.detach(), yb))
    sizes = torch.tensor([b - a for a, b in bounds], dtype=torch.float64, device=dev)
    means = [float(torch.stack(rec).double().reshape(-1) @ sizes) / n for rec in records]
    if not math.isfinite(means[0]):
        raise TrainingDivergedError(
            f"The training loss became {means[0]} in epoch {state.epoch + 1} (learning rate "
            f"{opt.param_groups[0]['lr']:g}); the weights are no longer usable. Lower the "
            "learning rate, pass clip_grad_norm=1.0, or check the inputs for inf/NaN and "
            "scale them."
        )
    logs: dict[str, float] = {"epoch": state.epoch + 1}
    logs.update(zip(["loss", *metrics], means, strict=True))
    return logs


__all__ = [
    "Callback",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "TrainState",
    "TrainingDivergedError",
    "load_state_dict_numpy",
    "predict_batches",
    "resolve_device",
    "state_dict_numpy",
    "train",
]
