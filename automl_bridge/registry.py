"""One lazy registry for backends, search strategies and model families.

Each entry names a ``"module:attribute"`` target that is imported only when the entry is used,
the extra that provides its dependencies and the top-level modules those dependencies install,
so ``automl-bridge backends`` can tell what is installed without importing any SDK. Third
parties add entries through the entry-point groups ``automl_bridge.backends``,
``automl_bridge.strategies`` and ``automl_bridge.families``.

Example:
    >>> from automl_bridge.registry import registry_for
    >>> "local" in registry_for("backends").names()
    True
    >>> registry_for("backends").entry("sagemaker").install_hint
    "pip install 'automl-bridge[aws]'"
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any, Literal

from automl_bridge.exceptions import BackendNotInstalledError, UnknownNameError

Kind = Literal["backends", "strategies", "families"]


@dataclass(frozen=True)
class Entry:
    """One registered name.

    Attributes:
        name: the name users write.
        target: ``"package.module:attribute"`` imported on first use.
        extra: the extra of automl-bridge that installs its dependencies (``None`` = core).
        requires: distributions that must be installed (checked from their metadata, without
            importing anything).
        description: one line for listings.
        default: a model family searched when the spec names none (``models=None``); the
            networks are opt-in.
    """

    name: str
    target: str
    extra: str | None = None
    requires: tuple[str, ...] = field(default=())
    description: str = ""
    default: bool = True

    @property
    def install_hint(self) -> str:
        """The pip command that installs what this entry needs."""
        if self.extra is None:
            return "pip install automl-bridge"
        return f"pip install 'automl-bridge[{self.extra}]'"

    def missing(self) -> list[str]:
        """Required distributions that are not installed (nothing is imported)."""
        out = []
        for dist in self.requires:
            try:
                version(dist)
            except PackageNotFoundError:
                out.append(dist)
        return out

    def is_installed(self) -> bool:
        """Whether every required distribution is installed (nothing is imported)."""
        return not self.missing()

    def load(self) -> Any:
        """Import and return the target object."""
        missing = self.missing()
        if missing:
            raise BackendNotInstalledError(
                f"{self.name!r} needs {', '.join(missing)}, which is not installed. "
                f"Install it with: {self.install_hint}"
            )
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BackendNotInstalledError(
                f"{self.name!r} could not be imported ({exc}). Install it with: "
                f"{self.install_hint}"
            ) from exc
        return getattr(module, attr) if attr else module


class Registry:
    """Names of one kind mapped to lazily imported entries."""

    def __init__(self, kind: Kind, builtin: Mapping[str, Entry]) -> None:
        self.kind = kind
        self._builtin = dict(builtin)

    def _entries(self) -> dict[str, Entry]:
        entries = dict(self._builtin)
        for ep in entry_points(group=f"automl_bridge.{self.kind}"):
            if ep.name not in entries:
                entries[ep.name] = Entry(ep.name, ep.value, description=f"plugin ({ep.value})")
        return entries

    def names(self) -> list[str]:
        """Every registered name, built-in first."""
        return list(self._entries())

    def default_names(self) -> list[str]:
        """The names used when the user names none (see :attr:`Entry.default`)."""
        return [name for name, entry in self._entries().items() if entry.default]

    def entry(self, name: str) -> Entry:
        """The entry for ``name``.

        Raises:
            UnknownNameError: the name is not registered (the message lists known names).
        """
        entries = self._entries()
        if name not in entries:
            singular = self.kind.rstrip("s").replace("strategie", "strategy")
            raise UnknownNameError(
                f"Unknown {singular} {name!r}. Known {self.kind}: {sorted(entries)}."
            )
        return entries[name]

    def get(self, name: str) -> Any:
        """Import and return the object registered as ``name``."""
        return self.entry(name).load()


_SK = ("scikit-learn",)

_BACKENDS = {
    "local": Entry("local", "automl_bridge.backends.local:LocalBackend", None, ("optuna", *_SK),
                   "Optuna + scikit-learn on this machine"),
    "sagemaker": Entry("sagemaker", "automl_bridge.backends.sagemaker:SageMakerBackend", "aws",
                       ("boto3",), "AWS SageMaker Autopilot (CreateAutoMLJobV2)"),
    "vertex": Entry("vertex", "automl_bridge.backends.vertex:VertexBackend", "gcp",
                    ("google-cloud-aiplatform",), "Google Vertex AI AutoML Tabular"),
    "azure": Entry("azure", "automl_bridge.backends.azure:AzureBackend", "azure",
                   ("azure-ai-ml", "azure-identity"), "Azure ML AutoML"),
}

_S = "automl_bridge.search"
_OPT = ("optuna",)
_STRATEGIES = {
    name: Entry(name, f"{_S}.{module}:{name}_strategy", extra, requires, desc)
    for name, module, extra, requires, desc in (
        ("auto", "strategies", None, _OPT, "portfolio for the data size and objectives "
         "(the default)"),
        ("grid", "grid", None, _OPT, "exhaustive grid (conditional spaces enumerated)"),
        ("random", "strategies", None, _OPT, "uniform random sampling"),
        ("tpe", "strategies", None, _OPT,
         "Tree-structured Parzen Estimator (Bayesian optimisation)"),
        ("gp", "strategies", "torch", ("optuna", "torch"),
         "Gaussian-process Bayesian optimisation, per model family"),
        ("cmaes", "strategies", None, ("optuna", "cmaes"), "CMA-ES, per model family"),
        ("nsga2", "strategies", None, _OPT, "NSGA-II genetic algorithm (multi-objective)"),
        ("evolution", "evolution", None, (*_OPT, "scikit-learn"),
         "regularized (aging) evolution, tournament selection + mutation"),
        ("rl", "rl_controller", None, _OPT, "REINFORCE controller emitting token strings"),
        ("surrogate", "surrogate", None, (*_OPT, "scikit-learn"),
         "progressive predictor-guided search (tree-ensemble surrogate)"),
        ("successive_halving", "strategies", None, _OPT,
         "asynchronous successive halving (ASHA), multi-fidelity"),
        ("hyperband", "strategies", None, _OPT, "Hyperband brackets, multi-fidelity"),
        ("bohb", "strategies", None, _OPT, "TPE + Hyperband, multi-fidelity"),
        ("morphism", "morphism", "torch", ("optuna", "torch"),
         "network morphism: children start from their parent's trained weights"),
    )
}

_FAM = "automl_bridge.models.families"
_FAMILIES = {
    name: Entry(name, f"{_FAM}:{const}", None, _SK, desc)
    for name, const, desc in (
        ("linear", "LINEAR", "logistic regression / ridge / elastic net"),
        ("knn", "KNN", "k-nearest neighbours"),
        ("svm", "SVM", "support vector machine (small data only)"),
        ("random_forest", "RANDOM_FOREST", "random forest"),
        ("extra_trees", "EXTRA_TREES", "extremely randomised trees"),
        ("hist_gradient_boosting", "HIST_GRADIENT_BOOSTING", "histogram gradient boosting"),
    )
}
_NN = "automl_bridge.models.nn.family"
_FAMILIES.update({
    name: Entry(name, f"{_NN}:{const}", "torch", ("torch", *_SK), desc, default=False)
    for name, const, desc in (
        ("mlp", "MLP", "PyTorch network, a chain of layers (macro architecture space)"),
        ("mlp_cells", "MLP_CELLS", "PyTorch network of stacked cells (micro architecture space)"),
    )
})

_REGISTRIES: dict[str, Mapping[str, Entry]] = {
    "backends": _BACKENDS,
    "strategies": _STRATEGIES,
    "families": _FAMILIES,
}


def registry_for(kind: Kind | str) -> Registry:
    """The registry of one kind: ``"backends"``, ``"strategies"`` or ``"families"``."""
    if kind not in _REGISTRIES:
        raise UnknownNameError(f"Unknown registry {kind!r}. Known: {sorted(_REGISTRIES)}.")
    return Registry(kind, _REGISTRIES[kind])  # type: ignore[arg-type]
