"""The quantity a tuner optimises: a name from the epoch logs and a direction.

Directions of standard names are inferred as in Keras Tuner (``val_`` prefix ignored):
accuracy, auc, precision, recall, f1, r2 and score are maximised; loss, mae, mse, rmse, mape,
error and crossentropy minimised; scikit-learn's ``neg_*`` scores are maximised. Any other
name needs an explicit direction.

Example:
    >>> Objective.of("val_accuracy")
    Objective(name="val_accuracy", direction="max")
    >>> Objective.of("val_loss").better(0.3, 0.5)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from automl_bridge.exceptions import SpecError

_MAXIMISED = ("accuracy", "acc", "auc", "precision", "recall", "f1", "r2", "score")
_MINIMISED = ("loss", "mae", "mse", "rmse", "mape", "error", "crossentropy", "log_loss")
_DIRECTIONS = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}


@dataclass(frozen=True)
class Objective:
    """An objective: ``name`` (a key of the logs) and ``direction`` (``"min"``/``"max"``)."""

    name: str
    direction: str

    def __init__(self, name: str, direction: str) -> None:
        if not isinstance(name, str) or not name:
            raise SpecError(f"The 'name' of Objective must be a non-empty string. Got {name!r}.")
        if direction not in _DIRECTIONS:
            raise SpecError(f"The 'direction' of Objective {name!r} must be 'min' or 'max'. "
                            f"Got {direction!r}.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "direction", _DIRECTIONS[direction])

    @classmethod
    def of(cls, objective: str | Objective) -> Objective:
        """``objective`` as an :class:`Objective`, inferring the direction of a name.

        Raises:
            SpecError: an unknown name (no direction can be inferred), or a list (several
                objectives are not supported).
        """
        if isinstance(objective, Objective):
            return objective
        if not isinstance(objective, str):
            raise SpecError("The 'objective' must be a name such as 'val_accuracy' or an "
                            f"Objective(name, direction); several objectives are not "
                            f"supported. Got {objective!r}.")
        base = objective.removeprefix("val_")
        if base.startswith("neg_"):  # scikit-learn's negated losses are maximised
            return cls(objective, "max")
        if any(base == m or base.endswith("_" + m) for m in _MAXIMISED):
            return cls(objective, "max")
        if any(base == m or base.endswith("_" + m) for m in _MINIMISED):
            return cls(objective, "min")
        raise SpecError(
            f"The direction of the objective {objective!r} cannot be inferred (known: "
            f"{', '.join(_MAXIMISED)} are maximised; {', '.join(_MINIMISED)} minimised). "
            f"Pass Objective({objective!r}, direction='max') or direction='min'.")

    @property
    def optuna_direction(self) -> str:
        """``"maximize"`` or ``"minimize"``."""
        return "maximize" if self.direction == "max" else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` (NaN is never better)."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a > b if self.direction == "max" else a < b

    @property
    def worst(self) -> float:
        """The worst possible value (start of a running best)."""
        return -math.inf if self.direction == "max" else math.inf

    def __repr__(self) -> str:
        return f'Objective(name="{self.name}", direction="{self.direction}")'


__all__ = ["Objective"]
