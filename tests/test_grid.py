"""The grid strategy: enumeration rules, each point run once, resume, claims, budget rule."""

from __future__ import annotations

import json
import threading
import warnings
from typing import Any

import numpy as np
import optuna
import pytest

from automl_bridge.exceptions import SpecError
from automl_bridge.search.grid import (
    CANDIDATE_ATTR,
    GRID_ATTR,
    GridSampler,
    _Shuffle,
    grid_points,
    grid_size,
    grid_strategy,
)
from automl_bridge.search.space import (
    Choice,
    Conditional,
    Fixed,
    Float,
    Int,
    RandomTrial,
    distribution,
    parameters,
    sample,
)
from automl_bridge.search.strategies import StrategyContext

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Engine-like: a choice of family, each family's parameters named "<family>.<param>".
SPACE = [Conditional(Choice("model", ["a", "b"]), {
    "a": [Int("a.depth", 1, 3), Choice("a.crit", ["gini", "entropy"]), Fixed("a.seed", 0)],
    "b": [Float("b.lr", 0.01, 1.0, log=True), Choice("b.loss", ["l1"])],
})]

# Larger, with stepped / log parameters, for the study runs: 3*2*4 + 4 + 4*4 = 44 at levels=4.
BIG = [Conditional(Choice("model", ["a", "b", "c"]), {
    "a": [Int("a.depth", 1, 3), Choice("a.crit", ["gini", "entropy"]), Float("a.f", 0.0, 1.0)],
    "b": [Float("b.lr", 1e-3, 1.0, log=True)],
    "c": [Float("c.s", 0.0, 0.9, step=0.3), Int("c.n", 1, 100, log=True)],
})]
BIG_SIZE = 44


def key(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def searched(point: dict[str, Any], space: list[Any]) -> dict[str, Any]:
    params = parameters(space)
    return {k: v for k, v in point.items() if distribution(params[k]) is not None}


def run(study: optuna.Study, space: list[Any], n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(sample(trial, space))
        study.tell(trial, 0.0)
    return out


def attrs(study: optuna.Study, trial: optuna.Trial) -> dict[str, Any]:
    return dict(study._storage.get_trial_system_attrs(trial._trial_id))


def new_study(space: list[Any] = BIG, levels: int = 4, **kw: Any) -> optuna.Study:
    return optuna.create_study(sampler=GridSampler(space=space, levels=levels, **kw))


# --- enumeration --------------------------------------------------------------------------


def test_conditional_space_is_a_sum_over_branches_with_exact_points() -> None:
    assert grid_size(SPACE, 3) == 6 + 3  # not 6 * 3 (a product over every family)
    points = grid_points(SPACE, levels=3)
    assert points == [
        {"model": "a", "a.depth": 1, "a.crit": "gini", "a.seed": 0},
        {"model": "a", "a.depth": 1, "a.crit": "entropy", "a.seed": 0},
        {"model": "a", "a.depth": 2, "a.crit": "gini", "a.seed": 0},
        {"model": "a", "a.depth": 2, "a.crit": "entropy", "a.seed": 0},
        {"model": "a", "a.depth": 3, "a.crit": "gini", "a.seed": 0},
        {"model": "a", "a.depth": 3, "a.crit": "entropy", "a.seed": 0},
        {"model": "b", "b.lr": 0.01, "b.loss": "l1"},
        {"model": "b", "b.lr": pytest.approx(0.1), "b.loss": "l1"},
        {"model": "b", "b.lr": 1.0, "b.loss": "l1"},
    ]
    # Each point is exactly what sample() draws for it, in drawing order.
    for p in points:
        drawn = sample(RandomTrial(np.random.default_rng(0), fixed=p), SPACE)
        assert drawn == p and list(drawn) == list(p)
    assert grid_size(BIG, 4) == len(grid_points(BIG, levels=4)) == BIG_SIZE


def test_conditional_on_an_int_enumerates_each_length() -> None:
    layers = [Conditional(Int("n_layers", 1, 3), {
        n: [Float(f"layer{i}.units", 8.0, 64.0) for i in range(n)] for n in (1, 2, 3)})]
    assert grid_size(layers, 3) == 3 + 9 + 27
    points = grid_points(layers, levels=3)
    assert [len(p) for p in points].count(4) == 27
    assert points[0] == {"n_layers": 1, "layer0.units": 8.0}


def levels_of(param: Any, levels: int) -> list[Any]:
    return [p[param.name] for p in grid_points([param], levels=levels)]


@pytest.mark.filterwarnings("ignore:The distribution is specified by:UserWarning")
def test_levels_rule() -> None:
    assert levels_of(Float("x", 0.0, 1.0), 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert levels_of(Float("x", 1e-3, 10.0, log=True), 5) == pytest.approx(
        [1e-3, 1e-2, 1e-1, 1.0, 10.0])
    assert levels_of(Int("n", 1, 5), 5) == [1, 2, 3, 4, 5]  # <= levels values: all
    assert levels_of(Int("n", 1, 5), 3) == [1, 3, 5]
    assert levels_of(Int("n", 0, 10), 4) == [0, 3, 7, 10]  # evenly spaced, rounded
    assert levels_of(Int("n", 1, 1000, log=True), 4) == [1, 10, 100, 1000]
    assert levels_of(Int("n", 1, 8, log=True), 5) == [1, 2, 3, 5, 8]  # geometric, rounded
    assert levels_of(Int("n", 1, 10, log=True), 20) == list(range(1, 11))
    assert levels_of(Int("n", 0, 20, step=5), 5) == [0, 5, 10, 15, 20]  # every step
    assert levels_of(Int("n", 0, 20, step=5), 3) == [0, 10, 20]  # on the step grid
    assert levels_of(Float("x", 0.0, 1.0, step=0.25), 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert levels_of(Float("x", 0.0, 1.0, step=0.1), 3) == pytest.approx([0.0, 0.5, 1.0])
    assert len(levels_of(Float("x", 0.0, 1.0, step=0.1), 11)) == 11
    assert levels_of(Float("x", 0.0, 1.0, step=0.3), 5) == pytest.approx([0, 0.3, 0.6, 0.9])
    assert levels_of(Choice("k", list("abcdefg")), 2) == list("abcdefg")  # never thinned
    assert levels_of(Int("n", 3, 3), 5) == [3]
    assert levels_of(Fixed("c", "z"), 5) == ["z"]
    # Every level lies inside the distribution Optuna draws from.
    numeric: list[Int | Float] = [
        Float("x", 0.0, 1.0, step=0.3), Float("x", 0.1, 0.7, step=0.1),
        Float("x", 1e-4, 3.0, log=True), Int("n", 2, 97, step=5),
        Int("n", 1, 1000, log=True), Float("x", -1.0, 1.0)]
    for p in numeric:
        dist = distribution(p)
        for v in levels_of(p, 4):
            assert dist._contains(dist.to_internal_repr(v)), (p, v)


def test_grid_size_of_a_huge_space_without_enumerating() -> None:
    assert grid_size([Float(f"x{i}", 0.0, 1.0) for i in range(60)], 5) == 5 ** 60
    with pytest.raises(SpecError, match="levels"):
        grid_size(SPACE, 1)


# --- the sampler over a study ---------------------------------------------------------------


def test_every_point_once_then_exhausted() -> None:
    study = new_study()
    sampler = study.sampler
    assert isinstance(sampler, GridSampler)
    seen = []
    for _ in range(BIG_SIZE):
        assert not sampler.exhausted(study)
        trial = study.ask()
        point = sample(trial, BIG)
        assert trial.params == searched(point, BIG)
        seen.append(key(point))
        study.tell(trial, 0.0)
    assert sorted(seen) == sorted(key(p) for p in grid_points(BIG, levels=4))
    assert sampler.exhausted(study)
    # Asked anyway: a grid point again, with one warning.
    with pytest.warns(RuntimeWarning, match="repeats a random point"):
        extra = run(study, BIG, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        extra += run(study, BIG, 2)
    assert all(key(p) in seen for p in extra)


def test_two_threads_asking_under_a_lock_share_the_grid() -> None:
    study = new_study(seed=3)
    sampler = study.sampler
    assert isinstance(sampler, GridSampler)
    lock = threading.Lock()
    seen: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if sampler.exhausted(study):
                    return
                trial = study.ask()
                point = sample(trial, BIG)
                seen.append(key(point))
            study.tell(trial, float(len(point)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == BIG_SIZE
    assert sorted(seen) == sorted(key(p) for p in grid_points(BIG, levels=4))


def test_resume_with_a_new_sampler_continues_the_same_order() -> None:
    url = optuna.storages.InMemoryStorage()
    first = optuna.create_study(storage=url, study_name="g",
                                sampler=GridSampler(space=BIG, levels=4, seed=7))
    part1 = run(first, BIG, 15)
    sampler = GridSampler(space=BIG, levels=4, seed=7)
    again = optuna.load_study(study_name="g", storage=url, sampler=sampler)
    part2 = run(again, BIG, BIG_SIZE - 15)
    assert sampler.exhausted(again)
    assert len({key(p) for p in part1 + part2}) == BIG_SIZE
    # Exactly the order one uninterrupted session follows.
    assert part1 + part2 == run(new_study(seed=7), BIG, BIG_SIZE)


def test_interrupted_trial_is_run_again_failed_one_is_not() -> None:
    study = new_study(seed=1)
    sampler = study.sampler
    assert isinstance(sampler, GridSampler)
    interrupted, failed = study.ask(), study.ask()
    points = {t.number: key(sample(t, BIG)) for t in (interrupted, failed)}
    for trial, state in ((interrupted, "interrupted"), (failed, "failed")):
        trial.set_user_attr(CANDIDATE_ATTR, json.dumps({"state": state}))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    rest = [key(p) for p in run(study, BIG, BIG_SIZE - 1)]
    assert sampler.exhausted(study)
    assert points[interrupted.number] in rest  # its point was handed out again
    assert points[failed.number] not in rest
    assert sorted([*rest, points[failed.number]]) == sorted(
        key(p) for p in grid_points(BIG, levels=4))


def test_resume_reenqueues_a_zombie_and_it_keeps_its_point() -> None:
    """What the engine does with a trial left RUNNING by a dead process."""
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="z",
                                sampler=GridSampler(space=BIG, levels=4))
    run(study, BIG, 3)
    zombie = study.ask()
    zombie_point = key(sample(zombie, BIG))
    sampler = GridSampler(space=BIG, levels=4)
    resumed = optuna.load_study(study_name="z", storage=storage, sampler=sampler)
    frozen = resumed.trials[zombie.number]
    storage.set_trial_user_attr(frozen._trial_id, CANDIDATE_ATTR,
                                json.dumps({"state": "interrupted"}))
    resumed.tell(zombie.number, state=optuna.trial.TrialState.FAIL)
    resumed.enqueue_trial(frozen.params)
    rerun = resumed.ask()
    assert attrs(resumed, rerun)[GRID_ATTR] == attrs(study, zombie)[GRID_ATTR]
    assert key(sample(rerun, BIG)) == zombie_point
    resumed.tell(rerun, 0.0)
    rest = run(resumed, BIG, BIG_SIZE - 4)
    assert sampler.exhausted(resumed)
    assert zombie_point not in {key(p) for p in rest}


def test_enqueued_fixed_params_claim_their_own_point() -> None:
    study = new_study(seed=2)
    sampler = study.sampler
    assert isinstance(sampler, GridSampler)
    target = grid_points(BIG, levels=4)[30]
    study.enqueue_trial(searched(target, BIG))
    study.enqueue_trial({"model": "b"})  # partial: the first free point of family b
    study.enqueue_trial({"model": "b", "b.lr": 0.5})  # not a grid point: claims nothing
    t1 = study.ask()
    assert sample(t1, BIG) == target
    study.tell(t1, 0.0)
    t2 = study.ask()
    p2 = sample(t2, BIG)
    assert p2["model"] == "b" and key(p2) in {key(p) for p in grid_points(BIG, levels=4)}
    study.tell(t2, 0.0)
    t3 = study.ask()
    assert GRID_ATTR not in attrs(study, t3) and sample(t3, BIG)["b.lr"] == 0.5
    study.tell(t3, 0.0)
    rest = run(study, BIG, BIG_SIZE - 2)
    assert sampler.exhausted(study)
    assert sorted([key(target), key(p2)] + [key(p) for p in rest]) == sorted(
        key(p) for p in grid_points(BIG, levels=4))


def test_shuffled_order_is_deterministic_and_seeded() -> None:
    def order(**kw: Any) -> list[str]:
        return [key(p) for p in run(new_study(**kw), BIG, BIG_SIZE)]

    enumeration = [key(p) for p in grid_points(BIG, levels=4)]
    assert order(shuffle=False) == enumeration
    seed0 = order(seed=0)
    assert seed0 == order(seed=0)
    assert seed0 != enumeration and seed0 != order(seed=1)
    assert sorted(seed0) == sorted(enumeration)
    # The shuffle is a permutation of range(n), for any n, with an exact inverse.
    for n in (1, 2, 3, 5, 64, 1000):
        s = _Shuffle(n, seed=4)
        perm = [s.forward(p) for p in range(n)]
        assert sorted(perm) == list(range(n))
        assert [s.inverse(g) for g in perm] == list(range(n))
    huge = _Shuffle(5 ** 60, seed=0)
    for p in (0, 1, 12345, 5 ** 60 - 1):
        g = huge.forward(p)
        assert 0 <= g < 5 ** 60 and huge.inverse(g) == p


# --- the strategy ---------------------------------------------------------------------------


def ctx(**kw: Any) -> StrategyContext:
    kw.setdefault("space", SPACE)
    return StrategyContext(**kw)


def test_budget_refusal_and_truncation() -> None:
    with pytest.raises(SpecError) as err:
        grid_strategy(ctx(options={"levels": 3}, max_trials=5))
    msg = str(err.value)
    for part in ("9 grid points", "max_trials=5", "fewer levels", "fewer models",
                 "allow_truncation=True"):
        assert part in msg
    with pytest.raises(SpecError, match=r"at most 4 trials fit in 1 s even at 0.25 s per trial"):
        grid_strategy(ctx(options={"levels": 3}, time_budget_s=1.0))
    s = grid_strategy(ctx(options={"levels": 3, "allow_truncation": True}, max_trials=5))
    assert any("only 5 of 9 points" in n for n in s.notes)
    assert isinstance(s.sampler, GridSampler)
    # max_trials wins over the time budget; enough budget, or none: no refusal.
    s = grid_strategy(ctx(options={"levels": 3}, max_trials=9, time_budget_s=1.0))
    assert s.name == "grid" and s.exhausted is not None
    assert not any("truncated" in n for n in s.notes)
    grid_strategy(ctx(options={"levels": 3}, time_budget_s=2.25))
    grid_strategy(ctx())
    # Grid search ignores scores: several objectives are fine.
    grid_strategy(ctx(directions=("maximize", "minimize")))


def test_strategy_exhausted_stops_a_study() -> None:
    s = grid_strategy(ctx(options={"levels": 3}, max_trials=9, seed=5))
    assert s.exhausted is not None
    study = optuna.create_study(sampler=s.sampler)
    n = 0
    while not s.exhausted(study):
        run(study, SPACE, 1)
        n += 1
    assert n == 9


@pytest.mark.parametrize("options, match", [
    ({"levels": 1}, "must be an int >= 2"),
    ({"levels": True}, "must be int"),
    ({"levels": 2.5}, "must be int"),
    ({"shuffle": "yes"}, "must be bool"),
    ({"allow_truncation": 1}, "must be bool"),
    ({"population_size": 3}, "has no option"),
])
def test_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(SpecError, match=match):
        grid_strategy(ctx(options=options))


def test_no_space_is_refused() -> None:
    with pytest.raises(SpecError, match="needs the search space up front"):
        grid_strategy(StrategyContext(space=None))
