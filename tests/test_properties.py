"""Property-based bad-input tests (issue 7): random frames never leak a foreign exception.

Hypothesis builds pandas DataFrames with 0-60 rows and 1-6 feature columns of random dtypes
(ints, floats with NaN/±inf, bools, strings with empty and non-ASCII values, categoricals,
datetimes, mixed object columns, all-missing and constant columns), odd column names (spaces,
non-ASCII, numbers, the empty string, very long names, duplicates) and a target that may have
rare classes, a single class, missing values or ±inf. The property: ``prepare_training_data``,
``AutoMLJob.fit`` and ``job.predict`` either succeed or raise an
:class:`~automl_bridge.exceptions.AutoMLBridgeError`, never anything else.

The tests are derandomized (the same examples on every run) and sized to run in well under a
minute on a loaded two-core machine. Failures found here are kept as ``@example`` regressions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from automl_bridge import AutoMLBridgeError, AutoMLJob
from automl_bridge.data import prepare_training_data
from automl_bridge.exceptions import RunError
from automl_bridge.spec import JobSpec

TARGET = "label"
MAX_ROWS = 60

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.filter_too_much],
}

# --- strategies ----------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("ab Zé中🙂'\"{}\\\n")), max_size=6)
_NAMES = st.one_of(
    st.sampled_from(["x", "a b", " lead", "trail ", "é中🙂", "", "{q}", "a\\b", '"', "label ",
                     "x" * 300, "1", "0", "None", "nan"]),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    _TEXT,
)
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300]))
_KINDS = ["int", "float", "bool", "str", "category", "datetime", "mixed", "all_nan",
          "constant", "nullable_int", "nullable_bool", "string", "tz_datetime"]


@st.composite
def column(draw: st.DrawFn, n: int, kind: str | None = None) -> pd.Series:
    """One feature column of ``n`` rows and a random kind."""
    kind = kind or draw(st.sampled_from(_KINDS))
    if kind == "int":
        vals: Any = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
        return pd.Series(vals, dtype="int64")
    if kind == "float":
        return pd.Series(draw(st.lists(_FLOATS, min_size=n, max_size=n)), dtype="float64")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind in ("str", "category", "string"):
        vals = draw(st.lists(st.one_of(_TEXT, st.none()), min_size=n, max_size=n))
        dtype = {"str": object, "category": "category", "string": "string"}[kind]
        return pd.Series(vals, dtype=dtype)
    if kind in ("datetime", "tz_datetime"):
        days = draw(st.lists(st.one_of(st.integers(-20000, 30000), st.none()),
                             min_size=n, max_size=n))
        out = pd.to_datetime(pd.Series([np.nan if d is None else d for d in days]), unit="D")
        return out.dt.tz_localize("UTC") if kind == "tz_datetime" else out
    if kind == "mixed":
        cell = st.one_of(st.integers(-3, 3), _FLOATS, _TEXT, st.booleans(), st.none())
        return pd.Series(draw(st.lists(cell, min_size=n, max_size=n)), dtype=object)
    if kind == "all_nan":
        return pd.Series([draw(st.sampled_from([None, np.nan]))] * n, dtype=object
                         if draw(st.booleans()) else float)
    if kind == "constant":
        value = draw(st.one_of(st.integers(-2, 2), _TEXT, st.booleans()))
        return pd.Series([value] * n)
    if kind == "nullable_int":
        vals = draw(st.lists(st.one_of(st.integers(-5, 5), st.none()), min_size=n, max_size=n))
        return pd.Series(vals, dtype="Int64")
    vals = draw(st.lists(st.one_of(st.booleans(), st.none()), min_size=n, max_size=n))
    return pd.Series(vals, dtype="boolean")


_EXOTIC_LABELS = [(b"a", b"b"), ((0,), (1, 2)), (Decimal("0.5"), Decimal("1")),
                  (pd.Timestamp("2020-01-01"), pd.Timestamp("2021-01-01")),
                  (pd.Timedelta(hours=1), pd.Timedelta(hours=2)),
                  (pd.Period("2020-01", freq="M"), pd.Period("2020-02", freq="M"))]


@st.composite
def target(draw: st.DrawFn, n: int) -> pd.Series:
    """A target: labels with rare/single classes or missing values, or numbers with ±inf."""
    kind = draw(st.sampled_from(["labels", "int_labels", "bool", "regression", "category",
                                 "single", "mixed", "exotic"]))
    if kind == "labels":
        cell: st.SearchStrategy[Any] = st.one_of(st.sampled_from(["a", "b", "c", "é", ""]),
                                                 st.none())
        return pd.Series(draw(st.lists(cell, min_size=n, max_size=n)), dtype=object)
    if kind == "int_labels":
        vals = draw(st.lists(st.one_of(st.integers(0, 3), st.none()), min_size=n, max_size=n))
        return pd.Series([np.nan if v is None else v for v in vals], dtype=float)
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "regression":
        cell = st.one_of(st.floats(-1e6, 1e6), st.integers(-50, 50),
                         st.sampled_from([np.nan, np.inf, -np.inf, 1e300]) if draw(st.booleans())
                         else st.nothing())
        return pd.Series(draw(st.lists(cell, min_size=n, max_size=n)), dtype=float)
    if kind == "category":
        vals = draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n))
        return pd.Series(vals, dtype=pd.CategoricalDtype(["x", "y", "unused"]))
    if kind == "exotic":  # labels scikit-learn cannot take as they are
        pair = draw(st.sampled_from(_EXOTIC_LABELS))
        return pd.Series(draw(st.lists(st.sampled_from(pair), min_size=n, max_size=n)),
                         dtype=object)
    if kind == "single":
        return pd.Series(["only"] * n, dtype=object)
    cell = st.one_of(st.integers(0, 2), st.sampled_from(["0", "a"]), st.none())
    return pd.Series(draw(st.lists(cell, min_size=n, max_size=n)), dtype=object)


@st.composite
def names_of(draw: st.DrawFn, n_cols: int) -> list[Any]:
    """Odd column names; unique as text most of the time, duplicated (a bad input) sometimes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.lists(_NAMES, min_size=n_cols, max_size=n_cols))
    return draw(st.lists(_NAMES, min_size=n_cols, max_size=n_cols,
                         unique_by=lambda c: str(c)).filter(lambda c: TARGET not in c))


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 0, with_target: bool = True) -> pd.DataFrame:
    """A frame of 0-60 rows, 1-6 odd-named feature columns and (optionally) the target."""
    n = draw(st.integers(min_rows, MAX_ROWS))
    n_cols = draw(st.integers(1, 6))
    names = draw(names_of(n_cols))
    data = {f"c{i}": draw(column(n)) for i in range(n_cols)}
    frame = pd.DataFrame(data)
    cols: list[Any] = list(names)
    if with_target:
        frame[TARGET] = draw(target(n))
        cols.append(TARGET)
    frame.columns = pd.Index(cols, dtype=object)
    return frame


_TINY_VALIDATION = "predicts nothing usable on this data"


def only_ours(call: Callable[[], Any], *frames_: pd.DataFrame) -> Any:
    """Run ``call``; return its result, or None when it raised an AutoMLBridgeError.

    A :class:`RunError` (every trial failed) is a bug too: data that passed validation must
    train a linear model, so a trial failure means a raw error was hidden inside the trial.
    One exception is still open: a holdout split of a few rows can leave one class in the
    validation rows, and the metric (roc_auc) is then NaN for every trial.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except RunError as exc:
        if _TINY_VALIDATION in str(exc):  # open: a tiny holdout with one class (see docs)
            return None
        shown = "\n".join(f"{f!r}\ndtypes: {dict(f.dtypes)}" for f in frames_)
        raise AssertionError(f"validated data failed to train: {exc}\n{shown}") from exc
    except AutoMLBridgeError:
        return None
    except Exception as exc:
        shown = "\n".join(f"{f!r}\ndtypes: {dict(f.dtypes)}" for f in frames_)
        raise AssertionError(
            f"{type(exc).__name__} escaped instead of an AutoMLBridgeError: {exc}\n{shown}"
        ) from exc


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)


# --- properties ----------------------------------------------------------------------------


#: Regressions found by the properties below (kept whatever the strategies generate).
_HUGE_FEATURE = pd.DataFrame({  # 1e300 overflowed StandardScaler's variance to NaN
    "x": [1e300] + [0.0] * 9, "label": [0.0, 1.0] * 5})
_TUPLE_TARGET = pd.DataFrame({  # numpy made rows of the tuples: TypeError unhashable 'list'
    "x": np.arange(10.0), "label": [(0,), (1, 2)] * 5})
_DATE_TARGET = pd.DataFrame({  # Timestamp labels: every trial failed, "Unknown label type"
    "x": np.arange(10.0), "label": pd.to_datetime([0, 1] * 5, unit="D")})
_BYTES_TARGET = pd.DataFrame({  # bytes labels were miscounted as single-row classes
    "x": np.arange(10.0), "label": [b"a", b"b"] * 5})


@settings(max_examples=300, **SETTINGS)
@given(frame=frames(), task=st.sampled_from(["auto", "classification", "regression"]),
       validation=st.sampled_from(["holdout", "auto", "cv"]))
@example(frame=_TUPLE_TARGET, task="auto", validation="holdout")
def test_prepare_training_data_raises_only_our_errors(frame: pd.DataFrame, task: str,
                                                      validation: str) -> None:
    spec = JobSpec(target=TARGET, task=task, max_trials=1, validation=validation)
    only_ours(lambda: prepare_training_data(frame, spec), frame)


def _job_fields(task: str, validation: str) -> dict[str, Any]:
    return {"task": task, "target": TARGET, "time_budget_s": None, "max_trials": 1,
            "models": ["linear"], "validation": validation, "ensemble": False}


@settings(max_examples=60, **SETTINGS)
@given(frame=frames(min_rows=4), task=st.sampled_from(["auto", "classification", "regression"]),
       validation=st.sampled_from(["holdout", "auto"]),
       how=st.sampled_from(["same", "same_names", "other"]),
       other=frames(with_target=False))
@example(frame=_HUGE_FEATURE, task="regression", validation="holdout", how="same",
         other=_HUGE_FEATURE)
@example(frame=_TUPLE_TARGET, task="auto", validation="holdout", how="same", other=_TUPLE_TARGET)
@example(frame=_DATE_TARGET, task="classification", validation="holdout", how="same",
         other=_DATE_TARGET)
@example(frame=_BYTES_TARGET, task="auto", validation="holdout", how="same",
         other=_BYTES_TARGET)
def test_fit_and_predict_raise_only_our_errors(frame: pd.DataFrame, task: str, validation: str,
                                               how: str, other: pd.DataFrame) -> None:
    job = AutoMLJob(**_job_fields(task, validation)).with_backend(
        "local", run_dir=None, isolation="inline")
    result = only_ours(lambda: job.fit(frame), frame)
    if result is None or result.best is None or result.best.model is None:
        return
    features = frame.drop(columns=[TARGET])
    if how == "same":
        other = features
    elif how == "same_names":  # the training names over other columns of random kinds
        other = pd.DataFrame({i: other.iloc[:, i % other.shape[1]].to_numpy()
                              for i in range(features.shape[1])})
        other.columns = features.columns
    pred = only_ours(lambda: job.predict(other), frame, other)
    if pred is not None:
        assert len(pred) == len(other)
    if result.task == "classification":
        proba = only_ours(lambda: job.predict_proba(other), frame, other)
        if proba is not None:
            assert proba.shape == (len(other), len(job.model.classes_))
