"""The architecture-search examples run (``--quick``) and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(("name", "expect"), [
    ("nas_macro", "best architecture: "),
    ("nas_micro", "best cell network: "),
    ("nas_morphism", "from scratch"),
])
def test_example_runs_quick(tmp_path, name, expect) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
    assert "test accuracy" in proc.stdout or "test " in proc.stdout
    assert "None" not in proc.stdout.splitlines()[-1]
