"""The Keras Tuner side of ``benchmarks/nas.py --part keras``: the Keras Tuner introduction on
the digits split, run in its OWN virtual environment (tensorflow-cpu + keras-tuner; never
imported by the project or its tests).

Setup (once)::

    python3 -m venv benchmarks/_out/keras-venv
    benchmarks/_out/keras-venv/bin/pip install -r benchmarks/requirements-keras.txt

``nas.py`` writes the split to an ``.npz`` and calls::

    benchmarks/_out/keras-venv/bin/python benchmarks/keras_tuner_digits.py \\
        --data SPLIT.npz --seed 0 --out RESULT.json [--max-epochs 10] [--threads 1]

What runs (the tutorial's ``model_builder`` and search, on 8x8 digits instead of
Fashion-MNIST): ``Sequential([Flatten(), Dense(hp.Int("units", 16, 512, step=16), relu),
Dropout(0.2), Dense(10)])``, ``Adam(hp.Choice("learning_rate", [1e-2, 1e-3, 1e-4]))``,
sparse categorical cross-entropy on logits, ``accuracy``; ``kt.Hyperband(objective=
"val_accuracy", max_epochs=10, factor=3, seed=seed)``; ``search(x, y, epochs=50,
validation_split=0.2, callbacks=[EarlyStopping(monitor="val_loss", patience=5)])`` with ``x``
the training then validation rows of the split (so the last 20 % is the validation set), batch
size 32 (Keras' default). Epochs actually run are counted by a callback shared by all trials.
The JSON holds wall time of ``search`` (after TensorFlow's import), trials, epochs, the best
trial's validation accuracy, the best model's test accuracy and the versions.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Run one search; write the result JSON."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data", required=True, help="the split as .npz (from benchmarks/nas.py)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--max-epochs", type=int, default=10)
    p.add_argument("--factor", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="TF threads (0: TF's default)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.threads:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads)
    t_import = time.perf_counter()
    import keras
    import keras_tuner as kt
    import numpy as np
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import_s = time.perf_counter() - t_import

    data = np.load(args.data)
    shape = (-1, 8, 8)
    x_fit = np.concatenate([data["X_train"], data["X_valid"]]).reshape(shape)
    y_fit = np.concatenate([data["y_train"], data["y_valid"]])
    x_test, y_test = data["X_test"].reshape(shape), data["y_test"]

    class EpochCounter(keras.callbacks.Callback):
        """Counts epochs over all trials (Keras Tuner deep-copies callbacks per trial)."""

        def __init__(self) -> None:
            super().__init__()
            self.epochs = 0

        def __deepcopy__(self, memo: dict[int, Any]) -> EpochCounter:
            return self

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epochs += 1

    def model_builder(hp: Any) -> Any:
        model = keras.Sequential()
        model.add(keras.Input(shape=(8, 8)))
        model.add(keras.layers.Flatten())
        hp_units = hp.Int("units", min_value=16, max_value=512, step=16)
        model.add(keras.layers.Dense(units=hp_units, activation="relu"))
        model.add(keras.layers.Dropout(0.2))
        model.add(keras.layers.Dense(10))
        hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=hp_learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    keras.utils.set_random_seed(args.seed)
    counter = EpochCounter()
    copy.deepcopy(counter)  # the shared-counter trick must hold
    with tempfile.TemporaryDirectory() as tmp:
        tuner = kt.Hyperband(model_builder, objective="val_accuracy",
                             max_epochs=args.max_epochs, factor=args.factor, seed=args.seed,
                             directory=tmp, project_name="intro_to_kt", overwrite=True)
        stop_early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
        t0 = time.perf_counter()
        tuner.search(x_fit, y_fit, epochs=50, validation_split=0.2,
                     callbacks=[stop_early, counter], verbose=0)
        wall = time.perf_counter() - t0
        best_trial = tuner.oracle.get_best_trials(1)[0]
        best_hp = tuner.get_best_hyperparameters(1)[0]
        model = tuner.get_best_models(1)[0]
        logits = model.predict(x_test, verbose=0)
        test_acc = float(np.mean(np.argmax(logits, axis=1) == y_test))
        n_trials = len(tuner.oracle.trials)
        states: dict[str, int] = {}
        for t in tuner.oracle.trials.values():
            states[str(t.status)] = states.get(str(t.status), 0) + 1
    result = {
        "side": "keras_tuner", "seed": args.seed, "wall_s": round(wall, 3),
        "import_s": round(import_s, 3), "trials": n_trials, "trial_states": states,
        "epochs": counter.epochs, "best_val_acc": round(float(best_trial.score), 5),
        "test_acc": round(test_acc, 5), "best_units": int(best_hp.get("units")),
        "best_learning_rate": float(best_hp.get("learning_rate")),
        "threads": args.threads or "default",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__,
                     "keras_tuner": kt.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
    }
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
