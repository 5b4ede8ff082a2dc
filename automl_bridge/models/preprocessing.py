"""Preprocessing that is part of every candidate pipeline.

The first step, :class:`FrameAligner`, takes raw frames like the training frame and returns a
clean frame: columns in training order (missing ones are a :class:`PredictSchemaError`, extra
ones are dropped), infinities and pandas ``NA`` as NaN, booleans as 0/1, datetimes expanded to
parts, numbers given as strings coerced back. :func:`build_preprocessor` then encodes the
clean columns the way a model family wants them (one-hot and scaling for linear models, KNN and
SVMs; ordinal codes for trees).

Example:
    >>> import pandas as pd
    >>> from automl_bridge.models.preprocessing import FrameAligner
    >>> al = FrameAligner(kinds={"a": "numeric", "b": "categorical"}).fit(None)
    >>> al.transform(pd.DataFrame({"b": ["x"], "a": ["1.5"], "extra": [0]})).to_dict("list")
    {'a': [1.5], 'b': ['x']}
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from automl_bridge.exceptions import PredictSchemaError

log = logging.getLogger("automl_bridge.preprocessing")

DATE_PARTS = ("year", "month", "day", "dayofweek", "hour", "epoch_days")
MISSING_CATEGORY = "__missing__"
#: Largest share of non-missing values of a numeric column that may fail to parse at predict.
MAX_COERCE_FAILURE = 0.01


class FrameAligner(TransformerMixin, BaseEstimator):
    """Align a raw frame to the training schema and clean it.

    Args:
        kinds: feature column -> kind (``numeric``, ``boolean``, ``categorical``, ``datetime``,
            ``text``), in training order.
        input_columns: every training feature column, to name the columns of a bare array.
    """

    def __init__(self, kinds: dict[str, str] | None = None,
                 input_columns: list[str] | None = None) -> None:
        self.kinds = kinds
        self.input_columns = input_columns

    def fit(self, X: Any, y: Any = None) -> FrameAligner:
        """Nothing to learn: the schema was decided from the whole training data."""
        self.kinds_ = dict(self.kinds or {})
        self.output_columns_ = self._output_columns()
        return self

    def _output_columns(self) -> list[str]:
        out: list[str] = []
        for col, kind in self.kinds_.items():
            if kind == "datetime":
                out.extend(f"{col}__{p}" for p in DATE_PARTS)
            else:
                out.append(col)
        return out

    def columns_of(self, kind: str) -> list[str]:
        """Output columns holding one kind (datetime parts count as numeric)."""
        kinds = self.kinds or {}
        if kind == "numeric":
            cols: list[str] = []
            for c, k in kinds.items():
                if k in ("numeric", "boolean"):
                    cols.append(c)
                elif k == "datetime":
                    cols.extend(f"{c}__{p}" for p in DATE_PARTS)
            return cols
        return [c for c, k in kinds.items() if k == kind]

    def transform(self, X: Any) -> pd.DataFrame:
        """Return the clean, aligned frame."""
        frame = self._as_frame(X)
        missing = [c for c in self.kinds_ if c not in frame.columns]
        if missing:
            raise PredictSchemaError(
                f"The data is missing {len(missing)} feature column(s) the model was trained on: "
                f"{missing[:20]}. Add them (values may be missing)."
            )
        repeated = sorted({c for c in frame.columns[frame.columns.duplicated()]
                           if c in self.kinds_})
        if repeated:
            raise PredictSchemaError(
                f"The data has duplicate columns {repeated[:20]}; each feature column must "
                "appear once. Remove or rename the copies."
            )
        extra = [c for c in frame.columns if c not in self.kinds_]
        if extra:
            log.debug("ignoring %d extra column(s): %s", len(extra), extra[:20])
        parts: dict[str, Any] = {}
        for col, kind in self.kinds_.items():
            s = frame[col]
            if kind == "numeric":
                parts[col] = _to_float(s, col)
            elif kind == "boolean":
                parts[col] = _bool_to_float(s, col)
            elif kind == "datetime":
                parts.update(_date_parts(s, col))
            else:  # categorical, text
                parts[col] = _to_text(s, fill=MISSING_CATEGORY if kind == "categorical" else "")
        return pd.DataFrame(parts, index=range(len(frame)))

    def _as_frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            frame = X
        else:
            arr = np.asarray(X)
            if arr.ndim != 2 or arr.shape[1] != len(self.input_columns or []):
                raise PredictSchemaError(
                    f"Predict needs a DataFrame with the training columns, or an array with "
                    f"{len(self.input_columns or [])} columns. Got shape {arr.shape}."
                )
            frame = pd.DataFrame(arr, columns=list(self.input_columns or []))
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        return frame.reset_index(drop=True)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns."""
        return np.asarray(self.output_columns_, dtype=object)


#: Largest magnitude a numeric feature keeps; beyond it values are clipped (squares stay finite).
MAX_ABS_VALUE = 1e100


def _to_float(s: pd.Series, col: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return _bool_to_float(s, col)
    if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        coerced = pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce")
        failed = int((coerced.isna() & s.notna()).sum())
        if failed:
            share = failed / max(int(s.notna().sum()), 1)
            if share > MAX_COERCE_FAILURE:
                bad = s[coerced.isna() & s.notna()].astype(str).unique()[:5].tolist()
                raise PredictSchemaError(
                    f"Column {col!r} must be numeric like in training, but {failed} value(s) "
                    f"({share:.1%}) are not numbers, e.g. {bad}. Fix or remove them."
                )
            log.warning("column %r: %d non-numeric value(s) treated as missing", col, failed)
        arr = coerced.to_numpy(dtype=float, na_value=np.nan)
    arr = arr.copy() if not arr.flags.writeable else arr
    arr[np.isinf(arr)] = np.nan
    # Finite but huge values (1e300) overflow the scaler's variance to inf/NaN: clip them.
    np.clip(arr, -MAX_ABS_VALUE, MAX_ABS_VALUE, out=arr)
    return arr


_BOOL_VALUES: dict[Any, float] = {True: 1.0, False: 0.0, "true": 1.0, "false": 0.0,
                                  "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}


def _bool_value(v: Any) -> float:
    if isinstance(v, str):
        v = v.strip().lower()
    try:
        return _BOOL_VALUES.get(v, np.nan)
    except TypeError:  # unhashable
        return np.nan


def _bool_to_float(s: pd.Series, col: str = "") -> np.ndarray:
    """True/False (also as 1/0 or text) as 1.0/0.0; more than 1% unreadable is an error."""
    out = s.astype(object).map(_bool_value).to_numpy(dtype=float)
    failed = np.isnan(out) & s.notna().to_numpy(dtype=bool)
    n_failed = int(failed.sum())
    if n_failed:
        share = n_failed / max(int(s.notna().sum()), 1)
        if share > MAX_COERCE_FAILURE:
            bad = s[failed].astype(str).unique()[:5].tolist()
            raise PredictSchemaError(
                f"Column {col!r} must be boolean like in training, but {n_failed} value(s) "
                f"({share:.1%}) are not True/False (or 1/0), e.g. {bad}. Fix or remove them."
            )
        log.warning("column %r: %d non-boolean value(s) treated as missing", col, n_failed)
    return out


def _date_parts(s: pd.Series, col: str) -> dict[str, np.ndarray]:
    import warnings

    if pd.api.types.is_datetime64_any_dtype(s):
        dt = s.dt.tz_convert("UTC") if getattr(s.dt, "tz", None) is not None else s
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dt = pd.to_datetime(s.astype(object), errors="coerce", utc=True, format="mixed")
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert("UTC").dt.tz_localize(None)
    dt = dt.astype("datetime64[ns]")
    na = dt.isna().to_numpy()

    def part(values: Any) -> np.ndarray:
        arr = np.array(values, dtype=float)
        arr[na] = np.nan
        return arr

    epoch = (dt - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
    return {
        f"{col}__year": part(dt.dt.year), f"{col}__month": part(dt.dt.month),
        f"{col}__day": part(dt.dt.day), f"{col}__dayofweek": part(dt.dt.day_of_week),
        f"{col}__hour": part(dt.dt.hour), f"{col}__epoch_days": part(epoch),
    }


def _to_text(s: pd.Series, *, fill: str) -> np.ndarray:
    obj = s.astype(object)
    out = obj.map(lambda v: fill if _is_missing(v) else str(v))
    return out.to_numpy(dtype=object)


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and v != v


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF of one text column reduced to a fixed number of dense SVD components.

    Args:
        n_components: output width (padded with zeros when the vocabulary is smaller).
        max_features: vocabulary size of the TF-IDF step.
        random_state: seed of the SVD.
    """

    def __init__(self, n_components: int = 16, max_features: int = 2000,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> TextFeatures:
        """Learn the vocabulary and the SVD basis."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = _docs(X)
        self.tfidf_ = TfidfVectorizer(max_features=self.max_features, min_df=1,
                                      sublinear_tf=True)
        try:
            mat = self.tfidf_.fit_transform(docs)
        except ValueError:  # empty vocabulary
            self.tfidf_ = None
            self.svd_ = None
            return self
        k = min(self.n_components, mat.shape[1] - 1, mat.shape[0] - 1)
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state) if k >= 1 else None
        if self.svd_ is not None:
            self.svd_.fit(mat)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Dense ``(n_rows, n_components)`` features."""
        docs = _docs(X)
        out = np.zeros((len(docs), self.n_components))
        if self.tfidf_ is not None and self.svd_ is not None:
            red = self.svd_.transform(self.tfidf_.transform(docs))
            out[:, : red.shape[1]] = red
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``text0 .. text{k-1}``."""
        return np.asarray([f"text{i}" for i in range(self.n_components)], dtype=object)


def _docs(X: Any) -> list[str]:
    arr = X.to_numpy() if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)
    if arr.ndim == 2:
        arr = arr[:, 0]
    return ["" if _is_missing(v) else str(v) for v in arr]


def build_preprocessor(aligner: FrameAligner, encoding: str, *, seed: int = 0) -> Any:
    """A ColumnTransformer that encodes the aligner's output for one model family.

    Args:
        aligner: a fitted :class:`FrameAligner`.
        encoding: ``"onehot"`` (impute, one-hot, scale: linear, KNN, SVM), ``"ordinal"``
            (impute, ordinal codes: forests) or ``"native"`` (NaN kept, ordinal codes:
            histogram gradient boosting).
        seed: seed of the text SVD.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    num = aligner.columns_of("numeric")
    cat = aligner.columns_of("categorical")
    text = aligner.columns_of("text")
    transformers: list[tuple[str, Any, list[str]]] = []
    if num:
        if encoding == "native":
            transformers.append(("num", "passthrough", num))
        else:
            steps: list[Any] = [SimpleImputer(strategy="median", add_indicator=True,
                                              keep_empty_features=True)]
            if encoding == "onehot":
                steps.append(StandardScaler())
            transformers.append(("num", make_pipeline(*steps), num))
    if cat:
        if encoding == "onehot":
            enc: Any = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=24,
                                     min_frequency=2, sparse_output=False)
        else:
            enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                 encoded_missing_value=-1, max_categories=250, min_frequency=2)
        transformers.append(("cat", enc, cat))
    for col in text:
        steps = [TextFeatures(random_state=seed)]
        if encoding == "onehot":
            steps.append(StandardScaler())
        transformers.append((f"text_{col}", make_pipeline(*steps), [col]))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def categorical_mask(aligner: FrameAligner) -> list[bool]:
    """Which output columns of a ``"native"`` preprocessor are categorical codes."""
    n_num = len(aligner.columns_of("numeric"))
    n_cat = len(aligner.columns_of("categorical"))
    n_text = len(aligner.columns_of("text")) * TextFeatures().n_components
    return [False] * n_num + [True] * n_cat + [False] * n_text
