"""Render a comparison (the dict of :meth:`Comparison.to_dict`) as Markdown.

The output depends only on the data, so the same comparison always renders the same text.
Sections: Spec (common fields and differences), Engines, Holdout (scores with confidence
intervals and which differences are real), Parameter importances (local runs), Leaderboards
(top 10), Refused or approximated fields, Warnings.

Example:
    >>> data = {"title": "Demo", "metric": "accuracy", "direction": "maximize",
    ...         "spec": {"target": "y"}, "spec_differences": {}, "holdout": None,
    ...         "engines": [{"label": "local/tpe", "status": "completed", "best_score": 0.9,
    ...                      "leaderboard": []}]}
    >>> print(render_markdown(data).splitlines()[0])
    # Demo
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Leaderboard rows shown per engine.
TOP = 10


def render_markdown(data: Mapping[str, Any]) -> str:
    """The Markdown report of a comparison dict."""
    engines: list[Mapping[str, Any]] = list(data.get("engines") or [])
    metric = data.get("metric", "?")
    direction = data.get("direction", "maximize")
    better = "higher" if direction == "maximize" else "lower"
    out = [f"# {_text(data.get('title') or 'Comparison')}", ""]
    created = f"; created {data['created_at']}" if data.get("created_at") else ""
    out += [f"{len(engines)} engine(s) compared on **{metric}** ({better} is better){created}.",
            ""]
    out += _spec(data, engines)
    out += _engines(engines)
    out += _holdout(data.get("holdout"), better)
    out += _importances(engines)
    out += _leaderboards(engines)
    out += _refused(engines)
    out += _warnings(engines, data.get("notes") or [])
    return "\n".join(out).rstrip() + "\n"


def _spec(data: Mapping[str, Any], engines: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Spec", ""]
    spec = data.get("spec") or {}
    if spec:
        out += _table(["Field", "Value"], [[k, _value(v)] for k, v in spec.items()])
    else:
        out += ["No field is common to every run.", ""]
    diffs = data.get("spec_differences") or {}
    if diffs:
        labels = [str(e.get("label")) for e in engines]
        extra = sorted({k for d in diffs.values() for k in d} - set(labels))
        cols = labels + extra
        out += ["Fields that differ between engines:", ""]
        out += _table(["Field", *cols],
                      [[f, *(_value(d[c]) if c in d else "—" for c in cols)]
                       for f, d in diffs.items()])
    return out


def _engines(engines: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for e in engines:
        trials = (f"{e['n_complete']} / {e['n_trials']}"
                  if e.get("n_trials") is not None else "—")
        rows.append([e.get("label"), e.get("backend", "—"), e.get("strategy", "—"),
                     e.get("status", "—"), _num(e.get("best_score")),
                     e.get("best_family") or "—", trials, _seconds(e.get("wall_time_s")),
                     _cost(e.get("cost")), e.get("run_id", "—")])
    head = ["Engine", "Backend", "Strategy", "Status", "Best score (own validation)",
            "Best family", "Complete / trials", "Wall time", "Cost", "Run id"]
    return ["## Engines", "", *_table(head, rows)]


def _holdout(holdout: Mapping[str, Any] | None, better: str) -> list[str]:
    out = ["## Holdout", ""]
    if not holdout:
        return [*out, "No holdout was given: the best scores above are each engine's own "
                "validation, not comparable rows.", ""]
    level = holdout.get("confidence", 0.95)
    ci = f"{level:.0%} CI"
    out += [f"Every best model scored on the same {holdout.get('n_rows', 0):,} held-out rows "
            f"with **{holdout.get('metric')}** ({better} is better).", ""]
    scores = holdout.get("scores") or []
    if scores:
        out += _table(["Engine", "Score", ci],
                      [[s["label"], _num(s.get("score")), _interval(s)] for s in scores])
    diffs = holdout.get("differences") or []
    if diffs:
        out += ["Differences (positive: A is better):", ""]
        out += _table(["A", "B", "A − B", ci, "Real?"],
                      [[d["a"], d["b"], _num(d.get("diff"), signed=True), _interval(d),
                        "yes" if d.get("significant") else "no"] for d in diffs])
        real = [d for d in diffs if d.get("significant")]
        if real:
            for d in real:
                win, lose = (d["a"], d["b"]) if (d.get("diff") or 0) > 0 else (d["b"], d["a"])
                out.append(f"- **{_text(win)}** is better than **{_text(lose)}**: the "
                           f"interval of the difference excludes 0.")
            out.append("")
        else:
            out += ["No difference is real: every interval of a difference includes 0.", ""]
    notes = holdout.get("notes") or []
    if notes:
        out += [f"- {_text(n)}" for n in notes] + [""]
    return out


def _importances(engines: Sequence[Mapping[str, Any]]) -> list[str]:
    found = [e for e in engines if e.get("importances")]
    if not found:
        return []
    out = ["## Parameter importances", ""]
    for e in found:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in list(e["importances"].items())[:8])
        out.append(f"- {_text(e['label'])}: {shares}")
    return [*out, ""]


def _leaderboards(engines: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Leaderboards", ""]
    for e in engines:
        board = list(e.get("leaderboard") or [])
        out += [f"### {_text(e.get('label'))}", ""]
        if not board:
            out += ["No candidate completed.", ""]
            continue
        rows = [[r.get("rank"), r.get("candidate_id"), r.get("family"), _num(r.get("score")),
                 _seconds(r.get("fit_time_s")), r.get("params", "")] for r in board[:TOP]]
        out += _table(["Rank", "Candidate", "Family", "Score", "Fit time", "Params"], rows)
        if len(board) > TOP:
            out += [f"({len(board) - TOP} more in the HTML and JSON reports.)", ""]
    return out


def _refused(engines: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Refused or approximated fields", ""]
    found = [(e["label"], n) for e in engines for n in e.get("refused_or_approximated") or []]
    if not found:
        return [*out, "Every engine honoured every spec field.", ""]
    return [*out, *(f"- {_text(label)}: {_text(n)}" for label, n in found), ""]


def _warnings(engines: Sequence[Mapping[str, Any]], notes: Sequence[str]) -> list[str]:
    out = ["## Warnings", ""]
    found = [f"- {_text(n)}" for n in notes]
    found += [f"- {_text(e['label'])}: {_text(w)}" for e in engines
              for w in e.get("warnings") or []]
    return [*out, *(found or ["None."]), ""]


# --- formatting -------------------------------------------------------------------------------


def _table(head: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _cell(value: Any) -> str:
    text = "—" if value is None else str(value)
    return _text(text).replace("|", "\\|")


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _num(value: Any, *, signed: bool = False) -> str:
    if value is None or isinstance(value, bool):
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "—"
    sign = "+" if signed else ""
    if v != 0 and (abs(v) >= 10_000 or abs(v) < 1e-3):
        return f"{v:{sign}.4g}"
    if abs(v) >= 100:
        return f"{v:{sign},.2f}"
    return f"{v:{sign}.4f}"


def _interval(row: Mapping[str, Any]) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return "—"
    return f"[{_num(low)}, {_num(high)}]"


def _seconds(value: Any) -> str:
    if value is None:
        return "—"
    v = float(value)
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.1f} s" if v >= 10 else f"{v:.2f} s"


def _cost(cost: Any) -> str:
    if not cost:
        return "—"
    usd = cost.get("usd") if isinstance(cost, Mapping) else None
    if isinstance(usd, (int, float)) and not isinstance(usd, bool):
        return f"${usd:,.2f} (estimate)"
    return "unknown"


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)
