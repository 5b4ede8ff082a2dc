"""Tuners for PyTorch hypermodels: :class:`Tuner` and the Keras Tuner names.

``RandomSearch``, ``GridSearch``, ``Hyperband`` and ``BayesianOptimization`` are
:class:`Tuner` with the registry's ``random``, ``grid``, ``hyperband`` and ``gp`` strategies;
``Tuner(hypermodel, strategy=name)`` reaches every other registered strategy (``tpe``,
``evolution``, ``rl``, ``bohb``, ``cmaes``, ...). Each trial builds the module, trains it with
:func:`automl_bridge.models.nn.trainer.train`, reports every epoch's objective value to the
Optuna trial and asks the strategy's pruner whether to go on; its score is the best epoch's
value and its weights are those of that epoch.

Example:
    >>> import numpy as np
    >>> from torch import nn
    >>> def build(hp):
    ...     return nn.Sequential(nn.Linear(2, hp.Int("units", 2, 4, step=2)), nn.ReLU(),
    ...                          nn.Linear(hp.get("units"), 2))
    >>> x = np.random.default_rng(0).normal(size=(40, 2)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> tuner = RandomSearch(build, objective="val_accuracy", max_trials=2, seed=0,
    ...                      device="cpu")
    >>> tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)
    >>> sorted(tuner.get_best_hyperparameters()[0].values)
    ['units']
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import torch
from torch import nn

from automl_bridge.exceptions import SpecError
from automl_bridge.tuners.base import (
    ATTR_SCORE,
    BaseTuner,
    FatalSearchError,
    SkipTrial,
    bracket_trials,
)
from automl_bridge.tuners.hypermodel import HyperModel, unpack_build
from automl_bridge.tuners.hyperparameters import HyperParameters
from automl_bridge.tuners.objective import Objective
from automl_bridge.tuners.training import (
    cpu_state_dict,
    infer_task,
    parameter_count,
    result_value,
    split_validation,
    trainer_metrics,
)

Build = HyperModel | Callable[[HyperParameters], Any]
_DEFAULT_EPOCHS = 10


class Tuner(BaseTuner):
    """A tuner for PyTorch modules with any registered search strategy.

    Args:
        hypermodel: a :class:`~automl_bridge.tuners.HyperModel` or ``build(hp)`` returning a
            module or a dict (see :mod:`automl_bridge.tuners.hypermodel`).
        strategy: a registered strategy name (default ``"random"``).
        objective: a key of the epoch logs (``"val_loss"``, ``"val_accuracy"``, ...) or an
            :class:`~automl_bridge.tuners.Objective`.
        max_trials: trials in the project, failed ones included (default 10).
        seed: seeds the strategy, weight initialisation and batch order (``None``: random).
        max_model_size: largest parameter count; larger models are recorded as failed trials
            and not trained.
        max_epochs: epochs of a trial for multi-fidelity strategies (their rungs are epochs);
            default: ``epochs`` of :meth:`search`.
        strategy_options: options of the strategy.
        metrics: the trainer's metrics (names from accuracy, mae, mse or a mapping name ->
            callable); default: accuracy or mae, plus the objective's when known.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
        directory, project_name, overwrite, resume, max_consecutive_failed_trials: see
            :class:`~automl_bridge.tuners.base.BaseTuner`.
    """

    def __init__(self, hypermodel: Build, *, strategy: str = "random",
                 objective: str | Objective = "val_loss", max_trials: int | None = 10,
                 seed: int | None = None, max_model_size: int | None = None,
                 max_epochs: int | None = None,
                 strategy_options: Mapping[str, Any] | None = None, metrics: Any = None,
                 device: str = "auto", directory: str | Path | None = None,
                 project_name: str = "untitled_project", overwrite: bool = False,
                 resume: bool = False, max_consecutive_failed_trials: int | None = 3) -> None:
        for name, value in (("max_model_size", max_model_size), ("max_epochs", max_epochs)):
            if value is not None and (isinstance(value, bool) or int(value) != value
                                      or value < 1):
                raise SpecError(f"The {name!r} of {type(self).__name__} must be an integer "
                                f">= 1 or None. Got {value!r}.")
        self.max_model_size = max_model_size
        self.max_epochs = max_epochs
        self.metrics = metrics
        self.device = device
        self._weights: dict[int, dict[str, torch.Tensor]] = {}
        self._fit: dict[str, Any] = {}
        super().__init__(hypermodel, strategy=strategy, objective=objective,
                         max_trials=max_trials, seed=seed, strategy_options=strategy_options,
                         directory=directory, project_name=project_name, overwrite=overwrite,
                         resume=resume,
                         max_consecutive_failed_trials=max_consecutive_failed_trials)

    def search(self, x: Any, y: Any, *, epochs: int | None = None, batch_size: int = 32,
               validation_split: float | None = None,
               validation_data: tuple[Any, Any] | None = None,
               callbacks: Sequence[Any] | None = None, verbose: int = 1,
               task: str | None = None) -> None:
        """Run trials until ``max_trials`` (counting earlier sessions of the project).

        Args:
            x, y: numpy arrays or torch tensors; ``y`` integer class codes (classification)
                or floats (regression).
            epochs: epochs per trial (default ``max_epochs``, else 10).
            batch_size: rows per mini-batch (default 32, as Keras).
            validation_split: hold out this fraction of the *last* rows (as Keras).
            validation_data: ``(x_val, y_val)`` instead.
            callbacks: e.g. ``[EarlyStopping(monitor="val_loss", patience=5)]``; deep-copied
                for each trial.
            verbose: 0 silent, 1 a line per trial, 2 also each epoch's logs.
            task: ``"classification"`` or ``"regression"`` (default: from ``y``'s dtype).

        Raises:
            SpecError: invalid arguments; a ``val_*`` objective without validation data; an
                objective missing from the epoch logs.
            AllTrialsFailedError: no trial succeeded (the first failure is shown).
        """
        (xt, yt), valid = split_validation(x, y, validation_split=validation_split,
                                           validation_data=validation_data)
        if self.objective.name.startswith("val_") and valid is None:
            raise SpecError(f"The objective {self.objective.name!r} needs validation data. "
                            "Pass validation_split=0.2 or validation_data=(x_val, y_val) to "
                            "search(), or use an objective without 'val_'.")
        task = task or infer_task(yt)
        self._fit = {"x": xt, "y": yt, "epochs": self._epochs(epochs),
                     "batch_size": batch_size, "validation_data": valid,
                     "callbacks": list(callbacks or []), "task": task, "verbose": verbose,
                     "metrics": trainer_metrics(task, self.objective.name, self.metrics)}
        self._search(self._fit["epochs"], verbose)

    def get_best_models(self, num_models: int = 1) -> list[nn.Module]:
        """The best trials' modules, rebuilt, with their best epoch's weights, in eval mode
        on the CPU."""
        models = []
        for t in self.get_best_trials(num_models):
            torch.manual_seed(self._trial_seed(t.number))
            model = unpack_build(self.hypermodel.build(self._trial_hp(t))).model
            model.load_state_dict(self._load_weights(t.number))
            models.append(model.eval())
        return models

    # --- internals --------------------------------------------------------------------------

    def _epochs(self, epochs: int | None) -> int:
        value = epochs if epochs is not None else (self.max_epochs or _DEFAULT_EPOCHS)
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise SpecError(f"The 'epochs' of search() must be an integer >= 1. Got {value!r}.")
        return int(value)

    def _trial_seed(self, number: int) -> int:
        return (self.seed * 1_000_003 + number * 7_919) % (2**31 - 1)

    def _run_trial(self, trial: optuna.Trial, hp: HyperParameters) -> float:
        fit = self._fit
        seed = self._trial_seed(trial.number)
        torch.manual_seed(seed)
        built = unpack_build(self.hypermodel.build(hp))
        model = built.model
        if not isinstance(model, nn.Module):
            raise SpecError("build(hp) must return a torch.nn.Module or a dict with 'model'. "
                            f"Got {type(model).__name__}.")
        n_params = parameter_count(model)
        trial.set_user_attr("n_parameters", n_params)
        if self.max_model_size is not None and n_params > self.max_model_size:
            raise SkipTrial(f"The model has {n_params} parameters, more than max_model_size="
                            f"{self.max_model_size}; skipped without training.")
        objective, epochs = self.objective, fit["epochs"]
        best: dict[str, Any] = {"value": objective.worst, "epoch": 0, "weights": None,
                                "pruned": False}

        def on_epoch(logs: dict[str, float]) -> bool | None:
            if objective.name not in logs:
                raise FatalSearchError(
                    f"The objective {objective.name!r} is not in the epoch logs "
                    f"{sorted(logs)}. Use one of those names, or add the metric with "
                    "metrics=... (or a custom fit).")
            value, epoch = float(logs[objective.name]), int(logs["epoch"])
            if best["epoch"] == 0 or objective.better(value, best["value"]):
                best.update(value=value, epoch=epoch, weights=cpu_state_dict(model))
            trial.report(value, self._step(epoch, epochs))
            if trial.should_prune():
                best["pruned"] = True
                return False
            return None

        result = self.hypermodel.fit(
            hp, model, fit["x"], fit["y"], epochs=epochs, batch_size=fit["batch_size"],
            validation_data=fit["validation_data"],
            callbacks=copy.deepcopy(fit["callbacks"]), task=fit["task"],
            metrics=fit["metrics"], device=self.device, seed=seed, on_epoch=on_epoch,
            verbose=fit["verbose"], **built.train_kwargs())
        if best["epoch"] == 0:  # a custom fit that did not pass on_epoch to the trainer
            value = result_value(result, objective.name)
            if value is None:
                raise FatalSearchError(
                    f"HyperModel.fit returned {type(result).__name__} without the objective "
                    f"{objective.name!r}; pass on_epoch to the trainer (super().fit(...)) or "
                    "return the objective's value or a dict holding it.")
            best.update(value=value, weights=cpu_state_dict(model))
        trial.set_user_attr("best_epoch", best["epoch"])
        trial.set_user_attr(ATTR_SCORE, best["value"])
        self._save_weights(trial.number, best["weights"])
        if best["pruned"]:
            raise optuna.TrialPruned()
        return float(best["value"])

    def _save_weights(self, number: int, weights: dict[str, torch.Tensor]) -> None:
        path = self.project.weights_path(number)
        if path is None:
            self._weights[number] = weights
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(weights, path)

    def _load_weights(self, number: int) -> dict[str, torch.Tensor]:
        path = self.project.weights_path(number)
        if path is None:
            if number not in self._weights:
                raise SpecError(f"No weights of trial {number} are kept in memory.")
            return self._weights[number]
        if not path.exists():
            raise SpecError(f"The weights of trial {number} are missing: {str(path)!r}.")
        state: dict[str, torch.Tensor] = torch.load(path, map_location="cpu",
                                                    weights_only=True)
        return state


class RandomSearch(Tuner):
    """Random search (strategy ``"random"``)."""

    def __init__(self, hypermodel: Build, *, objective: str | Objective = "val_loss",
                 max_trials: int = 10, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(hypermodel, strategy="random", objective=objective,
                         max_trials=max_trials, seed=seed, **kwargs)


class GridSearch(Tuner):
    """Every combination of the hyperparameters (strategy ``"grid"``), in a seeded shuffled
    order; stops when the grid is exhausted or after ``max_trials``.

    Args:
        levels: values tried for a ``Float`` without ``step`` and for an ``Int`` or stepped
            ``Float`` with more values than this (evenly spaced; geometric for ``log``).
    """

    def __init__(self, hypermodel: Build, *, objective: str | Objective = "val_loss",
                 max_trials: int | None = None, seed: int | None = None, levels: int = 10,
                 **kwargs: Any) -> None:
        options = {"levels": levels, "allow_truncation": True,
                   **kwargs.pop("strategy_options", {})}
        super().__init__(hypermodel, strategy="grid", objective=objective,
                         max_trials=max_trials, seed=seed, strategy_options=options, **kwargs)


class Hyperband(Tuner):
    """Hyperband over epochs (strategy ``"hyperband"``: Optuna's ``HyperbandPruner``).

    Args:
        max_epochs: epochs of a fully trained trial (>= 2); rungs at 1, factor,
            factor**2, ... epochs.
        factor: the reduction factor (>= 2).
        hyperband_iterations: the trial budget is this many Hyperband iterations of
            ``bracket_trials(max_epochs, factor)`` configurations (17 for 10 and 3).
    """

    def __init__(self, hypermodel: Build, *, objective: str | Objective = "val_loss",
                 max_epochs: int = 100, factor: int = 3, hyperband_iterations: int = 1,
                 seed: int | None = None, **kwargs: Any) -> None:
        for name, value, low in (("max_epochs", max_epochs, 2), ("factor", factor, 2),
                                 ("hyperband_iterations", hyperband_iterations, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise SpecError(f"The {name!r} of Hyperband must be an integer >= {low}. "
                                f"Got {value!r}.")
        self.factor = int(factor)
        self.hyperband_iterations = int(hyperband_iterations)
        options = {"reduction_factor": int(factor), "min_fraction": 1.0 / int(max_epochs),
                   **kwargs.pop("strategy_options", {})}
        max_trials = kwargs.pop("max_trials", None) or (
            int(hyperband_iterations) * bracket_trials(int(max_epochs), int(factor)))
        super().__init__(hypermodel, strategy="hyperband", objective=objective,
                         max_trials=max_trials, seed=seed, max_epochs=int(max_epochs),
                         strategy_options=options, **kwargs)

    def _epochs(self, epochs: int | None) -> int:
        if epochs is not None and epochs != self.max_epochs:
            warnings.warn(f"Hyperband trains each trial for up to max_epochs={self.max_epochs} "
                          f"epochs; search(epochs={epochs}) is ignored.", UserWarning,
                          stacklevel=3)
        return int(self.max_epochs or _DEFAULT_EPOCHS)


class BayesianOptimization(Tuner):
    """Gaussian-process Bayesian optimisation (strategy ``"gp"``, Optuna's ``GPSampler``);
    TPE (``"tpe"``) with a warning where the GP's dependencies are missing.

    Args:
        num_initial_points: random trials before the GP (default: 3 per searched
            hyperparameter, as Keras Tuner, at least 2).
    """

    def __init__(self, hypermodel: Build, *, objective: str | Objective = "val_loss",
                 max_trials: int = 10, num_initial_points: int | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        from automl_bridge.registry import registry_for

        strategy = "gp"
        if not registry_for("strategies").entry("gp").is_installed():
            warnings.warn("The 'gp' strategy is not installed; BayesianOptimization uses "
                          "'tpe'.", UserWarning, stacklevel=2)
            strategy = "tpe"
        self.num_initial_points = num_initial_points
        super().__init__(hypermodel, strategy=strategy, objective=objective,
                         max_trials=max_trials, seed=seed, **kwargs)
        if num_initial_points is None:
            searched = [p for p in self.hyperparameters.space if p.kind != "Fixed"]
            num_initial_points = max(2, 3 * len(searched))
        self.strategy_options = {"n_startup_trials": int(num_initial_points),
                                 **self.strategy_options}


__all__ = ["BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch", "Tuner"]
