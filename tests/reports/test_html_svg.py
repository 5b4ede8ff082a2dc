"""The report's SVG primitives: ticks, scales, and each plot well-formed with odd input."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from automl_bridge.reports import svg
from automl_bridge.reports.svg_parallel import parallel_coordinates


def _parse(s: str) -> ET.Element:
    root = ET.fromstring(s)
    assert root.tag == "svg" and root.get("class") == "plot"
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox") or "")
    return root


def test_ticks_are_round_and_cover_the_range() -> None:
    assert svg.nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0.8612, 0.8874) == [0.865, 0.87, 0.875, 0.88, 0.885]
    assert svg.log_ticks(0.2, 5000) == [1.0, 10.0, 100.0, 1000.0]
    assert svg.log_ticks(1, 50) == [1, 2, 5, 10, 20, 50]
    assert [svg.fmt(v) for v in (0, 0.5, 1234.5, 2e-5, 3e7)] == ["0", "0.5", "1,234", "2e-5",
                                                                 "3e7"]


def test_scales_map_the_range_onto_the_pixels() -> None:
    lin = svg.Scale([0.0, 10.0], 100, 200, pad=0.0)
    assert (lin(0.0), lin(10.0)) == (100, 200)
    log = svg.Scale([0.35, 4950.0], 0, 100, log=True)
    assert (log.lo, log.hi) == (0.2, 5000.0)
    assert log(0.2) == pytest.approx(0) and log(5000) == pytest.approx(100)
    flat = svg.Scale([3.0, 3.0], 0, 1)  # one value: a range around it
    assert flat.lo < 3.0 < flat.hi


def test_the_score_ramp_runs_from_dark_to_light() -> None:
    assert svg.ramp(0) == svg.RAMP[0] and svg.ramp(1) == svg.RAMP[-1]
    assert svg.ramp(-5) == svg.RAMP[0] and re.fullmatch(r"#[0-9a-f]{6}", svg.ramp(0.37))


def test_line_plot_draws_lines_steps_single_points_and_a_legend() -> None:
    out = svg.line_plot([svg.Series("a", [(1, 0.5), (10, 0.7), (100, 0.72)], "#111111"),
                         svg.Series("b", [(50, 0.6)], "#222222"),
                         svg.Series("hidden", [(2, 0.6), (3, 0.65)], "#333333", "4,2",
                                    legend=False),
                         svg.Series("empty", [(None, 1), (0, math.nan)], "#444444")],
                        steps=True, log_x=True, title="t", x_label="x", y_label="y")
    root = _parse(out)
    lines = [e for e in root.iter("polyline")]
    assert len(lines) == 2  # "b" is one marker, "empty" has nothing to draw
    assert len(lines[0].get("points", "").split()) == 5  # 3 points + 2 step corners
    texts = [t.text for t in root.iter("text")]
    assert "a" in texts and "b" in texts and "hidden" not in texts


@pytest.mark.parametrize("make", [
    lambda: svg.line_plot([]),
    lambda: svg.bar_chart([]),
    lambda: svg.bar_chart([("a", None), ("b", -0.2), ("c", 0.5)]),
    lambda: svg.error_bars([]),
    lambda: svg.error_bars([("a", None, None, None, "#000"), ("b", 1.0, None, 2.0, "#000")],
                           ref=0.0),
    lambda: svg.scatter([]),
    lambda: svg.scatter([(1, 2, "x", True), (None, 2, "y", False), (-1, 3, "z", True)],
                        log_x=True),
    lambda: parallel_coordinates([], []),
    lambda: parallel_coordinates(["a", "b"], [[1, "x", 0.5], [None, None, 0.7],
                                                  [2, "y", None], [1, 2]]),
])
def test_every_plot_is_well_formed_even_with_empty_or_odd_data(make) -> None:  # type: ignore[no-untyped-def]
    _parse(make())


def test_parallel_coordinates_handles_numbers_categories_and_gaps() -> None:
    rows = [[0.001, "rf", None, 0.80], [0.1, "gbm", 64, 0.90], [1.0, "gbm", 8, 0.85]]
    root = _parse(parallel_coordinates(["lr", "family", "leaves"], rows,
                                           score_label="auc", higher_is_better=True))
    lines = list(root.iter("polyline"))
    assert len(lines) == 3
    assert lines[-1].get("stroke-width") == "3"  # the best is drawn last, thickest
    assert lines[-1].find("title").text.startswith("lr=0.1, family=gbm")  # type: ignore[union-attr]
    texts = {t.text for t in root.iter("text")}
    assert {"rf", "gbm", "n/a", "0.9 best", "0.8 worst"} <= texts
    assert {"0.001", "0.1", "1", "8", "64"} <= texts  # few values: each value tried
    many = [[10.0 ** (k / 2 - 3), 0.5 + k / 100] for k in range(7)]  # 0.001 .. 1
    texts = {t.text for t in _parse(parallel_coordinates(["lr"], many)).iter("text")}
    assert {"0.001", "0.01", "0.1", "1"} <= texts  # spans 1000x: a log axis with round ticks
    low = _parse(parallel_coordinates(["a"], [[1, 0.1], [2, 0.3]], higher_is_better=False))
    assert {"0.1 best", "0.3 worst"} <= {t.text for t in low.iter("text")}


def test_scatter_highlights_the_front() -> None:
    root = _parse(svg.scatter([(1, 0.9, "a", True), (2, 0.95, "b", True), (3, 0.8, "c", False)],
                              accent="#abcdef"))
    front = [c for c in root.iter("circle") if c.get("fill") == "#abcdef"]
    assert len(front) == 3  # two points and the legend's marker
    assert len(list(root.iter("polyline"))) == 1


def test_text_is_escaped_in_every_plot() -> None:
    evil = "<b>&"
    outs = [svg.line_plot([svg.Series(evil, [(1, 1), (2, 2)], "#000")], title=evil,
                          x_label=evil, y_label=evil),
            svg.bar_chart([(evil, 1.0)], title=evil, x_label=evil),
            svg.error_bars([(evil, 1.0, 0.5, 1.5, "#000")], title=evil, x_label=evil),
            svg.scatter([(1, 1, evil, True)], title=evil, x_label=evil, y_label=evil),
            parallel_coordinates([evil], [[evil, 1.0]], score_label=evil, title=evil)]
    for out in outs:
        _parse(out)
        assert "<b>" not in out and "&lt;b&gt;&amp;" in out
