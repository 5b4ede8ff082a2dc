"""Parallel coordinates for the HTML report: one polyline per trial across one vertical axis
per parameter and a last score axis, coloured by score (:mod:`automl_bridge.reports.svg`).

Example:
    >>> out = parallel_coordinates(["lr", "kind"], [[0.1, "rf", 0.8], [0.01, None, 0.9]])
    >>> out.startswith("<svg") and out.count("<polyline") == 2 and "n/a" in out
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from automl_bridge.reports.svg import (
    AXIS,
    MUTED,
    Canvas,
    Scale,
    clip,
    fmt,
    num,
    ramp,
    text_el,
    tooltip,
)


def _pc_axis(values: Sequence[Any], top: float, bottom: float
             ) -> tuple[dict[str, float], Scale | None, list[tuple[float, str]], float]:
    """One parallel-coordinates axis: category positions or a numeric scale, its tick marks,
    and the y of missing values (below the axis)."""
    present = [v for v in values if v is not None]
    nums = [num(v) for v in present]
    missing_y = bottom + 24
    if present and all(v is not None for v in nums):
        vals = [v for v in nums if v is not None]
        log = min(vals) > 0 and max(vals) / min(vals) >= 100
        scale = Scale(vals, bottom, top, log=log, pad=0.03)
        ticks = [(scale(t), fmt(t)) for t in scale.ticks if scale.lo <= t <= scale.hi]
        exact = sorted(set(vals))
        ys = [scale(v) for v in exact]
        if len(exact) <= 5 and all(abs(a - b) >= 14 for a, b in pairwise(ys)):
            ticks = [(y, fmt(v)) for y, v in zip(ys, exact, strict=True)]  # the values tried
        return {}, scale, ticks, missing_y
    cats = sorted({str(v) for v in present})
    step = (bottom - top) / max(len(cats), 1)
    pos = {cat: bottom - step * (i + 0.5) for i, cat in enumerate(cats)}
    every = max(1, math.ceil(len(cats) / 12))
    return pos, None, [(y, clip(k, 16)) for i, (k, y) in enumerate(pos.items())
                       if i % every == 0], missing_y


def parallel_coordinates(names: Sequence[str], rows: Sequence[Sequence[Any]], *,
                         score_label: str = "score", higher_is_better: bool = True,
                         title: str = "", width: int = 960, height: int = 440) -> str:
    """One polyline per row ``[param values..., score]`` across one vertical axis per
    parameter and a last score axis, coloured by score (best drawn last, on top).

    Numeric axes are linear (log when the values span 100x); text values are categories;
    missing values (inactive parameters) sit on an "n/a" mark under their axis.
    """
    c = Canvas(width, height, title=title, left=40, right=150, top=78, bottom=64)
    scored = [list(r) for r in rows if len(r) == len(names) + 1 and num(r[-1]) is not None]
    labels = [*names, score_label]
    n = len(labels)
    xs = [c.left + i * (c.right - c.left) / max(n - 1, 1) for i in range(n)]
    axes = [_pc_axis([r[i] for r in scored], c.top, c.bottom) for i in range(n)]
    scores = [float(r[-1]) for r in scored]
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)

    def goodness(s: float) -> float:
        t = (s - lo) / (hi - lo) if hi > lo else 1.0
        return t if higher_is_better else 1 - t

    def y_of(i: int, v: Any) -> float:
        pos, scale, _, missing = axes[i]
        if v is None:
            return missing
        return scale(float(v)) if scale is not None else pos[str(v)]

    spacing = (c.right - c.left) / max(n - 1, 1)
    for i, (x, label) in enumerate(zip(xs, labels, strict=True)):
        ly = c.top - 16 - (14 if spacing < 110 and i % 2 else 0)
        name = text_el(x, ly, clip(label, max(6, int(spacing / 6.2))), anchor="middle",
                     weight="600")
        c.parts.append(f"<g>{tooltip(label)}{name}</g>")
        c.parts.append(f'<line x1="{x:.1f}" y1="{c.top}" x2="{x:.1f}" y2="{c.bottom}" '
                       f'stroke="{AXIS}"/>')
    order = sorted(range(len(scored)), key=lambda k: goodness(scores[k]))
    for rank, k in enumerate(order):
        row, g = scored[k], goodness(scores[k])
        coords = " ".join(f"{x:.1f},{y_of(i, v):.1f}" for i, (x, v) in enumerate(zip(xs, row,
                                                                                   strict=True)))
        top_one = rank == len(order) - 1
        tip = ", ".join(f"{lab}={v if num(v) is None else fmt(float(v))}"
                        for lab, v in zip(labels, row, strict=True))
        c.parts.append(f'<polyline points="{coords}" fill="none" stroke="{ramp(g)}" '
                       f'stroke-width="{3 if top_one else 1.4}" '
                       f'stroke-opacity="{1 if top_one else 0.6}">{tooltip(tip)}</polyline>')
    halo = ' stroke="#fff" stroke-width="3" paint-order="stroke"'
    for i, x in enumerate(xs):
        _, _, ticks, missing = axes[i]
        for y, text in ticks:
            c.parts.append(f'<line x1="{x - 3:.1f}" y1="{y:.1f}" x2="{x + 3:.1f}" y2="{y:.1f}" '
                           f'stroke="{AXIS}"/>')
            c.parts.append(text_el(x + 6, y + 4, text, size=10, fill="#333", extra=halo))
        if any(r[i] is None for r in scored):
            c.parts.append(text_el(x, missing + 4, "n/a", anchor="middle", size=10, fill=MUTED))
    bx, steps = c.right + 56, 24
    h = (c.bottom - c.top) / steps
    for j in range(steps):
        g = 1 - (j + 0.5) / steps
        c.parts.append(f'<rect x="{bx}" y="{c.top + j * h:.1f}" width="14" height="{h + 0.5:.1f}" '
                       f'fill="{ramp(g)}"/>')
    best, worst = (hi, lo) if higher_is_better else (lo, hi)
    c.parts.append(text_el(bx + 20, c.top + 10, f"{fmt(best)} best", size=11, fill="#333"))
    c.parts.append(text_el(bx + 20, c.bottom, f"{fmt(worst)} worst", size=11, fill="#333"))
    c.parts.append(text_el(bx - 6, c.top - 16, "colour: " + clip(score_label, 14), size=11,
                         fill=MUTED))
    return c.svg()
