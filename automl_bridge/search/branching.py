"""Run a joint-space sampler (GP, CMA-ES) separately inside each branch of a conditional space.

Optuna's relative samplers model the parameters that *every* trial has. On the engine's space
(a choice of model family, then that family's parameters) that intersection is just the family,
so a GP or CMA-ES would model nothing. :class:`BranchSampler` fixes that: the branch (family)
is chosen by a univariate TPE, and each branch gets its own inner sampler that sees only the
trials of that branch, where the family's parameters form a flat space it can model.

Every inner sampler rebuilds its state from the (filtered) study, so resuming and several
workers behave as with the bare sampler.

Example:
    >>> import optuna
    >>> from automl_bridge.search.branching import BranchSampler
    >>> s = BranchSampler(make_inner=lambda: optuna.samplers.RandomSampler(seed=0),
    ...                   branch_param="model", seed=0)
    >>> study = optuna.create_study(sampler=s)
    >>> t = study.ask(); m = t.suggest_categorical("model", ["a", "b"])
    >>> 0 <= t.suggest_float(f"{m}.x", 0, 1) <= 1
    True
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

from automl_bridge.search.space import Choice, Conditional, Node


def branch_param(space: Sequence[Node] | None) -> str | None:
    """The deciding parameter when ``space`` is one conditional on a choice, else ``None``."""
    if space is None or len(space) != 1 or not isinstance(space[0], Conditional):
        return None
    node = space[0]
    return node.param.name if isinstance(node.param, Choice) else None


class _BranchStudy:
    """A view of a study showing only the trials whose ``param`` equals ``value``."""

    def __init__(self, study: Any, param: str, value: Any) -> None:
        self._study = study
        self._param = param
        self._value = value

    def _keep(self, trial: Any) -> bool:
        return bool(trial.params.get(self._param) == self._value)

    def _get_trials(self, deepcopy: bool = True, states: Container[Any] | None = None,
                    use_cache: bool = False) -> list[Any]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return [t for t in trials if self._keep(t)]

    def get_trials(self, deepcopy: bool = True, states: Container[Any] | None = None) -> list[Any]:
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if self._keep(t)]

    @property
    def trials(self) -> list[Any]:
        return self.get_trials()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class BranchSampler:
    """An Optuna sampler: a univariate TPE picks the branch, one inner sampler per branch.

    Args:
        make_inner: builds the sampler used inside one branch (called once per branch value).
        branch_param: the deciding parameter (``"model"`` for the engine).
        seed: seed of the branch chooser.
    """

    def __init__(self, *, make_inner: Callable[[], Any], branch_param: str, seed: int = 0
                 ) -> None:
        import optuna

        self.make_inner = make_inner
        self.branch_param = branch_param
        self.seed = seed
        self._chooser = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
        self._inners: dict[Any, Any] = {}
        self._relative: dict[tuple[int, Any], dict[str, Any]] = {}

    def _inner(self, value: Any) -> Any:
        key = repr(value)
        if key not in self._inners:
            self._inners[key] = self.make_inner()
        return self._inners[key]

    # --- BaseSampler protocol ----------------------------------------------------------------

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]
                        ) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        if param_name == self.branch_param or self.branch_param not in trial.params:
            return self._chooser.sample_independent(study, trial, param_name,
                                                    param_distribution)
        value = trial.params[self.branch_param]
        inner = self._inner(value)
        sub = _BranchStudy(study, self.branch_param, value)
        key = (trial.number, repr(value))
        if key not in self._relative:
            space = {k: d for k, d in inner.infer_relative_search_space(sub, trial).items()
                     if k != self.branch_param}
            self._relative[key] = inner.sample_relative(sub, trial, space) if space else {}
        relative = self._relative[key]
        if param_name in relative:
            return relative[param_name]
        return inner.sample_independent(sub, trial, param_name, param_distribution)

    def before_trial(self, study: Any, trial: Any) -> None:
        self._chooser.before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Sequence[float] | None
                    ) -> None:
        self._chooser.after_trial(study, trial, state, values)
        value = trial.params.get(self.branch_param)
        if value is not None:
            inner = self._inner(value)
            inner.after_trial(_BranchStudy(study, self.branch_param, value), trial, state,
                              values)
        for key in [k for k in self._relative if k[0] == trial.number]:
            del self._relative[key]

    def reseed_rng(self) -> None:
        self._chooser.reseed_rng()
        for inner in self._inners.values():
            inner.reseed_rng()
