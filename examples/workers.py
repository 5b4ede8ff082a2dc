"""Several workers on one run: start N worker processes here against a PostgreSQL storage.

Run: AUTOML_BRIDGE_STORAGE='postgresql://user:password@host/db' \
         .venv/bin/python examples/workers.py --workers 3          (about 30 seconds)
     ... examples/workers.py --quick                               (about 10 seconds)

Each worker is ``automl-bridge worker examples/workers.yaml --run-id <id>``, exactly what you
would start on other machines (docs/scaling.md has the recipe). The workers share the trial
budget of the config (60 trials; 12 with --quick), each prints one line, and exactly one of
them says it wrote the final model. A local PostgreSQL for trying it:
``eval "$(bash scripts/postgres.sh start)"; export
AUTOML_BRIDGE_STORAGE="$AUTOML_BRIDGE_TEST_PG_URL"``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="12 trials instead of 60")
    parser.add_argument("--run-dir", default="runs")
    args = parser.parse_args(argv)
    if not os.environ.get("AUTOML_BRIDGE_STORAGE"):
        parser.error("set AUTOML_BRIDGE_STORAGE to a PostgreSQL URL (see the docstring)")
    run_id = f"workers-{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "automl_bridge", "worker", str(HERE / "workers.yaml"),
           "--run-id", run_id, "-q", "--set", f"backends.local.run_dir={args.run_dir}"]
    if args.quick:
        cmd += ["--set", "job.max_trials=12"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
             for _ in range(args.workers)]
    failed = 0
    for i, proc in enumerate(procs):
        out, _ = proc.communicate()
        print(f"worker {i}: {out.strip()}")
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
