"""Quality at equal time budgets: our engine vs default HGB, plain Optuna TPE and FLAML.

What it measures: for every (dataset, system, budget, seed), the test score of the system's
final model on the fixed 25 % test split of the dataset (binary ROC-AUC, multiclass log-loss,
regression RMSE; all computed by ``automl_bridge.metrics.score`` in the same way), its fit
wall time, its predict time and the peak RSS of its process tree. For our engine also
``elapsed / budget`` (the budget-adherence numbers ``report.py`` summarizes). Systems:

* ``ours``: ``AutoMLJob(task, target, metric, time_budget_s=budget, seed)`` on
  ``with_backend("local", run_dir=<tmp>, n_jobs=1)`` (defaults otherwise: every family, TPE,
  process isolation, SQLite in the run directory).
* ``hgb``: scikit-learn's default HistGradientBoosting, no tuning (run once per dataset and
  seed; the budget does not apply).
* ``optuna``: a plain Optuna TPE search over the same six families (``peers.py``).
* ``flaml``: FLAML ``AutoML`` with its defaults (``pip install -r benchmarks/requirements.txt``).

Threads: every system may use all cores. Our engine's workers set ``OMP_WAIT_POLICY=PASSIVE``
(idle OpenMP threads sleep); the peers run with the OpenMP default (spinning), which costs
them a lot only when the cores are shared with other work. Run on an idle machine, or pass
``--omp-passive`` to give every system the passive policy.

Every run is a fresh interpreter (its own process group, killed hard after
``3 x budget + 30`` s), so memory and imports never leak between systems and a crash only
costs its own record. Records are written after every run; ``--resume`` skips the ones done.

Run (full; about 50 minutes on 2 cores, at most 2.6 hours; see ``--estimate``)::

    .venv/bin/python benchmarks/quality.py --budgets 10 60 --seeds 0 \\
        --out benchmarks/results/quality.json

Smoke run (2 small datasets, budget 3 s, < 3 minutes; written to results/quick/)::

    .venv/bin/python benchmarks/quality.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from common import (
    DATASETS,
    QUICK_DATASETS,
    default_out,
    kill_after,
    log,
    new_document,
    run_system,
    write_json,
)

SYSTEMS = ("ours", "hgb", "optuna", "flaml")
QUICK_BUDGET = 3.0
#: Rough fixed cost of one child run: interpreter, imports, data generation and split.
STARTUP_S = {"small": 5.0, "large": 12.0}
#: Rough fit time of the default HGB per dataset size.
HGB_FIT_S = {"small": 3.0, "large": 30.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budgets", type=float, nargs="+", default=[10.0, 60.0],
                   help="time budgets in seconds (default: 10 60)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS),
                   metavar="NAME", help=f"datasets (default: all of {list(DATASETS)})")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS,
                   help="systems to run (default: all)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default: 0)")
    p.add_argument("--out", type=Path, default=None,
                   help="result JSON (default: benchmarks/results/quality.json)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {list(QUICK_DATASETS)} at {QUICK_BUDGET:g} s")
    p.add_argument("--resume", action="store_true",
                   help="keep the records already in --out and skip those runs")
    p.add_argument("--omp-passive", action="store_true",
                   help="run every system with OMP_WAIT_POLICY=PASSIVE (as our engine's workers "
                        "do); use it when the machine is not idle")
    p.add_argument("--estimate", action="store_true",
                   help="print the estimated wall time of the run and exit")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets = list(QUICK_DATASETS)
        args.budgets = [QUICK_BUDGET]
    args.out = args.out or default_out("quality", args.quick)
    return args


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every run to do, in order: datasets outermost, systems innermost (interleaved)."""
    runs: list[dict[str, Any]] = []
    for name in args.datasets:
        for seed in args.seeds:
            if "hgb" in args.systems:
                runs.append({"dataset": name, "system": "hgb", "budget_s": None, "seed": seed,
                             "kill_s": kill_after(max(args.budgets))})
            for budget in args.budgets:
                for system in args.systems:
                    if system != "hgb":
                        runs.append({"dataset": name, "system": system, "budget_s": budget,
                                     "seed": seed, "kill_s": kill_after(budget)})
    return runs


def estimate_s(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """(expected, worst case) wall seconds of ``runs``.

    Expected, per run: child start-up (interpreter, imports, data) plus the budget and each
    system's usual overrun: ours ~5 % (+ data validation on the large sets), FLAML ~10 %
    (its final retrain), plain Optuna ~25 % (its timeout is soft: the last trial and the refit
    run past it; on the large sets one trial can outlast the budget, so up to the kill), and
    a fixed fit time for the default HGB. Worst case: every run killed at its hard limit.
    """
    expected = worst = 0.0
    for r in runs:
        size = DATASETS[r["dataset"]].size
        kill = float(r["kill_s"])
        worst += kill
        start = STARTUP_S[size]
        if r["system"] == "hgb":
            expected += min(kill, start + HGB_FIT_S[size])
            continue
        b = float(r["budget_s"])
        large = size == "large"
        cost = {"ours": start + 1.05 * b + (6.0 if large else 1.0),
                "flaml": start + 1.1 * b + (6.0 if large else 1.0),
                "optuna": start + (2.0 * b + 30.0 if large else 1.25 * b)}[r["system"]]
        expected += min(kill, cost)
    return expected, worst


def _key(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (rec["dataset"], rec["system"], rec["budget_s"], rec["seed"])


def main(argv: list[str] | None = None) -> int:
    """Run the plan, writing the result file after every run; print the markdown summary."""
    args = parse_args(argv)
    runs = plan(args)
    expected, worst = estimate_s(runs)
    log(f"{len(runs)} runs; estimated {expected / 60:.0f} min (worst case, every run killed "
        f"at its limit: {worst / 60:.0f} min)")
    if args.estimate:
        print(json.dumps({"runs": len(runs), "expected_s": round(expected),
                          "worst_case_s": round(worst)}))
        return 0
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # inherited by every child
    config = {"omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
              "budgets": args.budgets, "datasets": args.datasets, "systems": args.systems,
              "seeds": args.seeds, "kill_after": "3 x budget + 30 s (hgb: of the largest budget)",
              "split": "75/25, seed 0, stratified for classification",
              "ours": "AutoMLJob(...).with_backend('local', run_dir=<tmp>, n_jobs=1)"}
    doc = new_document("quality", quick=args.quick, config=config)
    doc["records"] = []
    if args.resume and args.out.exists():
        old = json.loads(args.out.read_text())
        doc["records"] = [r for r in old.get("records", []) if r.get("status") == "ok"]
    done = {_key(r) for r in doc["records"]}
    for i, run in enumerate(runs, 1):
        if _key(run) in done:
            continue
        log(f"[{i}/{len(runs)}] {run['dataset']} {run['system']} budget={run['budget_s']} "
            f"seed={run['seed']}")
        rec = run_system(run["dataset"], run["system"], budget_s=run["budget_s"],
                         seed=run["seed"], kill_s=run["kill_s"])
        log(f"    -> {rec['status']} score={rec['score']} fit_s={rec['fit_s']} "
            f"rss={rec['peak_rss_mb']} MB")
        doc["records"].append(rec)
        doc["finished_at"] = None
        write_json(args.out, doc)
    from common import now_iso

    doc["finished_at"] = now_iso()
    write_json(args.out, doc)
    import report

    print(report.render_quality(doc))
    print(report.render_budget([doc]))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
