"""Networks and architecture search: Hyperband vs random search, morphisms, trainer throughput,
our tuner vs Keras Tuner. All on scikit-learn's 8x8 digits (the fixed split of
``nas_common.digits_split``: 1,152 train / 288 validation / 357 test rows).

Four parts, chosen with ``--part`` (each writes ``benchmarks/results/nas_<part>.json``; with
``--quick`` to ``benchmarks/results/quick/``):

1. ``hyperband`` (``nas_hyperband.py``): ``automl_bridge.tuners.Hyperband`` against
   ``RandomSearch`` given 3x Hyperband's compute, both searching the macro space
   (``macro_space()`` + a log-scaled learning rate) through one
   ``build(hp)``; compute = training epochs actually run (counted by a trainer callback).
   Best validation and test accuracy per seed, mean, gap (goal: Hyperband within 0.5 points).
2. ``morphism`` (``nas_morphism.py``): parents trained E epochs, each morphism kind applied
   with ``apply_morphism``; the child trained from its inherited weights against a fresh
   network of the child's architecture; epochs to reach the parent's final validation accuracy
   (goal: child <= 1/3 of scratch). One SVG of curves per case.
3. ``throughput`` (``nas_throughput.py``): ``trainer.train`` against a minimal PyTorch loop,
   samples/s, one and default threads, CUDA too where available (goal: within 1.2x).
4. ``keras`` (``nas_keras.py`` + ``keras_tuner_digits.py``): the tuner quickstart's Hyperband
   (Dense units 16..512 step 16, Dropout 0.2, max_epochs=10, factor=3, val_accuracy,
   validation_split=0.2, EarlyStopping(val_loss, patience=5)) in our tuner and in Keras Tuner
   (a separate virtual environment, given with ``--keras-python``): wall time, trials, epochs,
   best validation and test accuracy side by side.

Usage::

    .venv/bin/python benchmarks/nas.py --part throughput            # or hyperband, morphism
    .venv/bin/python benchmarks/nas.py --part keras \\
        --keras-python benchmarks/_out/keras-venv/bin/python
    .venv/bin/python benchmarks/nas.py --quick --part all            # < 1 min per part
    .venv/bin/python benchmarks/nas.py --report                      # Markdown of the results

Timing parts alternate the compared sides within one run and repeat them, so background load
hits both; still, run them on a quiet machine for the published numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common import QUICK_DIR, RESULTS_DIR, log, new_document, now_iso, write_json

PARTS = ("hyperband", "morphism", "throughput", "keras")


def out_path(part: str, quick: bool) -> Path:
    """``results/nas_<part>.json`` (``results/quick/`` for smoke runs)."""
    return (QUICK_DIR if quick else RESULTS_DIR) / f"nas_{part}.json"


def _torch_info() -> dict[str, Any]:
    import torch

    return {"torch": torch.__version__, "default_threads": torch.get_num_threads(),
            "cuda": bool(torch.cuda.is_available()),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def run_part(part: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one part; return its document (also written to its JSON)."""
    doc = new_document(f"nas_{part}", quick=args.quick, config={"part": part})
    doc["machine"]["torch"] = _torch_info()
    doc["cuda"] = doc["machine"]["torch"]["cuda"]
    section: dict[str, Any] = {"records": []}
    doc["part"] = section
    path = args.out_dir / f"nas_{part}.json" if args.out_dir else out_path(part, args.quick)
    t0 = time.monotonic()
    if part == "throughput":
        import nas_throughput

        nas_throughput.run_part(args, section, log)
    elif part == "morphism":
        import nas_morphism

        nas_morphism.run_part(args, section, log, plot_dir=path.parent)
    elif part == "hyperband":
        import nas_hyperband

        nas_hyperband.run_part(args, section, log, plot_dir=path.parent)
    else:
        import nas_keras

        nas_keras.run_part(args, section, log)
    doc["finished_at"] = now_iso()
    doc["wall_s"] = round(time.monotonic() - t0, 1)
    write_json(path, doc)
    log(f"wrote {path} ({doc['wall_s']} s)")
    return doc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", nargs="+", default=["all"], choices=["all", *PARTS],
                   help="parts to run (all = hyperband morphism throughput keras)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run (< 1 min per part), written to results/quick/")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds of hyperband, morphism and keras (default 0 1 2; quick 0)")
    p.add_argument("--repeats", type=int, default=None,
                   help="throughput: timed repeats per side (default 7; quick 1)")
    p.add_argument("--keras-python", type=Path, default=None,
                   help="python of the Keras venv (part keras; without it only our side runs)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="where the JSON and SVG files go (default benchmarks/results/)")
    p.add_argument("--report", action="store_true",
                   help="print the Markdown tables of the result files and exit")
    p.add_argument("--replot", action="store_true",
                   help="redraw the SVGs of hyperband and morphism (and morphism's summary) "
                        "from their result files")
    args = p.parse_args(argv)
    args.parts = list(PARTS) if "all" in args.part else [x for x in PARTS if x in args.part]
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts, or print the report."""
    args = parse_args(argv)
    if args.replot:
        replot(args)
        return 0
    if args.report:
        docs = {}
        for part in args.parts:
            path = (args.out_dir / f"nas_{part}.json" if args.out_dir
                    else out_path(part, args.quick))
            if path.exists():
                docs[part] = json.loads(path.read_text())
        print(render(docs))
        return 0
    docs = {}
    for part in args.parts:
        log(f"part {part}")
        docs[part] = run_part(part, args)
    print(render(docs))
    return 0


def replot(args: argparse.Namespace) -> None:
    """Redraw the plots of the selected parts from their JSON (no training)."""
    for part in args.parts:
        if part not in ("hyperband", "morphism"):
            continue
        path = args.out_dir / f"nas_{part}.json" if args.out_dir else out_path(part, args.quick)
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        module = __import__(f"nas_{part}")
        if part == "morphism":
            doc["part"]["summary"] = module.summarise(doc["part"])
        doc["part"]["plots"] = module.plot(doc["part"], path.parent)
        write_json(path, doc)
        log(f"redrew {', '.join(doc['part']['plots'])}")


# --- Markdown --------------------------------------------------------------------------------


def _f(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _pct(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(doc: Mapping[str, Any]) -> str:
    """One italic line: when, where, versions."""
    m = doc.get("machine", {})
    t = m.get("torch", {})
    return (f"*{doc.get('started_at', '?')}, {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
            f"Python {m.get('python', '?')}, torch {t.get('torch', '?')}, CUDA "
            f"{'yes: ' + str(t.get('cuda_device')) if t.get('cuda') else 'no'}; commit "
            f"{m.get('git_commit', '?')}; load average at start "
            f"{(m.get('load_avg_at_start') or ['?'])[0]}; {doc.get('wall_s', '?')} s.*")


def render(docs: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown for every part document in ``docs``."""
    out = []
    for part in PARTS:
        doc = docs.get(part)
        if doc is None:
            continue
        if doc.get("smoke"):
            out.append(f"> **Smoke run (`--quick`) of `{part}`**: not benchmark results.\n")
        sec = doc.get("part", {})
        if sec.get("summary") is None:
            out.append(f"### {part}: no summary (the part did not finish)\n")
            continue
        renderer = {"throughput": render_throughput, "morphism": render_morphism,
                    "hyperband": render_hyperband, "keras": render_keras}[part]
        out.append(renderer(doc))
    return "\n".join(out)


def render_throughput(doc: Mapping[str, Any]) -> str:
    """Part 3 table."""
    sec = doc["part"]
    rows = []
    for r in sec["summary"]["rows"]:
        rows.append([r["case"], r["device"], r["threads"], _f(r["hand_per_s"]),
                     _f(r["ours_per_s"]), _f(r["ratio"], 3), _f(r["ratio_nometric"], 3),
                     _f(r.get("speedup_over_cpu")), _f(r["goal_met"])])
    cfg = sec["config"]
    cases = "; ".join(f"`{c['name']}`: `{c['arch']}`, batch {c['batch_size']}, "
                      f"{c['epochs']} epochs" for c in cfg["cases"])
    return "\n".join([
        "### Trainer throughput (part 3)\n", machine_line(doc), "",
        f"Samples/s (median of {cfg['repeats']} alternated repeats). Ratio = median of "
        "time(ours) / time(hand loop), goal <= 1.2; `no metric`: ours with `metrics={}`. "
        f"Cases: {cases}. CUDA: {'yes' if doc.get('cuda') else 'no'}.\n",
        _table(["case", "device", "threads", "hand loop (rows/s)", "ours (rows/s)",
                "ratio", "ratio, no metric", "GPU speed-up", "goal met"], rows), ""])


def render_morphism(doc: Mapping[str, Any]) -> str:
    """Part 2 table: one row per parent x morphism, the seeds side by side."""
    import statistics

    sec = doc["part"]
    s = sec["summary"]
    cases: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in s["rows"]:
        cases.setdefault((r["parent"], r["kind"]), []).append(r)

    def seeds(rs: Sequence[Mapping[str, Any]], key: str, pct: bool = False) -> str:
        return ", ".join(_pct(r[key], 1) if pct else
                         (f">{sec['config']['max_epochs']}" if r[key] is None else _f(r[key]))
                         for r in rs)

    def med(rs: Sequence[Mapping[str, Any]], key: str) -> str:
        vals = [math.inf if r.get(key) is None else r[key] for r in rs]
        return _f(statistics.median(vals), 3) if vals else "-"

    rows = []
    for (parent, kind), rs in cases.items():
        rows.append([parent, kind, f"`{rs[0]['child']}`", seeds(rs, "parent_acc", pct=True),
                     seeds(rs, "child_epochs"), seeds(rs, "scratch_epochs"), med(rs, "ratio"),
                     med(rs, "smoothed_ratio")])
    cfg = sec["config"]
    return "\n".join([
        "### Morphism children vs from scratch (part 2)\n", machine_line(doc), "",
        f"Parents trained {cfg['parent_epochs']} epochs; child and scratch up to "
        f"{cfg['max_epochs']} epochs, {cfg['optimizer']}, batch {cfg['batch_size']}, seeds "
        f"{cfg['seeds']} (per-seed values separated by commas). Epochs = first training epoch "
        "(>= 1) whose validation accuracy reaches the parent's final one "
        f"(`>{cfg['max_epochs']}`: never; the ratio then uses {cfg['max_epochs']} + 1 as a "
        "bound). Ratio = child / scratch epochs, median over seeds. Smoothed: the parent's "
        "mean over its last 3 epochs reached by trailing 3-epoch means. Accuracies in %.\n",
        _table(["parent", "morphism", "child", "parent val acc", "child epochs",
                "scratch epochs", "ratio", "smoothed ratio"], rows), "",
        f"Over all {s['n_cases']} case x seed runs: median ratio {_f(s['median_ratio'], 3)} "
        f"(goal <= 1/3), goal met in {s['n_goal_met']} of {s['n_cases']}; smoothed: median "
        f"{_f(s.get('median_smoothed_ratio'), 3)}, met in {s.get('n_smoothed_goal_met', '-')} "
        f"of {s['n_cases']}. Child accuracy before any training = the parent's in every run; "
        f"largest parent/child logit difference: {_f(s['max_abs_logit_diff'])}.\n",
        "Plots: " + ", ".join(f"`{p}`" for p in sec.get("plots", [])) + "\n"])


def render_hyperband(doc: Mapping[str, Any]) -> str:
    """Part 1 table."""
    sec = doc["part"]
    s = sec["summary"]
    rows = []
    for r in s["per_seed"]:
        for side in ("hyperband", "random"):
            x = r[side]
            rows.append([r["seed"], side, x["trials"], x["epochs"], _f(x["wall_s"]),
                         _pct(x["best_val_acc"]), _pct(x["test_acc"]), f"`{x['best_arch']}`"])
    m = s["mean"]
    cfg = sec["config"]
    within = [r.get("random_best_within_hyperband_compute") for r in sec["records"]]
    within_mean = (sum(within) / len(within)) if within and None not in within else None
    return "\n".join([
        "### Hyperband vs random search with 3x the compute (part 1)\n", machine_line(doc), "",
        f"{cfg['how']} Compute = training epochs actually run. Accuracies in %.\n",
        _table(["seed", "search", "trials", "epochs", "wall (s)", "best val acc",
                "test acc", "best architecture"], rows), "",
        _table(["mean over seeds", "epochs", "wall (s)", "best val acc", "test acc"],
               [[side, _f(m[side]["epochs"]), _f(m[side]["wall_s"]),
                 _pct(m[side]["best_val_acc"]), _pct(m[side]["test_acc"])]
                for side in ("hyperband", "random")]), "",
        f"Gap (random - Hyperband), mean over seeds: validation {_pct(s['gap_val'])} points, "
        f"test {_pct(s['gap_test'])} points; goal (<= 0.5 points on validation): "
        f"{_f(s['goal_met'])}. Random search's compute / Hyperband's: "
        f"{_f(s['compute_ratio'], 3)}. Random search's best validation accuracy within "
        f"Hyperband's compute (its first trials up to C_h epochs), mean: {_pct(within_mean)}."
        "\n", "Plot: " + ", ".join(f"`{p}`" for p in sec.get("plots", [])) + "\n"])


def render_keras(doc: Mapping[str, Any]) -> str:
    """Part 4 table."""
    sec = doc["part"]
    s = sec["summary"]
    rows = []
    for r in sec["records"]:
        rows.append([r["seed"], r["side"], r.get("status", "ok"), _f(r.get("wall_s")),
                     _f(r.get("trials")), _f(r.get("epochs")), _pct(r.get("best_val_acc")),
                     _pct(r.get("test_acc")), _f(r.get("best_units"))])
    mean_rows = [[side, _f(x.get("wall_s")), _f(x.get("trials")), _f(x.get("epochs")),
                  _f(x["wall_s"] / x["epochs"], 3) if x.get("epochs") else "-",
                  _pct(x.get("best_val_acc")), _pct(x.get("test_acc"))]
                 for side, x in s["mean"].items()]
    return "\n".join([
        "### Our tuner vs Keras Tuner on the quickstart (part 4)\n", machine_line(doc), "",
        f"{sec['config']['how']} Accuracies in %.\n",
        _table(["seed", "side", "status", "wall (s)", "trials", "epochs", "best val acc",
                "test acc", "best units"], rows), "",
        _table(["mean", "wall (s)", "trials", "epochs", "s per epoch", "best val acc",
                "test acc"], mean_rows),
        "", f"Versions: {s.get('versions')}\n"])


if __name__ == "__main__":
    sys.exit(main())
