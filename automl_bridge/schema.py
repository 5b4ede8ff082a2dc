"""Feature schema: what each training column is, decided once from the training data.

:func:`infer_schema` classifies every feature column as numeric, boolean, categorical,
datetime or text, and drops ID-like, constant and empty columns with a warning. The schema
travels inside every fitted pipeline (see ``FrameAligner``), so prediction sees the columns the
way training did.

Example:
    >>> import pandas as pd
    >>> from automl_bridge.schema import infer_schema
    >>> warnings = []
    >>> schema = infer_schema(pd.DataFrame({"n": [1.5, 2.5, 3.5], "c": ["a", "b", "a"],
    ...                                     "k": [7, 7, 7]}), warnings)
    >>> schema.kinds, schema.dropped
    ({'n': 'numeric', 'c': 'categorical'}, {'k': 'constant'})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Column kinds of a :class:`FeatureSchema`.
KINDS = ("numeric", "boolean", "categorical", "datetime", "text")
_ID_UNIQUE_SHARE = 0.95


@dataclass
class FeatureSchema:
    """What each feature column is, decided once from the training data.

    Attributes:
        kinds: feature column -> one of :data:`KINDS`, in training column order.
        dropped: column -> why it was dropped (ID-like, constant, ...).
        input_columns: every column of the training features, in order, before dropping.
    """

    kinds: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    input_columns: list[str] = field(default_factory=list)

    def columns(self, kind: str) -> list[str]:
        """Feature columns of one kind, in order."""
        return [c for c, k in self.kinds.items() if k == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"kinds": dict(self.kinds), "dropped": dict(self.dropped),
                "input_columns": list(self.input_columns)}



def infer_schema(X: pd.DataFrame, warnings: list[str]) -> FeatureSchema:
    """Decide the kind of every feature column; drop ID-like and constant ones (with warnings)."""
    import pandas as pd

    schema = FeatureSchema(input_columns=[str(c) for c in X.columns])
    n = len(X)
    for col in X.columns:
        s = X[col]
        non_null = s.dropna()
        n_unique = int(non_null.nunique()) if len(non_null) else 0
        if n_unique <= 1:
            schema.dropped[col] = "constant" if len(non_null) else "all missing"
            warnings.append(
                f"Dropped column {col!r}: it is "
                f"{'constant' if len(non_null) else 'missing in every row'}."
            )
            continue
        if pd.api.types.is_bool_dtype(s) or _is_bool_object(non_null):
            schema.kinds[col] = "boolean"
        elif pd.api.types.is_datetime64_any_dtype(s):
            schema.kinds[col] = "datetime"
        elif pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            if _is_id_like_integer(non_null, n):
                schema.dropped[col] = "ID-like"
                warnings.append(
                    f"Dropped column {col!r}: unique integers from a dense range in every row "
                    "look like an ID."
                )
            else:
                schema.kinds[col] = "numeric"
                if non_null.dtype == object or not pd.api.types.is_float_dtype(s):
                    pass
                n_inf = _count_inf(non_null)
                if n_inf:
                    warnings.append(
                        f"Column {col!r} has {n_inf} infinite value(s); they are treated as "
                        "missing."
                    )
        else:
            schema.kinds[col] = _classify_object(col, non_null, n, n_unique, schema, warnings)
            if schema.kinds[col] == "drop":
                del schema.kinds[col]
    return schema


def _is_bool_object(non_null: pd.Series) -> bool:
    if non_null.dtype != object or len(non_null) == 0:
        return False
    return bool(non_null.map(lambda v: isinstance(v, bool)).all())


def _count_inf(non_null: pd.Series) -> int:
    import numpy as np

    try:
        return int(np.isinf(non_null.to_numpy(dtype=float, na_value=np.nan)).sum())
    except (TypeError, ValueError):
        return 0


def _is_id_like_integer(non_null: pd.Series, n: int) -> bool:
    import pandas as pd

    if not pd.api.types.is_integer_dtype(non_null) or len(non_null) < n or n < 20:
        return False
    if non_null.nunique() != n:
        return False
    # unique integers from a dense range (rows may have been dropped, e.g. a missing target)
    span = int(non_null.max()) - int(non_null.min())
    return span + 1 <= 1.5 * n


def _classify_object(
    col: str, non_null: pd.Series, n: int, n_unique: int, schema: FeatureSchema,
    warnings: list[str],
) -> str:
    import pandas as pd

    kinds = {type(v).__name__ for v in non_null.head(10_000)}
    if len(kinds) > 1 and not isinstance(non_null.dtype, pd.CategoricalDtype):
        warnings.append(
            f"Column {col!r} mixes value types {sorted(kinds)}; it is treated as categorical "
            "text."
        )
        return "categorical"
    as_str = non_null.astype(str)
    if _looks_like_dates(as_str):
        warnings.append(f"Column {col!r} holds date strings; it is expanded to date parts.")
        if _mixes_time_zones(non_null):
            warnings.append(
                f"Column {col!r} mixes time-zone-aware and naive datetimes; all are converted "
                "to UTC, naive ones taken as UTC. Localize them first if they are local times."
            )
        return "datetime"
    sample = as_str.head(2000)
    mean_words = float(sample.str.split().str.len().mean()) if len(sample) else 0.0
    unique_share = n_unique / max(len(non_null), 1)
    if mean_words >= 3 and unique_share > 0.3:
        warnings.append(
            f"Column {col!r} looks like free text (about {mean_words:.0f} words per row); it is "
            "turned into TF-IDF + SVD features."
        )
        return "text"
    if unique_share >= _ID_UNIQUE_SHARE and n_unique > 50:
        schema.dropped[col] = "ID-like"
        warnings.append(
            f"Dropped column {col!r}: {n_unique} distinct values in {len(non_null)} rows look "
            "like an ID."
        )
        return "drop"
    return "categorical"


def _looks_like_dates(as_str: pd.Series) -> bool:
    import warnings as _w

    import pandas as pd

    sample = as_str.head(200)
    if not len(sample) or not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}", regex=True).all():
        return False
    with _w.catch_warnings():
        _w.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


_TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$"


def _mixes_time_zones(non_null: pd.Series) -> bool:
    """Whether datetime values (objects or strings) are partly tz-aware and partly naive."""
    import datetime as dt
    import re

    pattern = re.compile(_TZ_SUFFIX)

    def aware(v: Any) -> bool | None:
        if isinstance(v, dt.datetime):
            return v.tzinfo is not None
        if isinstance(v, str):
            return bool(pattern.search(v.strip()))
        return None

    seen = {aware(v) for v in non_null.head(10_000)}
    return True in seen and False in seen


