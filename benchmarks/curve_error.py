"""Learning-curve extrapolation and pruning, measured on real gradient-boosting curves.

What it measures, all in this one process:

1. **Curves.** For each dataset (default: breast_cancer, wine, digits, diabetes, adult_like,
   loaded with ``common.load_dataset``; string columns ordinal-encoded as HGB categoricals),
   ``--configs`` random ``HistGradientBoosting{Classifier,Regressor}`` configurations
   (learning rate 0.005-0.3 log-uniform, 4-64 leaves, 2-60 samples per leaf, L2 1e-4-10,
   feature fraction 0.3-1, ``max_iter`` 100-300, ``early_stopping=False``; seed ``--seed``)
   are trained on the fixed training split (``common.split``) with one thread; the curve is
   the dataset's suite metric (binary ROC-AUC, multiclass log-loss, regression RMSE) on the
   test split after every boosting iteration (``staged_predict[_proba]``). The constants of
   ``automl_bridge.search.curves`` were set on other curves (other configurations, seed 0, a
   70/30 split), so these are held out.
2. **Extrapolation error.** From the first 10/20/30/50 % of each curve (at least 3 points),
   predict the value at its last iteration: ``combined`` (``extrapolate``), each family alone
   (its prediction inside the same call), ``combined+polish`` (``polish=True``) and the naive
   ``last`` observed value. Per dataset: MAE and median absolute error in the metric's units.
   Overall: the same errors divided by the curve's range (max - min over all iterations),
   averaged over datasets' curves. Calibration: how often the true final value is better
   than ``mean + 1.645 std`` (one-sided, nominal 5 %) and within ``mean +- std`` (nominal
   68 %). Time per ``extrapolate`` call (median).
3. **Pruning.** Each dataset's curves, in ``--orders`` random orders, are replayed as a
   random search: every trial reports its curve step by step to an Optuna study with the
   pruner and stops when ``should_prune()`` says so (the trial's own ``max_iter`` is set as
   its ``automl_bridge:max_resource`` user attribute). Reported: the share of boosting
   iterations saved against running every curve to the end, pruned trials, and the loss of
   the final best score (best last value among complete trials vs among all curves,
   relative %, >= 0) and the pruner's own time per trial. Pruners: ``LearningCurvePruner()``
   (defaults: ``confidence=0.05``), the same with ``confidence=0.01`` (careful) and
   ``confidence=0.25`` (aggressive), and Optuna's ``MedianPruner(n_startup_trials=1,
   n_warmup_steps=2)`` for reference.

Run (full; 5 datasets x 20 configurations, 2 orders, about 8 minutes on 2 busy cores)::

    .venv/bin/python benchmarks/curve_error.py

Smoke run (2 datasets x 4 configurations, short curves; written to results/quick/)::

    .venv/bin/python benchmarks/curve_error.py --quick
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    DATASETS,
    default_out,
    load_dataset,
    log,
    new_document,
    now_iso,
    split,
    write_json,
)
from report import fmt, table

from automl_bridge.search.curves import FAMILIES, extrapolate
from automl_bridge.search.pruners import MAX_RESOURCE_ATTR, LearningCurvePruner

DEFAULT_DATASETS = ["breast_cancer", "wine", "digits", "diabetes", "adult_like"]
QUICK_DATASETS = ["breast_cancer", "wine"]
FRACTIONS = [0.1, 0.2, 0.3, 0.5]
PREDICTORS = ["last", "combined", "combined+polish", *FAMILIES]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS, choices=list(DATASETS),
                   metavar="NAME")
    p.add_argument("--configs", type=int, default=20, help="configurations per dataset")
    p.add_argument("--min-iter", type=int, default=100)
    p.add_argument("--max-iter", type=int, default=300)
    p.add_argument("--orders", type=int, default=2, help="random orders of the pruning replay")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK_DATASETS} x 4 configurations, 40-80 iterations")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.configs, args.min_iter, args.max_iter = QUICK_DATASETS, 4, 40, 80
        args.orders = 1
    args.out = args.out or default_out("curve_error", args.quick)
    return args


# --- curves ----------------------------------------------------------------------------------


def make_curves(dataset: str, *, n_configs: int, min_iter: int, max_iter: int,
                seed: int) -> list[dict[str, Any]]:
    """Validation-metric curves of random HGB configurations on ``dataset`` (see module doc)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score
    from sklearn.preprocessing import OrdinalEncoder
    from threadpoolctl import threadpool_limits

    info, X, y = load_dataset(dataset)
    data = split(info, X, y)
    X_tr, X_te = data.X_train.copy(), data.X_test.copy()
    cats = [c for c in X_tr.columns if not pd.api.types.is_numeric_dtype(X_tr[c])]
    if cats:
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                             encoded_missing_value=-1)
        X_tr[cats] = enc.fit_transform(X_tr[cats].astype(str))
        X_te[cats] = enc.transform(X_te[cats].astype(str))
    X_tr, X_te = X_tr.astype(float), X_te.astype(float)
    cat_mask = [c in cats for c in X_tr.columns] if cats else None
    rng = np.random.default_rng([seed, sum(map(ord, dataset))])
    direction = "maximize" if info.metric == "roc_auc" else "minimize"
    y_te = data.y_test.to_numpy()
    curves = []
    for i in range(n_configs):
        cfg = {"learning_rate": float(10 ** rng.uniform(math.log10(0.005), math.log10(0.3))),
               "max_leaf_nodes": int(rng.integers(4, 65)),
               "min_samples_leaf": int(rng.integers(2, 61)),
               "l2_regularization": float(10 ** rng.uniform(-4, 1)),
               "max_features": float(rng.uniform(0.3, 1.0)),
               "max_iter": int(rng.integers(min_iter, max_iter + 1))}
        t0 = time.perf_counter()
        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if info.task == "classification":
                model = HistGradientBoostingClassifier(early_stopping=False, random_state=i,
                                                       categorical_features=cat_mask, **cfg)
                model.fit(X_tr, data.y_train)
                values = []
                for proba in model.staged_predict_proba(X_te):
                    if info.metric == "roc_auc":
                        values.append(roc_auc_score(y_te, proba[:, 1]))
                    else:
                        values.append(log_loss(y_te, proba, labels=model.classes_))
            else:
                model = HistGradientBoostingRegressor(early_stopping=False, random_state=i,
                                                      categorical_features=cat_mask, **cfg)
                model.fit(X_tr, data.y_train)
                values = [math.sqrt(mean_squared_error(y_te, p))
                          for p in model.staged_predict(X_te)]
        curves.append({"dataset": dataset, "metric": info.metric, "direction": direction,
                       "config": cfg, "values": np.asarray(values, dtype=float),
                       "fit_s": round(time.perf_counter() - t0, 3)})
    return curves


# --- extrapolation error ---------------------------------------------------------------------


def extrapolation_records(curves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (curve, fraction): each predictor's prediction, the truth, the std."""
    records = []
    for ci, c in enumerate(curves):
        v = c["values"]
        n = v.size
        steps = np.arange(1, n + 1)
        bounds = (0.0, 1.0) if c["metric"] == "roc_auc" else (0.0, None)
        for frac in FRACTIONS:
            k = max(3, math.ceil(frac * n))
            t0 = time.perf_counter()
            p = extrapolate(steps[:k], v[:k], n, direction=c["direction"], bounds=bounds)
            elapsed = time.perf_counter() - t0
            polished = extrapolate(steps[:k], v[:k], n, direction=c["direction"],
                                   bounds=bounds, polish=True)
            preds = {"last": float(v[k - 1]), "combined": p.mean,
                     "combined+polish": polished.mean}
            preds.update({f: p.per_family[f] for f in FAMILIES if f in p.per_family})
            records.append({"curve": ci, "dataset": c["dataset"], "fraction": frac,
                            "observed": k, "n": n, "truth": float(v[-1]),
                            "range": float(np.ptp(v)), "direction": c["direction"],
                            "std": p.std, "preds": preds, "ms": elapsed * 1000})
    return records


def _errors(recs: list[dict[str, Any]], predictor: str, normalized: bool) -> list[float]:
    out = []
    for r in recs:
        if predictor not in r["preds"]:
            continue
        e = abs(r["preds"][predictor] - r["truth"])
        if normalized:
            e = e / r["range"] if r["range"] > 0 else 0.0
        out.append(e)
    return out


def summarize_extrapolation(records: list[dict[str, Any]],
                            datasets: list[str]) -> dict[str, Any]:
    """MAE / median AE per fraction and predictor: normalized overall, raw per dataset."""
    overall: dict[str, Any] = {}
    per_dataset: dict[str, Any] = {d: {} for d in datasets}
    calibration: dict[str, Any] = {}
    for frac in FRACTIONS:
        recs = [r for r in records if r["fraction"] == frac]
        key = f"{frac:g}"
        overall[key] = {}
        for pred in PREDICTORS:
            errs = _errors(recs, pred, normalized=True)
            if errs:
                overall[key][pred] = {"n": len(errs), "nmae": round(statistics.mean(errs), 4),
                                      "nmedae": round(statistics.median(errs), 4)}
        for d in datasets:
            drecs = [r for r in recs if r["dataset"] == d]
            per_dataset[d][key] = {}
            for pred in PREDICTORS:
                errs = _errors(drecs, pred, normalized=False)
                if errs:
                    per_dataset[d][key][pred] = {"mae": round(statistics.mean(errs), 5),
                                                 "medae": round(statistics.median(errs), 5)}
        zs = []
        for r in recs:
            if r["std"] > 0 and math.isfinite(r["std"]):
                sign = 1.0 if r["direction"] == "maximize" else -1.0
                zs.append(sign * (r["truth"] - r["preds"]["combined"]) / r["std"])
        calibration[key] = {
            "n": len(zs),
            "truth_better_than_mean_plus_1.645sd": round(float(np.mean(np.array(zs) > 1.645)), 4),
            "truth_worse_than_mean_minus_1.645sd": round(float(np.mean(np.array(zs) < -1.645)),
                                                         4),
            "within_1sd": round(float(np.mean(np.abs(np.array(zs)) < 1.0)), 4)}
    ms = [r["ms"] for r in records]
    return {"overall_normalized": overall, "per_dataset": per_dataset,
            "calibration": calibration,
            "extrapolate_ms": {"median": round(statistics.median(ms), 2),
                               "p95": round(float(np.percentile(ms, 95)), 2)}}


# --- pruning replay --------------------------------------------------------------------------


def replay(curves: list[dict[str, Any]], order: list[int], pruner: Any) -> dict[str, Any]:
    """Run the curves in ``order`` through ``pruner`` as a sequential random search."""
    import optuna

    direction = curves[0]["direction"]
    study = optuna.create_study(direction=direction, pruner=pruner)
    used = total = pruned = 0
    finals: list[float] = []
    t0 = time.perf_counter()
    for i in order:
        v = curves[i]["values"]
        total += v.size
        trial = study.ask()
        trial.set_user_attr(MAX_RESOURCE_ATTR, int(v.size))
        stopped = False
        for step in range(1, v.size + 1):
            trial.report(float(v[step - 1]), step)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                used += step
                pruned += 1
                stopped = True
                break
        if not stopped:
            study.tell(trial, float(v[-1]))
            used += v.size
            finals.append(float(v[-1]))
    all_finals = [float(curves[i]["values"][-1]) for i in order]
    best_all = max(all_finals) if direction == "maximize" else min(all_finals)
    best = max(finals) if direction == "maximize" else min(finals)
    loss = (best_all - best) if direction == "maximize" else (best - best_all)
    return {"saved": 1.0 - used / total, "pruned": pruned, "trials": len(order),
            "best": best, "best_all": best_all,
            "loss_rel_pct": 100.0 * loss / abs(best_all) if best_all else 0.0,
            "pruner_s": time.perf_counter() - t0}


def pruning(curves_by_ds: dict[str, list[dict[str, Any]]], *, orders: int,
            seed: int) -> dict[str, Any]:
    """Every pruner on every dataset and order; means per dataset and overall."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    makers = {
        "learning_curve": lambda: LearningCurvePruner(),
        "learning_curve(confidence=0.01)": lambda: LearningCurvePruner(confidence=0.01),
        "learning_curve(confidence=0.25)": lambda: LearningCurvePruner(confidence=0.25),
        "optuna_median": lambda: optuna.pruners.MedianPruner(n_startup_trials=1,
                                                             n_warmup_steps=2),
    }
    out: dict[str, Any] = {}
    for name, make in makers.items():
        runs = []
        for d, curves in curves_by_ds.items():
            rng = np.random.default_rng([seed, sum(map(ord, d))])
            for o in range(orders):
                order = [int(i) for i in rng.permutation(len(curves))]
                res = replay(curves, order, make())
                res.update({"dataset": d, "order": o})
                runs.append(res)
                log(f"    {name} {d} order {o}: saved {res['saved']:.1%}, pruned "
                    f"{res['pruned']}/{res['trials']}, loss {res['loss_rel_pct']:.3f} %")
        per_ds = {}
        for d in curves_by_ds:
            rs = [r for r in runs if r["dataset"] == d]
            per_ds[d] = {"saved": round(statistics.mean(r["saved"] for r in rs), 4),
                         "pruned": round(statistics.mean(r["pruned"] for r in rs), 2),
                         "trials": rs[0]["trials"],
                         "loss_rel_pct": round(statistics.mean(r["loss_rel_pct"] for r in rs), 4),
                         "max_loss_rel_pct": round(max(r["loss_rel_pct"] for r in rs), 4)}
        out[name] = {"per_dataset": per_ds,
                     "saved": round(statistics.mean(r["saved"] for r in runs), 4),
                     "loss_rel_pct": round(statistics.mean(r["loss_rel_pct"] for r in runs), 4),
                     "max_loss_rel_pct": round(max(r["loss_rel_pct"] for r in runs), 4),
                     "runs_with_loss": sum(r["loss_rel_pct"] > 0 for r in runs),
                     "runs": len(runs),
                     "pruner_s_per_trial": round(sum(r["pruner_s"] for r in runs)
                                                 / sum(r["trials"] for r in runs), 4)}
    return out


# --- output ----------------------------------------------------------------------------------


def render(doc: dict[str, Any]) -> str:
    """The tables of a result document (markdown)."""
    ext = doc["extrapolation"]
    out = []
    if doc.get("smoke"):
        out.append("> SMOKE RUN (--quick): these numbers are not benchmark results.\n")
    out.append("### Final-value error, normalized by the curve's range (mean / median)\n")
    rows = []
    for frac, preds in ext["overall_normalized"].items():
        rows.append([f"{float(frac):.0%}", *(
            f"{fmt(preds[p]['nmae'], 3)} / {fmt(preds[p]['nmedae'], 3)}" if p in preds else "-"
            for p in PREDICTORS)])
    out.append(table(["observed", *PREDICTORS], rows))
    out.append("\n### MAE per dataset, metric units (combined vs last observed)\n")
    rows = []
    for d, fracs in ext["per_dataset"].items():
        metric = DATASETS[d].metric
        rows.append([d, metric, *(f"{fmt(fracs[f]['combined']['mae'], 3)} vs "
                                  f"{fmt(fracs[f]['last']['mae'], 3)}" for f in fracs)])
    out.append(table(["dataset", "metric", *(f"{float(f):.0%}" for f in FRACTIONS)], rows))
    out.append("\n### Calibration of the combined prediction (nominal: 5 %, 68 %)\n")
    rows = [[f"{float(f):.0%}", c["n"], f"{c['truth_better_than_mean_plus_1.645sd']:.1%}",
             f"{c['within_1sd']:.1%}"] for f, c in ext["calibration"].items()]
    out.append(table(["observed", "n", "truth > mean + 1.645 sd", "within 1 sd"], rows))
    out.append(f"\nextrapolate(): median {ext['extrapolate_ms']['median']} ms, p95 "
               f"{ext['extrapolate_ms']['p95']} ms per call.\n")
    out.append("### Pruning replay (random search, sequential)\n")
    rows = []
    for name, res in doc["pruning"].items():
        for d, r in res["per_dataset"].items():
            rows.append([name, d, f"{r['saved']:.1%}", f"{r['pruned']:g}/{r['trials']}",
                         f"{r['loss_rel_pct']:.3f}", f"{r['max_loss_rel_pct']:.3f}", ""])
        rows.append([f"**{name}**", "all", f"**{res['saved']:.1%}**", "",
                     f"**{res['loss_rel_pct']:.3f}**", f"{res['max_loss_rel_pct']:.3f}",
                     f"{res['pruner_s_per_trial']:.3f}"])
    out.append(table(["pruner", "dataset", "iterations saved", "pruned", "best-score loss %",
                      "worst order %", "pruner s / trial"], rows))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build the curves, measure extrapolation and pruning, write the JSON, print tables."""
    args = parse_args(argv)
    doc = new_document("curve_error", quick=args.quick, config={
        "datasets": args.datasets, "configs_per_dataset": args.configs,
        "iterations": [args.min_iter, args.max_iter], "fractions": FRACTIONS,
        "orders": args.orders, "seed": args.seed, "split": "common.split (75/25, seed 0)"})
    curves_by_ds: dict[str, list[dict[str, Any]]] = {}
    for d in args.datasets:
        t0 = time.perf_counter()
        curves_by_ds[d] = make_curves(d, n_configs=args.configs, min_iter=args.min_iter,
                                      max_iter=args.max_iter, seed=args.seed)
        log(f"{d}: {len(curves_by_ds[d])} curves in {time.perf_counter() - t0:.1f} s")
    all_curves = [c for d in args.datasets for c in curves_by_ds[d]]
    doc["curves"] = [{"dataset": c["dataset"], "metric": c["metric"], "config": c["config"],
                      "first": float(c["values"][0]), "final": float(c["values"][-1]),
                      "best": float(c["values"].max() if c["direction"] == "maximize"
                                    else c["values"].min()), "fit_s": c["fit_s"]}
                     for c in all_curves]
    t0 = time.perf_counter()
    records = extrapolation_records(all_curves)
    log(f"extrapolation: {len(records)} predictions in {time.perf_counter() - t0:.1f} s")
    doc["extrapolation"] = summarize_extrapolation(records, args.datasets)
    write_json(args.out, doc)
    t0 = time.perf_counter()
    doc["pruning"] = pruning(curves_by_ds, orders=args.orders, seed=args.seed)
    log(f"pruning replay: {time.perf_counter() - t0:.1f} s")
    doc["finished_at"] = now_iso()
    write_json(args.out, doc)
    print(render(doc))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
