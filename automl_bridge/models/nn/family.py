"""The network families of the engine: ``mlp`` (macro space) and ``mlp_cells`` (micro space).

Both are PyTorch networks on the one-hot encoded, standardised features (the ``onehot``
encoding the linear models use: median imputation with missing-value indicators, scaling,
one-hot categoricals), trained by :mod:`automl_bridge.models.nn.trainer` through the
scikit-learn estimators of :mod:`automl_bridge.models.nn.estimator`. Their search space is an
architecture space of :mod:`automl_bridge.models.nas.spaces` followed by the training
hyper-parameters:

- ``optimizer`` (``adamw``, ``adam``, ``sgd`` with Nesterov momentum 0.9), ``learning_rate``
  (log, 1e-4 to 3e-2), ``weight_decay`` (log, 1e-6 to 1e-2), ``batch_size`` (32 to 512, at
  most a quarter of the rows);
- ``epochs``, the family's **fidelity resource**: multi-fidelity strategies and
  ``estimation=`` scale it, and a trial promoted to the next rung continues training
  (``warm_start``) instead of starting again. Every fit also stops early when its held-out
  loss has not improved for ``patience`` epochs (10 % of the training rows, from 200 rows on).

Networks are opt-in: ``models=None`` does not search them (on tabular data at CPU budgets
they rarely beat boosted trees, and they cost far more); name them in ``models=[...]``.

Example:
    >>> from automl_bridge.models.families import DataContext
    >>> from automl_bridge.models.nn.family import MLP
    >>> ctx = DataContext(task="classification", n_rows=1000, n_features=8, n_classes=3)
    >>> MLP.resource, MLP.encoding
    ('epochs', 'onehot')
    >>> from automl_bridge.search.space import parameters
    >>> sorted(n for n in parameters(MLP.space(ctx)) if not n.startswith("layer"))
    ['batch_size', 'epochs', 'learning_rate', 'n_layers', 'optimizer', 'weight_decay']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from automl_bridge.models.families import DataContext, Family
from automl_bridge.search.space import Choice, Float, Int, Node

#: Architecture keys are handed to the architecture; these go to the trainer.
TRAINING_KEYS = ("optimizer", "learning_rate", "weight_decay", "batch_size", "epochs")
#: Most epochs a trial trains (the resource at full fidelity).
MAX_EPOCHS = 100
#: Fewest epochs a trial trains at full fidelity.
MIN_EPOCHS = 10
#: Epochs without improvement of the held-out loss before a fit stops.
PATIENCE = 8


def _batch_sizes(n_rows: int) -> list[int]:
    sizes = [b for b in (32, 64, 128, 256, 512) if b <= max(32, n_rows // 4)]
    return sizes


def _training_space(ctx: DataContext) -> list[Node]:
    return [
        Choice("optimizer", ["adamw", "adam", "sgd"]),
        Float("learning_rate", 1e-4, 3e-2, log=True),
        Float("weight_decay", 1e-6, 1e-2, log=True),
        Choice("batch_size", _batch_sizes(ctx.n_rows)),
        Int("epochs", MIN_EPOCHS, MAX_EPOCHS, log=True),
    ]


def _training_defaults(ctx: DataContext) -> dict[str, Any]:
    sizes = _batch_sizes(ctx.n_rows)
    batch = max(b for b in sizes if b <= max(32, ctx.n_rows // 50))
    return {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4,
            "batch_size": batch, "epochs": 40}


def _macro_space(ctx: DataContext) -> list[Node]:
    from automl_bridge.models.nas.spaces import macro_space

    return [*macro_space(max_layers=4, min_width=16, max_width=512), *_training_space(ctx)]


def _micro_space(ctx: DataContext) -> list[Node]:
    from automl_bridge.models.nas.spaces import micro_space

    return [*micro_space(n_nodes=3, max_cells=4, two_inputs=True), *_training_space(ctx)]


def _builder(ctx: DataContext, params: dict[str, Any]) -> Any:
    from automl_bridge.models.nn.estimator import NeuralClassifier, NeuralRegressor

    cls = NeuralClassifier if ctx.task == "classification" else NeuralRegressor
    return cls(architecture=describe(params), epochs=int(params["epochs"]),
               batch_size=int(params["batch_size"]), optimizer=str(params["optimizer"]),
               learning_rate=float(params["learning_rate"]),
               weight_decay=float(params["weight_decay"]), early_stopping=True,
               patience=PATIENCE, validation_fraction=0.1, seed=ctx.seed,
               n_threads=ctx.n_threads)


def _defaults_for(arch: str) -> Callable[[DataContext], dict[str, Any]]:
    def defaults(ctx: DataContext) -> dict[str, Any]:
        from automl_bridge.models.nas import parse
        from automl_bridge.models.nas.spaces import params_from_arch

        return {**params_from_arch(parse(arch)), **_training_defaults(ctx)}

    return defaults


def _available(ctx: DataContext) -> str | None:
    if ctx.n_rows < 20:
        return "fewer than 20 training rows"
    return None


def architecture_keys(params: dict[str, Any]) -> dict[str, Any]:
    """The architecture part of a network family's parameters."""
    return {k: v for k, v in params.items() if k not in TRAINING_KEYS}


def describe(params: dict[str, Any]) -> str:
    """The architecture string of a network family's parameters."""
    from automl_bridge.models.nas.spaces import arch_from_params

    return str(arch_from_params(params))


#: A chain of layers (the macro architecture space).
MLP = Family("mlp", "onehot", _macro_space, _builder,
             _defaults_for("dense(256,relu,0.1) > dense(128,relu,0.1)"), _available,
             resource="epochs", inherits_weights=True, describe=describe)
#: Stacked cells (the micro architecture space).
MLP_CELLS = Family("mlp_cells", "onehot", _micro_space, _builder,
                   _defaults_for("2 x cell(128,relu,0.1) [1: dense(0); 2: residual(0,1); "
                                 "3: dense(2)]"), _available,
                   resource="epochs", inherits_weights=True, describe=describe)

__all__: Sequence[str] = ("MLP", "MLP_CELLS", "architecture_keys")
