"""Regularized (aging) evolution sampler: search quality, aging, mutation, determinism, resume."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from automl_bridge.exceptions import SpecError
from automl_bridge.search.evolution import (
    DECISION_ATTR,
    RegularizedEvolutionSampler,
    evolution_strategy,
)
from automl_bridge.search.space import Choice, Conditional, Float, Int, Node, sample
from automl_bridge.search.strategies import CONSTRAINTS_ATTR, StrategyContext

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Three model families; the optimum (0) is in family "b", the others bottom out at 0.3 / 0.6.
SPACE: list[Node] = [Conditional(Choice("model", ["a", "b", "c"]), {
    "a": [Float("a.x", -5, 5), Float("a.y", -5, 5), Int("a.n", 1, 10)],
    "b": [Float("b.lr", 1e-4, 1.0, log=True), Float("b.x", 0, 1), Int("b.depth", 1, 16),
          Choice("b.kind", ["p", "q", "r"])],
    "c": [Float("c.u", 0, 1), Float("c.v", 0, 1), Int("c.k", 0, 20)],
})]

#: A variable-length chain: ``n_layers`` decides how many layer widths exist.
LAYERS: list[Node] = [Conditional(Int("n_layers", 1, 3), {
    n: [Float(f"layer{i}.width", 1.0, 512.0, log=True) for i in range(n)] for n in (1, 2, 3)
})]

#: Small ranges, so a careless mutation would often keep the value.
SMALL: list[Node] = [Int("n", 1, 2), Int("m", 1, 2, log=True), Float("s", 0.0, 1.0, step=0.5),
                     Choice("k", ["u", "v"]), Float("x", 1e-3, 1.0, log=True), Int("big", 0, 1000)]


def synthetic(p: dict[str, Any]) -> float:
    """Minimum 0 in family b (lr 0.01, x 0.7, depth 11, kind q)."""
    if p["model"] == "a":
        return 0.3 + ((p["a.x"] - 1) ** 2 + (p["a.y"] + 2) ** 2) / 50 + ((p["a.n"] - 7) / 10) ** 2
    if p["model"] == "b":
        return ((math.log10(p["b.lr"]) + 2) ** 2 / 16 + (p["b.x"] - 0.7) ** 2
                + ((p["b.depth"] - 11) / 16) ** 2 + 0.2 * (p["b.kind"] != "q"))
    return 0.6 + (p["c.u"] - 0.3) ** 2 + (p["c.v"] - 0.8) ** 2 + ((p["c.k"] - 4) / 20) ** 2


def run(study: optuna.Study, space: list[Node], n: int,
        objective: Callable[[dict[str, Any]], float] = synthetic,
        state: Callable[[int], TrialState] = lambda number: TrialState.COMPLETE) -> None:
    """Ask/tell like the engine: ``sample`` draws the space, then the trial is told."""
    for _ in range(n):
        trial = study.ask()
        params = sample(trial, space)
        wanted = state(trial.number)
        if wanted == TrialState.COMPLETE:
            study.tell(trial, objective(params))
        else:
            study.tell(trial, state=wanted)


def decision(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    out: dict[str, Any] = trial.system_attrs[DECISION_ATTR]
    return out


def evolved(study: optuna.Study) -> list[tuple[optuna.trial.FrozenTrial, dict[str, Any]]]:
    """(trial, decision) of every trial that had a parent."""
    return [(t, decision(t)) for t in study.trials if decision(t)["parent"] is not None]


def new_study(space: list[Node] | None = None, **kw: Any) -> optuna.Study:
    return optuna.create_study(sampler=RegularizedEvolutionSampler(space=space, **kw))


# --- (1) quality --------------------------------------------------------------------------------


def test_beats_random_search_on_a_conditional_space() -> None:
    evo, rnd = [], []
    for seed in range(5):
        study = new_study(SPACE, seed=seed)
        run(study, SPACE, 150)
        evo.append(study.best_value)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        run(study, SPACE, 150)
        rnd.append(study.best_value)
    # Measured: evolution 0.0059 (per seed 0.0018 0.0057 0.0120 0.0026 0.0073), random 0.059.
    # Over 20 seeds: evolution 0.0055 (worst 0.014), random 0.052.
    assert np.mean(evo) < 0.01
    assert np.mean(rnd) > 0.04
    assert np.mean(evo) < 0.25 * np.mean(rnd)


def test_random_until_the_population_is_full_then_children_of_the_population() -> None:
    study = new_study(SPACE, population_size=8, sample_size=3, seed=1)
    run(study, SPACE, 30)
    trials = study.trials
    for t in trials:
        d = decision(t)
        if t.number < 8:
            assert d["parent"] is None and d["mutated"] is None
        else:
            assert len(d["population"]) == 8 and len(set(d["tournament"])) == 3
            assert set(d["tournament"]) <= set(d["population"])
            assert d["parent"] in d["tournament"]
            assert d["mutated"] in trials[d["parent"]].params


def test_maximize_picks_the_highest_value_of_the_tournament() -> None:
    study = optuna.create_study(direction="maximize", sampler=RegularizedEvolutionSampler(
        population_size=6, sample_size=6, seed=0))
    space: list[Node] = [Float("x", -3.0, 3.0)]
    run(study, space, 30, objective=lambda p: -((p["x"] - 1) ** 2))
    trials = study.trials
    for _, d in evolved(study):
        values = {n: trials[n].value for n in d["tournament"]}
        assert d["parent"] == max(values, key=lambda n: (values[n], n))
    assert study.best_value > -0.01


# --- (2) aging, (9) failed / pruned trials -------------------------------------------------------


def test_population_is_the_last_completed_trials_whatever_their_fitness() -> None:
    space: list[Node] = [Float("x", -4.0, 4.0)]
    study = new_study(space, population_size=5, sample_size=5, seed=3)
    study.enqueue_trial({"x": 0.0})  # trial 0: the global optimum, never matched again

    def state(number: int) -> TrialState:
        return {3: TrialState.FAIL, 0: TrialState.COMPLETE}.get(
            number, TrialState.PRUNED if number % 4 == 1 else TrialState.COMPLETE)

    expected: list[list[int]] = []
    for _ in range(40):
        done = [t.number for t in study.get_trials(states=(TrialState.COMPLETE,))]
        expected.append(done[-5:])
        run(study, space, 1, objective=lambda p: p["x"] ** 2, state=state)
    failed_or_pruned = {t.number for t in study.trials if t.state != TrialState.COMPLETE}
    assert failed_or_pruned >= {1, 3, 5, 9}
    for t in study.trials:
        d = decision(t)
        assert d["population"] == expected[t.number]
        assert not set(d["population"]) & failed_or_pruned
        if d["parent"] is not None:
            assert d["parent"] not in failed_or_pruned
    # Trial 0 stays the best of the study, yet it ages out: no parent once it left.
    assert study.best_trial.number == 0
    parents = [d["parent"] for _, d in evolved(study)]
    assert parents[0] == 0
    gone = min(t.number for t in study.trials if 0 not in decision(t)["population"]
               and t.number > 0 and len(decision(t)["population"]) == 5)
    assert all(d["parent"] != 0 for t, d in evolved(study) if t.number >= gone)
    assert gone < 15


# --- (3) mutation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("space", [SMALL, SPACE], ids=["small-ranges", "families"])
def test_child_differs_from_parent_in_exactly_the_mutated_parameter(space: list[Node]) -> None:
    study = new_study(space, population_size=6, sample_size=2, seed=5)
    run(study, space, 120, objective=lambda p: float(len(repr(sorted(p.items())))))
    children, trials = evolved(study), study.trials
    assert len(children) == 114
    mutated = set()
    for child, d in children:
        parent = trials[d["parent"]]
        if d["mutated"] == "model":  # another branch: only the new family's parameters
            assert child.params["model"] != parent.params["model"]
            family = child.params["model"]
            assert all(k == "model" or k.startswith(family + ".") for k in child.params)
            continue
        assert set(child.params) == set(parent.params)
        changed = {k for k in child.params if child.params[k] != parent.params[k]}
        assert changed == {d["mutated"]}
        mutated.add(d["mutated"])
    if space is SMALL:
        assert mutated == {"n", "m", "s", "k", "x", "big"}


def test_growing_a_chain_keeps_the_parent_layers_and_draws_the_new_ones() -> None:
    study = new_study(LAYERS, population_size=5, sample_size=2, seed=2)
    run(study, LAYERS, 80, objective=lambda p: float(p["layer0.width"]))
    seen, trials = set(), study.trials
    for child, d in evolved(study):
        parent = trials[d["parent"]]
        if d["mutated"] != "n_layers":
            continue
        grew = child.params["n_layers"] > parent.params["n_layers"]
        seen.add(grew)
        for name in set(child.params) & set(parent.params) - {"n_layers"}:
            assert child.params[name] == parent.params[name]
        assert len(child.params) == child.params["n_layers"] + 1
    assert seen == {True, False}


# --- (4) determinism, (5) resume -----------------------------------------------------------------


def params_of(study: optuna.Study) -> list[dict[str, Any]]:
    return [t.params for t in study.trials]


def test_same_seed_same_sequence_and_space_is_optional() -> None:
    first, second, no_space, other = (new_study(SPACE, seed=7), new_study(SPACE, seed=7),
                                      new_study(None, seed=7), new_study(SPACE, seed=8))
    for study in (first, second, no_space, other):
        run(study, SPACE, 60)
    assert params_of(first) == params_of(second) == params_of(no_space)
    assert params_of(first) != params_of(other)
    assert [decision(t) for t in first.trials] == [decision(t) for t in second.trials]


def test_a_new_sampler_on_the_same_storage_resumes_deterministically(tmp_path: Path) -> None:
    def storage(name: str) -> JournalStorage:  # a file several processes could share
        return JournalStorage(JournalFileBackend(str(tmp_path / f"{name}.log")))

    study = optuna.create_study(storage=storage("a"), study_name="s",
                                sampler=RegularizedEvolutionSampler(population_size=6, seed=4))
    run(study, SPACE, 25)
    for name in ("b", "c"):
        shutil.copy(tmp_path / "a.log", tmp_path / f"{name}.log")
    # The original sampler goes on; two fresh sampler objects resume copies of the storage.
    run(study, SPACE, 12)
    resumed = []
    for name in ("b", "c"):
        again = optuna.load_study(storage=storage(name), study_name="s",
                                  sampler=RegularizedEvolutionSampler(population_size=6, seed=4))
        run(again, SPACE, 12)
        resumed.append(params_of(again))
    assert resumed[0] == resumed[1] == params_of(study)
    assert all(decision(t)["parent"] is not None for t in study.trials[6:])


def test_another_sampler_object_proposes_the_same_values_mid_trial() -> None:
    space: list[Node] = [Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)]
    study = new_study(space, population_size=4, sample_size=2, seed=9)
    run(study, space, 10, objective=lambda p: p["x"] + p["y"])
    trial = study.ask()  # the decision is recorded in the storage by before_trial
    run(study, space, 3, objective=lambda p: -1.0)  # the history moves on meanwhile
    frozen = study._storage.get_trial(trial._trial_id)
    assert decision(frozen)["population"] == [6, 7, 8, 9]
    other = RegularizedEvolutionSampler(population_size=4, sample_size=2, seed=9)
    dist = FloatDistribution(0.0, 1.0)
    expected = [other.sample_independent(study, frozen, n, dist) for n in ("x", "y")]
    assert [trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)] == expected
    study.tell(trial, 1.0)
    sampler = study.sampler
    assert isinstance(sampler, RegularizedEvolutionSampler)
    assert not sampler._decisions  # the per-trial cache is emptied when trials end


def test_parallel_threads_run_and_keep_the_rules() -> None:
    sampler = RegularizedEvolutionSampler(population_size=6, sample_size=3, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: synthetic(sample(t, SPACE)), n_trials=40, n_jobs=2)
    assert len(study.trials) == 40
    for t, d in evolved(study):
        assert d["parent"] in d["tournament"] and len(d["population"]) == 6
        assert all(n != t.number for n in d["population"])


# --- (6) constraints ------------------------------------------------------------------------------


def test_infeasible_trials_lose_every_tournament_with_a_feasible_member() -> None:
    space: list[Node] = [Float("x", -4.0, 4.0)]
    study = new_study(space, population_size=6, sample_size=3, seed=11)
    for _ in range(60):  # minimize x^2 subject to x >= 1: the unconstrained best is infeasible
        trial = study.ask()
        x = sample(trial, space)["x"]
        trial.set_user_attr(CONSTRAINTS_ATTR, [1.0 - x])
        study.tell(trial, x * x)

    trials = study.trials
    value = [t.value for t in trials if t.value is not None]
    assert len(value) == 60

    def violation(n: int) -> float:
        return max(0.0, trials[n].user_attrs[CONSTRAINTS_ATTR][0])

    mixed = 0
    for _, d in evolved(study):
        feasible = [n for n in d["tournament"] if violation(n) == 0]
        infeasible = [n for n in d["tournament"] if violation(n) > 0]
        if feasible:
            best = min(feasible, key=lambda n: (value[n], -n))
            assert d["parent"] == best
            lower = [n for n in infeasible if value[n] < value[best]]
            mixed += bool(lower)
        else:
            assert d["parent"] == min(infeasible, key=lambda n: (violation(n), -n))
    assert mixed >= 3  # tournaments where an infeasible member had the better value
    # The search closes in on the constrained optimum x = 1 (value 1) from the feasible side.
    assert 1.0 <= min(value[n] for n in range(60) if violation(n) == 0) < 1.3


# --- (7), (8) options and objectives --------------------------------------------------------------


@pytest.mark.parametrize(("options", "words"), [
    ({"population_size": 1}, "'population_size' of search strategy 'evolution' must be >= 2"),
    ({"sample_size": 0}, "'sample_size'"),
    ({"population_size": 4, "sample_size": 5}, "between 1 and population_size (4). Got 5"),
    ({"population_size": 10.0}, "must be int"),
    ({"population_size": True}, "must be int"),
    ({"sample_size": "3"}, "must be int"),
    ({"tournament": 3}, "no option(s) ['tournament']"),
])
def test_bad_options_are_spec_errors(options: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError) as info:
        evolution_strategy(StrategyContext(options=options))
    assert words in str(info.value)


def test_constructor_checks_its_sizes_too() -> None:
    with pytest.raises(SpecError, match="population_size"):
        RegularizedEvolutionSampler(population_size=0)


def test_factory_defaults_and_notes() -> None:
    s = evolution_strategy(StrategyContext(seed=3, space=SPACE, max_trials=10))
    assert s.name == "evolution" and s.pruner is None
    sampler = s.sampler
    assert (sampler.population_size, sampler.sample_size, sampler.seed) == (20, 5, 3)
    assert "every trial is random" in s.notes[0]
    small = evolution_strategy(StrategyContext(options={"population_size": 3})).sampler
    assert small.sample_size == 3


def test_multi_objective_is_refused() -> None:
    with pytest.raises(SpecError, match="'nsga2', 'tpe' or 'random'"):
        evolution_strategy(StrategyContext(directions=("maximize", "minimize")))
    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=RegularizedEvolutionSampler())
    with pytest.raises(SpecError, match="one objective"):
        study.ask()


# --- (10) enqueued trials -------------------------------------------------------------------------


def test_enqueued_fixed_parameter_trials_do_not_break_it() -> None:
    study = new_study(SPACE, population_size=5, sample_size=2, seed=6)
    run(study, SPACE, 8)
    full = {"model": "b", "b.lr": 0.01, "b.x": 0.7, "b.depth": 11, "b.kind": "q"}
    study.enqueue_trial(full)
    study.enqueue_trial({"model": "c", "c.u": 0.3})  # partial: the rest comes from the sampler
    study.enqueue_trial({"a.x": 1.0})  # a parameter of a branch that may not be taken
    run(study, SPACE, 40)
    assert study.trials[8].params == full and study.trials[8].value == 0.0
    assert study.trials[9].params["model"] == "c" and study.trials[9].params["c.u"] == 0.3
    assert len(study.trials) == 48
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # The enqueued optimum is adopted as a parent and its children stay close to it.
    assert any(d["parent"] == 8 for _, d in evolved(study))
    assert study.best_value == 0.0
