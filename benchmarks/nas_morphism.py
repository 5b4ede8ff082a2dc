"""Part ``morphism`` of ``benchmarks/nas.py``: children of network morphisms against networks of
the same architecture trained from scratch.

For each parent architecture (a dense, dense_bn, dense_ln and residual chain of two 64-unit
layers and a micro cell network, dropout 0.1):

1. the parent is trained ``E`` epochs on the digits training rows (AdamW, lr 1e-3, weight decay
   1e-4, batch 32, ``seed``); its final validation accuracy ``A`` is the target;
2. each morphism of the case list is applied with ``automl_bridge.models.nas.apply_morphism``
   to the parent's numpy state dict (macro: ``widen(0,128)`` and ``deepen(1,residual)``; micro:
   ``widen(128)``, ``deepen_cell(1)`` and ``deepen_node(2,residual)``); the largest absolute
   difference between parent and child logits on the validation rows (eval mode) is recorded;
3. the child trains from its inherited weights, and a fresh network of the child's architecture
   (``torch.manual_seed(seed)`` init) from scratch, each with a new optimizer with the same
   settings and seed, for ``M`` epochs, validating after every epoch.

Epochs to reach = the first training epoch (>= 1) whose validation accuracy is >= ``A`` (the
child's epoch-0 accuracy, before any training, is recorded apart: it equals ``A`` when the
morphism preserves the function). Ratio = child epochs / scratch epochs; when scratch never
reaches ``A`` within ``M`` epochs the ratio uses ``M + 1`` (a bound: the true ratio is lower).
Goal: ratio <= 1/3; the summary gives the median over cases and seeds. One SVG per case
(seed ``seeds[0]``): validation error (log scale) per epoch of child and scratch, the parent's
final error as a line.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import svgplot
from nas_common import digits_split, rnd, torch_threads

GOAL_RATIO = 1 / 3
MACRO_MORPHISMS = ("widen(0,128)", "deepen(1,residual)")
MICRO_MORPHISMS = ("widen(128)", "deepen_cell(1)", "deepen_node(2,residual)")
PARENTS = {
    "dense": "dense(64,relu,0.1) > dense(64,relu,0.1)",
    "dense_bn": "dense_bn(64,relu,0.1) > dense_bn(64,relu,0.1)",
    "dense_ln": "dense_ln(64,relu,0.1) > dense_ln(64,relu,0.1)",
    "residual": "residual(64,relu,0.1) > residual(64,relu,0.1)",
    "micro": "2 x cell(64,relu,0.1) [1: residual(0); 2: dense(1)]",
}
FULL = {"parent_epochs": 20, "max_epochs": 40}
QUICK = {"parent_epochs": 4, "max_epochs": 6}
TRAIN = {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 1e-4}
BATCH = 32
#: Epochs of the trailing mean of the smoothed ratio.
SMOOTH = 3


def _train(net: Any, data: Any, epochs: int, seed: int) -> list[float]:
    from automl_bridge.models.nn.trainer import TrainState, train

    state = TrainState.create(net, device="cpu", seed=seed, **TRAIN)
    hist = train(state, data.X_train, data.y_train, task="classification", epochs=epochs,
                 batch_size=BATCH, valid=(data.X_valid, data.y_valid))
    return [float(h["val_accuracy"]) for h in hist]


def _acc(net: Any, X: np.ndarray, y: np.ndarray) -> float:
    from automl_bridge.models.nn.trainer import predict_batches

    return float(np.mean(predict_batches(net, X).argmax(axis=1) == y))


def _reach(curve: list[float], target: float) -> int | None:
    """First epoch (1-based) whose accuracy is >= target (to float rounding)."""
    for i, v in enumerate(curve, start=1):
        if v >= target - 1e-9:
            return i
    return None


def run_case(parent_name: str, morphism: str, data: Any, seed: int, settings: dict[str, int],
             parent_cache: dict[tuple[str, int], Any]) -> dict[str, Any]:
    """One parent x morphism x seed."""
    import torch

    from automl_bridge.models.nas import apply_morphism, build_network
    from automl_bridge.models.nn.trainer import (
        load_state_dict_numpy,
        predict_batches,
        state_dict_numpy,
    )

    arch = PARENTS[parent_name]
    E, M = settings["parent_epochs"], settings["max_epochs"]
    key = (parent_name, seed)
    if key not in parent_cache:
        torch.manual_seed(seed)
        parent = build_network(arch, 64, 10)
        curve = _train(parent, data, E, seed)
        parent_cache[key] = (parent, curve)
    parent, parent_curve = parent_cache[key]
    target = parent_curve[-1]
    child_arch, child_sd = apply_morphism(arch, state_dict_numpy(parent), morphism,
                                          rng=np.random.default_rng(seed))
    child = build_network(child_arch, 64, 10)
    load_state_dict_numpy(child, child_sd)
    diff = float(np.max(np.abs(predict_batches(child, data.X_valid)
                               - predict_batches(parent, data.X_valid))))
    child0 = _acc(child, data.X_valid, data.y_valid)
    child_curve = _train(child, data, M, seed)
    torch.manual_seed(seed)
    scratch = build_network(child_arch, 64, 10)
    scratch_curve = _train(scratch, data, M, seed)
    ce, se = _reach(child_curve, target), _reach(scratch_curve, target)
    ratio = None
    if ce is not None:
        ratio = ce / (se if se is not None else M + 1)
    return {
        "parent": parent_name, "parent_arch": arch, "kind": morphism, "child": str(child_arch),
        "seed": seed, "parent_acc": rnd(target, 5), "parent_curve": [rnd(v, 5) for v in
                                                                    parent_curve],
        "max_abs_logit_diff": float(f"{diff:.3g}"), "child_acc_epoch0": rnd(child0, 5),
        "child_curve": [rnd(v, 5) for v in child_curve],
        "scratch_curve": [rnd(v, 5) for v in scratch_curve],
        "child_epochs": ce, "scratch_epochs": se, "scratch_reached": se is not None,
        "ratio": rnd(ratio, 4), "ratio_is_bound": se is None,
        "goal_met": bool(ratio is not None and ratio <= GOAL_RATIO + 1e-12),
        "child_best": rnd(max(child_curve), 5), "scratch_best": rnd(max(scratch_curve), 5),
    }


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").replace("__", "_")


def run_part(args: Any, section: dict[str, Any], log: Callable[[str], None],
             plot_dir: Path) -> None:
    """Fill ``section`` with one record per case and seed, the summary and the plots."""
    settings = dict(QUICK if args.quick else FULL)
    data = digits_split()
    cases = [(p, m) for p in PARENTS
             for m in (MICRO_MORPHISMS if p == "micro" else MACRO_MORPHISMS)]
    section["config"] = {**settings, "seeds": args.seeds, "parents": PARENTS,
                         "macro_morphisms": list(MACRO_MORPHISMS),
                         "micro_morphisms": list(MICRO_MORPHISMS), "batch_size": BATCH,
                         "optimizer": "AdamW(lr=1e-3, weight_decay=1e-4)", "threads": 1,
                         "split": data.sizes(), "goal_ratio": GOAL_RATIO}
    recs = section["records"]
    with torch_threads(1):
        for seed in args.seeds:
            cache: dict[tuple[str, int], Any] = {}
            for parent_name, morphism in cases:
                r = run_case(parent_name, morphism, data, seed, settings, cache)
                recs.append(r)
                log(f"morphism {parent_name} {morphism} seed {seed}: parent {r['parent_acc']}, "
                    f"child@0 {r['child_acc_epoch0']} (diff {r['max_abs_logit_diff']}), "
                    f"child {r['child_epochs']} vs scratch {r['scratch_epochs']} epochs, "
                    f"ratio {r['ratio']}")
    section["summary"] = summarise(section)
    section["plots"] = plot(section, plot_dir)


def _smooth(curve: list[float], window: int = SMOOTH) -> list[float]:
    """Trailing mean over the last ``window`` epochs (fewer at the start)."""
    return [statistics.fmean(curve[max(0, i + 1 - window):i + 1]) for i in range(len(curve))]


def summarise(section: dict[str, Any]) -> dict[str, Any]:
    """The summary of the records (also recomputed by ``nas.py --replot``).

    Besides the plain ratio (first epoch at the parent's final accuracy), a smoothed one that
    the validation set's noise (one row = 0.35 points) moves less: the parent's target is the
    mean of its last 3 epochs and child and scratch curves are trailing 3-epoch means.
    """
    recs = section["records"]
    M = section["config"]["max_epochs"]
    for r in recs:
        target = statistics.fmean(r["parent_curve"][-SMOOTH:])
        ce = _reach(_smooth(r["child_curve"]), target)
        se = _reach(_smooth(r["scratch_curve"]), target)
        r["smoothed"] = {"target": rnd(target, 5), "child_epochs": ce, "scratch_epochs": se,
                         "ratio": rnd(ce / (se if se is not None else M + 1), 4)
                         if ce is not None else None, "ratio_is_bound": se is None}
    ratios = [r["ratio"] if r["ratio"] is not None else float("inf") for r in recs]
    smoothed = [r["smoothed"]["ratio"] if r["smoothed"]["ratio"] is not None else float("inf")
                for r in recs]
    summary: dict[str, Any] = {
        "rows": [{**{k: r[k] for k in ("parent", "kind", "child", "seed", "parent_acc",
                                       "child_acc_epoch0", "max_abs_logit_diff",
                                       "child_epochs", "scratch_epochs", "ratio",
                                       "ratio_is_bound", "goal_met")},
                  "smoothed_ratio": r["smoothed"]["ratio"]} for r in recs],
        "median_ratio": rnd(statistics.median(ratios), 4) if ratios else None,
        "median_smoothed_ratio": rnd(statistics.median(smoothed), 4) if smoothed else None,
        "n_cases": len(recs), "n_goal_met": sum(r["goal_met"] for r in recs),
        "n_smoothed_goal_met": sum(v <= GOAL_RATIO + 1e-12 for v in smoothed),
        "n_scratch_never": sum(not r["scratch_reached"] for r in recs),
        "n_child_never": sum(r["child_epochs"] is None for r in recs),
        "max_abs_logit_diff": max(r["max_abs_logit_diff"] for r in recs),
    }
    per_kind: dict[str, list[float]] = {}
    for r, v in zip(recs, ratios, strict=True):
        per_kind.setdefault(f"{r['parent']} {r['kind']}", []).append(v)
    summary["median_ratio_per_case"] = {k: rnd(statistics.median(v), 4)
                                        for k, v in per_kind.items()}
    summary["goal_met"] = bool(summary["median_ratio"] is not None
                               and summary["median_ratio"] <= GOAL_RATIO)
    return summary


def plot(section: dict[str, Any], plot_dir: Path) -> list[str]:
    """One SVG per case of the first seed: validation error (1 - accuracy, log scale) per
    epoch of child and scratch, the parent's final error as a line. Returns the file names."""
    recs = section["records"]
    parent_epochs = section["config"]["parent_epochs"]
    plots = []
    first = section["config"]["seeds"][0]

    def err(v: float | None) -> float | None:
        return None if v is None else max(1.0 - v, 1e-4)

    for r in recs:
        if r["seed"] != first:
            continue
        M = len(r["child_curve"])
        name = f"nas_morphism_{_slug(r['parent'])}_{_slug(r['kind'])}.svg"
        series = {
            "child": [(0.0, err(r["child_acc_epoch0"]))]
            + [(float(i), err(v)) for i, v in enumerate(r["child_curve"], start=1)],
            "from scratch": [(float(i), err(v)) for i, v in
                             enumerate(r["scratch_curve"], start=1)],
            f"parent, {parent_epochs} epochs": [(0.0, err(r["parent_acc"])),
                                                (float(M), err(r["parent_acc"]))],
        }
        svgplot.write_plot(plot_dir / name, series,
                           title=f"{r['kind']} of {r['parent_arch']} (seed {first})",
                           x_label="training epochs of child / scratch",
                           y_label="validation error (1 - accuracy)", log_y=True,
                           markers=False, width=900)
        plots.append(name)
    return plots
