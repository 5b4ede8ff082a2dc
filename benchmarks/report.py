"""Render the benchmark result files as markdown tables.

Reads every ``*.json`` in a results folder (default ``benchmarks/results/``; the smoke runs
are in ``benchmarks/results/quick/``) and prints one section per benchmark found: quality,
budget adherence, per-trial overhead, import time and memory. With ``--update-docs`` it
replaces the blocks between ``<!-- BEGIN results:NAME -->`` and ``<!-- END results:NAME -->``
in ``docs/benchmarks.md`` instead (smoke results are refused there unless ``--allow-smoke``).

Run::

    .venv/bin/python benchmarks/report.py                      # print all sections
    .venv/bin/python benchmarks/report.py --dir benchmarks/results/quick
    .venv/bin/python benchmarks/report.py --update-docs docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from common import REPO_ROOT, RESULTS_DIR, distribution

SYSTEM_ORDER = ("ours", "optuna", "flaml", "hgb")
SYSTEM_LABEL = {"ours": "automl_bridge", "optuna": "plain Optuna TPE", "flaml": "FLAML",
                "hgb": "HGB default"}
#: The documented margin over a budget (``automl_bridge.backends.local.allowed_overrun``).
OVERRUN_ABS_S = 2.0
OVERRUN_REL = 0.05


# --- helpers ---------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(v: Any, digits: int = 4) -> str:
    """A number for a table (``-`` for missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}"
    return str(v)


def fmt_score(v: float) -> str:
    """A test score: 4 decimals below 10, 2 below 1000, else none."""
    if math.isnan(v):
        return "-"
    digits = 4 if abs(v) < 10 else 2 if abs(v) < 1000 else 0
    return f"{v:.{digits}f}"


def _banner(docs: Sequence[dict[str, Any]]) -> str:
    smoke = any(d.get("smoke") for d in docs)
    if not smoke:
        return ""
    return ("> **Smoke run (`--quick`)**: tiny inputs and budgets that only prove the script "
            "works. Not benchmark results.\n")


def _machine(doc: dict[str, Any]) -> str:
    m = doc.get("machine", {})
    v = m.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("automl-bridge", "optuna", "scikit-learn", "flaml")
                     if k in v)
    return (f"*{doc.get('started_at', '?')}, {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
            f"{m.get('memory_gb', '?')} GB, Python {m.get('python', '?')}; {libs}; commit "
            f"{m.get('git_commit', '?')}; load average at start "
            f"{(m.get('load_avg_at_start') or ['?'])[0]}.*")


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    if len(values) == 1:
        return values[0], None
    return statistics.fmean(values), statistics.stdev(values)


# --- quality ---------------------------------------------------------------------------------


def render_quality(doc: dict[str, Any]) -> str:
    """Test score per dataset x system, one table per budget, plus fit times and notes."""
    recs = doc.get("records", [])
    systems = [s for s in SYSTEM_ORDER if any(r["system"] == s for r in recs)]
    datasets = list(dict.fromkeys(r["dataset"] for r in recs))
    budgets = sorted({r["budget_s"] for r in recs if r["budget_s"] is not None})
    out = ["### Quality (test score)\n", _banner([doc]), _machine(doc), "",
           "Binary: ROC-AUC (higher is better); multiclass: log-loss and regression: RMSE "
           "(lower is better). Best of each row in bold. `HGB default` ignores the budget. "
           "Mean over seeds (± sd when several).\n"]
    for budget in budgets:
        rows = []
        ranks: dict[str, list[float]] = defaultdict(list)
        wins: dict[str, int] = defaultdict(int)
        for ds in datasets:
            cells: dict[str, tuple[float, float | None] | str] = {}
            direction = "maximize"
            metric = ""
            for s in systems:
                rs = [r for r in recs if r["dataset"] == ds and r["system"] == s and
                      (r["budget_s"] == budget or s == "hgb")]
                if not rs:
                    continue
                direction, metric = rs[0]["direction"], rs[0]["metric"]
                ok = [float(r["score"]) for r in rs if r["status"] == "ok"
                      and r["score"] is not None and not math.isnan(float(r["score"]))]
                cells[s] = _mean_sd(ok) if ok else rs[0]["status"]
            numeric = {s: c[0] for s, c in cells.items() if isinstance(c, tuple)}
            sign = -1.0 if direction == "maximize" else 1.0
            order = sorted(numeric, key=lambda s: sign * numeric[s])
            for rank, s in enumerate(order, 1):
                ranks[s].append(rank)
            if order:
                wins[order[0]] += 1
            row = [ds, metric]
            for s in systems:
                c = cells.get(s, "-")
                if isinstance(c, tuple):
                    text = fmt_score(c[0]) + (f" ± {fmt(c[1], 2)}" if c[1] is not None else "")
                    row.append(f"**{text}**" if order and s == order[0] else text)
                else:
                    row.append(str(c))
            rows.append(row)
        rows.append(["mean rank", ""] + [fmt(statistics.fmean(ranks[s]), 2) if ranks[s] else "-"
                                         for s in systems])
        rows.append(["wins", ""] + [str(wins[s]) for s in systems])
        out.append(f"#### Budget {budget:g} s\n")
        out.append(table(["dataset", "metric", *[SYSTEM_LABEL[s] for s in systems]], rows))
        out.append("")
        out.append(f"Fit wall time (s) and peak RSS of the process tree (MB), budget "
                   f"{budget:g} s:\n")
        trows = []
        for ds in datasets:
            row = [ds]
            for s in systems:
                rs = [r for r in recs if r["dataset"] == ds and r["system"] == s and
                      (r["budget_s"] == budget or s == "hgb") and r["status"] == "ok"]
                if not rs:
                    row.append("-")
                    continue
                fit = statistics.fmean(float(r["fit_s"]) for r in rs)
                rss = max(float(r["peak_rss_mb"] or 0) for r in rs)
                row.append(f"{fit:.1f} s / {rss:.0f} MB")
            trows.append(row)
        out.append(table(["dataset", *[SYSTEM_LABEL[s] for s in systems]], trows))
        out.append("")
    out.append(_quality_notes(recs))
    return "\n".join(out)


def _quality_notes(recs: list[dict[str, Any]]) -> str:
    ours = [r for r in recs if r["system"] == "ours" and r["status"] == "ok"]
    failed = [r for r in recs if r["status"] != "ok"]
    lines = []
    if ours:
        baseline = [r for r in ours if r.get("details", {}).get("best_family") == "baseline"]
        finals: dict[str, int] = defaultdict(int)
        for r in ours:
            finals[str(r.get("details", {}).get("final_model"))] += 1
        lines.append("- automl_bridge final models: "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(finals.items()))
                     + f"; {len(baseline)} of {len(ours)} runs ended with the baseline model.")
        trials = [r["details"].get("n_trials", 0) for r in ours]
        lines.append(f"- automl_bridge trials per run: median {statistics.median(trials):g}, "
                     f"min {min(trials)}, max {max(trials)}.")
    for r in failed:
        err = (r.get("error") or "").strip().splitlines()
        lines.append(f"- {r['system']} on {r['dataset']} (budget {r['budget_s']}): "
                     f"{r['status']}: {err[0] if err else ''}")
    return "Notes:\n\n" + "\n".join(lines) + "\n" if lines else ""


# --- budget adherence ------------------------------------------------------------------------


def budget_rows(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{source, dataset, budget_s, elapsed_s}`` of every completed run of our engine."""
    rows = []
    for doc in docs:
        for r in doc.get("records", []):
            if r.get("system", "ours") != "ours" or r.get("status") != "ok":
                continue
            if not r.get("budget_s") or r.get("fit_s") is None:
                continue
            rows.append({"source": doc["benchmark"], "dataset": r["dataset"],
                         "budget_s": float(r["budget_s"]), "elapsed_s": float(r["fit_s"])})
    return rows


def render_budget(docs: Sequence[dict[str, Any]]) -> str:
    """elapsed / budget of our engine at p50, p95, max (goal: p95 <= 1.05)."""
    rows = budget_rows(docs)
    if not rows:
        return ""
    out = ["### Budget adherence (automl_bridge)\n", _banner(docs),
           "`elapsed` is the wall time of `job.fit` measured outside it. Goal: p95 of "
           "elapsed / budget <= 1.05. `over margin`: runs past the documented margin "
           f"(budget + max({OVERRUN_ABS_S:g} s, {OVERRUN_REL:.0%})).\n"]
    trows = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["source"], f"{r['budget_s']:g}")].append(r)
        groups[(r["source"], "all")].append(r)
    for (source, budget), rs in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1] == "all", float(kv[0][1]) if kv[0][1] != "all" else 0.0)):
        ratios = [r["elapsed_s"] / r["budget_s"] for r in rs]
        dist = distribution(ratios)
        over = sum(r["elapsed_s"] > r["budget_s"] + max(OVERRUN_ABS_S,
                                                       OVERRUN_REL * r["budget_s"]) for r in rs)
        worst = max(rs, key=lambda r: r["elapsed_s"] / r["budget_s"])
        trows.append([source, budget, dist["n"], fmt(dist["p50"], 3), fmt(dist["p95"], 3),
                      fmt(dist["max"], 3), over, f"{worst['dataset']} ({worst['elapsed_s']:.1f} s"
                      f" / {worst['budget_s']:g} s)"])
    out.append(table(["source", "budget (s)", "runs", "p50", "p95", "max", "over margin",
                      "worst run"], trows))
    return "\n".join(out) + "\n"


# --- overhead, import time, memory -----------------------------------------------------------


def render_overhead(doc: dict[str, Any]) -> str:
    """Per-trial wall time: our search loop vs plain Optuna."""
    out = ["### Per-trial overhead vs plain Optuna\n", _banner([doc]), _machine(doc), "",
           "Same sampler (our `tpe` strategy: multivariate TPE, seed 0), same space (the six "
           "families), same number of trials. Ratio = ours / plain Optuna (goal <= 1.5).\n"]
    rows = []
    for c in doc.get("comparisons", []):
        rows.append([c["name"], c["n_trials"], f"{c['plain_ms_per_trial']:.2f}",
                     f"{c['ours_ms_per_trial']:.2f}", f"{c['ratio']:.2f}",
                     fmt(c.get("same_params_share"), 2)])
    out.append(table(["case", "trials", "plain Optuna (ms/trial)", "automl_bridge (ms/trial)",
                      "ratio", "same params"], rows))
    extra = doc.get("process_startup_s")
    if extra is not None:
        out.append(f"\nWorker process start up to a first cheap evaluation (once per run, not "
                   f"per trial, excluded above): {extra:.2f} s.")
    return "\n".join(out) + "\n"


def render_import(doc: dict[str, Any]) -> str:
    """Import time of the package and the heavy modules it pulls in."""
    out = ["### Import time\n", _banner([doc]), _machine(doc), "",
           f"Median of {doc['config']['repeats']} fresh interpreters; `import` time measured "
           "inside the interpreter (interpreter start-up excluded; shown separately). "
           "Goal: `import automl_bridge` < 0.3 s, none of the forbidden modules.\n"]
    rows = []
    for c in doc.get("cases", []):
        rows.append([f"`{c['statement']}`", f"{c['import_s_median']:.3f}",
                     f"{c['import_s_min']:.3f}", f"{c['process_s_median']:.3f}",
                     ", ".join(c["forbidden_loaded"]) or "none",
                     ", ".join(c["heavy_loaded"]) or "none"])
    out.append(table(["statement", "import s (median)", "min", "whole process s",
                      "forbidden modules loaded", "heavy modules loaded"], rows))
    top = doc.get("top_modules", [])
    if top:
        out.append("\nSlowest modules under `import automl_bridge` (cumulative, `-X importtime`):"
                   "\n")
        out.append(table(["module", "cumulative ms"],
                         [[f"`{m['module']}`", f"{m['cumulative_us'] / 1000:.1f}"]
                          for m in top]))
    return "\n".join(out) + "\n"


def render_memory(doc: dict[str, Any]) -> str:
    """Peak RSS of our engine (parent + workers) by number of rows."""
    out = ["### Peak memory (automl_bridge, regression set)\n", _banner([doc]), _machine(doc), "",
           f"Budget {doc['config']['budget_s']:g} s per run; `rows` before the fixed 75/25 "
           "split, the engine trains on the other 75 %. RSS summed over the run's process "
           "and its worker processes, polled every 0.1 s (the peaks of the parts need not "
           "coincide).\n"]
    rows = []
    for r in doc.get("records", []):
        rows.append([f"{r['n_rows']:,}", f"{r.get('n_train') or 0:,}", fmt(r.get("data_mb"), 3),
                     r["status"],
                     fmt(r.get("peak_rss_mb"), 4), fmt(r.get("peak_rss_root_mb"), 4),
                     fmt(r.get("peak_rss_workers_mb"), 4), fmt(r.get("rss_before_fit_mb"), 4),
                     r.get("max_processes", "-"), fmt(r.get("fit_s"), 3)])
    out.append(table(["rows", "train rows", "data MB", "status", "peak total MB", "peak parent MB",
                      "peak workers MB (approx.)", "parent before fit MB", "processes",
                      "fit s"], rows))
    growth = doc.get("growth")
    if growth:
        out.append(f"\nGrowth: {growth['mb_per_100k_rows']:.0f} MB of peak RSS per 100k rows "
                   f"(least squares over the completed runs; data itself: "
                   f"{growth['data_mb_per_100k_rows']:.0f} MB per 100k rows).")
    return "\n".join(out) + "\n"


# --- main ------------------------------------------------------------------------------------


def load_docs(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Result documents of ``folder`` by benchmark name."""
    docs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError:
            print(f"skipping {path}: not JSON", file=sys.stderr)
            continue
        if isinstance(doc, dict) and "benchmark" in doc:
            docs[doc["benchmark"]].append(doc)
    return docs


def sections(docs: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Markdown of every section that has data, by section name."""
    out: dict[str, str] = {}
    if docs.get("quality"):
        out["quality"] = "\n\n".join(render_quality(d) for d in docs["quality"])
    budget_docs = docs.get("quality", []) + docs.get("budget", [])
    if budget_docs:
        out["budget"] = render_budget(budget_docs)
    for name, render in (("overhead", render_overhead), ("import_time", render_import),
                         ("memory", render_memory)):
        if docs.get(name):
            out[name] = "\n\n".join(render(d) for d in docs[name])
    return out


def update_docs(path: Path, parts: dict[str, str]) -> list[str]:
    """Replace the marked blocks of ``path``; return the names replaced."""
    text = path.read_text()
    done = []
    for name, body in parts.items():
        pattern = re.compile(rf"(<!-- BEGIN results:{name} -->\n).*?(<!-- END results:{name} -->)",
                             re.S)
        m = pattern.search(text)
        if m:
            text = text[:m.end(1)] + body.strip() + "\n" + text[m.start(2):]
            done.append(name)
    path.write_text(text)
    return done


def main(argv: list[str] | None = None) -> int:
    """Print (or write into the docs) the markdown of the result files."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, default=RESULTS_DIR, help="folder of result JSON files")
    p.add_argument("--update-docs", type=Path, default=None, metavar="MD",
                   help=f"write into the marked blocks of this file (e.g. "
                        f"{REPO_ROOT.name}/docs/benchmarks.md)")
    p.add_argument("--allow-smoke", action="store_true",
                   help="let --update-docs write smoke (--quick) results")
    args = p.parse_args(argv)
    docs = load_docs(args.dir)
    if not docs:
        print(f"No result files in {args.dir}.", file=sys.stderr)
        return 1
    parts = sections(docs)
    if args.update_docs is not None:
        smoke = [d for ds in docs.values() for d in ds if d.get("smoke")]
        if smoke and not args.allow_smoke:
            print("Refusing to write smoke (--quick) results into the docs; pass --allow-smoke "
                  "to do it anyway.", file=sys.stderr)
            return 2
        done = update_docs(args.update_docs, parts)
        print(f"updated {args.update_docs}: {', '.join(done) or 'nothing'}", file=sys.stderr)
        return 0
    print("\n\n".join(parts.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
