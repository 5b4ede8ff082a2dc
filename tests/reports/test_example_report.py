"""examples/report.py runs (--quick): two local strategies and a SageMaker run over the offline
fakes, compared in one HTML report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "report.py"


def test_example_writes_the_report(tmp_path) -> None:
    pytest.importorskip("boto3")
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--quick", "-o", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| sagemaker |" in proc.stdout and "Report written to" in proc.stdout
    page = out.read_text()
    for engine in ("local/tpe", "local/evolution", "sagemaker"):
        assert engine in page
    assert page.count("<svg") >= 3
