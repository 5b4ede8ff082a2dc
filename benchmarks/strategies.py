"""Search strategies and ensembles: anytime quality, multi-fidelity savings, sampler overhead.

Five parts, chosen with ``--part`` (``all`` runs A, D, B, E, C in that order):

A. ``synthetic``: every registered strategy on five synthetic minimisation problems, driven
   by a plain Optuna ask / ``sample`` / tell loop (no engine, no data): three conditional
   spaces shaped like the engine's (``Conditional(Choice("model", ...))`` with 2-4 numeric or
   categorical parameters per branch, the optimum in one branch that looks poor on average),
   a flat 4-d smooth quadratic and a flat 6-d Rosenbrock. Multi-fidelity strategies get a
   simulated fidelity ``value(config, f) = true + (1 - f) * bias(config) + (1 - f) * noise``
   (both terms deterministic in the configuration; the bias is larger for the "boosting"
   branches, as a model with 1/27 of its iterations is much worse than one with 1/27 of its
   rows) and report at every rung of their plan, honouring ``should_prune``. Compute: one unit
   is one full trial; a multi-fidelity trial costs the sum of the fractions of the rungs it
   evaluated (a restart per rung: pessimistic for families the engine continues from their
   fitted state, where a trial costs the fraction of its last rung; that total is recorded
   too). Anytime curve: best full-fidelity value found vs compute units; 200 units, 5 seeds
   (``gp``: 60 units, it is slow). Output: mean best at 25/50/100/200 units, the mean rank
   (per problem and seed at 200 units; a second ranking at 50 units includes ``gp``) and one
   SVG per problem (regret over the problem's lower bound, log-log).
B. ``datasets``: every strategy on the dataset suite: ``AutoMLJob(task, target, metric,
   time_budget_s=B, seed, search=name).with_backend("local", run_dir=<tmp>, n_jobs=1)``, one
   fresh child process per run (killed after ``3 B + 30`` s). Records the test score on the
   fixed split, the best validation score, trials and their states, wall time, the anytime
   trace (best validation score vs seconds since the run started) and whether an ensemble was
   kept. Output: test scores per dataset x strategy, mean rank, one SVG per dataset.
C. ``multifidelity``: ``random``, ``successive_halving``, ``hyperband`` and ``bohb`` on the two
   large datasets with ``models=["hist_gradient_boosting", "random_forest", "linear"]``.
   Compute is the cumulative ``fit_time_s`` of the trials in order of completion. Reports
   random's final best validation score ``S_r`` and total compute ``C_r``, and for each
   multi-fidelity strategy the compute at which its best full-fidelity validation score first
   reaches ``S_r`` (or never) and its ratio to ``C_r`` (goal: <= 1/3).
D. ``overhead``: mean ask + sample + tell time of the samplers (random, tpe, evolution, rl,
   surrogate, grid, nsga2, cmaes) over trials 1-100 and 901-1000 of a 1,000-trial study with a
   trivial objective on the engine's real conditional space (six families, in-memory storage).
E. ``ensemble``: ``tpe`` with ``ensemble="auto"`` vs ``ensemble=False`` on every dataset.

``grid`` always runs with ``allow_truncation=True`` (its grid is larger than these budgets).
Runs of B, C and E are interleaved by dataset (all runs of a dataset back to back), so drift
in the machine's load hits every strategy alike. The document goes to
``benchmarks/results/strategies.json`` (one section per part; running one part keeps the
others) and the plots beside it as ``strategies_<part>_<name>.svg``.

Run the full benchmark on a quiet machine (estimate first)::

    .venv/bin/python benchmarks/strategies.py --part all --estimate
    .venv/bin/python benchmarks/strategies.py --part all
    .venv/bin/python benchmarks/strategies.py --part datasets --resume   # after an interruption
    .venv/bin/python benchmarks/strategies.py --report                   # Markdown tables

Smoke run (about 3 minutes; written to ``results/quick/``)::

    .venv/bin/python benchmarks/strategies.py --quick --part all

``--quick``: part A at 24 units (gp 12) and one seed, D at 100 trials, B on ``penguins`` only,
E on both quick datasets, C on ``breast_cancer``, every engine run at 3 s with an in-memory
study and trials in the child's own process (``run_dir=None, isolation="inline"``): on a
loaded 2-core machine the worker start-up and SQLite alone outlast a 3-5 s budget, and then
no trial runs at all. Smoke numbers prove the script works; they are not results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import svgplot
from common import (
    DATASETS,
    QUICK_DATASETS,
    TARGET,
    align_proba,
    default_out,
    kill_after,
    load_dataset,
    log,
    machine_info,
    new_document,
    now_iso,
    run_in_child,
    score_predictions,
    split,
    write_json,
)

PARTS = ("synthetic", "overhead", "datasets", "ensemble", "multifidelity")
#: Options every run of a strategy gets (the grid is larger than any budget used here).
STRATEGY_OPTIONS: dict[str, dict[str, Any]] = {"grid": {"allow_truncation": True}}
MF_STRATEGIES = ("random", "successive_halving", "hyperband", "bohb")
MF_MODELS = ("hist_gradient_boosting", "random_forest", "linear")
MF_DATASETS = ("synth_clf_50k", "synth_reg_200k")
OVERHEAD_STRATEGIES = ("random", "tpe", "evolution", "rl", "surrogate", "grid", "nsga2",
                       "cmaes")
#: Full / quick settings.
FULL = {"units": 200, "gp_units": 60, "seeds": 5, "overhead_trials": 1000,
        "budget_datasets": 10.0, "budget_ensemble": 20.0, "budget_mf": 90.0}
QUICK = {"units": 24, "gp_units": 12, "seeds": 1, "overhead_trials": 100,
         "budget_datasets": 3.0, "budget_ensemble": 3.0, "budget_mf": 3.0}
#: Quick mode's datasets: part B (every strategy) on one small set to stay within minutes,
#: part E on both quick sets, part C on a small binary set.
QUICK_B_DATASETS = ("penguins",)
QUICK_MF_DATASETS = ("breast_cancer",)
#: Checkpoints of the anytime tables, as fractions of the unit budget (25/50/100/200 of 200).
CHECKPOINTS = (0.125, 0.25, 0.5, 1.0)
#: Rough seconds per compute unit of each strategy in part A over a 200-unit run (gp: over
#: 60 units), measured on a loaded 2-core machine; multi-fidelity strategies run 2-7 trials
#: per unit. Shorter runs cost less per unit (``_growth``).
SYNTH_S_PER_UNIT = {"random": 0.002, "grid": 0.003, "tpe": 0.04, "auto": 0.04, "gp": 0.6,
                    "cmaes": 0.006, "nsga2": 0.003, "evolution": 0.0015, "rl": 0.003,
                    "surrogate": 0.055, "successive_halving": 0.013, "hyperband": 0.009,
                    "bohb": 0.15}
#: Rough mean seconds per trial of part D over 1,000 trials (same machine).
OVERHEAD_S_PER_TRIAL = {"random": 0.0005, "grid": 0.001, "tpe": 0.04, "cmaes": 0.008,
                        "nsga2": 0.001, "evolution": 0.001, "rl": 0.001, "surrogate": 0.1}
#: Child start-up (interpreter, imports, data) and extra seconds past the budget.
STARTUP_S = {"small": 5.0, "large": 12.0}
OVERRUN_S = {"small": 1.5, "large": 8.0}


# --- synthetic problems (part A) -------------------------------------------------------------


@dataclass(frozen=True)
class Bowl:
    """One branch of a synthetic conditional problem: a quadratic bowl plus category offsets.

    ``value = base + scale * (sum_i w_i (u_i - c_i)^2 + k (u_a - c_a)(u_b - c_b)) +
    sum offsets[choice]``, with ``u`` a numeric parameter in unit coordinates (log-scaled ones
    on the log scale) and ``(a, b, k)`` the optional ``cross`` term.
    """

    base: float
    scale: float
    numeric: Mapping[str, tuple[float, float]]
    cats: Mapping[str, Mapping[Any, float]] = field(default_factory=dict)
    cross: tuple[str, str, float] | None = None
    fidelity_factor: float = 1.0

    def value(self, cfg: Mapping[str, Any], params: Mapping[str, Any]) -> float:
        """The branch's true value at ``cfg``."""
        u = {n: _unit(params[n], cfg[n]) for n in self.numeric}
        total = sum(w * (u[n] - c) ** 2 for n, (c, w) in self.numeric.items())
        if self.cross is not None:
            a, b, k = self.cross
            total += k * (u[a] - self.numeric[a][0]) * (u[b] - self.numeric[b][0])
        return self.base + self.scale * total + sum(off[cfg[n]] for n, off in self.cats.items())


def _unit(param: Any, v: float) -> float:
    lo, hi = float(param.low), float(param.high)
    if param.log:
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (float(v) - lo) / (hi - lo)


@dataclass(frozen=True)
class Problem:
    """A synthetic minimisation problem.

    Attributes:
        name: short name (tables, file names).
        description: one line.
        space: the search space (automl_bridge nodes).
        true_value: the full-fidelity value of a configuration.
        lower_bound: no configuration scores below it (the regret plots subtract it).
        bias: scale of the low-fidelity bias.
        noise: scale of the low-fidelity noise.
        bias_factor: per-configuration multiplier of bias and noise (the branch's).
    """

    name: str
    description: str
    space: tuple[Any, ...]
    true_value: Callable[[Mapping[str, Any]], float]
    lower_bound: float
    bias: float
    noise: float
    bias_factor: Callable[[Mapping[str, Any]], float] = lambda cfg: 1.0

    def value(self, cfg: Mapping[str, Any], fraction: float, step: int) -> float:
        """The value reported at fidelity ``fraction`` (``true_value`` at 1)."""
        true = self.true_value(cfg)
        if fraction >= 1.0:
            return true
        k = (1.0 - fraction) * self.bias_factor(cfg)
        h = _hash01(cfg, 0) * 2.0 - 1.0
        z = _gauss(cfg, step)
        return true + k * self.bias * (1.0 + 0.5 * h) + k * self.noise * z


def _cfg_key(cfg: Mapping[str, Any]) -> str:
    return json.dumps({k: (round(v, 6) if isinstance(v, float) else v)
                       for k, v in sorted(cfg.items())}, default=str)


def _hash01(cfg: Mapping[str, Any], salt: int) -> float:
    return zlib.crc32(f"{salt}|{_cfg_key(cfg)}".encode()) / 2**32


def _gauss(cfg: Mapping[str, Any], step: int) -> float:
    """A deterministic standard normal draw for (configuration, step) (Box-Muller)."""
    u1 = max(_hash01(cfg, 1000 + step), 1e-12)
    u2 = _hash01(cfg, 2000 + step)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _conditional(name: str, description: str,
                 branches: Mapping[str, tuple[Sequence[Any], Bowl]], *, bias: float,
                 noise: float) -> Problem:
    from automl_bridge.search.space import Choice, Conditional, parameters

    space = (Conditional(Choice("model", list(branches)),
                         {b: list(ps) for b, (ps, _) in branches.items()}),)
    params = parameters(space)
    bowls = {b: bowl for b, (_, bowl) in branches.items()}

    def true_value(cfg: Mapping[str, Any]) -> float:
        return bowls[cfg["model"]].value(cfg, params)

    return Problem(name, description, space, true_value,
                   min(b.base for b in bowls.values()), bias, noise,
                   lambda cfg: bowls[cfg["model"]].fidelity_factor)


def _forest(prefix: str, base: float) -> tuple[list[Any], Bowl]:
    from automl_bridge.search.space import Choice, Int

    p = prefix
    return ([Int(f"{p}.n_estimators", 50, 300, log=True),
             Choice(f"{p}.max_features", ["sqrt", 0.3, 0.6, 1.0]),
             Int(f"{p}.min_samples_leaf", 1, 30, log=True),
             Choice(f"{p}.bootstrap", [True, False])],
            Bowl(base, 0.2, {f"{p}.n_estimators": (1.0, 0.3), f"{p}.min_samples_leaf": (0.0, 1.0)},
                 {f"{p}.max_features": {"sqrt": 0.01, 0.3: 0.0, 0.6: 0.005, 1.0: 0.02},
                  f"{p}.bootstrap": {True: 0.005, False: 0.0}}))


def synthetic_problems() -> list[Problem]:
    """The five problems of part A (conditional ones first)."""
    from automl_bridge.search.space import Choice, Float, Int

    cw: dict[str, Mapping[Any, float]] = {"linear.class_weight": {None: 0.0, "balanced": 0.01}}
    knn_cats: dict[str, Mapping[Any, float]] = {
        "knn.weights": {"uniform": 0.02, "distance": 0.0}, "knn.p": {1: 0.015, 2: 0.0}}
    knn_params = [Int("knn.n_neighbors", 1, 50, log=True),
                  Choice("knn.weights", ["uniform", "distance"]), Choice("knn.p", [1, 2])]
    three = _conditional(
        "cond3", "3 branches (linear 2 params, knn 3, boost 4); optimum in boost, "
                 "a narrow bowl with a learning-rate x leaves interaction",
        {"linear": ([Float("linear.C", 1e-4, 1e3, log=True),
                     Choice("linear.class_weight", [None, "balanced"])],
                    Bowl(0.22, 0.25, {"linear.C": (0.62, 1.0)}, cw, fidelity_factor=0.3)),
         "knn": (knn_params, Bowl(0.18, 0.3, {"knn.n_neighbors": (0.55, 1.0)}, knn_cats,
                                  fidelity_factor=0.5)),
         "boost": ([Float("boost.learning_rate", 0.01, 0.3, log=True),
                    Int("boost.max_leaf_nodes", 4, 128, log=True),
                    Int("boost.min_samples_leaf", 2, 200, log=True),
                    Float("boost.l2", 1e-8, 10.0, log=True)],
                   Bowl(0.10, 0.6, {"boost.learning_rate": (0.7, 3.0),
                                    "boost.max_leaf_nodes": (0.45, 2.0),
                                    "boost.min_samples_leaf": (0.3, 1.0),
                                    "boost.l2": (0.8, 0.3)},
                        cross=("boost.learning_rate", "boost.max_leaf_nodes", 2.0),
                        fidelity_factor=1.5))},
        bias=0.1, noise=0.03)
    rf, et = _forest("random_forest", 0.15), _forest("extra_trees", 0.16)
    six = _conditional(
        "cond6", "the engine's six families with 2-4 params each; optimum in svm, a narrow "
                 "C x gamma ridge",
        {"linear": ([Float("linear.C", 1e-4, 1e3, log=True),
                     Choice("linear.class_weight", [None, "balanced"])],
                    Bowl(0.30, 0.2, {"linear.C": (0.5, 1.0)}, cw, fidelity_factor=0.3)),
         "knn": (knn_params, Bowl(0.25, 0.3, {"knn.n_neighbors": (0.55, 1.0)}, knn_cats,
                                  fidelity_factor=0.5)),
         "svm": ([Float("svm.C", 1e-2, 1e3, log=True), Float("svm.gamma", 1e-4, 1.0, log=True)],
                 Bowl(0.12, 1.0, {"svm.C": (0.75, 4.0), "svm.gamma": (0.35, 4.0)},
                      cross=("svm.C", "svm.gamma", 6.0))),
         "random_forest": (rf[0], rf[1]),
         "extra_trees": (et[0], et[1]),
         "hist_gradient_boosting": (
             [Float("hist_gradient_boosting.learning_rate", 0.01, 0.3, log=True),
              Int("hist_gradient_boosting.max_leaf_nodes", 4, 128, log=True),
              Int("hist_gradient_boosting.min_samples_leaf", 2, 200, log=True),
              Float("hist_gradient_boosting.l2_regularization", 1e-8, 10.0, log=True)],
             Bowl(0.135, 0.4, {"hist_gradient_boosting.learning_rate": (0.6, 2.0),
                               "hist_gradient_boosting.max_leaf_nodes": (0.5, 1.0),
                               "hist_gradient_boosting.min_samples_leaf": (0.3, 0.5),
                               "hist_gradient_boosting.l2_regularization": (0.9, 0.2)},
                  fidelity_factor=1.5))},
        bias=0.1, noise=0.03)

    def cat_branch(b: str, base: float, scaler: dict[str, float], loss: dict[str, float],
                   c_alpha: float, c_depth: float, w: float, factor: float
                   ) -> tuple[list[Any], Bowl]:
        return ([Choice(f"{b}.scaler", list(scaler)), Choice(f"{b}.loss", list(loss)),
                 Float(f"{b}.alpha", 1e-5, 1.0, log=True), Int(f"{b}.depth", 1, 10)],
                Bowl(base, 0.15, {f"{b}.alpha": (c_alpha, w), f"{b}.depth": (c_depth, w)},
                     {f"{b}.scaler": scaler, f"{b}.loss": loss}, fidelity_factor=factor))

    cat = _conditional(
        "cond_cat", "4 branches of 2 categoricals + 2 numerics; optimum in 'c' only with one "
                    "categorical combination (1 in 12), so 'c' looks worst on average",
        {"a": cat_branch("a", 0.20, {"none": 0.04, "standard": 0.0, "robust": 0.01},
                         {"l2": 0.0, "l1": 0.03, "huber": 0.01, "quantile": 0.05},
                         0.3, 0.2, 1.0, 0.5),
         "b": cat_branch("b", 0.17, {"none": 0.0, "standard": 0.02, "robust": 0.03},
                         {"l2": 0.02, "l1": 0.0, "huber": 0.04, "quantile": 0.06},
                         0.6, 0.8, 1.0, 1.0),
         "c": cat_branch("c", 0.12, {"none": 0.08, "standard": 0.06, "robust": 0.0},
                         {"l2": 0.07, "l1": 0.09, "huber": 0.0, "quantile": 0.1},
                         0.5, 0.5, 2.0, 1.5),
         "d": cat_branch("d", 0.15, {"none": 0.01, "standard": 0.0, "robust": 0.02},
                         {"l2": 0.0, "l1": 0.02, "huber": 0.015, "quantile": 0.03},
                         0.7, 0.4, 1.0, 1.0)},
        bias=0.1, noise=0.03)

    centre = (1.5, -2.0, 0.5, 3.0)
    weights = (1.0, 2.0, 0.5, 1.5)

    def smooth(cfg: Mapping[str, Any]) -> float:
        z = [cfg[f"x{i}"] - centre[i] for i in range(4)]
        return (sum(w * zi * zi for w, zi in zip(weights, z, strict=True))
                + 0.8 * z[0] * z[1] + 0.5 * z[2] * z[3])

    def rosen(cfg: Mapping[str, Any]) -> float:
        x = [cfg[f"x{i}"] for i in range(6)]
        return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(5))

    flat4 = Problem("smooth4", "flat 4-d rotated quadratic on [-5, 5]^4, minimum 0",
                    tuple(Float(f"x{i}", -5.0, 5.0) for i in range(4)), smooth, 0.0, 2.0, 1.0)
    flat6 = Problem("rosen6", "flat 6-d Rosenbrock on [-2, 2]^6, minimum 0 at (1, ..., 1)",
                    tuple(Float(f"x{i}", -2.0, 2.0) for i in range(6)), rosen, 0.0, 20.0, 10.0)
    return [three, six, cat, flat4, flat6]


def drive_synthetic(problem: Problem, name: str, seed: int, units: int) -> dict[str, Any]:
    """One strategy on one problem for ``units`` compute units: the best-so-far steps.

    Returns ``steps`` (``[compute, best true value]`` at every improvement of a full-fidelity
    completion), trial counts, both compute totals and the wall time of the loop.
    """
    import optuna

    from automl_bridge.search.space import sample
    from automl_bridge.search.strategies import StrategyContext, make_strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ctx = StrategyContext(seed=seed, options=STRATEGY_OPTIONS.get(name, {}),
                          directions=("minimize",), space=problem.space, max_trials=units)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strategy = make_strategy(name, ctx)
        study = optuna.create_study(direction="minimize", sampler=strategy.sampler,
                                    pruner=strategy.pruner or optuna.pruners.NopPruner())
        plan = strategy.plan if strategy.multi_fidelity else None
        compute = continued = 0.0
        best = math.inf
        steps: list[list[float]] = []
        n_trials = n_pruned = 0
        exhausted = False
        while compute < units - 1e-9:
            if strategy.exhausted is not None and strategy.exhausted(study):
                exhausted = True
                break
            trial = study.ask()
            cfg = sample(trial, problem.space)
            n_trials += 1
            if plan is None:
                value = problem.true_value(cfg)
                compute += 1.0
                continued += 1.0
                study.tell(trial, value)
            else:
                value = math.nan
                reached = 0.0
                for step in plan.steps:
                    f = plan.fraction(step)
                    compute += f
                    continued += f - reached
                    reached = f
                    value = problem.value(cfg, f, step)
                    if step == plan.steps[-1]:
                        break
                    trial.report(value, step)
                    if trial.should_prune():
                        break
                if reached < 1.0:
                    n_pruned += 1
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    continue
                trial.report(value, plan.steps[-1])
                study.tell(trial, value)
            if value < best:
                best = value
                steps.append([round(compute, 4), value])
    return {"steps": steps, "n_trials": n_trials, "n_pruned": n_pruned,
            "compute": round(compute, 3), "compute_continued": round(continued, 3),
            "exhausted": exhausted, "wall_s": round(time.perf_counter() - t0, 3),
            "multi_fidelity": plan is not None}


def best_at(steps: Sequence[Sequence[float]], units: float) -> float | None:
    """The best value found within ``units`` of compute (``None`` before the first)."""
    out = None
    for c, v in steps:
        if c > units + 1e-9:
            break
        out = v
    return out


def avg_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Ranks (1 = smallest value), ties sharing their average rank."""
    order = sorted(values, key=lambda k: values[k])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def part_synthetic(args: argparse.Namespace, section: dict[str, Any]) -> None:
    """Part A: every strategy on every synthetic problem, ``seeds`` times."""
    settings = args.settings
    problems = synthetic_problems()
    names = args.strategies
    seeds = list(range(args.synthetic_seeds or settings["seeds"]))
    units_of = {n: settings["gp_units"] if n == "gp" else settings["units"] for n in names}
    section["config"] = {"units": settings["units"], "gp_units": settings["gp_units"],
                         "seeds": seeds, "strategies": names,
                         "strategy_options": STRATEGY_OPTIONS,
                         "problems": {p.name: p.description for p in problems},
                         "compute": "sum of the fractions of the rungs a trial evaluated "
                                    "(1 per full trial)",
                         "note": "'auto' picks 'tpe' here (no training rows)"}
    records = section["records"]
    installed = _installed(names)
    for p in problems:
        for seed in seeds:
            for name in names:
                rec: dict[str, Any] = {"problem": p.name, "strategy": name, "seed": seed,
                                       "units": units_of[name]}
                if name not in installed:
                    rec.update(status="skipped", error=installed.get(name, "not installed"))
                else:
                    try:
                        rec.update(status="ok", **drive_synthetic(p, name, seed, units_of[name]))
                    except Exception as exc:  # a failing strategy costs only its record
                        rec.update(status="error", error=f"{type(exc).__name__}: {exc}")
                log(f"  synthetic {p.name} seed={seed} {name}: {rec['status']} "
                    f"best={_last_best(rec)} trials={rec.get('n_trials')} "
                    f"wall={rec.get('wall_s')}s")
                records.append(rec)
    section["summary"] = summarize_synthetic(section)
    section["plots"] = []
    for p in problems:
        series = {}
        for name in names:
            pts = curve_points(section, p.name, name, lower=p.lower_bound)
            if pts:
                series[name] = pts
        path = args.out.parent / f"strategies_synthetic_{p.name}.svg"
        svgplot.write_plot(path, series, title=f"{p.name}: best value found - lower bound "
                                              f"(mean of {len(seeds)} seeds)",
                           x_label="compute units (1 = one full-fidelity trial)",
                           y_label="regret (log)", log_x=True, log_y=True, markers=False,
                           steps=True)
        section["plots"].append(path.name)


def _installed(names: Sequence[str]) -> dict[str, str]:
    """Strategies whose dependencies are installed -> "" ; others are missing."""
    from automl_bridge.registry import registry_for

    reg = registry_for("strategies")
    return {n: "" for n in names if reg.entry(n).is_installed()}


def _last_best(rec: Mapping[str, Any]) -> str:
    steps = rec.get("steps") or []
    return f"{steps[-1][1]:.4g}" if steps else "-"


def curve_points(section: Mapping[str, Any], problem: str, name: str, *,
                 lower: float) -> list[tuple[float, float | None]]:
    """Mean (over seeds) regret of ``name`` on ``problem`` at a log-spaced grid of units."""
    recs = [r for r in section["records"] if r["problem"] == problem and r["strategy"] == name
            and r["status"] == "ok"]
    if not recs:
        return []
    units = recs[0]["units"]
    grid = sorted({round(u, 3) for u in
                   [min(units, 10 ** (k / 20)) for k in range(-40, 1 + int(20 * math.log10(units)))]
                   + [units]})
    out: list[tuple[float, float | None]] = []
    for u in grid:
        vals = [best_at(r["steps"], u) for r in recs]
        if any(v is None for v in vals):
            continue
        out.append((u, max(statistics.fmean(v for v in vals if v is not None) - lower, 1e-6)))
    return out


def summarize_synthetic(section: Mapping[str, Any]) -> dict[str, Any]:
    """Mean best at the checkpoints per problem x strategy, and mean ranks."""
    cfg = section["config"]
    units, gp_units = cfg["units"], cfg["gp_units"]
    checkpoints = [max(1, round(units * f)) for f in CHECKPOINTS]
    common = max([c for c in checkpoints if c <= gp_units] or [gp_units])
    recs = [r for r in section["records"] if r["status"] == "ok"]
    problems = list(dict.fromkeys(r["problem"] for r in section["records"]))
    names = list(dict.fromkeys(r["strategy"] for r in section["records"]))
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    ranks_final: dict[str, list[float]] = defaultdict(list)
    ranks_common: dict[str, list[float]] = defaultdict(list)
    for p in problems:
        table[p] = {}
        for n in names:
            rs = [r for r in recs if r["problem"] == p and r["strategy"] == n]
            row: dict[str, float | None] = {}
            for c in checkpoints:
                vals = [best_at(r["steps"], c) for r in rs] if c <= (rs[0]["units"] if rs
                                                                      else 0) else []
                row[str(c)] = (statistics.fmean(v for v in vals if v is not None)
                               if vals and all(v is not None for v in vals) else None)
            table[p][n] = row
        for seed in sorted({r["seed"] for r in recs if r["problem"] == p}):
            for at, acc in ((units, ranks_final), (common, ranks_common)):
                at_units: dict[str, float] = {}
                for r in recs:
                    if r["problem"] == p and r["seed"] == seed and r["units"] >= at:
                        v = best_at(r["steps"], at)
                        if v is not None:
                            at_units[r["strategy"]] = v
                for n, rk in avg_ranks(at_units).items():
                    acc[n].append(rk)
    failures = [{"problem": r["problem"], "strategy": r["strategy"], "seed": r["seed"],
                 "status": r["status"], "error": r.get("error")}
                for r in section["records"] if r["status"] != "ok"]
    return {"checkpoints": checkpoints, "common_units": common, "mean_best": table,
            "mean_rank_final": {n: round(statistics.fmean(v), 3)
                                for n, v in ranks_final.items()},
            "mean_rank_common": {n: round(statistics.fmean(v), 3)
                                 for n, v in ranks_common.items()},
            "failures": failures}


# --- overhead (part D) -----------------------------------------------------------------------


def engine_like_space() -> list[Any]:
    """The engine's space for a 5,000 x 20 binary classification (six families)."""
    from automl_bridge.engine.runner import engine_space
    from automl_bridge.models.families import DataContext
    from automl_bridge.registry import registry_for

    reg = registry_for("families")
    families = {n: reg.get(n) for n in reg.names()}
    return engine_space(families, DataContext(task="classification", n_rows=5000,
                                              n_features=20, n_classes=2))


def time_sampler(name: str, space: Sequence[Any], n_trials: int, seed: int = 0) -> list[float]:
    """Seconds of ask + sample + tell of each of ``n_trials`` trials (trivial objective)."""
    import optuna

    from automl_bridge.search.space import sample
    from automl_bridge.search.strategies import StrategyContext, make_strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ctx = StrategyContext(seed=seed, options=STRATEGY_OPTIONS.get(name, {}),
                          directions=("maximize",), space=space, max_trials=n_trials)
    out: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strategy = make_strategy(name, ctx)
        study = optuna.create_study(direction="maximize", sampler=strategy.sampler)
        for _ in range(n_trials):
            t0 = time.perf_counter()
            trial = study.ask()
            cfg = sample(trial, space)
            study.tell(trial, _hash01(cfg, 7))
            out.append(time.perf_counter() - t0)
            if strategy.exhausted is not None and strategy.exhausted(study):
                break
    return out


def part_overhead(args: argparse.Namespace, section: dict[str, Any]) -> None:
    """Part D: per-trial sampler cost at ``overhead_trials`` trials."""
    n = args.settings["overhead_trials"]
    window = max(1, n // 10)
    space = engine_like_space()
    names = [s for s in OVERHEAD_STRATEGIES if s in args.strategies]
    section["config"] = {"trials": n, "window": window, "strategies": names,
                         "space": "engine space, 6 families (classification, 5,000 x 20)",
                         "objective": "deterministic hash of the configuration in [0, 1)",
                         "storage": "in-memory"}
    series = {}
    for name in names:
        rec: dict[str, Any] = {"strategy": name, "trials": n}
        try:
            times = time_sampler(name, space, n)
            first, last = times[:window], times[-window:]
            rec.update(status="ok", n_done=len(times),
                       first_ms=round(1000 * statistics.fmean(first), 3),
                       last_ms=round(1000 * statistics.fmean(last), 3),
                       total_s=round(sum(times), 3),
                       per_trial_ms=[round(1000 * t, 3) for t in times])
            series[name] = [(i + 1, 1000 * statistics.fmean(times[max(0, i - window + 1):i + 1]))
                            for i in range(0, len(times), max(1, len(times) // 100))]
        except Exception as exc:
            rec.update(status="error", error=f"{type(exc).__name__}: {exc}")
        log(f"  overhead {name}: {rec['status']} first={rec.get('first_ms')} ms "
            f"last={rec.get('last_ms')} ms")
        section["records"].append(rec)
    path = args.out.parent / "strategies_overhead_engine_space.svg"
    svgplot.write_plot(path, series, title=f"ask + sample + tell per trial (moving mean of "
                                          f"{window})", x_label="trial", y_label="ms (log)",
                       log_y=True, markers=False)
    section["plots"] = [path.name]


# --- engine runs in a child (parts B, C, E) --------------------------------------------------


def search_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Child side of one engine run: fit on the training split, score on the test split.

    Payload keys: ``dataset``, ``budget_s``, ``seed``, ``search`` (a name or a dict with
    options), optional ``ensemble`` and ``models``. Imports happen before the timer starts.
    """
    import optuna  # noqa: F401

    import automl_bridge.backends._local_run  # noqa: F401
    from automl_bridge import AutoMLJob
    from automl_bridge.progress import SilentProgress

    info, X, y = load_dataset(payload["dataset"])
    data = split(info, X, y)
    fields: dict[str, Any] = {"task": info.task, "target": TARGET, "metric": info.metric,
                              "time_budget_s": payload["budget_s"], "seed": payload["seed"],
                              "search": payload["search"]}
    if payload.get("ensemble") is not None:
        fields["ensemble"] = payload["ensemble"]
    if payload.get("models"):
        fields["models"] = list(payload["models"])
    with tempfile.TemporaryDirectory(prefix="bench-strategies-") as workdir:
        backend: dict[str, Any] = {"run_dir": workdir, "n_jobs": 1}
        if payload.get("smoke"):  # quick mode: in-memory study, trials in this process
            backend.update(run_dir=None, isolation="inline")
        job = AutoMLJob(**fields).with_backend("local", **backend)
        t0 = time.monotonic()
        result = job.fit((data.X_train, data.y_train), progress=SilentProgress())
        fit_s = time.monotonic() - t0
        if info.task == "classification":
            proba = job.predict_proba(data.X_test)
            test = score_predictions(info, data, proba=align_proba(
                proba.to_numpy(), list(proba.columns), data.classes or []))
        else:
            test = score_predictions(info, data, y_pred=job.predict(data.X_test).to_numpy())
    sign = 1.0 if result.direction == "maximize" else -1.0
    cands = candidate_rows(result)
    states: dict[str, int] = defaultdict(int)
    for c in result.candidates:
        states[c.state.value] += 1
    best_val = None
    trace: list[list[float]] = []
    for c in sorted(cands, key=lambda c: c["t"]):
        if c["state"] == "complete" and c["full"] and c["score"] is not None and (
                best_val is None or sign * c["score"] > sign * best_val):
            best_val = c["score"]
            trace.append([c["t"], c["score"]])
    ens = result.ensemble
    return {"test_score": test, "fit_s": round(fit_s, 3), "engine_wall_s": result.wall_time_s,
            "run_status": result.status.value, "strategy_used": result.extra.get("strategy"),
            "plan": result.extra.get("plan"), "stop_reason": result.extra.get("stop_reason"),
            "validation": result.extra.get("validation"), "direction": result.direction,
            "n_trials": len(result.candidates), "states": dict(states),
            "best_validation": best_val,
            "final_validation": None if result.best is None else _finite(result.best.score),
            "final_family": None if result.best is None else result.best.family,
            "ensemble_kept": ens is not None,
            "ensemble_size": len(ens["members"]) if ens else 0,
            "ensemble_score": None if not ens else _finite(ens.get("score")),
            "ensemble_best_single": None if not ens else _finite(ens.get("best_single_score")),
            "trace": trace, "candidates": cands,
            "has_finished_at": all(c["has_finished_at"] for c in cands),
            "warnings": list(result.warnings),
            "trial_errors": [f"{c.candidate_id} {c.family} {c.state.value}: {c.error[:300]}"
                             for c in result.candidates if c.error][:5]}


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def candidate_rows(result: Any) -> list[dict[str, Any]]:
    """Compact candidates: seconds since the run started at completion, fit time, state,
    validation score, fidelity, family; in order of completion.

    The completion time is ``extra["finished_at"]`` minus ``result.started_at``; without it,
    the cumulative ``fit_time_s`` in trial order stands in.
    """
    start = _parse_iso(result.started_at)
    rows = []
    cumulative = 0.0
    for c in result.candidates:
        cumulative += c.fit_time_s
        finished = _parse_iso(c.extra.get("finished_at"))
        t = (finished - start).total_seconds() if finished and start else cumulative
        fidelity = c.extra.get("fidelity")
        rows.append({"id": c.candidate_id, "t": round(t, 3), "fit_time_s": c.fit_time_s,
                     "state": c.state.value, "score": _finite(c.score), "family": c.family,
                     "fidelity": fidelity, "full": fidelity is None or float(fidelity) >= 1.0,
                     "has_finished_at": finished is not None})
    rows.sort(key=lambda r: r["t"])
    return rows


def _parse_iso(s: Any) -> dt.datetime | None:
    if not s:
        return None
    try:
        return dt.datetime.fromisoformat(str(s))
    except ValueError:
        return None


def run_engine(dataset: str, *, search: str, budget_s: float, seed: int,
               ensemble: Any = None, models: Sequence[str] | None = None,
               keep_candidates: bool = False, smoke: bool = False) -> dict[str, Any]:
    """:func:`search_job` in a fresh child process; the record (``status`` ok/timeout/error)."""
    from automl_bridge.metrics import get_metric

    info = DATASETS[dataset]
    options = STRATEGY_OPTIONS.get(search)
    payload = {"dataset": dataset, "budget_s": budget_s, "seed": seed,
               "search": {"strategy": search, **options} if options else search,
               "ensemble": ensemble, "models": list(models) if models else None,
               "smoke": smoke}
    outcome = run_in_child("strategies:search_job", payload, timeout_s=kill_after(budget_s),
                           monitor=False)
    res = dict(outcome.result or {})
    if not keep_candidates:
        res.pop("candidates", None)
    rec: dict[str, Any] = {"dataset": dataset, "kind": info.kind, "metric": info.metric,
                           "direction": get_metric(info.metric).direction, "strategy": search,
                           "search": payload["search"], "budget_s": budget_s, "seed": seed,
                           "ensemble": ensemble, "models": payload["models"],
                           "status": outcome.status, "child_wall_s": round(outcome.wall_s, 3),
                           **res}
    if outcome.error:
        rec["error"] = outcome.error[-1500:]
    return rec


def _backend_note(quick: bool) -> str:
    if quick:
        return ("SMOKE: with_backend('local', run_dir=None, isolation='inline', n_jobs=1): "
                "in-memory study, trials in the child's own process (the worker start-up and "
                "SQLite would eat a 3 s budget on a loaded machine)")
    return "with_backend('local', run_dir=<tmp>, n_jobs=1): the defaults (process isolation, " \
           "SQLite in the run directory)"


def _key(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    return (rec["dataset"], rec["strategy"], rec["seed"], rec.get("ensemble"))


def _run_plan(section: dict[str, Any], plan: list[dict[str, Any]], label: str,
              save: Callable[[], None], keep_candidates: bool = False,
              smoke: bool = False) -> None:
    done = {_key(r) for r in section["records"]}
    for i, run in enumerate(plan, 1):
        if _key(run) in done:
            continue
        log(f"  [{label} {i}/{len(plan)}] {run['dataset']} {run['strategy']} "
            f"budget={run['budget_s']} seed={run['seed']}"
            + (f" ensemble={run['ensemble']}" if run.get("ensemble") is not None else ""))
        rec = run_engine(run["dataset"], search=run["strategy"], budget_s=run["budget_s"],
                         seed=run["seed"], ensemble=run.get("ensemble"),
                         models=run.get("models"), keep_candidates=keep_candidates,
                         smoke=smoke)
        log(f"      -> {rec['status']} test={rec.get('test_score')} "
            f"val={rec.get('best_validation')} trials={rec.get('n_trials')} "
            f"fit_s={rec.get('fit_s')} ensemble={rec.get('ensemble_size')}")
        section["records"].append(rec)
        save()


def plan_datasets(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part B runs: dataset outermost, then seed, every strategy back to back."""
    return [{"dataset": d, "strategy": s, "seed": seed,
             "budget_s": args.budget or args.settings["budget_datasets"]}
            for d in args.b_datasets for seed in args.seeds for s in args.strategies]


def plan_ensemble(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part E runs: tpe with ``ensemble="auto"`` and ``False`` per dataset and seed."""
    return [{"dataset": d, "strategy": "tpe", "seed": seed, "ensemble": e,
             "budget_s": args.budget or args.settings["budget_ensemble"]}
            for d in args.e_datasets for seed in args.seeds for e in ("auto", False)]


def plan_multifidelity(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part C runs: the four strategies per large dataset and seed, three families."""
    datasets = args.mf_datasets
    return [{"dataset": d, "strategy": s, "seed": seed, "models": list(MF_MODELS),
             "budget_s": args.budget or args.settings["budget_mf"]}
            for d in datasets for seed in args.seeds for s in MF_STRATEGIES]


def part_datasets(args: argparse.Namespace, section: dict[str, Any],
                  save: Callable[[], None]) -> None:
    """Part B: every strategy on every dataset, then the summary and one plot per dataset."""
    plan = plan_datasets(args)
    section["config"] = {"datasets": args.b_datasets, "strategies": args.strategies,
                         "seeds": args.seeds, "budget_s": plan[0]["budget_s"] if plan else None,
                         "strategy_options": STRATEGY_OPTIONS, "kill_after": "3 x budget + 30 s",
                         "job": "AutoMLJob(task, target, metric, time_budget_s, seed, search)"
                                ".with_backend('local', run_dir=<tmp>, n_jobs=1)"}
    section["config"]["backend"] = _backend_note(args.quick)
    _run_plan(section, plan, "datasets", save, smoke=args.quick)
    section["summary"] = summarize_scores(section["records"], "strategy")
    section["plots"] = []
    for d in args.b_datasets:
        recs = [r for r in section["records"] if r["dataset"] == d and r["status"] == "ok"]
        if not recs:
            continue
        series = {}
        for r in recs:
            pts = [(t, v) for t, v in r.get("trace", [])]
            if pts:
                end = r.get("fit_s") or pts[-1][0]
                pts.append((max(end, pts[-1][0]), pts[-1][1]))
                series[f"{r['strategy']}" + (f" s{r['seed']}" if len(args.seeds) > 1 else "")] \
                    = pts
        path = args.out.parent / f"strategies_datasets_{d}.svg"
        svgplot.write_plot(path, series, title=f"{d}: best validation {recs[0]['metric']} "
                                              f"vs time ({recs[0]['direction']})",
                           x_label="seconds since the run started", y_label=recs[0]["metric"],
                           steps=True)
        section["plots"].append(path.name)


def summarize_scores(records: Sequence[Mapping[str, Any]], by: str) -> dict[str, Any]:
    """Mean test score per dataset x ``by`` and the mean rank (direction aware, per dataset)."""
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    keys = list(dict.fromkeys(str(r[by]) for r in records))
    scores: dict[str, dict[str, float | None]] = {}
    ranks: dict[str, list[float]] = defaultdict(list)
    for d in datasets:
        scores[d] = {}
        direction = "maximize"
        for k in keys:
            vals = [float(r["test_score"]) for r in records
                    if r["dataset"] == d and str(r[by]) == k and r["status"] == "ok"
                    and r.get("test_score") is not None]
            direction = next(r["direction"] for r in records if r["dataset"] == d)
            scores[d][k] = statistics.fmean(vals) if vals else None
        sign = -1.0 if direction == "maximize" else 1.0
        present = {k: sign * v for k, v in scores[d].items() if v is not None}
        for k, rk in avg_ranks(present).items():
            ranks[k].append(rk)
        for k in keys:  # a run without a score ranks last
            if k not in present:
                ranks[k].append(float(len(keys)))
    return {"test_score": scores, "mean_rank": {k: round(statistics.fmean(v), 3)
                                                for k, v in ranks.items() if v},
            "failures": [{"dataset": r["dataset"], by: r[by], "status": r["status"],
                          "error": (r.get("error") or "")[-300:]}
                         for r in records if r["status"] != "ok"]}


def part_ensemble(args: argparse.Namespace, section: dict[str, Any],
                  save: Callable[[], None]) -> None:
    """Part E: tpe with and without the ensemble, per dataset."""
    plan = plan_ensemble(args)
    section["config"] = {"datasets": args.e_datasets, "seeds": args.seeds, "strategy": "tpe",
                         "budget_s": plan[0]["budget_s"] if plan else None,
                         "ensemble": ["auto", False]}
    section["config"]["backend"] = _backend_note(args.quick)
    _run_plan(section, plan, "ensemble", save, smoke=args.quick)
    section["summary"] = summarize_ensemble(section["records"])


def summarize_ensemble(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per dataset: both test scores, the improvement of ``auto`` (positive = better), whether
    the ensemble was kept and its size; the mean relative improvement over datasets."""
    rows: dict[str, dict[str, Any]] = {}
    rel = []
    by_metric: dict[str, list[float]] = defaultdict(list)
    for d in dict.fromkeys(r["dataset"] for r in records):
        auto = [r for r in records if r["dataset"] == d and r["ensemble"] == "auto"
                and r["status"] == "ok"]
        off = [r for r in records if r["dataset"] == d and r["ensemble"] is False
               and r["status"] == "ok"]
        if not auto or not off:
            rows[d] = {"auto": None, "off": None}
            continue
        a = statistics.fmean(r["test_score"] for r in auto)
        o = statistics.fmean(r["test_score"] for r in off)
        sign = 1.0 if auto[0]["direction"] == "maximize" else -1.0
        gain = sign * (a - o)
        rows[d] = {"metric": auto[0]["metric"], "auto": a, "off": o, "gain": gain,
                   "gain_pct": 100.0 * gain / abs(o) if o else None,
                   "kept": sum(bool(r.get("ensemble_kept")) for r in auto), "runs": len(auto),
                   "size": statistics.fmean(r.get("ensemble_size") or 0 for r in auto)}
        by_metric[auto[0]["metric"]].append(gain)
        if o:
            rel.append(100.0 * gain / abs(o))
    return {"rows": rows, "mean_gain_by_metric": {m: statistics.fmean(v)
                                                  for m, v in by_metric.items()},
            "mean_gain_pct": statistics.fmean(rel) if rel else None,
            "wins": sum(1 for r in rows.values() if (r.get("gain") or 0) > 0),
            "losses": sum(1 for r in rows.values() if (r.get("gain") or 0) < 0)}


def part_multifidelity(args: argparse.Namespace, section: dict[str, Any],
                       save: Callable[[], None]) -> None:
    """Part C: compute the multi-fidelity strategies need to match random search."""
    plan = plan_multifidelity(args)
    section["config"] = {"datasets": args.mf_datasets, "strategies": list(MF_STRATEGIES),
                         "models": list(MF_MODELS), "seeds": args.seeds,
                         "budget_s": plan[0]["budget_s"] if plan else None,
                         "compute": "cumulative fit_time_s of the trials in order of completion",
                         "goal": "compute to reach random's final best <= 1/3 of random's"}
    section["config"]["backend"] = _backend_note(args.quick)
    _run_plan(section, plan, "multifidelity", save, keep_candidates=True, smoke=args.quick)
    section["summary"] = summarize_multifidelity(section["records"])
    section["plots"] = []
    for d in args.mf_datasets:
        series = {}
        recs = [r for r in section["records"] if r["dataset"] == d and r["status"] == "ok"]
        for r in recs:
            pts: list[tuple[float, float | None]] = list(compute_trace(r))
            if pts:
                total = sum(float(c["fit_time_s"]) for c in r["candidates"])
                pts.append((max(total, pts[-1][0]), pts[-1][1]))
                series[r["strategy"] + (f" s{r['seed']}" if len(args.seeds) > 1 else "")] = pts
        if not series:
            continue
        path = args.out.parent / f"strategies_multifidelity_{d}.svg"
        svgplot.write_plot(path, series, title=f"{d}: best full-fidelity validation "
                                              f"{recs[0]['metric']} vs compute",
                           x_label="cumulative trial fit time (s)", y_label=recs[0]["metric"],
                           steps=True)
        section["plots"].append(path.name)


def compute_trace(rec: Mapping[str, Any]) -> list[tuple[float, float]]:
    """``(cumulative fit seconds, best full-fidelity validation score)`` at each improvement."""
    sign = 1.0 if rec["direction"] == "maximize" else -1.0
    compute = 0.0
    best: float | None = None
    out = []
    for c in rec.get("candidates") or []:
        compute += float(c["fit_time_s"])
        s = c["score"]
        if c["state"] == "complete" and c["full"] and s is not None and (
                best is None or sign * s > sign * best):
            best = s
            out.append((round(compute, 3), s))
    return out


def summarize_multifidelity(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per dataset and seed: ``S_r``, ``C_r`` and each strategy's compute to reach ``S_r``."""
    out: list[dict[str, Any]] = []
    for d in dict.fromkeys(r["dataset"] for r in records):
        for seed in sorted({r["seed"] for r in records if r["dataset"] == d}):
            rs = {r["strategy"]: r for r in records if r["dataset"] == d and r["seed"] == seed}
            rnd = rs.get("random")
            if rnd is None or rnd["status"] != "ok" or not compute_trace(rnd):
                out.append({"dataset": d, "seed": seed, "error": "random did not complete"})
                continue
            s_r = compute_trace(rnd)[-1][1]
            c_r = sum(float(c["fit_time_s"]) for c in rnd["candidates"])
            sign = 1.0 if rnd["direction"] == "maximize" else -1.0
            row: dict[str, Any] = {"dataset": d, "seed": seed, "metric": rnd["metric"],
                                   "S_r": s_r, "C_r": round(c_r, 3),
                                   "random_reach": compute_trace(rnd)[-1][0],
                                   "strategies": {}}
            for name in MF_STRATEGIES[1:]:
                r = rs.get(name)
                if r is None or r["status"] != "ok":
                    row["strategies"][name] = {"status": None if r is None else r["status"]}
                    continue
                trace = compute_trace(r)
                reach = next((c for c, v in trace if sign * v >= sign * s_r), None)
                total = sum(float(c["fit_time_s"]) for c in r["candidates"])
                states: dict[str, int] = defaultdict(int)
                for c in r["candidates"]:
                    states[c["state"]] += 1
                row["strategies"][name] = {
                    "status": "ok", "best": trace[-1][1] if trace else None,
                    "total_compute": round(total, 3), "reach_compute": reach,
                    "ratio": None if reach is None or not c_r else round(reach / c_r, 4),
                    "states": dict(states)}
            out.append(row)
    return {"rows": out}


# --- document, estimate, report --------------------------------------------------------------


def estimate_s(args: argparse.Namespace) -> dict[str, float]:
    """Expected wall seconds of each selected part (rough; see the constants above)."""
    st = args.settings
    est: dict[str, float] = {}
    if "synthetic" in args.parts:
        total = 0.0
        for name in args.strategies:
            units = st["gp_units"] if name == "gp" else st["units"]
            full = FULL["gp_units"] if name == "gp" else FULL["units"]
            total += units * SYNTH_S_PER_UNIT.get(name, 0.05) * _growth(units / full)
        est["synthetic"] = total * 5 * st["seeds"] + 5
    if "overhead" in args.parts:
        n = st["overhead_trials"]
        est["overhead"] = sum(n * OVERHEAD_S_PER_TRIAL.get(s, 0.05) *
                              _growth(n / FULL["overhead_trials"])
                              for s in OVERHEAD_STRATEGIES if s in args.strategies) + 5

    def engine(plan: list[dict[str, Any]]) -> float:
        return sum(STARTUP_S[DATASETS[r["dataset"]].size] + 1.05 * r["budget_s"]
                   + OVERRUN_S[DATASETS[r["dataset"]].size] for r in plan)

    if "datasets" in args.parts:
        est["datasets"] = engine(plan_datasets(args))
    if "ensemble" in args.parts:
        est["ensemble"] = engine(plan_ensemble(args))
    if "multifidelity" in args.parts:
        est["multifidelity"] = engine(plan_multifidelity(args))
    return est


def _growth(fraction: float) -> float:
    """Cost per trial of a run ``fraction`` as long as the reference one (model-based
    samplers get slower as the history grows)."""
    return 0.3 + 0.7 * min(1.0, fraction)


def load_or_new(args: argparse.Namespace) -> dict[str, Any]:
    """The existing document at ``--out`` (same smoke-ness), or a new one."""
    if args.out.exists():
        try:
            doc = json.loads(args.out.read_text())
        except json.JSONDecodeError:
            doc = None
        if doc is not None and doc.get("benchmark") == "strategies" and \
                bool(doc.get("smoke")) == bool(args.quick):
            doc.setdefault("parts", {})
            return doc
    doc = new_document("strategies", quick=args.quick,
                       config={"settings": args.settings, "parts": list(PARTS)})
    doc["parts"] = {}
    return doc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", nargs="+", default=["all"], choices=["all", *PARTS],
                   help="parts to run (default: all = synthetic overhead datasets ensemble "
                        "multifidelity)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny budgets and trial counts, written to results/quick/")
    p.add_argument("--datasets", nargs="+", default=None, choices=list(DATASETS),
                   metavar="NAME", help="datasets of parts B and E (default: all 9)")
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME",
                   help="strategies of parts A, B and D (default: every registered one)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="seeds of parts B, C, E (default: 0)")
    p.add_argument("--synthetic-seeds", type=int, default=None,
                   help="seeds of part A (default 5; quick 1)")
    p.add_argument("--budget", type=float, default=None,
                   help="time budget (s) of every engine run of parts B, C, E (default: "
                        "B 10, E 20, C 90)")
    p.add_argument("--out", type=Path, default=None,
                   help="result JSON (default: benchmarks/results/strategies.json)")
    p.add_argument("--resume", action="store_true",
                   help="keep the ok records of parts B, C, E already in --out, skip those runs")
    p.add_argument("--estimate", action="store_true", help="print the estimate and exit")
    p.add_argument("--report", action="store_true",
                   help="print the Markdown tables of --out and exit (runs nothing)")
    args = p.parse_args(argv)
    args.settings = dict(QUICK if args.quick else FULL)
    args.parts = list(PARTS) if "all" in args.part else [x for x in PARTS if x in args.part]
    if args.datasets is not None:
        args.b_datasets = args.e_datasets = list(args.datasets)
    elif args.quick:
        args.b_datasets, args.e_datasets = list(QUICK_B_DATASETS), list(QUICK_DATASETS)
    else:
        args.b_datasets = args.e_datasets = list(DATASETS)
    args.mf_datasets = list(QUICK_MF_DATASETS if args.quick else MF_DATASETS)
    from automl_bridge.registry import registry_for

    known = registry_for("strategies").names()
    if args.strategies is None:
        args.strategies = known
    unknown = sorted(set(args.strategies) - set(known))
    if unknown:
        p.error(f"unknown strategies {unknown}; registered: {known}")
    args.out = args.out or default_out("strategies", args.quick)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts (or print the report / the estimate)."""
    args = parse_args(argv)
    if args.report:
        print(render(json.loads(args.out.read_text())))
        return 0
    est = estimate_s(args)
    log("estimate: " + ", ".join(f"{k} ~{v / 60:.1f} min" for k, v in est.items())
        + f"; total ~{sum(est.values()) / 60:.0f} min")
    if args.estimate:
        print(json.dumps({k: round(v) for k, v in est.items()} |
                         {"total_s": round(sum(est.values()))}))
        return 0
    doc = load_or_new(args)

    def save() -> None:
        write_json(args.out, doc)

    for part in args.parts:
        old = doc["parts"].get(part) or {}
        section: dict[str, Any] = {"started_at": now_iso(), "machine": machine_info(),
                                   "records": [], "estimate_s": round(est.get(part, 0))}
        if args.resume and part in ("datasets", "ensemble", "multifidelity"):
            section["records"] = [r for r in old.get("records", []) if r.get("status") == "ok"]
        doc["parts"][part] = section
        log(f"part {part} (estimated {est.get(part, 0) / 60:.1f} min)")
        t0 = time.monotonic()
        if part == "synthetic":
            part_synthetic(args, section)
        elif part == "overhead":
            part_overhead(args, section)
        elif part == "datasets":
            part_datasets(args, section, save)
        elif part == "ensemble":
            part_ensemble(args, section, save)
        else:
            part_multifidelity(args, section, save)
        section["finished_at"] = now_iso()
        section["wall_s"] = round(time.monotonic() - t0, 1)
        save()
        log(f"part {part} done in {section['wall_s'] / 60:.1f} min")
    print(render(doc, only=args.parts))
    log(f"wrote {args.out}")
    return 0


# --- Markdown --------------------------------------------------------------------------------


def _f(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        a = abs(v)
        if a >= 1000:
            return f"{v:.0f}"
        return f"{v:.{digits}g}" if a < 1 else f"{v:.{max(1, digits - 1)}g}" if a < 100 \
            else f"{v:.1f}"
    return str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _machine_line(section: Mapping[str, Any]) -> str:
    m = section.get("machine", {})
    v = m.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("automl-bridge", "optuna", "scikit-learn")
                     if k in v)
    return (f"*{section.get('started_at', '?')}, {m.get('cpu', '?')}, {m.get('cores', '?')} "
            f"cores, Python {m.get('python', '?')}; {libs}; commit {m.get('git_commit', '?')}; "
            f"load average at start {(m.get('load_avg_at_start') or ['?'])[0]}; "
            f"{section.get('wall_s', '?')} s.*")


def render(doc: Mapping[str, Any], only: Sequence[str] | None = None) -> str:
    """Markdown for every part in ``doc`` (or those in ``only``)."""
    parts = doc.get("parts", {})
    out = []
    if doc.get("smoke"):
        out.append("> **Smoke run (`--quick`)**: tiny budgets that only prove the script "
                   "works. Not benchmark results.\n")
    renderers = {"synthetic": render_synthetic, "overhead": render_overhead,
                 "datasets": render_datasets, "ensemble": render_ensemble,
                 "multifidelity": render_multifidelity}
    for part in PARTS:
        sec = parts.get(part)
        if sec is None or (only is not None and part not in only):
            continue
        if part != "overhead" and sec.get("summary") is None:
            out.append(f"### {part}: no summary (the part did not finish)\n")
            continue
        out.append(renderers[part](sec))
    return "\n".join(out)


def render_synthetic(sec: Mapping[str, Any]) -> str:
    """Part A tables."""
    s = sec["summary"]
    cp = s["checkpoints"]
    names = list(sec["config"]["strategies"])
    lines = ["### Strategies on synthetic problems (part A)\n", _machine_line(sec), "",
             f"Mean best value (lower is better) over {len(sec['config']['seeds'])} seed(s) "
             f"after {', '.join(map(str, cp))} compute units (1 unit = one full-fidelity "
             f"trial; `gp` ran {sec['config']['gp_units']} units). Best of each column in "
             "bold.\n"]
    for p, desc in sec["config"]["problems"].items():
        lines.append(f"**{p}**: {desc}\n")
        rows = []
        table = s["mean_best"].get(p, {})
        bests = {str(c): min((v[str(c)] for v in table.values() if v.get(str(c)) is not None),
                             default=None) for c in cp}
        for n in names:
            row = table.get(n, {})
            cells = []
            for c in cp:
                v = row.get(str(c))
                cell = _f(v)
                cells.append(f"**{cell}**" if v is not None and v == bests[str(c)] else cell)
            rows.append([n, *cells])
        lines += [_table(["strategy", *[f"{c} units" for c in cp]], rows), ""]
    rf, rc = s["mean_rank_final"], s["mean_rank_common"]
    order = sorted(names, key=lambda n: (rf.get(n, math.inf), rc.get(n, math.inf)))
    lines.append(f"Mean rank over problems and seeds (1 = best) at {cp[-1]} units (without "
                 f"`gp`) and at {s['common_units']} units (all):\n")
    lines.append(_table(["strategy", f"rank @ {cp[-1]}", f"rank @ {s['common_units']}"],
                        [[n, _f(rf.get(n)), _f(rc.get(n))] for n in order]))
    if s.get("failures"):
        lines.append("\nFailures: " + "; ".join(
            f"{f['strategy']} on {f['problem']} (seed {f['seed']}): {f['status']} "
            f"{(f.get('error') or '')[:120]}" for f in s["failures"]))
    lines.append("\nPlots: " + ", ".join(f"`{p}`" for p in sec.get("plots", [])) + "\n")
    return "\n".join(lines)


def render_overhead(sec: Mapping[str, Any]) -> str:
    """Part D table."""
    cfg = sec.get("config", {})
    n, w = cfg.get("trials"), cfg.get("window")
    rows = []
    for r in sec.get("records", []):
        if r["status"] == "ok":
            rows.append([r["strategy"], _f(r["first_ms"]), _f(r["last_ms"]),
                         r["n_done"], _f(r["total_s"])])
        else:
            rows.append([r["strategy"], r["status"], (r.get("error") or "")[:80], "-", "-"])
    return "\n".join([
        "### Sampler overhead (part D)\n", _machine_line(sec), "",
        f"Mean ask + sample + tell per trial (ms) on the engine's six-family space, in-memory "
        f"storage, trivial objective, {n} trials.\n",
        _table(["strategy", f"trials 1-{w} (ms)", f"trials {n - w + 1}-{n} (ms)",
                "trials run", "total (s)"], rows), ""])


def render_datasets(sec: Mapping[str, Any]) -> str:
    """Part B tables."""
    s = sec["summary"]
    names = list(sec["config"]["strategies"])
    recs = sec["records"]
    rows = []
    for d, by in s["test_score"].items():
        direction = next(r["direction"] for r in recs if r["dataset"] == d)
        metric = next(r["metric"] for r in recs if r["dataset"] == d)
        vals = [v for v in by.values() if v is not None]
        best = (max(vals) if direction == "maximize" else min(vals)) if vals else None
        cells = []
        for n in names:
            v = by.get(n)
            if v is None:
                st = next((r["status"] for r in recs if r["dataset"] == d
                           and r["strategy"] == n), "-")
                cells.append(st if st != "ok" else "-")
            else:
                cells.append(f"**{_f(v)}**" if v == best else _f(v))
        rows.append([d, metric, *cells])
    ranks = s["mean_rank"]
    trials = []
    for n in names:
        rs = [r for r in recs if r["strategy"] == n and r["status"] == "ok"]
        kept = sum(bool(r.get("ensemble_kept")) for r in rs)
        trials.append([n, _f(ranks.get(n)),
                       _f(statistics.fmean(r["n_trials"] for r in rs)) if rs else "-",
                       f"{kept}/{len(rs)}",
                       ", ".join(sorted({str(r.get('strategy_used')) for r in rs}))])
    trials.sort(key=lambda row: float(row[1]) if row[1] != "-" else math.inf)
    lines = ["### Strategies on the dataset suite (part B)\n", _machine_line(sec), "",
             f"Test score at a {sec['config']['budget_s']:g} s budget (ROC-AUC higher is "
             "better; log-loss and RMSE lower). Best of each row in bold.\n",
             _table(["dataset", "metric", *names], rows), "",
             "Mean rank on test score over datasets (1 = best), mean trials per run, runs "
             "whose final model is an ensemble, and the strategy the engine ran:\n",
             _table(["strategy", "mean rank", "trials", "ensemble kept", "ran as"], trials)]
    if s.get("failures"):
        lines.append("\nFailures: " + "; ".join(
            f"{f['strategy']} on {f['dataset']}: {f['status']}" for f in s["failures"]))
    lines.append("\nPlots: " + ", ".join(f"`{p}`" for p in sec.get("plots", [])) + "\n")
    return "\n".join(lines)


def render_ensemble(sec: Mapping[str, Any]) -> str:
    """Part E table."""
    s = sec["summary"]
    rows = []
    for d, r in s["rows"].items():
        if r.get("auto") is None:
            rows.append([d, "-", "-", "-", "-", "-", "-"])
            continue
        rows.append([d, r["metric"], _f(r["auto"]), _f(r["off"]), _f(r["gain"], 3),
                     f"{r['kept']}/{r['runs']}", _f(r["size"], 2)])
    by_metric = ", ".join(f"{m} {_f(v, 3)}" for m, v in s["mean_gain_by_metric"].items())
    return "\n".join([
        "### Ensemble vs single best (part E)\n", _machine_line(sec), "",
        f"`tpe` at {sec['config']['budget_s']:g} s with `ensemble=\"auto\"` vs `False`. Gain: "
        "improvement of the test score with the ensemble (positive = better, in the metric's "
        "units).\n",
        _table(["dataset", "metric", "auto", "False", "gain", "ensemble kept", "size"], rows),
        "", f"Mean gain by metric: {by_metric or '-'}; mean relative gain "
        f"{_f(s['mean_gain_pct'], 3)} %; better on {s['wins']}, worse on {s['losses']} "
        f"of {len(s['rows'])} datasets.\n"])


def render_multifidelity(sec: Mapping[str, Any]) -> str:
    """Part C table."""
    rows = []
    for r in sec["summary"]["rows"]:
        if "error" in r:
            rows.append([r["dataset"], r["seed"], "-", "-", r["error"], "-", "-", "-"])
            continue
        for name, x in r["strategies"].items():
            if x.get("status") != "ok":
                rows.append([r["dataset"], name, _f(r["S_r"]), _f(r["C_r"]),
                             x.get("status"), "-", "-", "-"])
                continue
            reach = "never" if x["reach_compute"] is None else _f(x["reach_compute"])
            ratio = "-" if x["ratio"] is None else _f(x["ratio"], 3)
            goal = "yes" if x["ratio"] is not None and x["ratio"] <= 1 / 3 else "no"
            rows.append([r["dataset"], name, _f(r["S_r"]),
                         f"{_f(r['C_r'])} ({_f(r.get('random_reach'))})", _f(x["best"]),
                         reach, ratio, goal])
    return "\n".join([
        "### Multi-fidelity savings (part C)\n", _machine_line(sec), "",
        f"Budget {sec['config']['budget_s']:g} s, families {', '.join(MF_MODELS)}. Compute = "
        "cumulative trial fit time (s). `S_r`/`C_r`: random search's final best validation "
        "score and its total compute (random itself first reached `S_r` at the compute in "
        "brackets); `reach`: compute at which the strategy's best "
        "full-fidelity validation score first matched `S_r`; goal: ratio <= 1/3.\n",
        _table(["dataset", "strategy", "S_r", "C_r", "own best", "reach", "ratio", "goal met"],
               rows), "",
        "Plots: " + ", ".join(f"`{p}`" for p in sec.get("plots", [])) + "\n"])


if __name__ == "__main__":
    sys.exit(main())
