"""The per-engine parts of the HTML report: leaderboard, importances, parallel coordinates,
Pareto front and learning curves (each left out when its data is absent).

Example:
    >>> engine_plots({"label": "x", "importances": {"lr": 0.7, "depth": 0.3}}, {}, "#4e79a7")
    ... # doctest: +ELLIPSIS
    '<div class="grid2"><div><svg class="plot"...'
    >>> engine_plots({"label": "x"}, {}, "#4e79a7")
    ''
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from automl_bridge.reports import svg, svg_parallel
from automl_bridge.reports._html_page import Cell, esc, fmt_score, fmt_value, num, sort_key, table

#: Leaderboard keys shown in their own fixed columns (the rest are extra metrics).
_FIXED = ("rank", "candidate_id", "family", "score", "fit_time_s", "state", "params")
#: Objectives where smaller is better besides a minimized metric.
_COST_OBJECTIVES = ("model_size", "predict_latency")
#: Most parameters drawn as parallel-coordinate axes.
_MAX_AXES = 10


def leaderboard(e: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """The engine's leaderboard as a sortable table (rank 1 highlighted): rank, candidate,
    family, score, parameters, the other metrics and measures, fit time and state."""
    rows = [r for r in e.get("leaderboard") or [] if isinstance(r, Mapping)]
    if not rows:
        return ""
    metric = str(data.get("metric") or "score")
    extra: list[str] = []
    for r in rows:  # the score column already shows the run's metric
        extra += [k for k in r if k not in _FIXED and k not in extra and k != metric]
    numeric = {k: all(num(r.get(k)) is not None or r.get(k) is None for r in rows)
               for k in extra}
    small = {k: all(abs(num(r.get(k)) or 0.0) < 10 for r in rows) for k in extra}
    with_params = any(r.get("params") for r in rows)
    headers = [("Rank", True), ("Candidate", False), ("Family", False),
               (metric, True)]
    headers += [("Parameters", False)] if with_params else []
    headers += [(k, numeric[k]) for k in extra] + [("Fit time (s)", True), ("State", False)]
    body: list[list[Cell]] = []
    for r in rows:
        fit = num(r.get("fit_time_s"))
        cells: list[Cell] = [
            (fmt_value(r.get("rank")), sort_key(r.get("rank"))),
            (f"<code>{esc(r.get('candidate_id', ''))}</code>", str(r.get("candidate_id", ""))),
            (fmt_value(r.get("family")), None),
            (f"<b>{fmt_score(r.get('score'))}</b>", sort_key(r.get("score")))]
        if with_params:
            cells.append((f'<span class="params">{esc(r.get("params") or "")}</span>', None))
        cells += [(_metric(r.get(k), small[k]), sort_key(r.get(k))) for k in extra]
        cells += [(esc(f"{fit:,.1f}") if fit is not None else fmt_value(None), sort_key(fit)),
                  (fmt_value(r.get("state")), None)]
        body.append(cells)
    best = next((i for i, r in enumerate(rows) if r.get("rank") == 1), None)
    n_done = num(e.get("n_complete"))
    shown = (f"top {len(rows)} of {int(n_done)} complete candidates"
             if n_done is not None and n_done > len(rows)
             else f"{len(rows)} candidate{'s' if len(rows) != 1 else ''}")
    return (f"<h3>Leaderboard ({shown})</h3>"
            + table(headers, body, scroll=len(rows) > 12, best_row=best))


def _metric(value: Any, small: bool) -> str:
    v = num(value)
    if v is None:
        return fmt_value(value)
    return fmt_score(v) if small else esc(svg.fmt(v))


def engine_plots(e: Mapping[str, Any], data: Mapping[str, Any], color: str) -> str:
    """The engine's plots: importances and Pareto side by side, then the wide ones."""
    small = [p for p in (_importances(e, color), _pareto(e, data, color)) if p]
    wide = [p for p in (_parallel(e, data), _curves(e, data)) if p]
    out = ""
    if small:
        out += '<div class="grid2">' + "".join(f"<div>{p}</div>" for p in small) + "</div>"
    return out + "".join(wide)


def _importances(e: Mapping[str, Any], color: str) -> str:
    imp = e.get("importances")
    if not isinstance(imp, Mapping):
        return ""
    items = sorted(((str(k), float(v)) for k, v in imp.items() if num(v) is not None),
                   key=lambda kv: -kv[1])
    if not items:
        return ""
    share = all(v >= 0 for _, v in items) and abs(sum(v for _, v in items) - 1) < 0.02
    nonzero = [(k, v) for k, v in items if v != 0]
    label = "share of the score's variation" if share else "importance"
    if len(nonzero) < len(items):
        label += f" ({len(items) - len(nonzero)} with none not shown)"
    if not nonzero:
        return ""
    return svg.bar_chart(nonzero[:15], title="Parameter importances", bar_color=color,
                         percent=share, x_label=label)


def _parallel(e: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    par = e.get("parallel")
    if not isinstance(par, Mapping) or not par.get("params") or not par.get("rows"):
        return ""
    params = [str(p) for p in par["params"]]
    imp = e.get("importances")
    imp = imp if isinstance(imp, Mapping) else {}
    order = sorted(range(len(params)), key=lambda i: -(num(imp.get(params[i])) or 0.0))
    keep = (order if imp else list(range(len(params))))[:_MAX_AXES]
    rows = [[r[i] for i in keep] + [r[-1]] for r in par["rows"]
            if isinstance(r, Sequence) and len(r) == len(params) + 1]
    if not rows:
        return ""
    metric = str(data.get("metric") or "score")
    plot = svg_parallel.parallel_coordinates(
        [params[i] for i in keep], rows, score_label=metric,
        higher_is_better=str(data.get("direction", "maximize")) != "minimize",
        title=f"Parallel coordinates: {len(rows)} trials, coloured by {metric}")
    note = (f" Showing the {len(keep)} most important of {len(params)} parameters."
            if len(keep) < len(params) else "")
    return plot + ('<p class="caption">Each line is a trial through its parameter values; the '
                   "best is drawn thickest and on top; n/a marks a parameter the trial did not "
                   f"use.{esc(note)}</p>")


def _pareto_points(par: Mapping[str, Any], n_obj: int) -> list[tuple[str, list[Any]]]:
    """``(candidate id, objective values)`` per point: rows ``[id, v1, v2, ...]``, rows
    ``[v1, v2, ...]`` (id: the row index) or dicts with ``candidate_id`` and the objectives."""
    objectives = [str(o) for o in par.get("objectives") or []]
    out = []
    for i, p in enumerate(par.get("points") or []):
        if isinstance(p, Mapping):
            out.append((str(p.get("candidate_id", i)), [p.get(o) for o in objectives]))
        elif isinstance(p, Sequence) and len(p) == n_obj + 1 and isinstance(p[0], str):
            out.append((p[0], list(p[1:])))
        elif isinstance(p, Sequence) and len(p) == n_obj:
            out.append((str(i), list(p)))
    return out


def _pareto(e: Mapping[str, Any], data: Mapping[str, Any], color: str) -> str:
    par = e.get("pareto")
    if not isinstance(par, Mapping) or len(par.get("objectives") or []) < 2:
        return ""
    objectives = [str(o) for o in par["objectives"]]
    directions = [str(d) for d in par.get("directions") or []]
    arrows = {o: {"minimize": " (lower is better)", "maximize": " (higher is better)"}.get(
        d, "") for o, d in zip(objectives, directions, strict=False)}
    points = _pareto_points(par, len(objectives))
    front = {str(f) for f in par.get("front") or []}
    if not points:
        return ""
    plots = []
    for k in range(1, len(objectives)):
        xs = [num(v[k]) for _, v in points]
        pos = [x for x in xs if x is not None and x > 0]
        log_x = len(pos) == len(xs) and bool(pos) and max(pos) / min(pos) >= 100
        pts = [(v[k], v[0], f"{cid}: {objectives[0]}={_short(v[0])}, "
                f"{objectives[k]}={_short(v[k])}" + (" (Pareto front)" if cid in front else ""),
                cid in front) for cid, v in points]
        plots.append(svg.scatter(pts, title=f"Pareto front: {objectives[0]} vs {objectives[k]}",
                                 x_label=objectives[k] + arrows.get(objectives[k],
                                                                    _arrow(objectives[k], data)),
                                 y_label=objectives[0] + arrows.get(objectives[0],
                                                                    _arrow(objectives[0], data)),
                                 log_x=log_x, accent=color, width=600, height=400))
    return "".join(plots) + (f'<p class="caption">{len(front)} of {len(points)} candidates on '
                             "the front: none of the others is at least as good on every "
                             "objective.</p>")


def _short(v: Any) -> str:
    x = num(v)
    return svg.fmt(x) if x is not None else str(v)


def _arrow(objective: str, data: Mapping[str, Any]) -> str:
    if objective in _COST_OBJECTIVES or (objective == data.get("metric")
                                         and data.get("direction") == "minimize"):
        return " (lower is better)"
    return " (higher is better)" if objective == data.get("metric") else ""


def _curves(e: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    curves = [c for c in e.get("learning_curves") or [] if isinstance(c, Mapping)][:10]
    losses: list[svg.Series] = []
    metrics: list[svg.Series] = []
    names = {str(c.get("val_metric_name")) for c in curves if c.get("val_metric")}
    for i, c in enumerate(curves):
        epochs, col = list(c.get("epochs") or []), svg.PALETTE[(i + 4) % len(svg.PALETTE)]
        name = str(c.get("candidate_id", i))
        if c.get("architecture"):
            name += f" {c['architecture']}"
        losses.append(svg.Series(name, list(zip(epochs, c.get("val") or [], strict=False)), col))
        if c.get("train"):
            losses.append(svg.Series(f"{name} (training)",
                                     list(zip(epochs, c["train"], strict=False)), col, "5,4",
                                     legend=False))
        if c.get("val_metric"):
            metrics.append(svg.Series(name, list(zip(epochs, c["val_metric"], strict=False)),
                                      col))
    plots = []
    if any(len(s.points) for s in losses):
        plots.append(svg.line_plot(losses, title="Loss per epoch: validation (solid), training "
                                   "(dashed)", x_label="epoch", y_label="loss", width=1080,
                                   height=380))
    if any(len(s.points) for s in metrics):
        name = names.pop() if len(names) == 1 else "validation metric"
        plots.append(svg.line_plot(metrics, title=f"{name} per epoch", x_label="epoch",
                                   y_label=name, width=1080, height=340))
    if not plots:
        return ""
    more = len(e.get("learning_curves") or []) - len(curves)
    return "".join(plots) + (
        '<p class="caption">Learning curves of the best network trials; hover a line for its '
        f"candidate.{f' {more} more not drawn.' if more > 0 else ''}</p>")
