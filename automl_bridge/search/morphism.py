"""Network morphism search: children are function-preserving morphs of the best networks.

A search strategy for the network families (``mlp``, ``mlp_cells``) in the spirit of
Net2Net (Chen et al. 2016) and the network-morphism hill climbing of Elsken et al. (2017):

1. The first ``n_initial`` network trials are drawn at random and trained from scratch
   (the engine's default network counts among them).
2. Every later trial picks a parent uniformly among the ``population`` best complete network
   trials whose weights were saved, and a random morphism of the parent's architecture that
   stays inside the search space (widen a layer or the cells, or insert an identity layer or
   cell; see :mod:`automl_bridge.models.nas.morphism`). The child keeps the parent's training
   hyper-parameters. Its network **starts from the parent's trained weights**, morphed so it
   computes the same function, and trains for ``child_epochs`` of the parent's epochs only.
3. A trial of a family without weights (a tree model in the same run) is drawn at random.

The child's ``epochs`` parameter stays the parent's, so the final model, refit from scratch on
all rows, trains as long as a network of its architecture would be trained anyway. The
decision of each trial (parent, morphism, epochs) is computed in ``before_trial`` from the
completed trials and a generator seeded by ``(seed, trial number)``, and recorded in the trial's
system attribute :data:`MORPHISM_ATTR`, where the engine reads it; a resumed run or another
worker proposes the same children from the same history.

Example:
    >>> from automl_bridge.search.strategies import StrategyContext
    >>> from automl_bridge.search.space import Int
    >>> s = morphism_strategy(StrategyContext(space=[Int("mlp.n_layers", 1, 3)],
    ...                                       options={"n_initial": 4}))
    >>> s.inherit_weights, s.sampler.n_initial
    (True, 4)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from automl_bridge.engine.weights import WEIGHTS_ATTR
from automl_bridge.exceptions import SpecError
from automl_bridge.search.evolution import _contains, _draw
from automl_bridge.search.sampling import PerParameterSampler, seeded_rng, trial_key
from automl_bridge.search.space import Int, Node, distribution, parameters
from automl_bridge.search.strategies import Strategy, StrategyContext, _check_options

#: Trial system attribute with the trial's decision: ``{"parent": number or None,
#: "morphism": string, "epochs": brief training epochs, "seed": int, "params": {...}}``.
MORPHISM_ATTR = "automl_bridge:morphism"
#: Parameters of a network family's training (copied from the parent).
_TRAINING = ("optimizer", "learning_rate", "weight_decay", "batch_size", "epochs")
#: Morphisms tried before a trial falls back to a random configuration.
_ATTEMPTS = 20


class MorphismSampler(PerParameterSampler):
    """Proposes morphs of the best networks so far; see the module docstring.

    Args:
        space: the engine's search space (with at least one network family).
        n_initial: network trials drawn at random before morphing starts (>= 1).
        population: the best complete networks a parent is drawn from (>= 1).
        child_epochs: fraction of the parent's epochs a child trains, in (0, 1].
        seed: seed of every random draw.
    """

    def __init__(self, *, space: Sequence[Node], n_initial: int = 6, population: int = 5,
                 child_epochs: float = 0.34, seed: int = 0) -> None:
        self.params = parameters(space)
        self.n_initial = int(n_initial)
        self.population = int(population)
        self.child_epochs = float(child_epochs)
        self.seed = int(seed)
        self._decisions: dict[tuple[int, int, int], dict[str, Any]] = {}

    # --- Optuna interface ---------------------------------------------------------------------

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._decision(study, trial, fresh=True)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        planned = self._decision(study, trial).get("params") or {}
        if param_name in planned and _contains(param_distribution, planned[param_name]):
            return planned[param_name]
        return _draw(param_distribution, self._rng(trial.number, param_name))

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._decisions.pop(trial_key(study, trial), None)

    # --- decisions ----------------------------------------------------------------------------

    def _rng(self, number: int, name: str = "") -> np.random.Generator:
        return seeded_rng(self.seed, number, name)

    def _decision(self, study: Study, trial: FrozenTrial, fresh: bool = False
                  ) -> dict[str, Any]:
        key = trial_key(study, trial)
        if key in self._decisions:
            return self._decisions[key]
        if len(study.directions) > 1:
            raise SpecError(
                "The search strategy 'morphism' optimizes one objective; the study has "
                f"{len(study.directions)}. Use 'nsga2', 'tpe' or 'random' for several "
                "objectives.")
        attrs = (trial.system_attrs if fresh
                 else study._storage.get_trial_system_attrs(trial._trial_id))
        decision = attrs.get(MORPHISM_ATTR)
        if not isinstance(decision, dict):
            decision = self._decide(study, trial)
            study._storage.set_trial_system_attr(trial._trial_id, MORPHISM_ATTR, decision)
        self._decisions[key] = decision
        return decision

    def _decide(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.user_attrs.get(WEIGHTS_ATTR) and t.value is not None
                and math.isfinite(t.value)]
        random_trial = {"parent": None, "seed": self.seed}
        if len(done) < self.n_initial:
            return random_trial
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        best = sorted(done, key=lambda t: (sign * float(t.value or 0.0), t.number))
        rng = self._rng(trial.number)
        parent = best[int(rng.integers(min(self.population, len(best))))]
        child = self._morph(parent, rng)
        if child is None:
            return random_trial
        morphism, params = child
        epochs = max(1, round(self.child_epochs * int(_training(parent.params, "epochs"))))
        return {"parent": parent.number, "morphism": morphism, "epochs": epochs,
                "seed": self.seed, "params": params}

    def _morph(self, parent: FrozenTrial, rng: np.random.Generator
               ) -> tuple[str, dict[str, Any]] | None:
        """A morphism of the parent that stays in the space, and the child's parameters."""
        from automl_bridge.models.nas import random_morphism
        from automl_bridge.models.nas.rules import apply_architecture
        from automl_bridge.models.nas.spaces import arch_from_params, params_from_arch

        prefix = _family_prefix(parent.params)
        # constants (one-valued choices) are not in a trial's params: take them from the space
        own = {k[len(prefix):]: _constant(p) for k, p in self.params.items()
               if k.startswith(prefix) and distribution(p) is None}
        own.update({k[len(prefix):]: v for k, v in parent.params.items()
                    if k.startswith(prefix)})
        arch = arch_from_params(own)
        limits = self._limits(prefix)
        for _ in range(_ATTEMPTS):
            try:
                morphism = random_morphism(arch, rng, **limits)
            except SpecError:
                return None  # no exact morph fits the space
            child = params_from_arch(apply_architecture(arch, morphism),
                                     two_inputs=f"{prefix}node1.input2" in self.params)
            params = {f"{prefix}{k}": v for k, v in child.items()}
            params.update({f"{prefix}{k}": own[k] for k in _TRAINING if k in own})
            if "model" in parent.params:
                params["model"] = parent.params["model"]
            if self._inside(params):
                return morphism.to_string(), params
        return None

    def _limits(self, prefix: str) -> dict[str, int]:
        """The space's bounds on widths, layers, cells and nodes of one family."""
        def high(name: str) -> int | None:
            p = self.params.get(prefix + name)
            return int(p.high) if isinstance(p, Int) else None

        widths = [int(p.high) for n, p in self.params.items()
                  if n.startswith(prefix) and n.endswith("width") and isinstance(p, Int)]
        limits = {"max_width": max(widths, default=512)}
        for key, name in (("max_layers", "n_layers"), ("max_cells", "n_cells")):
            value = high(name)
            if value is not None:
                limits[key] = value
        nodes = sum(1 for n in self.params if n.startswith(prefix + "node") and n.endswith(".op"))
        if nodes:
            limits["max_nodes"] = nodes
        return limits

    def _inside(self, params: Mapping[str, Any]) -> bool:
        for name, value in params.items():
            param = self.params.get(name)
            if param is None:
                return False
            dist = distribution(param)
            if dist is not None and not _contains(dist, value):
                return False
            if dist is None and _constant(param) != value:
                return False
        return True


def _constant(param: Any) -> Any:
    """The value of a parameter that is never drawn (a one-valued choice, a fixed value or an
    empty range)."""
    if hasattr(param, "choices"):
        return param.choices[0]
    return getattr(param, "value", getattr(param, "low", None))


def _family_prefix(params: Mapping[str, Any]) -> str:
    if "model" in params:
        return f"{params['model']}."
    first = next(iter(params), "")
    return first.split(".", 1)[0] + "." if "." in first else ""


def _training(params: Mapping[str, Any], key: str) -> Any:
    for name, value in params.items():
        if name == key or name.endswith(f".{key}"):
            return value
    return 1


def _network_prefixes(space: Sequence[Node]) -> list[str]:
    names = parameters(space)
    return sorted({n[: -len(k)] for n in names for k in ("n_layers", "n_cells")
                   if n.endswith(k)})


def morphism_strategy(ctx: StrategyContext) -> Strategy:
    """Network morphism search (single objective; needs a network family in ``models``).

    Options:
        n_initial (int): network trials drawn at random and trained from scratch before
            morphing starts, >= 1 (default 6).
        population (int): a parent is drawn among this many best networks, >= 1 (default 5).
        child_epochs (float): fraction of the parent's epochs a child trains from its
            inherited weights, in (0, 1] (default 0.34).

    Raises:
        SpecError: an invalid option, several objectives, or no network family in the space.
    """
    _check_options("morphism", ctx.options, {"n_initial": int, "population": int,
                                             "child_epochs": (float, int)})
    if ctx.multi_objective:
        raise SpecError(
            f"The search strategy 'morphism' optimizes one objective; the job has "
            f"{len(ctx.directions)}. Use 'nsga2', 'tpe' or 'random' for several objectives.")
    n_initial = ctx.options.get("n_initial", 6)
    population = ctx.options.get("population", 5)
    child_epochs = float(ctx.options.get("child_epochs", 0.34))
    for name, value in (("n_initial", n_initial), ("population", population)):
        if value < 1:
            raise SpecError(f"The option {name!r} of search strategy 'morphism' must be >= 1. "
                            f"Got {value}.")
    if not 0.0 < child_epochs <= 1.0:
        raise SpecError("The option 'child_epochs' of search strategy 'morphism' must be in "
                        f"(0, 1]. Got {child_epochs}.")
    space = list(ctx.space or [])
    if not _network_prefixes(space):
        raise SpecError(
            "The search strategy 'morphism' morphs networks: add 'mlp' or 'mlp_cells' to "
            "'models' (pip install 'automl-bridge[torch]').")
    sampler = MorphismSampler(space=space, n_initial=n_initial, population=population,
                              child_epochs=child_epochs, seed=ctx.seed)
    return Strategy("morphism", sampler, inherit_weights=True)
