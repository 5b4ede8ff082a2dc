"""Parameter importances and the parallel-coordinate table of a local run.

Method: a random forest (scikit-learn ``RandomForestRegressor``, 64 trees, fixed
``random_state``, one thread) is fitted on the complete candidates' parameters to predict the
*rank* of their score (ranks, so one diverged trial does not dominate), and each parameter's
importance is its share of the forest's impurity decrease (MDI), summed over the columns that
encode it. ``family`` is one parameter when the run searched several families.

Encoding: numeric parameters (int/float, not bool) are one column; any other parameter is
one-hot encoded over its values (lists and dicts as their JSON text). Conditional parameters —
absent from some trials, e.g. ``C`` exists only for ``linear`` — are imputed with the median of
the trials that have them (numeric) or get all-zero indicators (categorical), so being absent
is credited to the parent choice (``family``, ``kind``) rather than to the child parameter.
Same candidates, same importances: the columns, the rows and the forest's seed are fixed.

Example:
    >>> from automl_bridge.results import Candidate
    >>> cands = [Candidate(candidate_id=str(i), family="linear",
    ...                    params={"C": float(c), "penalty": p}, score=float(c))
    ...          for i, (c, p) in enumerate([(1, "l2"), (2, "l1"), (3, "l2"), (4, "l1")])]
    >>> imp = importances(cands, lambda c: c.score)
    >>> max(imp, key=imp.get)
    'C'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from automl_bridge.results import Candidate, CandidateState, _jsonable

#: Fewest scored candidates that importances are computed from.
MIN_CANDIDATES = 3
#: Most rows of the parallel-coordinate table (the best ones).
MAX_PARALLEL_ROWS = 1000
FOREST_TREES = 64


def _scored(candidates: Sequence[Candidate], value: Callable[[Candidate], float]
            ) -> list[Candidate]:
    out = []
    for c in candidates:
        if c.state is not CandidateState.COMPLETE:
            continue
        v = value(c)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.append(c)
    return out


def param_columns(candidates: Sequence[Candidate]) -> list[str]:
    """Parameter names: ``family`` first when there are several, then the rest sorted."""
    names = sorted({k for c in candidates for k in c.params if k != "family"})
    families = {c.family for c in candidates}
    return (["family"] if len(families) > 1 else []) + names


def _value(c: Candidate, name: str) -> Any:
    if name == "family" and "family" not in c.params:
        return c.family
    v = _jsonable(c.params.get(name))
    return json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def importances(candidates: Sequence[Candidate], value: Callable[[Candidate], float], *,
                seed: int = 0) -> dict[str, float] | None:
    """Each parameter's share of the score's explained variation (see the module docstring).

    Args:
        candidates: the run's candidates (only complete ones with a finite value count).
        value: the score of a candidate in the compared metric.
        seed: the forest's ``random_state``.

    Returns:
        ``{param: share}`` summing to 1, largest first (ties by name), rounded to 4 places;
        ``None`` with fewer than :data:`MIN_CANDIDATES` scored candidates, no parameter, or
        a constant score.
    """
    import numpy as np
    from scipy.stats import rankdata
    from sklearn.ensemble import RandomForestRegressor

    done = _scored(candidates, value)
    names = param_columns(done)
    if len(done) < MIN_CANDIDATES or not names:
        return None
    y = rankdata([value(c) for c in done])
    if float(np.ptp(y)) == 0.0:
        return None
    columns: list[np.ndarray] = []
    owner: list[str] = []
    for name in names:
        vals = [_value(c, name) for c in done]
        present = [v for v in vals if v is not None]
        if present and all(_is_number(v) for v in present):
            fill = float(np.median(np.asarray(present, dtype=float)))
            columns.append(np.array([fill if v is None else float(v) for v in vals]))
            owner.append(name)
            continue
        for level in sorted({str(v) for v in present}):
            columns.append(np.array([float(v is not None and str(v) == level) for v in vals]))
            owner.append(name)
    X = np.column_stack(columns)
    forest = RandomForestRegressor(n_estimators=FOREST_TREES, random_state=seed, n_jobs=1)
    forest.fit(X, y)
    shares: dict[str, float] = dict.fromkeys(names, 0.0)
    for name, imp in zip(owner, forest.feature_importances_, strict=True):
        shares[name] += float(imp)
    total = sum(shares.values())
    if not total > 0:
        return None
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    return {k: round(v / total, 4) for k, v in ranked}


def parallel_rows(candidates: Sequence[Candidate], value: Callable[[Candidate], float],
                  direction: str, *, order: Sequence[str] | None = None
                  ) -> dict[str, Any] | None:
    """The parallel-coordinate table: ``{"params": [...], "rows": [[values..., score]]}``.

    Rows are the complete candidates, best first (at most :data:`MAX_PARALLEL_ROWS`); a
    parameter a trial did not have is ``None``. ``order`` puts those parameters first (e.g.
    by importance); the rest follow in :func:`param_columns` order.
    """
    done = _scored(candidates, value)
    names = param_columns(done)
    if not done or not names:
        return None
    if order:
        first = [n for n in order if n in names]
        names = first + [n for n in names if n not in first]
    sign = -1.0 if direction == "maximize" else 1.0
    best_first = sorted(done, key=lambda c: (sign * value(c), _id_key(c.candidate_id)))
    rows = [[_value(c, n) for n in names] + [float(value(c))]
            for c in best_first[:MAX_PARALLEL_ROWS]]
    return {"params": names, "rows": rows}


def _id_key(candidate_id: str) -> tuple[int, Any]:
    return (0, int(candidate_id)) if candidate_id.isdigit() else (1, candidate_id)
