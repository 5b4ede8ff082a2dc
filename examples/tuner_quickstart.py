"""The classic Keras Tuner introduction, ported to PyTorch on scikit-learn's 8x8 digits.

Keras Tuner's "Introduction to the Keras Tuner" tunes the units of a hidden layer (and the
learning rate) of a small image classifier with Hyperband, then rebuilds the model with the
best hyperparameters, finds the best number of epochs and retrains. This is the same flow with
``automl_bridge.tuners`` and PyTorch, offline (the digits ship with scikit-learn).

Run:  python examples/tuner_quickstart.py            (about 10-30 s on a laptop CPU)
      python examples/tuner_quickstart.py --quick    (a few seconds; used by the tests)
      python examples/tuner_quickstart.py --directory runs   (keep the project on disk)
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from automl_bridge.models.nn.trainer import TrainState, predict_batches, train
from automl_bridge.tuners import EarlyStopping, Hyperband, HyperParameters


def model_builder(hp: HyperParameters) -> dict:
    """Flatten, Dense(units, relu), Dropout(0.2), Dense(10): logits of the 10 digits."""
    hp_units = hp.Int("units", min_value=16, max_value=512, step=16)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, hp_units),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(hp_units, 10),
    )
    hp_learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    # the optimiser comes from the build: AdamW at the tuned learning rate
    return {"model": model, "optimizer": "adamw", "learning_rate": hp_learning_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget (for tests)")
    parser.add_argument("--directory", default=None, help="keep the tuner project here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # batches of 32 through a tiny net: threads only add overhead

    # 8x8 grey images in [0, 1], labels 0-9 (Keras: Fashion-MNIST 28x28)
    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).astype("float32").reshape(-1, 8, 8)
    img_train, img_test, label_train, label_test = train_test_split(
        images, labels, test_size=0.2, random_state=0, stratify=labels)

    max_epochs = 3 if args.quick else 10
    tuner = Hyperband(model_builder, objective="val_accuracy", max_epochs=max_epochs,
                      factor=3, seed=0, directory=args.directory,
                      project_name="intro_to_kt", overwrite=True, device="cpu")
    tuner.search_space_summary()

    stop_early = EarlyStopping(monitor="val_loss", patience=5)
    tuner.search(img_train, label_train, validation_split=0.2, callbacks=[stop_early],
                 verbose=0)
    tuner.results_summary(num_trials=3)

    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    print(f"\nThe hyperparameter search is complete. The best number of units in the first "
          f"densely-connected layer is {best_hps.get('units')} and the best learning rate "
          f"for the optimizer is {best_hps.get('learning_rate')}.")

    # Build the model with the best hyperparameters and train it to find the best epoch.
    epochs = 5 if args.quick else 50
    n_val = len(img_train) // 5                     # validation_split=0.2: the last rows
    x_fit, y_fit = img_train[:-n_val], label_train[:-n_val]
    x_val, y_val = img_train[-n_val:], label_train[-n_val:]
    built = tuner.hypermodel.build(best_hps)
    state = TrainState.create(built["model"], learning_rate=built["learning_rate"],
                              device="cpu", seed=0)
    history = train(state, x_fit, y_fit, task="classification", epochs=epochs,
                    batch_size=32, valid=(x_val, y_val))
    val_acc_per_epoch = [logs["val_accuracy"] for logs in history]
    best_epoch = int(np.argmax(val_acc_per_epoch)) + 1
    print(f"Best epoch: {best_epoch}")

    # Re-instantiate the hypermodel and train it for the best number of epochs.
    torch.manual_seed(0)
    hypermodel = tuner.hypermodel.build(best_hps)
    state = TrainState.create(hypermodel["model"], learning_rate=hypermodel["learning_rate"],
                              device="cpu", seed=0)
    train(state, x_fit, y_fit, task="classification", epochs=best_epoch, batch_size=32,
          valid=(x_val, y_val))
    logits = predict_batches(state.module, img_test)
    test_accuracy = float((logits.argmax(axis=1) == label_test).mean())
    print(f"[test loss, test accuracy]: accuracy {test_accuracy:.4f} on {len(label_test)} "
          "test images")


if __name__ == "__main__":
    main()
