"""scikit-learn estimators around the trainer: :class:`NeuralClassifier`, :class:`NeuralRegressor`.

The network is built from an architecture string by
:func:`automl_bridge.models.nas.build_network` and trained by
:func:`automl_bridge.models.nn.trainer.train`. X is a numeric matrix (the preprocessed features
of our pipelines); it is cast to float32.

- Classification: labels of any type are encoded (``classes_``), the network emits one logit per
  class, ``predict_proba`` is their softmax. Regression: the target is standardised for
  training and restored by ``predict``; the ``history_`` losses are in standardised units.
- ``early_stopping=True`` holds out ``validation_fraction`` of the rows (stratified for
  classification, seeded), stops after ``patience`` epochs without a lower ``val_loss`` and
  restores the best epoch's weights. With fewer than 20 held-out rows it trains on all rows
  without early stopping (``validation_rows_ == 0``).
- ``warm_start=True``: a later ``fit`` (e.g. after ``set_params(epochs=...)``) continues the
  same network and optimizer up to ``epochs`` in total; new ``learning_rate`` /
  ``weight_decay`` values apply. A changed ``architecture`` starts a new network.
- ``init_weights``: a numpy state dict loaded (strictly) into a new network before training.
- ``n_threads``: torch's CPU threads during ``fit``/``predict`` only (restored afterwards;
  ``None`` leaves torch's setting alone).
- Pickle and skops: the state is plain Python and numpy (parameters, weights as numpy arrays,
  ``classes_``, target scale, history); the network is rebuilt on the CPU on first use. The
  optimizer state is not saved: ``warm_start`` after loading starts a fresh optimizer.

Example:
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 3))
    >>> y = np.where(X[:, 0] > 0, "up", "down")
    >>> clf = NeuralClassifier(architecture="dense(8,relu,0.0)", epochs=10,
    ...                        learning_rate=0.02, device="cpu")
    >>> clf.fit(X, y).classes_.tolist(), clf.epochs_trained_, clf.validation_rows_
    (['down', 'up'], 10, 0)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
from torch import nn

from automl_bridge.exceptions import PredictSchemaError, SpecError, TargetError
from automl_bridge.models.nn.callbacks import EarlyStopping
from automl_bridge.models.nn.trainer import (
    TrainState,
    load_state_dict_numpy,
    predict_batches,
    state_dict_numpy,
    train,
)

#: Fewest held-out rows for early stopping; below it a fit trains on all rows.
MIN_VALIDATION_ROWS = 20
_PREDICT_BATCH = 4096
_OPTIMIZERS = ("adamw", "adam", "sgd")


@contextlib.contextmanager
def _torch_threads(n_threads: int | None) -> Iterator[None]:
    """Use ``n_threads`` torch CPU threads inside the block, then restore the previous count."""
    if n_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _split(y_codes: np.ndarray | None, n: int, fraction: float, seed: int | None,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, valid) row indices; stratified by ``y_codes`` when given."""
    order = np.random.default_rng(seed).permutation(n)
    if y_codes is not None:  # group by class (random inside), then take evenly spaced rows
        order = order[np.argsort(y_codes[order], kind="stable")]
    pos = np.arange(n)
    take = np.floor((pos + 1) * fraction) > np.floor(pos * fraction)
    return np.sort(order[~take]), np.sort(order[take])


class _NeuralEstimator(BaseEstimator):
    """Shared fit/predict/persistence of the two estimators."""

    _task: ClassVar[str]
    # fitted attributes (set by fit; declared for the type checker only)
    architecture_: str
    n_features_in_: int
    n_outputs_: int
    epochs_trained_: int
    best_epoch_: int | None
    history_: list[dict[str, float]]
    validation_rows_: int

    def __init__(
        self,
        *,
        architecture: str = "dense(64,relu,0.1)",
        epochs: int = 20,
        batch_size: int = 64,
        optimizer: str = "adamw",
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        patience: int = 5,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        init_weights: Mapping[str, np.ndarray] | None = None,
        seed: int | None = 0,
        device: str = "auto",
        n_threads: int | None = 1,
    ) -> None:
        self.architecture = architecture
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.init_weights = init_weights
        self.seed = seed
        self.device = device
        self.n_threads = n_threads

    # --- subclass hooks --------------------------------------------------------------------

    def _encode(self, y: np.ndarray, continuing: bool) -> tuple[np.ndarray, dict[str, Any]]:
        """Training targets and the fitted attributes they define."""
        raise NotImplementedError

    def _strata(self, targets: np.ndarray) -> np.ndarray | None:
        return None

    # --- fit -------------------------------------------------------------------------------

    def _check_params(self) -> None:
        name = type(self).__name__
        if self.optimizer not in _OPTIMIZERS:
            raise SpecError(f"The 'optimizer' of {name} must be one of {list(_OPTIMIZERS)}. "
                            f"Got {self.optimizer!r}.")
        for key in ("epochs", "batch_size", "patience"):
            value = getattr(self, key)
            low = 1 if key == "batch_size" else 0
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise SpecError(f"The '{key}' of {name} must be an integer >= {low}. "
                                f"Got {value!r}.")
        if self.early_stopping and not 0.0 < self.validation_fraction < 1.0:
            raise SpecError(f"The 'validation_fraction' of {name} must be in (0, 1). "
                            f"Got {self.validation_fraction!r}.")
        if self.n_threads is not None and (
            isinstance(self.n_threads, bool)
            or not isinstance(self.n_threads, (int, np.integer))
            or self.n_threads < 1
        ):
            raise SpecError(f"The 'n_threads' of {name} must be an integer >= 1 or None. "
                            f"Got {self.n_threads!r}.")

    def _new_network(self, n_inputs: int, n_outputs: int) -> nn.Module:
        from automl_bridge.models.nas import build_network

        seed = self.seed if self.seed is not None else int(
            np.random.SeedSequence().generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):  # seeded init; the global RNG is restored
            torch.random.default_generator.manual_seed(int(seed))
            return build_network(self.architecture, n_inputs, n_outputs)

    def _can_continue(self, n_features: int) -> bool:
        if not (self.warm_start and hasattr(self, "epochs_trained_")):
            return False
        if self.architecture_ != str(self.architecture) or n_features != self.n_features_in_:
            return False
        return self._state is not None or self._weights is not None

    def fit(self, X: Any, y: Any) -> _NeuralEstimator:
        """Train the network on ``X`` (numeric, 2-D) and ``y`` (see the module docstring)."""
        self._check_params()
        if y is None:
            raise TargetError(f"{type(self).__name__} requires y to be passed, but the target "
                              "y is None.")
        Xa = check_array(X, dtype=np.float32)
        ya = np.asarray(y)
        if ya.shape[0] != Xa.shape[0]:
            raise SpecError(f"X and y of {type(self).__name__}.fit must have the same number "
                            f"of rows. Got {Xa.shape[0]} and {ya.shape[0]}.")
        continuing = self._can_continue(Xa.shape[1])
        targets, fitted = self._encode(ya, continuing)
        with _torch_threads(self.n_threads):
            state = self._continued_state() if continuing else self._fresh_state(Xa, fitted)
            for key, value in fitted.items():
                setattr(self, key, value)
            self._train(state, Xa, targets)
        return self

    def _fresh_state(self, X: np.ndarray, fitted: Mapping[str, Any]) -> TrainState:
        module = self._new_network(X.shape[1], int(fitted["n_outputs_"]))
        if self.init_weights is not None:
            load_state_dict_numpy(module, self.init_weights)
        state = TrainState.create(module, optimizer=self.optimizer,
                                  learning_rate=self.learning_rate,
                                  weight_decay=self.weight_decay, device=self.device,
                                  seed=self.seed)
        self._state, self._module, self._weights = state, None, None
        self.architecture_ = str(self.architecture)
        self.n_features_in_ = int(X.shape[1])
        self.epochs_trained_, self.history_, self.best_epoch_ = 0, [], None
        return state

    def _continued_state(self) -> TrainState:
        if self._state is None:  # loaded from a file: same weights, fresh optimizer
            state = TrainState.create(self._network(), optimizer=self.optimizer,
                                      learning_rate=self.learning_rate,
                                      weight_decay=self.weight_decay, device=self.device,
                                      seed=self.seed)
            state.epoch, state.history = self.epochs_trained_, list(self.history_)
            self._state, self._module, self._weights = state, None, None
        for group in self._state.optimizer.param_groups:
            group["lr"] = self.learning_rate
            group["weight_decay"] = self.weight_decay
        return self._state

    def _train(self, state: TrainState, X: np.ndarray, targets: np.ndarray) -> None:
        valid = None
        callbacks: list[EarlyStopping] = []
        n_valid = int(np.floor(X.shape[0] * self.validation_fraction))
        if self.early_stopping and n_valid >= MIN_VALIDATION_ROWS:
            tr, va = _split(self._strata(targets), X.shape[0], self.validation_fraction,
                            self.seed)
            valid = (X[va], targets[va])
            X, targets = X[tr], targets[tr]
            callbacks.append(EarlyStopping(monitor="val_loss", patience=self.patience,
                                           restore_best_weights=True))
        train(state, X, targets, task=self._task, epochs=int(self.epochs),  # type: ignore[arg-type]
              batch_size=int(self.batch_size), valid=valid, callbacks=callbacks)
        self.validation_rows_ = 0 if valid is None else int(valid[0].shape[0])
        self.epochs_trained_ = state.epoch
        self.history_ = [dict(logs) for logs in state.history]
        self.best_epoch_ = callbacks[0].best_epoch or None if callbacks else None

    # --- predict ---------------------------------------------------------------------------

    def _network(self) -> nn.Module:
        if self._state is not None:
            return self._state.module
        if self._module is None:
            if self._weights is None:
                raise SpecError(f"This {type(self).__name__} has no network; call fit().")
            from automl_bridge.models.nas import build_network

            with torch.random.fork_rng(devices=[]):
                module = build_network(self.architecture_, self.n_features_in_,
                                       self.n_outputs_)
            load_state_dict_numpy(module, self._weights)
            self._module = module
        return self._module

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "epochs_trained_")
        Xa = check_array(X, dtype=np.float32)
        if Xa.shape[1] != self.n_features_in_:
            raise PredictSchemaError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        with _torch_threads(self.n_threads):
            return predict_batches(self._network(), Xa, batch_size=_PREDICT_BATCH)

    def state_dict_numpy(self) -> dict[str, np.ndarray]:
        """The trained network's state dict as numpy arrays (copies)."""
        check_is_fitted(self, "epochs_trained_")
        if self._state is None and self._module is None and self._weights is not None:
            return {k: v.copy() for k, v in self._weights.items()}
        return state_dict_numpy(self._network())

    # --- persistence -----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if hasattr(self, "epochs_trained_"):
            state["_weights"] = self.state_dict_numpy()
        state["_state"] = state["_module"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._state, self._module = None, None

    # private attributes exist from construction on, so pickling an unfitted one works
    _state: TrainState | None = None
    _module: nn.Module | None = None
    _weights: dict[str, np.ndarray] | None = None


class NeuralClassifier(ClassifierMixin, _NeuralEstimator):
    """A PyTorch network classifier with the scikit-learn API (see the module docstring).

    Args:
        architecture: an architecture string of :mod:`automl_bridge.models.nas`.
        epochs: total training epochs (the fidelity resource; continued with ``warm_start``).
        batch_size: rows per mini-batch.
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"`` (Nesterov momentum 0.9).
        learning_rate: step size. weight_decay: decoupled (AdamW) or L2 decay.
        early_stopping: hold out ``validation_fraction`` of the rows and stop after
            ``patience`` epochs without a lower validation loss (best weights restored).
        patience: see ``early_stopping``. validation_fraction: see ``early_stopping``.
        warm_start: continue the previous network and optimizer on the next ``fit``.
        init_weights: numpy state dict loaded (strictly) into a new network.
        seed: seeds the initial weights, the split, the batch order and dropout.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
        n_threads: torch CPU threads within ``fit``/``predict``; ``None`` leaves them alone.

    Attributes:
        classes_: the labels, sorted. n_features_in_, n_outputs_: network input/output sizes.
        epochs_trained_: epochs done. best_epoch_: epoch of the restored weights (early
            stopping) or ``None``. history_: Keras-style logs per epoch.
        validation_rows_: held-out rows (0 without early stopping).
        architecture_: the architecture string the network was built from.
    """

    _task = "classification"

    def _encode(self, y: np.ndarray, continuing: bool) -> tuple[np.ndarray, dict[str, Any]]:
        from sklearn.utils.multiclass import check_classification_targets

        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # sklearn's DataConversionWarning
        if y.ndim != 1:
            raise TargetError(f"{type(self).__name__} needs a 1-D target. Got shape {y.shape}.")
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise TargetError(f"{type(self).__name__}: {exc}") from exc
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise TargetError(f"{type(self).__name__} needs at least 2 classes in y. Got one "
                              f"class: {classes.tolist()}.")
        if continuing and not np.array_equal(classes, self.classes_):
            raise TargetError(
                f"warm_start can only continue on the same classes: the network was trained "
                f"on {self.classes_.tolist()[:20]}, y has {classes.tolist()[:20]}. Set "
                "warm_start=False to train a new network."
            )
        return codes.astype(np.int64), {"classes_": classes, "n_outputs_": len(classes)}

    def _strata(self, targets: np.ndarray) -> np.ndarray | None:
        return targets

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the logits), columns in ``classes_`` order."""
        logits = self._outputs(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each row."""
        codes = np.argmax(self._outputs(X), axis=1)
        return np.asarray(self.classes_[codes])


class NeuralRegressor(RegressorMixin, _NeuralEstimator):
    """A PyTorch network regressor with the scikit-learn API (see the module docstring).

    Takes the arguments of :class:`NeuralClassifier`. ``y`` is 1-D or 2-D (several outputs);
    it is standardised per column for training (``y_mean_``, ``y_scale_``) and ``predict``
    returns the original units and shape.
    """

    _task = "regression"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode(self, y: np.ndarray, continuing: bool) -> tuple[np.ndarray, dict[str, Any]]:
        if y.ndim not in (1, 2):
            raise TargetError(f"{type(self).__name__} needs a 1-D or 2-D target. "
                              f"Got shape {y.shape}.")
        try:
            ya = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TargetError(f"{type(self).__name__} needs a numeric target. Got dtype "
                              f"{y.dtype}.") from exc
        if not np.all(np.isfinite(ya)):
            raise TargetError(f"{type(self).__name__} needs a finite target (no NaN or inf).")
        cols = ya.reshape(len(ya), -1)
        if continuing:
            if cols.shape[1] != self.n_outputs_ or (ya.ndim == 1) != self._y_1d:
                raise TargetError(f"warm_start can only continue on a target of the same "
                                  f"shape. Got {y.shape[1:]}; set warm_start=False.")
            mean, scale = self.y_mean_, self.y_scale_
        else:
            mean, scale = cols.mean(axis=0), cols.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
        targets = ((cols - mean) / scale).astype(np.float32)
        return (targets[:, 0] if ya.ndim == 1 else targets), {
            "y_mean_": mean, "y_scale_": scale, "n_outputs_": cols.shape[1],
            "_y_1d": ya.ndim == 1,
        }

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in the units (and 1-D/2-D shape) of the training target."""
        out = self._outputs(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out


__all__ = ["MIN_VALIDATION_ROWS", "NeuralClassifier", "NeuralRegressor"]
