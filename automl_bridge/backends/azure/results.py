"""A finished AutoML job -> candidates, best child, model location, cost (pure, no SDK).

Azure keeps the leaderboard in two places: the parent job's tags (``iteration_000``,
``run_algorithm_000``, ``run_preprocessor_000``, ``score_000`` (the primary metric),
``fit_time_000``: semicolon-separated lists, continued in ``_001``... when long, and
``automl_best_child_run_id``) and the child runs (``<job>_<iteration>``, with their status and
``run_algorithm``/``score`` properties). Every metric a child logged is only readable through
MLflow; when it is available the candidates carry them all, mapped to canonical names.

Example:
    >>> trials_from_tags({"iteration_000": "0;1", "run_algorithm_000": "LightGBM;KNN",
    ...                   "score_000": "0.9;0.8"})[1]
    {'iteration': 1, 'algorithm': 'KNN', 'score': 0.8}
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from automl_bridge.backends.azure.mapping import canonical_metrics
from automl_bridge.results import Candidate, CandidateState

_TAG = re.compile(r"^(iteration|run_algorithm|run_preprocessor|score|fit_time)_(\d{3})$")
_STATE = {"completed": CandidateState.COMPLETE, "failed": CandidateState.FAILED,
          "canceled": CandidateState.INTERRUPTED, "notresponding": CandidateState.FAILED}

#: USD per hour, pay-as-you-go Linux, East US (approximate list prices; see PRICE_TABLE_DATE).
VM_PRICES_USD: dict[str, float] = {
    "standard_ds1_v2": 0.073, "standard_ds2_v2": 0.146, "standard_ds3_v2": 0.293,
    "standard_ds4_v2": 0.585, "standard_ds5_v2": 1.17, "standard_ds11_v2": 0.185,
    "standard_ds12_v2": 0.371, "standard_ds13_v2": 0.741, "standard_d2s_v3": 0.096,
    "standard_d4s_v3": 0.192, "standard_d8s_v3": 0.384, "standard_d16s_v3": 0.768,
    "standard_d2_v3": 0.096, "standard_d4_v3": 0.192, "standard_e4s_v3": 0.252,
    "standard_e8s_v3": 0.504, "standard_f4s_v2": 0.169, "standard_f8s_v2": 0.338,
    "standard_nc6s_v3": 3.06, "standard_nc4as_t4_v3": 0.526,
}
PRICE_TABLE_DATE = "2025-01-01"


def trials_from_tags(tags: dict[str, Any]) -> list[dict[str, Any]]:
    """The trials the parent job's tags list, in tag order (values parsed)."""
    chunks: dict[str, list[tuple[int, str]]] = {}
    for key, value in (tags or {}).items():
        m = _TAG.match(str(key))
        if m:
            chunks.setdefault(m.group(1), []).append((int(m.group(2)), str(value)))
    lists = {k: [item for _, text in sorted(v) for item in text.split(";")]
             for k, v in chunks.items()}
    n = max((len(v) for v in lists.values()), default=0)
    out: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {"iteration": _int(_at(lists, "iteration", i), i)}
        if "run_algorithm" in lists:
            row["algorithm"] = _at(lists, "run_algorithm", i)
        if "run_preprocessor" in lists:
            row["preprocessor"] = _at(lists, "run_preprocessor", i)
        if "score" in lists:
            row["score"] = _float(_at(lists, "score", i))
        if "fit_time" in lists:
            row["fit_time"] = _float(_at(lists, "fit_time", i))
        out.append(row)
    return out


def best_child(tags: dict[str, Any], properties: dict[str, Any]) -> str | None:
    """The best child run's name, from the parent's tags or properties."""
    for bag in (tags or {}, properties or {}):
        for key in ("automl_best_child_run_id", "best_child_run_id"):
            if bag.get(key):
                return str(bag[key])
    return None


def model_uri(best: str | None) -> str | None:
    """Where the best child's MLflow model is (registrable as an ``mlflow_model`` asset)."""
    return None if best is None else \
        f"azureml://jobs/{best}/outputs/artifacts/paths/outputs/mlflow-model/"


def build_candidates(job_name: str, *, tags: dict[str, Any], children: list[dict[str, Any]],
                     metrics: dict[str, dict[str, float]] | None, primary: str,
                     metric: str, task: str, n_classes: int) -> list[Candidate]:
    """One candidate per AutoML iteration (child runs and tag entries merged).

    Args:
        job_name: the parent job.
        tags: the parent's tags.
        children: ``{"name", "status", "properties", "created_at", "ended_at"}`` per child.
        metrics: child name -> logged metrics (MLflow), or ``None`` when not read.
        primary: Azure's primary metric (snake case, e.g. ``AUC_weighted``).
        metric / task / n_classes: the run's canonical metric and the data.
    """
    rows: dict[str, dict[str, Any]] = {}
    for t in trials_from_tags(tags):
        rows[f"{job_name}_{t['iteration']}"] = {"tag": t}
    for child in children:
        suffix = str(child.get("name", "")).removeprefix(f"{job_name}_")
        if suffix.isdigit():
            rows.setdefault(str(child["name"]), {})["child"] = child
    out: list[Candidate] = []
    for name in sorted(rows, key=lambda n: int(n.rsplit("_", 1)[1])):
        tag, child = rows[name].get("tag", {}), rows[name].get("child", {})
        props = child.get("properties") or {}
        raw = dict((metrics or {}).get(name) or {})
        score = tag.get("score", _float(props.get("score")))
        if primary not in raw and score is not None and not math.isnan(score):
            raw[primary] = score
        canon = canonical_metrics(raw, task, n_classes)
        status = str(child.get("status") or ("Completed" if score is not None else "Unknown"))
        state = _STATE.get(status.lower(), CandidateState.RUNNING)
        algorithm = tag.get("algorithm") or props.get("run_algorithm") or "unknown"
        preprocessor = tag.get("preprocessor", props.get("run_preprocessor")) or ""
        fit = tag.get("fit_time")
        if fit is None:
            fit = _seconds(child.get("created_at"), child.get("ended_at"))
        out.append(Candidate(
            candidate_id=name, family=str(algorithm),
            params={"algorithm": algorithm, "preprocessor": preprocessor},
            score=canon.get(metric, float("nan")), metrics=canon,
            fit_time_s=float(fit or 0.0), state=state,
            error=None if state is not CandidateState.FAILED else f"child run {status}",
            extra={"raw_metrics": raw, "iteration": int(name.rsplit("_", 1)[1]),
                   "status": status}))
    return out


def estimate_cost(*, started: str, ended: str, nodes: int, vm_size: str | None,
                  price_per_node_hour: float | None) -> tuple[dict[str, Any], str | None]:
    """Node hours x hourly price; ``({}, warning)`` when the price or times are unknown."""
    hours = _seconds(started, ended)
    if hours is None:
        return {}, "azure: cost: the job's start or end time is unknown; no estimate."
    hours /= 3600.0
    price = price_per_node_hour
    source = "the price_per_node_hour option"
    if price is None:
        price = VM_PRICES_USD.get(str(vm_size or "").lower())
        source = f"list price of {vm_size} (pay-as-you-go Linux, East US)"
    if price is None:
        return {}, (f"azure: cost: no price for VM size {vm_size!r}; pass "
                    "price_per_node_hour= for an estimate.")
    usd = round(nodes * hours * price, 4)
    return {"usd": usd,
            "basis": f"{nodes} node(s) x {hours:.3f} h job wall time x ${price}/node hour "
                     f"({source})",
            "price_table_date": PRICE_TABLE_DATE,
            "note": "An upper bound for the job itself: nodes bill from allocation to "
                    "scale-down (clusters: nodeIdleTimeBeforeScaleDown; min_instances > 0 "
                    "bills while idle); storage and egress are not included."}, None


def iso(value: Any) -> str:
    """ISO-8601 UTC text of a datetime (or text) value; ``""`` when missing."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _seconds(start: Any, end: Any) -> float | None:
    a, b = _parse(start), _parse(end)
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _at(lists: dict[str, list[str]], key: str, i: int) -> str:
    values = lists.get(key, [])
    return values[i].strip() if i < len(values) else ""


def _int(text: str, default: int) -> int:
    return int(text) if text.lstrip("-").isdigit() else default


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
