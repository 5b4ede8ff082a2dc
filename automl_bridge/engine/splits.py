"""Validation schemes: holdout or k-fold cross-validation, chosen by data size unless given.

Rule for ``validation="auto"``: up to :data:`CV_MAX_ROWS` rows get 5-fold cross-validation
(stratified for classification), larger data a stratified 20 % holdout. When the rarest class
has fewer rows than folds, the folds are lowered to that count (at least 2) with a warning.

Example:
    >>> import numpy as np
    >>> from automl_bridge.engine.splits import make_splits
    >>> y = np.array([0, 1] * 50)
    >>> splits, desc, warns = make_splits(y, "classification", "auto", folds=5, fraction=0.2,
    ...                                   seed=0)
    >>> len(splits), desc["method"]
    (5, 'cv')
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Largest number of rows validated by cross-validation under ``validation="auto"``.
CV_MAX_ROWS = 5_000


def make_splits(
    y: np.ndarray, task: str, method: str, *, folds: int, fraction: float, seed: int,
    target: str = "target",
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any], list[str]]:
    """Index pairs ``(train, valid)``, a description of the scheme, and warnings."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    n = len(y)
    warnings: list[str] = []
    if method == "auto":
        method = "cv" if n <= CV_MAX_ROWS else "holdout"
    idx = np.arange(n)
    stratify = task == "classification"
    if method == "cv":
        if stratify:
            _, counts = np.unique(y.astype(str) if y.dtype == object else y, return_counts=True)
            rarest = int(counts.min())
            if rarest < folds:
                new = max(2, rarest)
                warnings.append(
                    f"The rarest class of {target!r} has {rarest} rows, fewer than {folds} "
                    "folds; "
                    f"cross-validation uses {new} folds."
                )
                folds = new
            cv: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            labels = y.astype(str) if y.dtype == object else y
            splits = [(tr, va) for tr, va in cv.split(idx, labels)]
        else:
            cv = KFold(n_splits=min(folds, n), shuffle=True, random_state=seed)
            splits = [(tr, va) for tr, va in cv.split(idx)]
        return splits, {"method": "cv", "folds": folds}, warnings
    strat = None
    size: float | int = fraction
    if stratify:
        labels = y.astype(str) if y.dtype == object else y
        _, counts = np.unique(labels, return_counts=True)
        n_classes = len(counts)
        n_valid = max(round(n * fraction), n_classes)
        if counts.min() >= 2 and n - n_valid >= n_classes:
            strat = labels
            if n_valid > round(n * fraction):
                size = n_valid  # every class in the validation rows, or no score is defined
        else:
            warnings.append(f"The holdout is too small to hold every class of {target!r}; it is "
                            "not stratified. Cross-validation (validation='cv') suits data "
                            "this small better.")
    tr, va = train_test_split(idx, test_size=size, random_state=seed, stratify=strat)
    if strat is not None:
        tr, va = _every_class_in_both(tr, va, strat, seed)
        if len(va) > round(n * fraction):
            warnings.append(f"A {fraction:.0%} holdout would miss a class of {target!r}; it "
                            f"holds {len(va)} rows instead, so every class is validated.")
    return [(np.sort(tr), np.sort(va))], {"method": "holdout", "fraction": fraction}, warnings


def _every_class_in_both(tr: np.ndarray, va: np.ndarray, labels: np.ndarray, seed: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Move one row of each class missing from the validation rows there from the training
    rows (stratified rounding can leave a rare class out of a small holdout)."""
    rng = np.random.default_rng(seed)
    train, valid = [int(i) for i in tr], [int(i) for i in va]
    for cls in np.unique(labels):
        if np.any(labels[valid] == cls):
            continue
        pool = [i for i in train if labels[i] == cls]
        if len(pool) >= 2:
            pick = int(rng.choice(pool))
            train.remove(pick)
            valid.append(pick)
    return np.asarray(train), np.asarray(valid)
