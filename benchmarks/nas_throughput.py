"""Part ``throughput`` of ``benchmarks/nas.py``: our trainer against a minimal PyTorch loop.

Both sides train the same network (same initial weights: built once with
``torch.manual_seed(0)`` and loaded before every run) on the same data as tensors, with the same
batch size, ``Adam(lr=1e-3)`` (no weight decay), cross-entropy and a fresh shuffle per epoch;
neither validates. Sides:

* ``hand``: the minimal loop below (a ``torch.randperm`` per epoch, index the tensors, zero
  the gradients, forward, loss, backward, step; the epoch loss accumulated on the device and
  read once per epoch).
* ``ours``: ``TrainState.create(net, optimizer="adam", learning_rate=1e-3, weight_decay=0,
  device=..., seed=0)`` then ``train(state, X, y, task="classification", epochs=E,
  batch_size=B)``, as users call it (it also computes the training accuracy of every batch,
  its default metric).
* ``ours_nometric``: the same with ``metrics={}`` (what the extra metric costs).

Runs alternate ``hand, ours, ours_nometric`` in each repeat, so background load hits every
side alike; throughput = rows x epochs / wall seconds of the call. The ratio is the median over
repeats of ``time(ours) / time(hand)`` (goal: <= 1.2). With one thread
(``torch.set_num_threads(1)``) and with torch's default threads. Where CUDA is available, every
case also runs on the GPU (data on the device) and the GPU/CPU speed-up is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from nas_common import cuda_available, digits_split, median, rnd, torch_threads

SIDES = ("hand", "ours", "ours_nometric")
GOAL_RATIO = 1.2


def cases(quick: bool) -> list[dict[str, Any]]:
    """The measured cases: an overhead-bound one (digits, small batches) and a compute-bound
    one (16,384 synthetic rows, 256-wide layers)."""
    return [
        {"name": "digits", "arch": "dense(128,relu,0.1) > dense(128,relu,0.1)",
         "rows": None, "batch_size": 32, "epochs": 3 if quick else 20},
        {"name": "synthetic_16k",
         "arch": "dense(256,relu,0.1) > dense_bn(256,relu,0.1) > residual(256,relu,0.1)",
         "rows": 2048 if quick else 16384, "batch_size": 256, "epochs": 1 if quick else 3},
    ]


def _data(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if case["rows"] is None:
        s = digits_split()
        return s.X_train, s.y_train
    rng = np.random.default_rng(0)
    X = rng.normal(size=(case["rows"], 64)).astype(np.float32)
    W = rng.normal(size=(64, 10))
    y = np.argmax(X @ W + rng.gumbel(size=(case["rows"], 10)), axis=1).astype(np.int64)
    return X, y


def hand_loop(module: Any, X: Any, y: Any, *, epochs: int, batch_size: int, seed: int = 0,
              lr: float = 1e-3) -> float:
    """The minimal PyTorch loop; returns the last epoch's mean training loss."""
    import torch
    from torch import nn

    dev = X.device
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    last = float("nan")
    for _ in range(epochs):
        module.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        total = torch.zeros((), device=dev)
        for a in range(0, n, batch_size):
            idx = perm[a:a + batch_size]
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.shape[0]
        last = float(total) / n
    return last


def _ours(metrics: bool) -> Callable[..., float]:
    def run(module: Any, X: Any, y: Any, *, epochs: int, batch_size: int, seed: int = 0,
            lr: float = 1e-3) -> float:
        from automl_bridge.models.nn.trainer import TrainState, train

        state = TrainState.create(module, optimizer="adam", learning_rate=lr, weight_decay=0.0,
                                  device=X.device, seed=seed)
        hist = train(state, X, y, task="classification", epochs=epochs, batch_size=batch_size,
                     metrics=None if metrics else {})
        return float(hist[-1]["loss"])

    return run


def _time_one(side: str, case: dict[str, Any], init: dict[str, Any], X: Any, y: Any,
              device: str) -> tuple[float, float]:
    import torch

    from automl_bridge.models.nas import build_network

    net = build_network(case["arch"], X.shape[1], 10)
    net.load_state_dict(init)
    net.to(device)
    fn = hand_loop if side == "hand" else _ours(side == "ours")
    if device != "cpu":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    loss = fn(net, X, y, epochs=case["epochs"], batch_size=case["batch_size"])
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, loss


def measure(case: dict[str, Any], *, device: str, threads: int | None, repeats: int,
            log: Callable[[str], None]) -> dict[str, Any]:
    """Alternate the sides ``repeats`` times on one case/device/thread setting."""
    import torch

    from automl_bridge.models.nas import build_network

    Xn, yn = _data(case)
    X, y = torch.from_numpy(Xn).to(device), torch.from_numpy(yn).to(device)
    torch.manual_seed(0)
    init = {k: v.clone() for k, v in build_network(case["arch"], X.shape[1], 10)
            .state_dict().items()}
    times: dict[str, list[float]] = {s: [] for s in SIDES}
    losses: dict[str, float] = {}
    with torch_threads(threads) as used:
        warm = dict(case, epochs=1)
        for side in SIDES:  # warm-up: allocator, kernels, lazy imports
            _time_one(side, warm, init, X, y, device)
        for _ in range(repeats):
            for side in SIDES:
                t, loss = _time_one(side, case, init, X, y, device)
                times[side].append(t)
                losses[side] = loss
    samples = X.shape[0] * case["epochs"]
    ratios = [o / h for o, h in zip(times["ours"], times["hand"], strict=True)]
    ratios_nm = [o / h for o, h in zip(times["ours_nometric"], times["hand"], strict=True)]
    rec = {
        "case": case["name"], "device": device, "threads": used, "repeats": repeats,
        "rows": int(X.shape[0]), "epochs": case["epochs"], "batch_size": case["batch_size"],
        "arch": case["arch"],
        "samples_per_s": {s: rnd(samples / median(t), 1) for s, t in times.items()},
        "seconds": {s: [rnd(v) for v in t] for s, t in times.items()},
        "ratio_ours_over_hand": rnd(median(ratios)),
        "ratio_nometric_over_hand": rnd(median(ratios_nm)),
        "ratios": [rnd(r) for r in ratios],
        "final_loss": {s: rnd(v) for s, v in losses.items()},
    }
    rec["goal_met"] = bool(rec["ratio_ours_over_hand"] <= GOAL_RATIO)
    log(f"throughput {case['name']} {device} threads={used}: "
        + ", ".join(f"{s} {rec['samples_per_s'][s]:.0f}/s" for s in SIDES)
        + f"; ours/hand {rec['ratio_ours_over_hand']:.3f}")
    return rec


def run_part(args: Any, section: dict[str, Any], log: Callable[[str], None]) -> None:
    """Fill ``section`` with records and a summary."""
    repeats = args.repeats or (1 if args.quick else 7)
    threads_list: list[int | None] = [1, None]
    devices = ["cpu"] + (["cuda"] if cuda_available() else [])
    section["config"] = {"sides": list(SIDES), "repeats": repeats, "goal_ratio": GOAL_RATIO,
                         "threads": ["1", "default"], "devices": devices,
                         "cases": cases(args.quick), "optimizer": "Adam(lr=1e-3)",
                         "validation": "none in either"}
    section["cuda"] = "cuda" in devices
    recs = section["records"]
    for case in cases(args.quick):
        for device in devices:
            for threads in threads_list if device == "cpu" else [None]:
                recs.append(measure(case, device=device, threads=threads, repeats=repeats,
                                    log=log))
    summary: dict[str, Any] = {"rows": []}
    for r in recs:
        row = {"case": r["case"], "device": r["device"], "threads": r["threads"],
               "ours_per_s": r["samples_per_s"]["ours"], "hand_per_s": r["samples_per_s"]["hand"],
               "ratio": r["ratio_ours_over_hand"],
               "ratio_nometric": r["ratio_nometric_over_hand"], "goal_met": r["goal_met"]}
        if r["device"] == "cuda":
            cpu = [c for c in recs if c["case"] == r["case"] and c["device"] == "cpu"]
            if cpu:
                best_cpu = max(c["samples_per_s"]["ours"] for c in cpu)
                row["speedup_over_cpu"] = rnd(r["samples_per_s"]["ours"] / best_cpu, 2)
        summary["rows"].append(row)
    summary["all_goals_met"] = all(r["goal_met"] for r in recs)
    summary["worst_ratio"] = max(r["ratio_ours_over_hand"] for r in recs)
    section["summary"] = summary
