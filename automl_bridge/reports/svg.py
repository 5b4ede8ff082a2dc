"""Small dependency-free SVG plots for the HTML report (inline ``<svg>`` elements, no scripts).

Each function returns one ``<svg class="plot">`` string sized by its ``viewBox`` (it scales to
the page width): axes with "nice" ticks (linear or base-10 log), axis labels, a title, a
legend, and a ``<title>`` tooltip on every mark. Every text is escaped. Values that cannot be
drawn (``None``, NaN, infinite, or not positive on a log axis) are skipped. Plots: lines (best
so far, learning curves), bars (importances), error bars (holdout intervals), scatter (Pareto
fronts); parallel coordinates are in :mod:`automl_bridge.reports.svg_parallel`.

Example:
    >>> svg = line_plot([Series("a", [(1, 0.5), (10, 0.7)], "#4e79a7")], title="demo",
    ...                 x_label="s", y_label="score", log_x=True)
    >>> svg.startswith("<svg") and svg.count("<polyline") == 1
    True
    >>> nice_ticks(0.0, 1.0)[:3]
    [0.0, 0.2, 0.4]
    >>> bar_chart([("x<1", 0.7)], title="t").count("&lt;")
    2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import Any

#: Engine colours (Tableau 10), in engine order.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948",
           "#9c755f", "#ff9da7", "#bab0ac")
#: Score colour ramp (viridis without its pale end): worst -> best.
RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#b5de2b")
GRID, AXIS, MUTED, FONT = "#e6e8ec", "#9aa1ab", "#5f6672", 12


def color(i: int) -> str:
    """The colour of the ``i``-th engine."""
    return PALETTE[i % len(PALETTE)]


def ramp(t: float) -> str:
    """The colour at ``t`` in ``[0, 1]`` on :data:`RAMP` (0 worst, 1 best)."""
    t = min(1.0, max(0.0, t)) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    a, b = RAMP[i], RAMP[i + 1]
    mix = [round(int(a[k:k + 2], 16) * (1 - t + i) + int(b[k:k + 2], 16) * (t - i))
           for k in (1, 3, 5)]
    return "#" + "".join(f"{v:02x}" for v in mix)


def num(v: Any) -> float | None:
    """``v`` as a finite float, else ``None`` (``bool`` and text are not numbers)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values within ``[lo, hi]`` (steps of 1, 2 or 5 x 10^k)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))

    def ticks(step: float) -> list[float]:
        first = math.ceil(lo / step - 1e-9)
        return [round(k * step, 12) + 0.0
                for k in range(first, math.floor(hi / step + 1e-9) + 1)]

    return min((ticks(m * mag) for m in (1, 2, 5, 10)), key=lambda t: abs(len(t) - n))


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten in ``[lo, hi]`` (with 2x and 5x when the span is short)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1, 2, 5) if b - a <= 2 else (1,)
    ticks = [m * 10.0 ** k for k in range(a, b + 1) for m in mults]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)] or [lo, hi]


def fmt(v: float) -> str:
    """A short label for a number (tick, value)."""
    a = abs(v)
    if v == 0:
        return "0"
    if a >= 1e6 or a < 1e-3:
        return f"{v:.1e}".replace("e+0", "e").replace("e-0", "e-").replace(".0e", "e")
    if a >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def text_el(x: float, y: float, s: str, *, anchor: str = "start", size: int = FONT,
          fill: str = "", weight: str = "", extra: str = "") -> str:
    attrs = f' fill="{fill}"' if fill else ""
    attrs += f' font-weight="{weight}"' if weight else ""
    size_attr = f' font-size="{size}"' if size != FONT else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{size_attr}{attrs}{extra}>'
            f"{escape(s)}</text>")


def clip(s: str, n: int) -> str:
    """``s`` cut to ``n`` characters with an ellipsis."""
    return s if len(s) <= n else s[: max(n - 1, 1)] + "…"


def text_width(s: str, size: int = FONT) -> float:
    """A rough width in pixels of ``s`` in the sans-serif font."""
    return len(s) * size * 0.58


def _round125(v: float, *, down: bool) -> float:
    """The nearest of 1, 2 or 5 x 10^k below (``down``) or above ``v``."""
    k = math.floor(math.log10(v))
    steps = [m * 10.0 ** e for e in (k - 1, k, k + 1) for m in (1, 2, 5)]
    return (max(t for t in steps if t <= v * (1 + 1e-9)) if down
            else min(t for t in steps if t >= v * (1 - 1e-9)))


class Scale:
    """Maps data values in ``[lo, hi]`` to pixels ``[p0, p1]`` (linear or base-10 log)."""

    def __init__(self, values: Sequence[float], p0: float, p1: float, *, log: bool = False,
                 pad: float = 0.05, include: Sequence[float] = ()) -> None:
        vals = [v for v in (*values, *include) if v is not None and (v > 0 or not log)]
        lo, hi = (min(vals), max(vals)) if vals else ((1.0, 10.0) if log else (0.0, 1.0))
        self.log = log
        if log:
            lo, hi = _round125(lo, down=True), _round125(hi, down=False)
            hi = hi if hi > lo else lo * 10
            self.ticks = log_ticks(lo, hi)
        else:
            if hi <= lo:
                half = abs(lo) * 0.05 or 0.5
                lo, hi = lo - half, hi + half
            margin = (hi - lo) * pad
            lo, hi = lo - margin, hi + margin
            self.ticks = nice_ticks(lo, hi)
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, v: float) -> float:
        if self.log:
            lo, hi, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(v, 1e-300))
        else:
            lo, hi = self.lo, self.hi
        return self.p0 + (v - lo) / (hi - lo) * (self.p1 - self.p0)


class Canvas:
    """An SVG being built: a plot area inside margins, with a title."""

    def __init__(self, width: float, height: float, *, title: str = "", left: float = 64,
                 right: float = 20, top: float = 40, bottom: float = 50) -> None:
        self.width, self.height, self.title = width, height, title
        self.left, self.right = left, width - right
        self.top, self.bottom = top, height - bottom
        self.parts: list[str] = []
        if title:
            self.parts.append(text_el(16, 22, title, size=14, weight="600", fill="#1f2430"))

    def axes(self, sx: Scale, sy: Scale, *, x_label: str = "", y_label: str = "") -> None:
        """Grid lines, tick labels, the frame and axis labels of a two-axis plot."""
        p = self.parts
        for t in sx.ticks:
            x = sx(t)
            if self.left - 0.5 <= x <= self.right + 0.5:
                p.append(f'<line x1="{x:.1f}" y1="{self.top}" x2="{x:.1f}" y2="{self.bottom}" '
                         f'stroke="{GRID}"/>')
                p.append(text_el(x, self.bottom + 16, fmt(t), anchor="middle", fill=MUTED))
        for t in sy.ticks:
            y = sy(t)
            if self.top - 0.5 <= y <= self.bottom + 0.5:
                p.append(f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" '
                         f'stroke="{GRID}"/>')
                p.append(text_el(self.left - 6, y + 4, fmt(t), anchor="end", fill=MUTED))
        p.append(f'<path d="M{self.left},{self.top} V{self.bottom} H{self.right}" fill="none" '
                 f'stroke="{AXIS}"/>')
        if x_label:
            p.append(text_el((self.left + self.right) / 2, self.height - 12, x_label,
                           anchor="middle", fill="#333"))
        if y_label:
            cy = (self.top + self.bottom) / 2
            p.append(text_el(16, cy, y_label, anchor="middle", fill="#333",
                           extra=f' transform="rotate(-90 16 {cy:.1f})"'))

    def legend(self, items: Sequence[tuple[str, str, str]], x: float, y: float) -> None:
        """A vertical legend at ``(x, y)``: ``(label, colour, dash)`` per line."""
        for i, (label, col, dash) in enumerate(items):
            ly = y + 20 * i
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            self.parts.append(f'<line x1="{x}" y1="{ly}" x2="{x + 24}" y2="{ly}" stroke="{col}" '
                              f'stroke-width="3"{dash_attr}/>')
            self.parts.append(f'<g>{tooltip(label)}{text_el(x + 30, ly + 4, clip(label, 26))}</g>')

    def svg(self) -> str:
        """The finished ``<svg>`` element."""
        w, h = round(self.width), round(self.height)
        return (f'<svg class="plot" viewBox="0 0 {w} {h}" style="max-width:{w}px" '
                f'role="img" aria-label="{escape(self.title)}">'
                f'<rect width="{w}" height="{h}" fill="#fff"/>' + "".join(self.parts) + "</svg>")


def tooltip(s: str) -> str:
    return f"<title>{escape(s)}</title>"


@dataclass(frozen=True)
class Series:
    """One line of a :func:`line_plot`: a name, ``(x, y)`` points, a colour and a dash."""

    name: str
    points: Sequence[tuple[Any, Any]]
    color: str
    dash: str = ""
    legend: bool = True


def line_plot(series: Sequence[Series], *, title: str = "", x_label: str = "",
              y_label: str = "", log_x: bool = False, steps: bool = False, width: int = 860,
              height: int = 400) -> str:
    """Several series as lines with markers (step lines for best-so-far curves).

    A series of one point is drawn as a marker. The legend sits right of the plot.
    """
    shown = [s.name for s in series if s.legend]
    legend_w = min(230, max((text_width(clip(n, 26)) for n in shown), default=0) + 50)
    c = Canvas(width, height, title=title, right=legend_w + 16)
    clean = [[(x, y) for x, y in ((num(a), num(b)) for a, b in s.points)
              if x is not None and y is not None and (x > 0 or not log_x)] for s in series]
    sx = Scale([x for pts in clean for x, _ in pts], c.left, c.right, log=log_x, pad=0.02)
    sy = Scale([y for pts in clean for _, y in pts], c.bottom, c.top)
    c.axes(sx, sy, x_label=x_label, y_label=y_label)
    n_points = sum(len(pts) for pts in clean)
    for s, pts in zip(series, clean, strict=True):
        xy = [(sx(x), sy(y)) for x, y in sorted(pts, key=lambda p: p[0])]
        if steps and len(xy) > 1:
            path = [xy[0]]
            for (_, y0), (x1, y1) in pairwise(xy):
                path += [(x1, y0), (x1, y1)]
        else:
            path = xy
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        if len(path) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in path)
            c.parts.append(f'<polyline points="{coords}" fill="none" stroke="{s.color}" '
                           f'stroke-width="2.2" stroke-linejoin="round"{dash}>'
                           f"{tooltip(s.name)}</polyline>")
        if len(xy) == 1 or (len(xy) <= 40 and n_points <= 120):
            for (x, y), (dx, dy) in zip(xy, sorted(pts, key=lambda p: p[0]), strict=True):
                r = 5 if len(xy) == 1 else 3
                c.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{s.color}" '
                               f'stroke="#fff">{tooltip(f"{s.name}: {fmt(dx)}, {fmt(dy)}")}'
                               "</circle>")
    c.legend([(s.name, s.color, s.dash) for s in series if s.legend], c.right + 18, c.top + 8)
    return c.svg()


def bar_chart(items: Sequence[tuple[str, float]], *, title: str = "", x_label: str = "",
              bar_color: str = "#4e79a7", percent: bool = False, width: int = 560) -> str:
    """Horizontal bars, one per ``(label, value)``, in the given order, values written."""
    label_w = min(200, max((text_width(clip(lab, 28)) for lab, _ in items), default=40) + 14)
    c = Canvas(width, 56 + 24 * len(items) + 36, title=title, left=label_w, right=60, top=44,
               bottom=36)
    vals = [v for _, v in items if num(v) is not None]
    sx = Scale(vals, c.left, c.right, include=[0.0], pad=0.0)
    for t in sx.ticks:
        x = sx(t)
        c.parts.append(f'<line x1="{x:.1f}" y1="{c.top - 4}" x2="{x:.1f}" y2="{c.bottom}" '
                       f'stroke="{GRID}"/>')
        c.parts.append(text_el(x, c.bottom + 16, f"{t:.0%}" if percent else fmt(t),
                             anchor="middle", fill=MUTED))
    for i, (label, v) in enumerate(items):
        y = c.top + 24 * i
        c.parts.append(text_el(c.left - 8, y + 14, clip(label, 28), anchor="end"))
        value = num(v)
        if value is None:
            continue
        shown = f"{value:.1%}" if percent else fmt(value)
        x0, x1 = sorted((sx(0.0), sx(value)))
        c.parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="16" rx="2" fill="{bar_color}">{tooltip(f"{label}: {shown}")}'
                       "</rect>")
        c.parts.append(text_el(x1 + 5, y + 15, shown, fill=MUTED, size=11))
    if x_label:
        c.parts.append(text_el((c.left + c.right) / 2, c.height - 6, x_label, anchor="middle",
                             fill="#333"))
    return c.svg()


def error_bars(rows: Sequence[tuple[str, Any, Any, Any, str]], *, title: str = "",
               x_label: str = "", ref: float | None = None, width: int = 760) -> str:
    """Estimates with intervals, one row per ``(label, value, low, high, colour)``.

    ``ref`` draws a dashed vertical reference line (0 for differences).
    """
    label_w = min(320, max((text_width(clip(r[0], 44)) for r in rows), default=40) + 16)
    c = Canvas(width, 50 + 28 * len(rows) + 44, title=title, left=label_w, right=24, top=44,
               bottom=44)
    vals = [v for r in rows for v in r[1:4] if num(v) is not None]
    sx = Scale(vals, c.left, c.right, include=[ref] if ref is not None else [], pad=0.08)
    sy_rows = [c.top + 28 * i + 14 for i in range(len(rows))]
    for t in sx.ticks:
        x = sx(t)
        c.parts.append(f'<line x1="{x:.1f}" y1="{c.top}" x2="{x:.1f}" y2="{c.bottom}" '
                       f'stroke="{GRID}"/>')
        c.parts.append(text_el(x, c.bottom + 16, fmt(t), anchor="middle", fill=MUTED))
    if ref is not None:
        x = sx(ref)
        c.parts.append(f'<line x1="{x:.1f}" y1="{c.top - 6}" x2="{x:.1f}" y2="{c.bottom}" '
                       f'stroke="#333" stroke-dasharray="4,3"/>')
    for y, (label, v, lo, hi, col) in zip(sy_rows, rows, strict=True):
        c.parts.append(text_el(c.left - 10, y + 4, clip(label, 44), anchor="end"))
        value, low, high = num(v), num(lo), num(hi)
        if value is None:
            continue
        tip = tooltip(f"{label}: {fmt(value)}" + (f" [{fmt(low)}, {fmt(high)}]"
                                               if low is not None and high is not None else ""))
        if low is not None and high is not None:
            a, b = sx(low), sx(high)
            c.parts.append(f'<path d="M{a:.1f},{y} H{b:.1f} M{a:.1f},{y - 6} V{y + 6} '
                           f'M{b:.1f},{y - 6} V{y + 6}" stroke="{col}" stroke-width="2.2" '
                           f'fill="none">{tip}</path>')
        c.parts.append(f'<circle cx="{sx(value):.1f}" cy="{y}" r="5.5" fill="{col}" '
                       f'stroke="#fff" stroke-width="1.5">{tip}</circle>')
    c.parts.append(f'<line x1="{c.left}" y1="{c.bottom}" x2="{c.right}" y2="{c.bottom}" '
                   f'stroke="{AXIS}"/>')
    if x_label:
        c.parts.append(text_el((c.left + c.right) / 2, c.height - 10, x_label, anchor="middle",
                             fill="#333"))
    return c.svg()


def scatter(points: Sequence[tuple[Any, Any, str, bool]], *, title: str = "", x_label: str = "",
            y_label: str = "", log_x: bool = False, log_y: bool = False,
            accent: str = "#e15759", width: int = 640, height: int = 400) -> str:
    """Points ``(x, y, tooltip, highlighted)``; the highlighted ones (a Pareto front) are
    drawn larger in ``accent`` and joined by a line in x order."""
    c = Canvas(width, height, title=title, left=70, top=62)
    ok = [(x, y, tip, hi) for x, y, tip, hi in ((num(a), num(b), t, h) for a, b, t, h in points)
          if x is not None and y is not None and (x > 0 or not log_x) and (y > 0 or not log_y)]
    sx = Scale([p[0] for p in ok], c.left, c.right, log=log_x)
    sy = Scale([p[1] for p in ok], c.bottom, c.top, log=log_y)
    c.axes(sx, sy, x_label=x_label, y_label=y_label)
    front = sorted((p for p in ok if p[3]), key=lambda p: (p[0], p[1]))
    if len(front) > 1:
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _, _ in front)
        c.parts.append(f'<polyline points="{coords}" fill="none" stroke="{accent}" '
                       'stroke-width="1.5" stroke-dasharray="5,3"/>')
    for x, y, tip, hi in sorted(ok, key=lambda p: p[3]):
        fill, r, op = (accent, 5.5, "1") if hi else ("#8a94a6", 3.5, "0.55")
        c.parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{r}" fill="{fill}" '
                       f'fill-opacity="{op}" stroke="#fff" stroke-width="0.8">{tooltip(tip)}'
                       "</circle>")
    lx = c.left
    for label, fill, r in (("Pareto front", accent, 5.5), ("other candidates", "#8a94a6", 3.5)):
        c.parts.append(f'<circle cx="{lx + 6}" cy="42" r="{r}" fill="{fill}"/>')
        c.parts.append(text_el(lx + 16, 46, label, fill=MUTED))
        lx += text_width(label) + 44
    return c.svg()
