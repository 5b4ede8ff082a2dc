"""Peak memory of our engine on the regression set, and how it grows with rows.

What it measures: our engine (``AutoMLJob(...).with_backend("local", run_dir=<tmp>,
n_jobs=1).fit``, fixed budget, default 20 s) on the first 25k, 50k, 100k and 200k rows of
the synthetic ``synth_reg_200k`` set (``make_friedman1``, 30 features; the row counts are
before the fixed 75/25 split, so the engine trains on 75 % of them). Each run is a fresh
interpreter; a thread in this process polls the run's process tree every 0.1 s with
``psutil`` and records the peak of the summed RSS of the run's process (which holds the data
and the study) plus its worker processes (which fit the models), the peak of each part, the
RSS before ``fit`` (after the data is loaded) and the size of the data frame. A least-squares
line over the completed runs gives MB of peak RSS per 100k rows.

Run (full; about 3 minutes)::

    .venv/bin/python benchmarks/memory.py --rows 25000 50000 100000 200000 --budget 20 \\
        --out benchmarks/results/memory.json

Smoke run (5k and 10k rows at 3 s; written to results/quick/)::

    .venv/bin/python benchmarks/memory.py --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from common import default_out, kill_after, log, new_document, now_iso, run_system, write_json

DATASET = "synth_reg_200k"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    p.add_argument("--budget", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="smoke run: 5k and 10k rows at 3 s")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.budget = [5_000, 10_000], 3.0
    args.out = args.out or default_out("memory", args.quick)
    return args


def growth(records: list[dict[str, Any]]) -> dict[str, float] | None:
    """Least-squares slope of peak RSS and of data size, in MB per 100k rows."""
    ok = [r for r in records if r["status"] == "ok" and r.get("peak_rss_mb")]
    if len(ok) < 2:
        return None
    xs = [r["n_rows"] / 100_000 for r in ok]

    def slope(ys: list[float]) -> float:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0

    return {"mb_per_100k_rows": round(slope([r["peak_rss_mb"] for r in ok]), 1),
            "data_mb_per_100k_rows": round(slope([r["data_mb"] or 0.0 for r in ok]), 1)}


def main(argv: list[str] | None = None) -> int:
    """One run per row count; write the records and the growth line."""
    args = parse_args(argv)
    doc = new_document("memory", quick=args.quick, config={
        "dataset": DATASET, "rows": args.rows, "budget_s": args.budget, "seed": args.seed,
        "poll_s": 0.1, "rss": "sum over the run's process and all its descendants"})
    doc["records"] = []
    for n_rows in args.rows:
        log(f"{DATASET} rows={n_rows} budget={args.budget:g}")
        rec = run_system(DATASET, "ours", budget_s=args.budget, seed=args.seed,
                         kill_s=kill_after(args.budget), n_rows=n_rows)
        rec["n_rows"] = n_rows
        rec["peak_rss_workers_mb"] = rec.pop("peak_rss_children_mb", None)
        log(f"    -> {rec['status']} peak={rec['peak_rss_mb']} MB "
            f"(parent {rec['peak_rss_root_mb']}, workers {rec['peak_rss_workers_mb']})")
        doc["records"].append(rec)
        write_json(args.out, doc)
    doc["growth"] = growth(doc["records"])
    doc["finished_at"] = now_iso()
    write_json(args.out, doc)
    import report

    print(report.render_memory(doc))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
