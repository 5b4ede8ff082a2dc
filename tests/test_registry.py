from __future__ import annotations

import pytest

from automl_bridge.exceptions import BackendNotInstalledError, UnknownNameError
from automl_bridge.registry import Entry, registry_for


def test_builtin_names() -> None:
    assert registry_for("backends").names()[:4] == ["local", "sagemaker", "vertex", "azure"]
    assert {"random", "tpe"} <= set(registry_for("strategies").names())
    sklearn = {"linear", "knn", "svm", "random_forest", "extra_trees", "hist_gradient_boosting"}
    assert set(registry_for("families").names()) == sklearn | {"mlp", "mlp_cells"}
    # networks are opt-in: models=None searches the scikit-learn families only
    assert set(registry_for("families").default_names()) == sklearn
    hint = registry_for("families").entry("mlp").install_hint
    assert hint == "pip install 'automl-bridge[torch]'"


def test_unknown_name_lists_known() -> None:
    with pytest.raises(UnknownNameError) as info:
        registry_for("backends").entry("gcp")
    assert "'gcp'" in str(info.value) and "vertex" in str(info.value)


def test_missing_extra_gives_install_hint() -> None:
    entry = Entry("x", "not_a_module_anywhere:thing", "aws", ("not_a_module_anywhere",))
    assert not entry.is_installed()
    with pytest.raises(BackendNotInstalledError) as info:
        entry.load()
    assert "pip install 'automl-bridge[aws]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_loads_lazily() -> None:
    fam = registry_for("families").get("linear")
    assert fam.name == "linear"
