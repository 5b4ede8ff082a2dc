"""A tiny dependency-free SVG line-plot writer for the benchmark scripts.

One plot: several named series of ``(x, y)`` points drawn as polylines (with small markers),
axes with "nice" ticks (linear or base-10 logarithmic on either axis), axis labels, a title
and a legend to the right of the plot area. Points that cannot be drawn (``None``, NaN,
infinite, or not positive on a log axis) break the line there. No matplotlib needed.

Example:
    >>> svg = line_plot({"a": [(1, 1.0), (10, 0.5), (100, 0.2)], "b": [(1, 2.0), (100, 0.4)]},
    ...                 title="demo", x_label="units", y_label="loss", log_x=True)
    >>> svg.startswith("<svg") and svg.count("<polyline") == 2
    True
    >>> step = line_plot({"a": [(0, 1.0), (1, 0.5)]}, steps=True, markers=False)
    >>> len(step.split('points="')[1].split('"')[0].split())  # corner added
    3
    >>> nice_ticks(0.0, 1.0)[:3]
    [0.0, 0.2, 0.4]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from xml.sax.saxutils import escape

#: Line colours (Tableau 10) and dash patterns; series cycle through colour, then dash.
COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
          "#ff9da7", "#9c755f", "#bab0ac")
DASHES = ("", "6,3", "2,2", "8,3,2,3")

Point = tuple[float | None, float | None]


def _ok(v: float | None, log: bool) -> bool:
    return v is not None and math.isfinite(v) and (v > 0 or not log)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]`` (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12) + 0.0)
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten within ``[lo, hi]`` (plus 2 and 5 times them when the span is short)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mults = (1, 2, 5) if b - a <= 2 else (1,)
    ticks = [m * 10.0 ** k for k in range(a, b + 1) for m in mults]
    inside = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    return inside or [lo, hi]


def fmt_tick(v: float) -> str:
    """A short label for a tick value."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:.6g}"


class _Axis:
    """Maps data values to pixels on one axis (linear or log)."""

    def __init__(self, values: Sequence[float], log: bool, p0: float, p1: float) -> None:
        self.log = log
        lo, hi = (min(values), max(values)) if values else (1.0, 10.0)
        if log:
            lo, hi = 10 ** math.floor(math.log10(lo) * 1.0 + 1e-12), hi
            self.ticks = log_ticks(lo, hi)
            lo, hi = min(lo, self.ticks[0]), max(hi, self.ticks[-1])
            if hi <= lo:
                lo, hi = lo / 10, hi * 10
        else:
            if hi <= lo:
                pad = abs(lo) * 0.1 or 1.0
                lo, hi = lo - pad, hi + pad
            pad = (hi - lo) * 0.04
            lo, hi = lo - pad, hi + pad
            self.ticks = nice_ticks(lo, hi)
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, v: float) -> float:
        if self.log:
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.p0 + f * (self.p1 - self.p0)


def line_plot(series: Mapping[str, Sequence[Point]], *, title: str = "", x_label: str = "",
              y_label: str = "", log_x: bool = False, log_y: bool = False, width: int = 820,
              height: int = 440, markers: bool = True, steps: bool = False) -> str:
    """An SVG document (a string) drawing every series as a line.

    Args:
        series: name -> points ``(x, y)``, drawn in the given order; undrawable points break
            the line.
        title: text above the plot.
        x_label: text under the x axis.
        y_label: text beside the y axis.
        log_x: base-10 logarithmic x axis (non-positive x values are skipped).
        log_y: base-10 logarithmic y axis (non-positive y values are skipped).
        width: width of the image in pixels.
        height: height of the image in pixels.
        markers: draw a small circle at every point of series with at most 60 points.
        steps: draw each series as a step function (the value holds until the next point),
            as best-so-far curves are.
    """
    legend_w = 190
    left, right, top, bottom = 70, width - legend_w, 36, height - 48
    drawable = [(float(x), float(y)) for pts in series.values() for x, y in pts
                if x is not None and y is not None and _ok(x, log_x) and _ok(y, log_y)]
    xs, ys = [x for x, _ in drawable], [y for _, y in drawable]
    ax, ay = _Axis(xs, log_x, left, right), _Axis(ys, log_y, bottom, top)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>']
    if title:
        out.append(f'<text x="{(left + right) / 2:.1f}" y="20" text-anchor="middle" '
                   f'font-size="14">{escape(title)}</text>')
    for t in ax.ticks:
        px = ax(t)
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" '
                   f'stroke="#e5e5e5"/>')
        out.append(f'<text x="{px:.1f}" y="{bottom + 15}" text-anchor="middle">'
                   f'{escape(fmt_tick(t))}</text>')
    for t in ay.ticks:
        py = ay(t)
        out.append(f'<line x1="{left}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" '
                   f'stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">'
                   f'{escape(fmt_tick(t))}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
               f'fill="none" stroke="#333"/>')
    if x_label:
        out.append(f'<text x="{(left + right) / 2:.1f}" y="{height - 12}" '
                   f'text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        cy = (top + bottom) / 2
        out.append(f'<text x="16" y="{cy:.1f}" text-anchor="middle" '
                   f'transform="rotate(-90 16 {cy:.1f})">{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        dash = DASHES[(i // len(COLORS)) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in pts:
            if x is not None and y is not None and _ok(x, log_x) and _ok(y, log_y):
                runs[-1].append((ax(float(x)), ay(float(y))))
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) >= 2:
                path = run
                if steps:
                    path = [run[0]]
                    for (_, py0), (px1, py1) in pairwise(run):
                        path += [(px1, py0), (px1, py1)]
                coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in path)
                out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                           f'stroke-width="1.6"{dash_attr}/>')
            if markers and (len(pts) <= 60 or len(run) == 1):
                out += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{color}"/>'
                        for px, py in run]
        ly = top + 8 + 16 * i
        out.append(f'<line x1="{right + 12}" y1="{ly}" x2="{right + 40}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"{dash_attr}/>')
        out.append(f'<text x="{right + 46}" y="{ly + 4}">{escape(str(name))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_plot(path: Path, series: Mapping[str, Sequence[Point]], **options: object) -> Path:
    """Write :func:`line_plot` of ``series`` to ``path`` (options as for ``line_plot``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line_plot(series, **options))  # type: ignore[arg-type]
    return path
