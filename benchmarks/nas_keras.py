"""Part ``keras`` of ``benchmarks/nas.py``: the tuner quickstart in our tuner and in Keras Tuner.

Both sides run the Keras Tuner introduction (``examples/tuner_quickstart.py`` is our port) on
the same digits split (8x8 images; ``x`` = training then validation rows, so
``validation_split=0.2`` holds out exactly the validation rows on both sides; test on the 357
test rows): ``Flatten, Dense(units 16..512 step 16, relu), Dropout(0.2), Dense(10)``,
``learning_rate`` in ``[1e-2, 1e-3, 1e-4]``; ``Hyperband(objective="val_accuracy",
max_epochs=10, factor=3, seed=s)``; ``EarlyStopping(monitor="val_loss", patience=5)``; batch 32.

* ours: ``automl_bridge.tuners.Hyperband`` in this process, the quickstart's ``model_builder``
  (PyTorch, AdamW with weight decay 1e-4 at the tuned rate: what the example uses);
* Keras Tuner: ``benchmarks/keras_tuner_digits.py`` in a subprocess with the Python of the
  Keras virtual environment (``--keras-python``; Adam at the tuned rate, as the tutorial).

Both run with one thread (``torch.set_num_threads(1)``; TF intra/inter-op threads 1). The order
of the sides alternates by seed. Wall time = seconds of ``search`` alone (Keras: after
TensorFlow's import, which is recorded apart). Epochs = training epochs actually run (a
callback shared by all trials on both sides). Best validation accuracy = the best trial's score
(its best epoch); test accuracy = the tuner's best model on the test rows.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from nas_common import (
    BENCH_DIR,
    OUT_DIR,
    EpochCounter,
    digits_split,
    fmean,
    rnd,
    save_split,
    torch_threads,
)

FULL = {"max_epochs": 10, "factor": 3}
QUICK = {"max_epochs": 3, "factor": 3}
THREADS = 1


def model_builder(hp: Any) -> dict[str, Any]:
    """The quickstart's build (as in ``examples/tuner_quickstart.py``)."""
    from torch import nn

    hp_units = hp.Int("units", min_value=16, max_value=512, step=16)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, hp_units), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(hp_units, 10))
    hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    return {"model": model, "optimizer": "adamw", "learning_rate": hp_learning_rate}


def run_ours(data: Any, seed: int, settings: dict[str, int]) -> dict[str, Any]:
    """Our side, in this process."""
    from automl_bridge.models.nn.trainer import predict_batches
    from automl_bridge.tuners import EarlyStopping, Hyperband

    x_fit, y_fit = data.X_fit.reshape(-1, 8, 8), data.y_fit
    counter = EpochCounter()
    with torch_threads(THREADS):
        tuner = Hyperband(model_builder, objective="val_accuracy",
                          max_epochs=settings["max_epochs"], factor=settings["factor"],
                          seed=seed, project_name="intro_to_kt", overwrite=True, device="cpu")
        stop_early = EarlyStopping(monitor="val_loss", patience=5)
        t0 = time.perf_counter()
        tuner.search(x_fit, y_fit, validation_split=0.2, callbacks=[stop_early, counter],
                     verbose=0)
        wall = time.perf_counter() - t0
        best = tuner.get_best_trials(1)[0]
        hp = tuner.get_best_hyperparameters(1)[0]
        model = tuner.get_best_models(1)[0]
        pred = predict_batches(model, data.X_test.reshape(-1, 8, 8)).argmax(axis=1)
    states: dict[str, int] = {}
    for t in tuner.study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return {"side": "ours", "seed": seed, "status": "ok", "wall_s": rnd(wall, 3),
            "trials": len(tuner.study.trials), "trial_states": states,
            "epochs": counter.epochs,
            "best_val_acc": rnd(float(best.user_attrs["automl_bridge:score"]), 5),
            "test_acc": rnd(float(np.mean(pred == data.y_test)), 5),
            "best_units": int(hp.get("units")),
            "best_learning_rate": float(hp.get("learning_rate")), "threads": THREADS}


def run_keras(python: Path, split_path: Path, seed: int, settings: dict[str, int],
              timeout_s: float = 1800) -> dict[str, Any]:
    """The Keras side in a subprocess of the Keras venv's Python."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "keras.json"
        cmd = [str(python), str(BENCH_DIR / "keras_tuner_digits.py"), "--data", str(split_path),
               "--seed", str(seed), "--out", str(out), "--max-epochs",
               str(settings["max_epochs"]), "--factor", str(settings["factor"]),
               "--threads", str(THREADS)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"side": "keras_tuner", "seed": seed, "status": "timeout"}
        process_s = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            return {"side": "keras_tuner", "seed": seed, "status": "error",
                    "error": proc.stderr[-2000:]}
        rec: dict[str, Any] = json.loads(out.read_text())
    rec["status"] = "ok"
    rec["process_s"] = round(process_s, 3)
    return rec


def run_part(args: Any, section: dict[str, Any], log: Callable[[str], None]) -> None:
    """Fill ``section`` with one record per side and seed and the side-by-side summary."""
    settings = dict(QUICK if args.quick else FULL)
    data = digits_split()
    split_path = save_split(data, OUT_DIR / "digits_split.npz")
    python = Path(args.keras_python) if args.keras_python else None
    if python is not None and not python.exists():
        raise SystemExit(f"--keras-python {python} does not exist; create the venv first "
                         "(see benchmarks/keras_tuner_digits.py).")
    section["config"] = {
        **settings, "seeds": args.seeds, "threads": THREADS, "split": data.sizes(),
        "keras_python": str(python) if python else None,
        "how": (f"Keras Tuner introduction on digits: units 16..512 step 16, learning rate in "
                f"[1e-2, 1e-3, 1e-4], `Hyperband(max_epochs={settings['max_epochs']}, "
                f"factor={settings['factor']}, objective=\"val_accuracy\")`, "
                "`validation_split=0.2`, `EarlyStopping(monitor=\"val_loss\", patience=5)`, "
                "batch 32, 1 thread on both sides, order alternated by seed; ours: PyTorch + "
                "AdamW (the example's build); Keras Tuner: tensorflow-cpu + Adam (the "
                "tutorial's). Wall = seconds of `search()` (Keras: TensorFlow's import apart)."),
    }
    recs = section["records"]
    for i, seed in enumerate(args.seeds):
        sides = ["ours", "keras_tuner"] if i % 2 == 0 else ["keras_tuner", "ours"]
        for side in sides:
            if side == "ours":
                rec = run_ours(data, seed, settings)
            elif python is None:
                continue
            else:
                rec = run_keras(python, split_path, seed, settings)
            recs.append(rec)
            log(f"keras part seed {seed} {side}: {rec.get('status')}, wall {rec.get('wall_s')} "
                f"s, {rec.get('trials')} trials, {rec.get('epochs')} epochs, best val "
                f"{rec.get('best_val_acc')}, test {rec.get('test_acc')}, units "
                f"{rec.get('best_units')}")
    mean: dict[str, dict[str, Any]] = {}
    for side in ("ours", "keras_tuner"):
        ok = [r for r in recs if r["side"] == side and r.get("status") == "ok"]
        if ok:
            mean[side] = {k: rnd(fmean([float(r[k]) for r in ok]), 5) for k in
                          ("wall_s", "trials", "epochs", "best_val_acc", "test_acc")}
            mean[side]["runs"] = len(ok)
    versions = next((r.get("versions") for r in recs if r["side"] == "keras_tuner"
                     and r.get("status") == "ok"), None)
    summary: dict[str, Any] = {"mean": mean, "versions": versions}
    if "ours" in mean and "keras_tuner" in mean:
        summary["wall_ratio_keras_over_ours"] = rnd(
            mean["keras_tuner"]["wall_s"] / mean["ours"]["wall_s"], 3)
        summary["val_gap_points"] = rnd(
            100 * (mean["ours"]["best_val_acc"] - mean["keras_tuner"]["best_val_acc"]), 3)
        summary["test_gap_points"] = rnd(
            100 * (mean["ours"]["test_acc"] - mean["keras_tuner"]["test_acc"]), 3)
    section["summary"] = summary
