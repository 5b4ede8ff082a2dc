"""Shared pieces of ``benchmarks/nas.py``: the digits split, epoch counting, the macro space as
Keras-Tuner-style hyperparameters, threads and devices.

* :func:`digits_split`: scikit-learn's 8x8 digits (1,797 x 64, 10 classes), pixels scaled to
  ``[0, 1]`` (divided by 16), split once with seed 0, stratified: test 357 rows (19.9 %), then
  the other 1,440 into train (1,152) and validation (288) so that ``concat(train, valid)`` with
  ``validation_split=0.2`` (the last 20 % of the rows) gives exactly this validation set in
  Keras (``floor(n * 0.8)`` training rows) and in our tuner (``floor(n * 0.2)`` validation
  rows): both agree because ``0.2 * 1440`` is whole. Every part and both tuners use it.
* :class:`EpochCounter`: a trainer callback counting the epochs actually run (compute).
* :func:`declare_space`: declares the nodes of :func:`automl_bridge.models.nas.macro_space` (or
  any list of :mod:`automl_bridge.search.space` nodes) on a ``HyperParameters`` object, with
  the same names, ranges, steps, log scales and conditions, so ``build(hp)`` searches exactly
  the macro space.
"""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "_out"
SPLIT_SEED = 0
#: Test rows: leaves 1,440 rows, whose last 20 % is a whole number of rows (288).
TEST_ROWS = 357
N_CLASSES = 10


@dataclass(frozen=True)
class DigitsSplit:
    """The fixed digits split (float32 features in [0, 1], int64 labels)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def X_fit(self) -> np.ndarray:
        """Train then validation rows: with ``validation_split=0.2`` the tail is the valid set."""
        return np.concatenate([self.X_train, self.X_valid])

    @property
    def y_fit(self) -> np.ndarray:
        """Labels of :attr:`X_fit`."""
        return np.concatenate([self.y_train, self.y_valid])

    def sizes(self) -> dict[str, int]:
        """Rows per subset."""
        return {"train": len(self.y_train), "valid": len(self.y_valid), "test": len(self.y_test)}


def digits_split() -> DigitsSplit:
    """The split described in the module docstring (deterministic)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    y = y.astype(np.int64)
    X_rest, X_te, y_rest, y_te = train_test_split(X, y, test_size=TEST_ROWS,
                                                  random_state=SPLIT_SEED, stratify=y)
    n_valid = len(y_rest) // 5  # 288 of 1,440
    X_tr, X_va, y_tr, y_va = train_test_split(X_rest, y_rest, test_size=n_valid,
                                              random_state=SPLIT_SEED, stratify=y_rest)
    return DigitsSplit(X_tr, y_tr, X_va, y_va, X_te, y_te)


def save_split(split: DigitsSplit, path: Path) -> Path:
    """Write the split as ``.npz`` (what the Keras side reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X_train=split.X_train, y_train=split.y_train, X_valid=split.X_valid,
             y_valid=split.y_valid, X_test=split.X_test, y_test=split.y_test)
    return path


class EpochCounter:
    """Trainer callback counting epochs (pass it in ``callbacks``; it never stops training).

    The tuners deep-copy their callbacks for every trial; a copy of the counter is the counter
    itself, so one object counts the epochs of all trials.
    """

    def __init__(self) -> None:
        self.epochs = 0
        self.calls = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> EpochCounter:
        return self

    def on_train_begin(self, state: Any) -> None:
        """One more ``train`` call."""
        self.calls += 1

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Count the epoch."""
        self.epochs += 1
        return False

    def on_train_end(self, state: Any) -> None:
        """Nothing to do."""


def declare_space(hp: Any, nodes: Sequence[Any]) -> dict[str, Any]:
    """Declare ``nodes`` (search-space nodes) on ``hp``; return the active values drawn.

    ``Conditional`` nodes become a declaration of the parent and, for each child name, one
    ``conditional_scope(parent, [branches holding it])``. ``Int(log=True)`` maps to
    ``hp.Int(..., sampling="log")`` and a stepped ``Float`` to ``hp.Float(..., step=)``.
    """
    from automl_bridge.search.space import Choice, Conditional, Fixed, Float, Int

    out: dict[str, Any] = {}

    def declare(node: Any) -> Any:
        if isinstance(node, Int):
            return hp.Int(node.name, node.low, node.high,
                          step=None if node.log or node.step == 1 else node.step,
                          sampling="log" if node.log else "linear")
        if isinstance(node, Float):
            return hp.Float(node.name, node.low, node.high, step=node.step,
                            sampling="log" if node.log else "linear")
        if isinstance(node, Choice):
            return hp.Choice(node.name, list(node.choices))
        if isinstance(node, Fixed):
            return hp.Fixed(node.name, node.value)
        raise TypeError(f"cannot declare {node!r}")

    def walk(items: Sequence[Any]) -> None:
        for node in items:
            if isinstance(node, Conditional):
                value = declare(node.param)
                out[node.param.name] = value
                holders: dict[str, list[Any]] = {}
                children: dict[str, Any] = {}
                for key, branch in node.branches.items():
                    for child in branch:
                        holders.setdefault(child.name if not isinstance(child, Conditional)
                                           else child.param.name, []).append(key)
                        children.setdefault(child.name if not isinstance(child, Conditional)
                                            else child.param.name, child)
                for name, child in children.items():
                    with hp.conditional_scope(node.param.name, holders[name]):
                        if isinstance(child, Conditional):
                            walk([child])
                        else:
                            v = declare(child)
                            if v is not None:
                                out[name] = v
            else:
                out[node.name] = declare(node)

    walk(nodes)
    return out


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(n)`` (``None``: the default); yield it."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def default_threads() -> int:
    """torch's default intra-op thread count in a fresh process (the usable cores)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def fmean(values: Sequence[float]) -> float | None:
    """Mean, or None for no values."""
    return statistics.fmean(values) if values else None


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def rnd(v: float | None, digits: int = 4) -> float | None:
    """Round for the JSON (None stays None)."""
    return None if v is None else round(float(v), digits)
