"""Hypermodels: what a tuner builds (and trains) from a set of hyperparameters.

Pass a tuner either a plain function ``build(hp)`` or a :class:`HyperModel` subclass. The
build returns one of:

- a ``torch.nn.Module``: trained with AdamW (learning rate 1e-3, weight decay 1e-4) and the
  task's default loss (cross-entropy on integer labels, mean squared error on float targets);
- a dict ``{"model": module, "optimizer": ..., "learning_rate": ..., "weight_decay": ...,
  "loss": ...}`` (only ``"model"`` is required): ``optimizer`` is ``"adamw"``, ``"adam"``,
  ``"sgd"``, a ``torch.optim.Optimizer`` over the module's parameters or a callable
  ``params -> optimizer``; ``loss`` is ``"cross_entropy"``, ``"mse"``, ``"mae"``,
  ``"huber"`` or a callable ``(outputs, targets) -> scalar tensor``;
- for :class:`~automl_bridge.tuners.SklearnTuner`, a scikit-learn estimator.

Override :meth:`HyperModel.fit` to tune training itself (batch size, epochs), as in Keras
Tuner: ``return super().fit(hp, model, x, y, batch_size=hp.Choice("batch_size", [16, 32]),
**kwargs)``.

Example:
    >>> class Const(HyperModel):
    ...     def build(self, hp):
    ...         return hp.Int("k", 1, 3)
    >>> from automl_bridge.tuners.hyperparameters import HyperParameters
    >>> Const().build(HyperParameters())
    1
    >>> as_hypermodel(lambda hp: hp.Boolean("b")).build(HyperParameters())
    False
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from automl_bridge.exceptions import SpecError
from automl_bridge.tuners.hyperparameters import HyperParameters

_BUILD_KEYS = ("model", "optimizer", "learning_rate", "weight_decay", "loss")


class HyperModel:
    """Base class of hypermodels: override :meth:`build` (and optionally :meth:`fit`).

    Args:
        name: shown in summaries (default: the class name).
        tunable: kept for Keras Tuner compatibility (always tuned here).
    """

    def __init__(self, name: str | None = None, tunable: bool = True) -> None:
        self.name = name or type(self).__name__
        self.tunable = tunable

    def build(self, hp: HyperParameters) -> Any:
        """Build the model for ``hp`` (see the module docstring for what to return)."""
        raise NotImplementedError(f"{type(self).__name__}.build(hp) is not implemented.")

    def fit(self, hp: HyperParameters, model: Any, x: Any, y: Any, **kwargs: Any) -> Any:
        """Train ``model`` (the built module) and return its history.

        The tuner passes ``epochs``, ``batch_size``, ``validation_data``, ``callbacks``,
        ``task``, ``optimizer``, ``learning_rate``, ``weight_decay``, ``loss``, ``metrics``,
        ``device``, ``seed`` and ``on_epoch`` (its per-epoch reporting hook: keep it for
        pruning and for the best epoch's weights). Return the list of epoch logs, a dict of
        final metrics or the objective's value.
        """
        from automl_bridge.tuners.training import fit_module

        return fit_module(model, x, y, **kwargs)


class _FunctionHyperModel(HyperModel):
    """A :class:`HyperModel` around a plain ``build(hp)`` function."""

    def __init__(self, build: Callable[[HyperParameters], Any]) -> None:
        super().__init__(name=getattr(build, "__name__", "build"))
        self._build = build

    def build(self, hp: HyperParameters) -> Any:
        return self._build(hp)


def as_hypermodel(hypermodel: HyperModel | Callable[[HyperParameters], Any]) -> HyperModel:
    """``hypermodel`` as a :class:`HyperModel` (a function is wrapped).

    Raises:
        SpecError: neither a HyperModel nor a callable.
    """
    if isinstance(hypermodel, HyperModel):
        return hypermodel
    if callable(hypermodel):
        return _FunctionHyperModel(hypermodel)
    raise SpecError("The 'hypermodel' of a tuner must be a HyperModel or a function "
                    f"build(hp). Got {type(hypermodel).__name__}.")


@dataclass
class Built:
    """What a build returned, unpacked: the module and its training settings."""

    model: Any
    optimizer: Any = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    loss: Any = None

    def train_kwargs(self) -> dict[str, Any]:
        """The settings as keyword arguments of :meth:`HyperModel.fit`."""
        return {"optimizer": self.optimizer, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, "loss": self.loss}


def unpack_build(result: Any) -> Built:
    """Read a build's result (a module or a dict, see the module docstring).

    Raises:
        SpecError: a dict without ``"model"`` or with unknown keys.
    """
    if isinstance(result, Mapping):
        unknown = sorted(set(result) - set(_BUILD_KEYS))
        if "model" not in result or unknown:
            raise SpecError(
                f"A build(hp) that returns a dict must hold 'model' and may hold "
                f"{list(_BUILD_KEYS[1:])}. Got keys {sorted(result)}.")
        built = Built(result["model"])
        for key in _BUILD_KEYS[1:]:
            if result.get(key) is not None:
                setattr(built, key, result[key])
        return built
    return Built(result)


__all__ = ["Built", "HyperModel", "as_hypermodel", "unpack_build"]
