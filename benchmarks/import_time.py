"""Import time of ``automl_bridge`` and the heavy modules it pulls in.

What it measures: in fresh interpreters (``--repeats``, default 10, after one warm-up run that
also writes the bytecode cache), the time of ``import automl_bridge`` measured inside the
interpreter (``time.perf_counter`` around the statement; interpreter start-up excluded and
reported apart as the whole-process time), its median and minimum (goal: median < 0.3 s),
and which modules the import loaded: none of ``optuna``, ``sklearn``, ``torch``, ``boto3``,
``google.cloud``, ``azure`` may be among them (the package's own rule); other heavy ones
(numpy, pandas, scipy, pydantic, ...) are listed for information. The same for
``from automl_bridge import AutoMLJob`` (the first thing users do; allowed to load more) and
for an empty interpreter as the baseline. One ``python -X importtime`` run lists the slowest
modules under ``import automl_bridge``.

Run (full; about 30 seconds)::

    .venv/bin/python benchmarks/import_time.py --repeats 10 \\
        --out benchmarks/results/import_time.json

Smoke run (3 repeats; written to results/quick/)::

    .venv/bin/python benchmarks/import_time.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import REPO_ROOT, default_out, log, new_document, now_iso, write_json

FORBIDDEN = ("optuna", "sklearn", "torch", "boto3", "google.cloud", "azure")
HEAVY = ("numpy", "pandas", "scipy", "pydantic", "sqlalchemy", "alembic", "rich", "yaml",
         "pyarrow", "skops", "joblib", "threadpoolctl", "psutil")
CASES = ("pass", "import automl_bridge", "from automl_bridge import AutoMLJob")
GOAL_S = 0.3

PROBE = """\
import time
_t0 = time.perf_counter()
{stmt}
_t1 = time.perf_counter()
import json, sys
print("@@" + json.dumps({{"import_s": _t1 - _t0, "modules": sorted(sys.modules)}}))
"""


def child_env() -> dict[str, str]:
    """The environment of the probes: bytecode caching on, as in a normal install."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def probe(stmt: str) -> tuple[float, float, list[str]]:
    """(import seconds, whole-process seconds, loaded module names) of one fresh interpreter."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True,
                         text=True, env=child_env(), cwd=str(REPO_ROOT), timeout=120, check=True)
    wall = time.perf_counter() - t0
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("@@"))
    data = json.loads(line[2:])
    return float(data["import_s"]), wall, list(data["modules"])


def matching(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages, dotted allowed) are among ``modules``."""
    loaded = set(modules)
    return [n for n in names if n in loaded or any(m.startswith(n + ".") for m in loaded)]


def top_modules(n: int = 15) -> list[dict[str, Any]]:
    """The ``n`` slowest modules (cumulative) imported by ``import automl_bridge`` itself.

    ``-X importtime`` prints a module after its children, deeper ones more indented; the
    subtree of ``automl_bridge`` is the run of deeper lines just before its own line
    (interpreter start-up modules such as ``site`` are left out).
    """
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import automl_bridge"],
                         capture_output=True, text=True, env=child_env(), cwd=str(REPO_ROOT),
                         timeout=120, check=True)
    rows: list[dict[str, Any]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cum_us, raw = line.replace("import time:", "|", 1).split("|")
        name = raw.rstrip()
        depth = len(name) - len(name.lstrip())
        rows.append({"module": name.strip(), "self_us": int(self_us),
                     "cumulative_us": int(cum_us), "depth": depth})
    root = max((i for i, r in enumerate(rows) if r["module"] == "automl_bridge"), default=None)
    if root is None:
        return []
    subtree = [rows[root]]
    for r in reversed(rows[:root]):
        if r["depth"] <= rows[root]["depth"]:
            break
        subtree.append(r)
    subtree.sort(key=lambda r: -r["cumulative_us"])
    return [{k: v for k, v in r.items() if k != "depth"} for r in subtree[:n]]


def main(argv: list[str] | None = None) -> int:
    """Measure every case; write the JSON and print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="smoke run: 3 repeats")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 3
    out = args.out or default_out("import_time", args.quick)
    doc = new_document("import_time", quick=args.quick, config={
        "repeats": args.repeats, "goal_s": GOAL_S, "forbidden": list(FORBIDDEN),
        "bytecode_cache": "on (PYTHONDONTWRITEBYTECODE removed; one warm-up run first)",
        "parent_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE")})
    doc["cases"] = []
    for stmt in CASES:
        probe(stmt)  # warm-up: bytecode cache, OS file cache
        imports: list[float] = []
        walls: list[float] = []
        modules: list[str] = []
        for _ in range(args.repeats):
            imp, wall, modules = probe(stmt)
            imports.append(imp)
            walls.append(wall)
        case = {"statement": stmt, "import_s_median": round(statistics.median(imports), 4),
                "import_s_min": round(min(imports), 4),
                "process_s_median": round(statistics.median(walls), 4),
                "import_s_all": [round(x, 4) for x in imports],
                "forbidden_loaded": matching(modules, FORBIDDEN),
                "heavy_loaded": matching(modules, HEAVY), "n_modules": len(modules)}
        doc["cases"].append(case)
        log(f"{stmt!r}: median {case['import_s_median']:.3f} s, forbidden loaded: "
            f"{case['forbidden_loaded'] or 'none'}")
    doc["top_modules"] = top_modules()
    main_case = next(c for c in doc["cases"] if c["statement"] == "import automl_bridge")
    doc["verdict"] = {"import_under_goal": main_case["import_s_median"] < GOAL_S,
                      "no_forbidden_modules": not main_case["forbidden_loaded"]}
    doc["finished_at"] = now_iso()
    write_json(out, doc)
    import report

    print(report.render_import(doc))
    print(f"verdict: {doc['verdict']}")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
