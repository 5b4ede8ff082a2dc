"""Load and validate tabular training data, before any training.

:func:`prepare_training_data` reads a DataFrame, a CSV/Parquet path or an ``(X, y)`` pair,
checks it against the spec in one pass and raises one typed error listing every problem found
(see ``docs/bad-input.md`` for the catalogue). What it can handle unambiguously it handles,
logs at WARNING and records in :attr:`TrainingData.warnings`: dropped rows with a missing
target, ID-like and constant columns, infinities, mixed-type columns, ...

Example:
    >>> import pandas as pd
    >>> from automl_bridge.spec import JobSpec
    >>> from automl_bridge.data import prepare_training_data
    >>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8] * 4, "y": ["a", "b"] * 16})
    >>> data = prepare_training_data(df, JobSpec(target="y", max_trials=1))
    >>> data.task, data.classes, data.metric
    ('classification', ['a', 'b'], 'roc_auc')
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bridge.exceptions import (
    AutoMLInputError,
    DataError,
    MetricError,
    SchemaError,
    TargetError,
    TaskMismatchError,
)
from automl_bridge.metrics import default_metric, get_metric
from automl_bridge.schema import FeatureSchema, infer_schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from automl_bridge.spec import JobSpec

log = logging.getLogger("automl_bridge.data")

#: Largest number of distinct integer target values treated as classes by ``task="auto"``.
AUTO_CLASS_LIMIT = 20


@dataclass
class TrainingData:
    """Validated training data and what was learned about it.

    Attributes:
        X: feature columns (string names, default index, rows with a missing target removed).
        y: target values (original labels for classification).
        task: ``"classification"`` or ``"regression"``.
        classes: sorted class labels (classification) or ``None``.
        metric: canonical metric of the run (the spec's, or the task default).
        pos_label: positive class for binary metrics.
        schema: the :class:`FeatureSchema`.
        warnings: what was handled automatically, one line each.
        fingerprint: rows, columns, schema and content hash.
        task_reason: why the task is what it is (for ``task="auto"``).
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    classes: list[Any] | None
    metric: str
    pos_label: Any
    schema: FeatureSchema
    warnings: list[str]
    fingerprint: dict[str, Any]
    task_reason: str = ""

    @property
    def n_rows(self) -> int:
        """Number of training rows."""
        return len(self.X)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes) if self.classes is not None else 0


class _Problems:
    """Collects problems so one error can report all of them."""

    def __init__(self) -> None:
        self.items: list[tuple[type[AutoMLInputError], str]] = []

    def add(self, kind: type[AutoMLInputError], message: str) -> None:
        self.items.append((kind, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        kind, first = self.items[0]
        msgs = [m for _, m in self.items]
        text = first if len(msgs) == 1 else "The data has several problems:\n- " + "\n- ".join(msgs)
        raise kind(text, problems=msgs)


# --- loading -------------------------------------------------------------------------------


def read_table(source: Any) -> pd.DataFrame:
    """Read a DataFrame from a DataFrame, or a CSV / TSV / Parquet path.

    Raises:
        DataError: the path is missing or of an unknown format, or the file cannot be parsed.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise DataError(f"The data file {str(path)!r} does not exist. Check the path.")
        suffixes = "".join(path.suffixes[-2:]).lower()
        try:
            if suffixes.endswith((".parquet", ".pq")):
                return pd.read_parquet(path)
            if suffixes.endswith((".csv", ".csv.gz", ".csv.zip", ".csv.bz2", ".txt")):
                return pd.read_csv(path)
            if suffixes.endswith((".tsv", ".tsv.gz")):
                return pd.read_csv(path, sep="\t")
        except Exception as exc:  # pandas / pyarrow raise many types
            raise DataError(
                f"The data file {str(path)!r} could not be read: {type(exc).__name__}: {exc}"
            ) from exc
        raise DataError(
            f"The data file {str(path)!r} has an unknown format {suffixes or '(no suffix)'!r}. "
            "Use .csv, .tsv or .parquet."
        )
    raise DataError(
        f"Data must be a pandas DataFrame, a CSV/Parquet path or an (X, y) pair. "
        f"Got {type(source).__name__}."
    )


def to_frame(data: Any, target: str) -> pd.DataFrame:
    """Bring any accepted training input to one DataFrame that includes the target column."""
    import numpy as np
    import pandas as pd

    if isinstance(data, tuple) and len(data) == 2:
        X, y = data
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X)
            if arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            if arr.ndim != 2:
                raise SchemaError(f"X must be 2-dimensional. Got an array of shape {arr.shape}.")
            X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        y_arr = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr[:, 0]
        if y_arr.ndim != 1:
            raise TargetError(f"y must be one column of targets. Got shape {y_arr.shape}.")
        if len(y_arr) != len(X):
            raise SchemaError(
                f"X and y must have the same number of rows. Got {len(X)} rows in X and "
                f"{len(y_arr)} in y."
            )
        if target in [str(c) for c in X.columns]:
            raise SchemaError(
                f"X already has a column named like the target {target!r}. Pass the target "
                "only as y, or rename the column."
            )
        frame = X.reset_index(drop=True).copy()
        dtype = y.dtype if isinstance(y, pd.Series) else None
        frame[target] = pd.Series(y_arr, dtype=dtype) if dtype is not None else y_arr
        return frame
    return read_table(data)


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns, schema and a sha256 content hash of a frame."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
        digest.update(hashed.to_numpy().tobytes())
    except TypeError:  # unhashable cells (lists, dicts)
        digest.update(frame.to_csv(index=False).encode())
    return {
        "rows": len(frame),
        "columns": int(frame.shape[1]),
        "schema": {str(c): str(t) for c, t in frame.dtypes.items()},
        "sha256": digest.hexdigest(),
    }


# --- validation ----------------------------------------------------------------------------


def prepare_training_data(data: Any, spec: JobSpec, *, min_rows: int | None = None) -> TrainingData:
    """Load ``data`` and validate it against ``spec``; raise one error listing all problems.

    Args:
        data: a DataFrame, a CSV/TSV/Parquet path, or an ``(X, y)`` pair.
        spec: the job spec (target, task, metric, data policies).
        min_rows: least number of rows the validation scheme needs (default: 2 x folds).

    Raises:
        TargetError, SchemaError, TaskMismatchError, MetricError: see ``docs/bad-input.md``.
    """
    frame = to_frame(data, spec.target)
    problems = _Problems()
    warnings: list[str] = []

    frame = _check_columns(frame, problems, warnings)
    problems.raise_if_any()
    fp = fingerprint(frame)

    columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        problems.add(SchemaError, (
            f"The data has 0 rows (columns {_short(columns)}). Give at least one row per "
            "class and fold."
        ))
    if spec.target not in frame.columns:
        close = difflib.get_close_matches(spec.target, columns, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        problems.add(TargetError, (
            f"The target column {spec.target!r} is not in the data. Columns are "
            f"{_short(columns)}.{hint}"
        ))
    elif frame.shape[1] == 1:
        problems.add(SchemaError, (
            f"The data has no feature columns: only the target {spec.target!r}. Add features."
        ))
    problems.raise_if_any()
    _check_cells(frame, spec.target, problems)
    problems.raise_if_any()

    frame = frame.reset_index(drop=True)
    y_raw = frame[spec.target]
    y_raw, dropped_rows = _drop_missing_target(y_raw, spec, problems, warnings)
    problems.raise_if_any()
    if dropped_rows is not None:
        frame = frame.loc[~dropped_rows].reset_index(drop=True)
        y_raw = y_raw.reset_index(drop=True)

    task, reason = _infer_task(y_raw, spec.task)
    if spec.task == "auto":
        note = f"task='auto' resolved to {task!r} for the target {spec.target!r}: {reason}"
        log.warning(note)
        warnings.append(note)
    _check_task(y_raw, task, spec, problems)
    problems.raise_if_any()

    y, classes = _encode_target(y_raw, task, spec, problems, warnings)
    problems.raise_if_any()
    if classes is not None and spec.drop_rare_classes:
        keep = _rare_class_mask(y, classes, spec.target, warnings)
        if keep is not None:
            frame = frame.loc[keep].reset_index(drop=True)
            y = y[keep]
            classes = sorted(set(y.tolist()), key=_sort_key)
    folds = spec.validation_folds if spec.validation_method == "cv" else 2
    need = min_rows if min_rows is not None else 2 * folds
    if len(frame) < need:  # before the class checks: too few rows explains them too
        problems.add(SchemaError, (
            f"The data has {len(frame)} usable rows; validation needs at least {need} "
            f"(2 x {folds} folds). Add rows or use validation='holdout'."
        ))
    if classes is not None:
        _check_classes(y, classes, spec.target, problems)
    problems.raise_if_any()

    metric, pos_label = _resolve_metric(spec, task, classes, problems, warnings)
    problems.raise_if_any()

    X = frame.drop(columns=[spec.target])
    schema = infer_schema(X, warnings)
    if not schema.kinds:
        problems.add(SchemaError, (
            "No usable feature column is left after dropping "
            f"{_short(list(schema.dropped))} ({'; '.join(sorted(set(schema.dropped.values())))}). "
            "Add informative features."
        ))
    problems.raise_if_any()
    _warn_leaks(X, y, schema, warnings)
    for w in warnings:
        if not w.startswith("task='auto'"):
            log.warning(w)
    return TrainingData(X=X, y=y, task=task, classes=classes, metric=metric,
                        pos_label=pos_label, schema=schema, warnings=warnings, fingerprint=fp,
                        task_reason=reason)


def _short(items: list[str], n: int = 12) -> str:
    shown = ", ".join(repr(i) for i in items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}] ({len(items)} in all)"


def _sort_key(v: Any) -> tuple[str, Any]:
    return (type(v).__name__, v)


def _check_columns(frame: pd.DataFrame, problems: _Problems, warnings: list[str]) -> pd.DataFrame:
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):
        problems.add(SchemaError, (
            f"The data has MultiIndex columns ({frame.columns.nlevels} levels, e.g. "
            f"{_short([str(c) for c in frame.columns], 3)}). Flatten them, "
            "e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]."
        ))
        return frame
    names = list(frame.columns)
    if not all(isinstance(c, str) for c in names):
        as_str = [str(c) for c in names]
        if len(set(as_str)) == len(as_str):
            bad = [c for c in names if not isinstance(c, str)]
            warnings.append(f"Non-string column names {bad[:10]} were converted with str().")
            frame = frame.set_axis(as_str, axis=1)
            names = as_str
    dups = sorted({str(c) for c in names if names.count(c) > 1 or
                   [str(n) for n in names].count(str(c)) > 1})
    if dups:
        problems.add(SchemaError, (
            f"The data has duplicate column names {dups}. Rename them so each is unique."
        ))
    return frame


def _check_cells(frame: pd.DataFrame, target: str, problems: _Problems) -> None:
    """Lists, dicts, sets and arrays in cells cannot be features or labels: name the columns."""
    from collections.abc import Hashable

    for col in frame.columns:
        s = frame[col]
        if s.dtype != object:
            continue
        bad = s[~s.map(lambda v: isinstance(v, Hashable))]
        if len(bad):
            kinds = sorted({type(v).__name__ for v in bad.head(1000)})
            problems.add(TargetError if col == target else SchemaError, (
                f"Column {col!r} holds {'/'.join(kinds)} values in {len(bad)} of {len(s)} rows "
                f"(e.g. {str(bad.iloc[0])[:40]}); {'targets' if col == target else 'features'} "
                "must be single values. Expand them into columns or convert them to strings."
            ))


def _drop_missing_target(
    y: pd.Series, spec: JobSpec, problems: _Problems, warnings: list[str]
) -> tuple[pd.Series, pd.Series | None]:
    import numpy as np
    import pandas as pd

    missing = y.isna()
    n_missing = int(missing.sum())
    if n_missing == len(y):
        problems.add(TargetError, (
            f"The target column {spec.target!r} is missing in all {len(y)} rows. "
            "Fill it or choose another target."
        ))
        return y, None
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        vals = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        n_inf = int(np.isinf(vals).sum())
        if n_inf:
            problems.add(TargetError, (
                f"The target column {spec.target!r} has {n_inf} infinite value(s) (+inf/-inf). "
                "Replace or remove those rows."
            ))
    if not n_missing:
        return y, None
    if spec.on_missing_target == "error":
        problems.add(TargetError, (
            f"The target column {spec.target!r} is missing in {n_missing} of {len(y)} rows. "
            "Fill or drop them, or set on_missing_target='drop'."
        ))
        return y, None
    warnings.append(
        f"Dropped {n_missing} of {len(y)} rows whose target {spec.target!r} is missing "
        "(on_missing_target='drop')."
    )
    return y[~missing], missing


def _infer_task(y: pd.Series, task: str) -> tuple[str, str]:
    import pandas as pd

    if task != "auto":
        return task, f"task={task!r} was given"
    if isinstance(y.dtype, pd.CategoricalDtype):
        return "classification", "the target has a categorical dtype"
    if pd.api.types.is_bool_dtype(y):
        return "classification", "the target is boolean"
    if not pd.api.types.is_numeric_dtype(y):
        return "classification", f"the target has non-numeric values (dtype {y.dtype})"
    vals = y.astype(float)
    n_unique = int(vals.nunique())
    integral = bool(((vals % 1) == 0).all())
    if not integral:
        return "regression", "the target has non-integer numbers"
    if n_unique <= AUTO_CLASS_LIMIT:
        return "classification", (
            f"the target has {n_unique} distinct integer values (<= {AUTO_CLASS_LIMIT}); "
            "set task='regression' if they are quantities"
        )
    return "regression", f"the target has {n_unique} distinct integer values (> {AUTO_CLASS_LIMIT})"


def _check_task(y: pd.Series, task: str, spec: JobSpec, problems: _Problems) -> None:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if task == "regression":
        if not numeric:
            coerced = pd.to_numeric(y, errors="coerce")
            bad = y[coerced.isna()].astype(str).unique()[:5].tolist()
            if len(bad) == 0:
                return
            problems.add(TaskMismatchError, (
                f"task='regression' needs a numeric target, but {spec.target!r} has "
                f"non-numeric values such as {bad}. Use task='classification' for labels."
            ))
    elif numeric and not isinstance(y.dtype, pd.CategoricalDtype):
        vals = y.astype(float)
        frac = vals[(vals % 1) != 0]
        if len(frac):
            problems.add(TaskMismatchError, (
                f"task='classification' needs class labels, but {spec.target!r} has "
                f"{len(frac)} non-integer numbers such as {frac.head(3).tolist()}. "
                "Use task='regression' for continuous targets."
            ))


def _encode_target(
    y: pd.Series, task: str, spec: JobSpec, problems: _Problems, warnings: list[str]
) -> tuple[np.ndarray, list[Any] | None]:
    import numpy as np
    import pandas as pd

    if task == "regression":
        return pd.to_numeric(y, errors="coerce").to_numpy(dtype=float), None
    if isinstance(y.dtype, pd.CategoricalDtype):
        unused = set(y.cat.categories) - set(y.dropna().unique())
        if unused:
            warnings.append(
                f"Removed {len(unused)} unused categories of the target {spec.target!r}."
            )
        y = y.cat.remove_unused_categories().astype(y.cat.categories.dtype)
    if pd.api.types.is_bool_dtype(y):
        arr = y.astype(bool).to_numpy()
    elif pd.api.types.is_numeric_dtype(y):
        arr = y.astype("int64").to_numpy()
    else:
        values = y.tolist()
        kinds = {type(v).__name__ for v in values}
        if len(kinds) > 1:
            warnings.append(
                f"The target {spec.target!r} mixes value types {sorted(kinds)}; all were "
                "converted to strings."
            )
            values = [str(v) for v in values]
        elif not all(isinstance(v, (str, int, float)) for v in values):
            # bytes, tuples, Decimal, Timestamp, Period...: scikit-learn cannot use them as
            # labels (and numpy turns tuples into rows), so they become their text.
            warnings.append(
                f"The target {spec.target!r} holds {sorted(kinds)[0]} values; they were "
                "converted to strings."
            )
            values = [str(v) for v in values]
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    classes = sorted(set(arr.tolist()), key=_sort_key)
    return arr, classes


def _rare_class_mask(
    y: np.ndarray, classes: list[Any], target: str, warnings: list[str]
) -> np.ndarray | None:
    import numpy as np

    counts = {c: int((y == c).sum()) for c in classes}
    rare = [c for c, n in counts.items() if n < 2]
    if not rare:
        return None
    warnings.append(
        f"Dropped {len(rare)} class(es) of the target {target!r} with a single row "
        f"(drop_rare_classes=True): {rare[:10]}."
    )
    return ~np.isin(y, rare)


def _check_classes(y: np.ndarray, classes: list[Any], target: str, problems: _Problems) -> None:
    if len(classes) < 2:
        problems.add(TargetError, (
            f"The target {target!r} has a single class {classes[0]!r} in all {len(y)} rows; "
            "classification needs at least two. Check the target column or the row filter."
        ))
        return
    counts = {c: int((y == c).sum()) for c in classes}
    single = [c for c, n in counts.items() if n < 2]
    if single:
        problems.add(TargetError, (
            f"The target {target!r} has classes with a single row: {single[:10]}. Validation "
            "needs at least 2 rows per class. Add rows, merge the classes, or set "
            "drop_rare_classes=True."
        ))


def _resolve_metric(
    spec: JobSpec, task: str, classes: list[Any] | None, problems: _Problems,
    warnings: list[str],
) -> tuple[str, Any]:
    n_classes = len(classes) if classes else 0
    name = spec.metric or default_metric(task, n_classes)
    try:
        metric = get_metric(name, task)
    except MetricError as exc:
        problems.add(MetricError, str(exc))
        return name, None
    if metric.binary_only and n_classes > 2:
        problems.add(MetricError, (
            f"The metric {name!r} is defined for two classes; the target has {n_classes}. "
            f"Use '{name}_macro' or 'f1_macro', 'balanced_accuracy', 'log_loss', 'roc_auc'."
            if name == "f1" else
            f"The metric {name!r} is defined for two classes; the target has {n_classes}. "
            "Use 'f1_macro', 'balanced_accuracy', 'log_loss' or 'roc_auc'."
        ))
    if name == "roc_auc" and n_classes > 2:
        warnings.append("roc_auc on a multiclass target is the one-vs-rest macro average.")
    pos_label = spec.pos_label
    if pos_label is not None and classes is None:
        problems.add(MetricError, (
            f"The pos_label {pos_label!r} applies to classification, but the task is {task!r}"
            f"{' (inferred from the target)' if spec.task == 'auto' else ''}. Remove pos_label, "
            "or set task='classification'."
        ))
        return name, None
    if pos_label is not None and classes is not None and pos_label not in classes:
        match = [c for c in classes if str(c) == str(pos_label)]
        if match:
            pos_label = match[0]
        else:
            problems.add(MetricError, (
                f"The pos_label {spec.pos_label!r} is not a class of the target; classes are "
                f"{classes[:20]}. Set pos_label to one of them."
            ))
    if pos_label is None and classes is not None and n_classes == 2:
        pos_label = classes[-1]
    return name, pos_label


def _warn_leaks(X: pd.DataFrame, y: np.ndarray, schema: FeatureSchema,
                warnings: list[str]) -> None:
    """Warn about feature columns equal to the target (compared as numbers, else as text)."""
    import numpy as np
    import pandas as pd

    y_arr = np.asarray(y)
    y_num = y_arr.dtype.kind in "biuf"
    for col in schema.kinds:
        s = X[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        try:
            if numeric and y_num:
                same = bool(np.array_equal(s.to_numpy(dtype=float, na_value=np.nan),
                                           y_arr.astype(float)))
            elif numeric or y_num:
                same = False  # numbers never equal labels of another kind
            else:
                same = bool((s.astype(str).to_numpy() == y_arr.astype(str)).all())
        except (TypeError, ValueError):
            same = False
        if same:
            warnings.append(
                f"Column {col!r} is identical to the target: a likely leak. Remove it unless "
                "it will be known at prediction time."
            )
