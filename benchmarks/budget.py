"""Budget adherence: how long ``job.fit`` of our engine takes against its time budget.

What it measures: our engine alone (``AutoMLJob(..., time_budget_s=B).with_backend("local",
run_dir=<tmp>, n_jobs=1).fit``) over the dataset suite at budgets 5, 10 and 20 s, each run in
a fresh interpreter. ``elapsed`` is the wall time of ``job.fit`` measured around the call
(library imports done before). Reported: the distribution of ``elapsed / budget`` (p50, p95,
max; goal p95 <= 1.05) per budget and overall, how many runs passed the documented margin
(budget + max(2 s, 5 %)), and the engine's own ``RunResult.wall_time_s`` beside it. The test
scores are recorded too. ``report.py`` adds the same numbers from ``quality.json``.

Run (full; about 10-12 minutes)::

    .venv/bin/python benchmarks/budget.py --budgets 5 10 20 --out benchmarks/results/budget.json

Smoke run (2 small datasets at 3 and 8 s; written to results/quick/)::

    .venv/bin/python benchmarks/budget.py --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import (
    DATASETS,
    QUICK_DATASETS,
    default_out,
    distribution,
    kill_after,
    log,
    new_document,
    now_iso,
    run_system,
    write_json,
)

QUICK_BUDGETS = [3.0, 8.0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budgets", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS),
                   metavar="NAME")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--per-budget", type=int, default=None, metavar="N",
                   help="exactly N runs per budget: the datasets in turn, with seeds 0, 1, ... "
                        "once every dataset has run (replaces --seeds)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {list(QUICK_DATASETS)} at {QUICK_BUDGETS} s")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.budgets = list(QUICK_DATASETS), QUICK_BUDGETS
    args.out = args.out or default_out("budget", args.quick)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every (dataset, budget, seed); write the records and the summary."""
    args = parse_args(argv)
    doc = new_document("budget", quick=args.quick, config={
        "budgets": args.budgets, "datasets": args.datasets, "seeds": args.seeds,
        "per_budget": args.per_budget,
        "elapsed": "wall time of job.fit, measured around the call in the child process"})
    doc["records"] = []
    runs = [(d, b, s) for d in args.datasets for b in args.budgets for s in args.seeds]
    if args.per_budget is not None:
        n, k = args.per_budget, len(args.datasets)
        runs = [(args.datasets[i % k], b, i // k) for b in args.budgets for i in range(n)]
    for i, (dataset, budget, seed) in enumerate(runs, 1):
        log(f"[{i}/{len(runs)}] {dataset} budget={budget:g} seed={seed}")
        rec = run_system(dataset, "ours", budget_s=budget, seed=seed, kill_s=kill_after(budget))
        log(f"    -> {rec['status']} elapsed={rec['fit_s']} ratio={rec['elapsed_over_budget']}")
        doc["records"].append(rec)
        write_json(args.out, doc)
    ok = [r for r in doc["records"] if r["status"] == "ok"]
    summary = {f"{b:g}": distribution([r["elapsed_over_budget"] for r in ok
                                        if r["budget_s"] == b]) for b in args.budgets}
    summary["all"] = distribution([r["elapsed_over_budget"] for r in ok])
    doc["summary_elapsed_over_budget"] = summary
    doc["finished_at"] = now_iso()
    write_json(args.out, doc)
    import report

    print(report.render_budget([doc]))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
