"""`import automl_bridge` must stay light: no optuna, scikit-learn, torch or cloud SDK."""

from __future__ import annotations

import json
import subprocess
import sys

# (not the bare ``google.cloud`` namespace: google-cloud packages install a ``*-nspkg.pth`` that
# Python runs at start-up, whatever is imported)
HEAVY = ("optuna", "sklearn", "torch", "boto3", "botocore", "google.cloud.aiplatform",
         "google.cloud.storage", "google.api_core", "azure", "pandas", "scipy")


def test_import_pulls_in_no_heavy_module() -> None:
    code = (
        "import sys, json, automl_bridge; "
        "from automl_bridge import AutoMLBridgeError; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    mods = json.loads(out.stdout)
    loaded = [m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


def test_public_names() -> None:
    import automl_bridge

    for name in ("AutoMLJob", "JobSpec", "RunResult", "RunStatus", "Candidate", "load_result",
                 "load_model", "AutoMLBridgeError"):
        assert hasattr(automl_bridge, name)
