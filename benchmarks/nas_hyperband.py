"""Part ``hyperband`` of ``benchmarks/nas.py``: Hyperband against random search with 3x its
compute, both searching the macro space on digits.

Both sides are ``automl_bridge.tuners`` tuners over one ``build(hp)``: it declares the nodes of
``macro_space()`` (1-4 layers; per layer op among dense, dense_bn, dense_ln, residual, width
16-512 on the log scale, activation among relu, gelu, silu, tanh, dropout 0-0.5 in steps of
0.05) with the same names, ranges and conditions (``nas_common.declare_space``), plus
``learning_rate`` (1e-4 to 1e-2, log), and returns ``{"model": build_network(arch, 64, 10),
"learning_rate": lr}`` (AdamW, weight decay 1e-4, batch 32, cross-entropy). Objective:
``val_accuracy`` on the fixed validation rows (``validation_data``); a trial's score is its best
epoch's value, and the best model is that epoch's weights (the tuners' rule).

* ``Hyperband(build, max_epochs=27, factor=3, seed=s)``: 49 trials (one Hyperband iteration),
  stopped at rungs 1, 3, 9 epochs by the strategy's pruner.
* ``RandomSearch(build, max_trials=ceil(3 * C_h / 27), seed=s + 10000)`` with ``epochs=27``:
  each trial trains 27 epochs, so its compute is the first multiple of 27 epochs >= 3 C_h. Its
  seed differs from Hyperband's: both sample at random, and with one seed random search would
  train exactly Hyperband's configurations.

Compute ``C`` = training epochs actually run, counted exactly by a trainer callback shared by all
trials (``nas_common.EpochCounter``; checked against the epochs each trial reported). Wall time
is measured around ``search`` (Hyperband runs first: random's trial count needs C_h). Test
accuracy: the tuner's best model (``get_best_models(1)``) on the 357 test rows. Goal:
Hyperband's best validation accuracy within 0.5 points of random search's (mean over seeds).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import svgplot
from nas_common import EpochCounter, declare_space, digits_split, fmean, rnd, torch_threads

GOAL_POINTS = 0.5
#: Random search draws its own configurations: with the same seed its sampler would propose
#: exactly Hyperband's (both strategies sample at random), a paired design that hides what
#: random search gains from exploring more.
RANDOM_SEED_OFFSET = 10_000
FULL = {"max_epochs": 27, "factor": 3, "compute_multiple": 3, "batch_size": 32}
QUICK = {"max_epochs": 9, "factor": 3, "compute_multiple": 3, "batch_size": 32}


def make_build(space: list[Any]) -> Callable[[Any], dict[str, Any]]:
    """``build(hp)`` over ``space`` (macro-space nodes) plus a log-scaled learning rate."""
    from automl_bridge.models.nas import arch_from_params, build_network

    def build(hp: Any) -> dict[str, Any]:
        values = declare_space(hp, space)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        return {"model": build_network(arch_from_params(values), 64, 10), "learning_rate": lr}

    return build


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    from automl_bridge.models.nn.trainer import predict_batches

    return float(np.mean(predict_batches(model, X).argmax(axis=1) == y))


def _trials(tuner: Any) -> list[dict[str, Any]]:
    """Per trial (in order): state, epochs run (reported steps), score."""
    from automl_bridge.tuners.base import ATTR_SCORE

    out = []
    for t in tuner.study.get_trials(deepcopy=False):
        out.append({"number": t.number, "state": t.state.name,
                    "epochs": len(t.intermediate_values),
                    "score": t.user_attrs.get(ATTR_SCORE)})
    return out


def _run_side(side: str, build: Callable[[Any], Any], data: Any, seed: int,
              settings: dict[str, Any], max_trials: int | None) -> dict[str, Any]:
    from automl_bridge.models.nas import arch_from_params
    from automl_bridge.tuners import Hyperband, RandomSearch

    counter = EpochCounter()
    if side == "hyperband":
        tuner: Any = Hyperband(build, objective="val_accuracy",
                               max_epochs=settings["max_epochs"], factor=settings["factor"],
                               seed=seed, device="cpu")
    else:
        tuner = RandomSearch(build, objective="val_accuracy", max_trials=max_trials,
                             seed=seed + RANDOM_SEED_OFFSET, device="cpu")
    t0 = time.perf_counter()
    tuner.search(data.X_train, data.y_train, epochs=settings["max_epochs"],
                 batch_size=settings["batch_size"],
                 validation_data=(data.X_valid, data.y_valid), callbacks=[counter], verbose=0)
    wall = time.perf_counter() - t0
    best = tuner.get_best_trials(1)[0]
    hp = tuner.get_best_hyperparameters(1)[0]
    model = tuner.get_best_models(1)[0]
    trials = _trials(tuner)
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    return {
        "trials": len(trials), "states": states, "epochs": counter.epochs,
        "epochs_reported": sum(t["epochs"] for t in trials), "train_calls": counter.calls,
        "wall_s": rnd(wall, 2), "best_val_acc": rnd(float(best.user_attrs[
            "automl_bridge:score"]), 5),
        "best_trial": best.number, "best_epoch": best.user_attrs.get("best_epoch"),
        "best_arch": str(arch_from_params(hp.values)),
        "best_learning_rate": rnd(hp.values.get("learning_rate"), 6),
        "test_acc": rnd(_accuracy(model, data.X_test, data.y_test), 5),
        "valid_acc_check": rnd(_accuracy(model, data.X_valid, data.y_valid), 5),
        "trial_log": trials,
    }


def _anytime(trials: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Best score so far against cumulative epochs (trials in order)."""
    pts: list[tuple[float, float]] = []
    total, best = 0, -math.inf
    for t in trials:
        total += t["epochs"]
        if t["score"] is not None:
            best = max(best, float(t["score"]))
        if best > -math.inf:
            pts.append((float(total), best))
    return pts


def _best_within(trials: list[dict[str, Any]], budget: int) -> float | None:
    best = None
    total = 0
    for t in trials:
        total += t["epochs"]
        if total > budget:
            break
        if t["score"] is not None:
            best = max(best or -math.inf, float(t["score"]))
    return best


def run_part(args: Any, section: dict[str, Any], log: Callable[[str], None],
             plot_dir: Path) -> None:
    """Fill ``section`` with per-seed records, a summary and the anytime plot."""
    from automl_bridge.models.nas import macro_space
    from automl_bridge.tuners.base import bracket_trials

    settings = dict(QUICK if args.quick else FULL)
    space = macro_space()
    build = make_build(space)
    data = digits_split()
    section["config"] = {
        "settings": settings, "seeds": args.seeds, "threads": 1, "split": data.sizes(),
        "space": "macro_space() defaults + learning_rate Float(1e-4, 1e-2, log)",
        "hyperband_trials": bracket_trials(settings["max_epochs"], settings["factor"]),
        "how": (f"`automl_bridge.tuners`: `Hyperband(max_epochs={settings['max_epochs']}, "
                f"factor={settings['factor']})` vs `RandomSearch` with "
                f"`ceil({settings['compute_multiple']} x C_h / {settings['max_epochs']})` "
                f"trials of {settings['max_epochs']} epochs (seed + {RANDOM_SEED_OFFSET}: its own "
                "draws), one `build(hp)` over "
                "`macro_space()` + a log learning rate, objective `val_accuracy`, batch "
                f"{settings['batch_size']}, AdamW, 1 thread; seeds {args.seeds}."),
    }
    recs = section["records"]
    with torch_threads(1):
        for seed in args.seeds:
            rec: dict[str, Any] = {"seed": seed}
            for side in ("hyperband", "random"):  # random's trial count needs C_h
                max_trials = None
                if side == "random":
                    max_trials = math.ceil(settings["compute_multiple"]
                                           * rec["hyperband"]["epochs"]
                                           / settings["max_epochs"])
                log(f"hyperband part seed {seed}: {side}"
                    + (f" ({max_trials} trials)" if max_trials else ""))
                rec[side] = _run_side(side, build, data, seed, settings, max_trials)
                x = rec[side]
                log(f"  {side}: {x['trials']} trials, {x['epochs']} epochs, {x['wall_s']} s, "
                    f"best val {x['best_val_acc']}, test {x['test_acc']}, {x['best_arch']}")
            c_h = rec["hyperband"]["epochs"]
            rec["random_best_within_hyperband_compute"] = _best_within(
                rec["random"]["trial_log"], c_h)
            rec["compute_ratio"] = rnd(rec["random"]["epochs"] / c_h, 3)
            rec["gap_val"] = rnd(rec["random"]["best_val_acc"] - rec["hyperband"]["best_val_acc"],
                                 5)
            rec["gap_test"] = rnd(rec["random"]["test_acc"] - rec["hyperband"]["test_acc"], 5)
            recs.append(rec)
    mean = {side: {k: rnd(fmean([r[side][k] for r in recs]), 5)
                   for k in ("epochs", "wall_s", "best_val_acc", "test_acc", "trials")}
            for side in ("hyperband", "random")}
    gap_val = fmean([r["gap_val"] for r in recs])
    summary = {
        "per_seed": [{"seed": r["seed"], **{side: {k: r[side][k] for k in (
            "trials", "epochs", "wall_s", "best_val_acc", "test_acc", "best_arch")}
            for side in ("hyperband", "random")}} for r in recs],
        "mean": mean, "gap_val": rnd(gap_val, 5),
        "gap_test": rnd(fmean([r["gap_test"] for r in recs]), 5),
        "compute_ratio": rnd(fmean([r["compute_ratio"] for r in recs]), 3),
        "goal_points": GOAL_POINTS,
        "goal_met": bool(gap_val is not None and gap_val * 100 <= GOAL_POINTS),
        "counts_match": all(r[s]["epochs"] == r[s]["epochs_reported"] for r in recs
                            for s in ("hyperband", "random")),
    }
    section["summary"] = summary
    section["plots"] = plot(section, plot_dir)


def _value_at(points: list[tuple[float, float]], x: float) -> float | None:
    """The step function of ``points`` (cumulative epochs, best so far) at ``x``."""
    value = None
    for px, py in points:
        if px > x:
            break
        value = py
    return value


def plot(section: dict[str, Any], plot_dir: Path) -> list[str]:
    """Mean over seeds of the best validation accuracy so far against cumulative epochs (from
    the point where every seed has finished a trial), one line per search; returns the file
    name."""
    series: dict[str, list[tuple[float, float | None]]] = {}
    recs = section["records"]
    top = max(r[side]["epochs"] for r in recs for side in ("hyperband", "random"))
    grid = sorted({round(10 ** (k / 40)) for k in range(0, int(40 * math.log10(top)) + 1)}
                  | {top})
    for side, label in (("hyperband", "Hyperband"), ("random", "random search")):
        curves = [_anytime(r[side]["trial_log"]) for r in recs]
        ends = [r[side]["epochs"] for r in recs]
        pts: list[tuple[float, float | None]] = []
        for x in grid:
            if x > max(ends):
                break
            vals = [_value_at(c, x) for c, end in zip(curves, ends, strict=True)]
            known = [v for v in vals if v is not None]
            pts.append((float(x), statistics.fmean(known) if len(known) == len(vals) else None))
        series[label] = pts
    name = "nas_hyperband_anytime.svg"
    svgplot.write_plot(plot_dir / name, series, title="Best validation accuracy vs epochs run "
                       f"(digits, macro space, mean of {len(recs)} seeds)",
                       x_label="training epochs (cumulative)",
                       y_label="best val_accuracy so far", log_x=True, steps=True,
                       markers=False)
    return [name]
