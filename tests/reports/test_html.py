"""The HTML report: structure, sections present or left out with their data, escaping, no
external references (fixture: tests/reports/fixtures/comparison.json, the shape of
``Comparison.to_dict()``)."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.reports import svg
from automl_bridge.reports.html import render_html

FIXTURE = Path(__file__).parent / "fixtures" / "comparison.json"
EVIL = '<script>alert("x")</script>'
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "col", "source", "area", "base"}
#: SVG elements written self-closing (<line .../>): no end tag expected.
SELF_CLOSING = {"line", "rect", "path", "circle", "polyline"}


@pytest.fixture
def data() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


class _Balance(HTMLParser):
    """Checks every opened element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _check_well_formed(page: str) -> None:
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors[:5], parser.stack)
    for block in re.findall(r"<svg\b.*?</svg>", page, flags=re.S):
        ET.fromstring(block)  # every plot is well-formed XML


def _plots(page: str) -> list[str]:
    return re.findall(r'<svg class="plot".*?</svg>', page, flags=re.S)


def test_the_fixture_renders_one_complete_page(data: dict[str, Any]) -> None:
    page = render_html(data)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<style>") == 1 and page.count("<script>") == 1
    assert "<title>Churn model: local search vs SageMaker vs Vertex AI</title>" in page
    assert "2025-03-01 14:32 UTC" in page
    _check_well_formed(page)


def test_every_section_is_present_when_its_data_is(data: dict[str, Any]) -> None:
    page = render_html(data)
    for sid in ("findings", "engines", "spec", "progress", "holdout",
                "engine-0", "engine-1", "engine-2", "engine-3"):
        assert f'id="{sid}"' in page and f'href="#{sid}"' in page, sid
    for text in ("Key findings", "Best roc_auc so far", "Holdout roc_auc on 2,000 rows",
                 "Pairwise differences", "Which differences are real", "real: local/tpe better",
                 "no real difference", "Differences between the runs",
                 "Fields refused or approximated", "honoured every field",
                 "search: &#x27;tpe&#x27; is not offered", "Parameter importances",
                 "Parallel coordinates: 62 trials", "Pareto front: roc_auc vs predict_latency",
                 "Loss per epoch", "val_accuracy per epoch", "vertex (final only)",
                 "Leaderboard (top 50 of 62 complete candidates)", "$1.87", "$21.26"):
        assert text in page, text
    # progress 1, holdout 2, local/tpe 5 (importances, Pareto, parallel, loss, accuracy),
    # local/random 2 (importances, parallel); the clouds have no plots of their own
    assert len(_plots(page)) == 10


def test_each_engine_keeps_its_colour_everywhere(data: dict[str, Any]) -> None:
    page = render_html(data)
    for i, eng in enumerate(data["engines"]):
        col = svg.color(i)
        assert f'<span class="swatch" style="background:{col}"></span>{eng["label"]}' in page
        assert f'id="engine-{i}" style="border-top-color:{col}"' in page
    progress = page.split('id="progress"')[1].split("</section>")[0]
    holdout = page.split('id="holdout"')[1].split("</section>")[0]
    for i in range(3):  # the three engines with best-so-far curves
        assert f'stroke="{svg.color(i)}"' in progress
    for i in range(4):
        assert f'fill="{svg.color(i)}"' in holdout


def test_tables_are_sortable_with_numeric_keys(data: dict[str, Any]) -> None:
    page = render_html(data)
    assert page.count("<table") == page.count('<table class="sortable">') >= 6
    # numbers sort by their value (data-v), not their formatted text ("56 min 52 s")
    assert 'data-v="3412.0"' in page and 'data-v="0.8874"' in page
    assert "function sortBy" in page and "aria-sort" in page


@pytest.mark.parametrize("drop", ["holdout", "spec", "spec_differences", "engines"])
def test_a_missing_top_level_part_leaves_its_section_out(data: dict[str, Any],
                                                         drop: str) -> None:
    del data[drop]
    page = render_html(data)
    _check_well_formed(page)
    gone = {"holdout": ["Which differences are real", 'id="holdout"'],
            "spec": ['class="kv"'],
            "spec_differences": ["Differences between the runs", "differs</span>"],
            "engines": ['id="engines"', 'id="engine-0"', 'id="progress"']}[drop]
    for text in gone:
        assert text not in page, text


def test_engines_without_plot_data_have_no_plots(data: dict[str, Any]) -> None:
    for eng in data["engines"]:
        eng.update(anytime=[], importances=None, parallel=None, pareto=None,
                   learning_curves=[], wall_time_s=None, leaderboard=[])
    del data["holdout"]
    page = render_html(data)
    _check_well_formed(page)
    assert _plots(page) == []
    for text in ("Parameter importances", "Parallel coordinates", "Pareto front",
                 "Loss per epoch", "Leaderboard", 'id="progress"'):
        assert text not in page, text


@pytest.mark.parametrize("data", [
    {},
    {"engines": [{}]},
    {"engines": [None, "x", {"label": None, "best_score": "n/a", "anytime": [[1], [None, 2]],
                              "leaderboard": [{"rank": 1}, None], "cost": {"usd": None},
                              "importances": {"a": None}, "parallel": {"params": ["a"],
                                                                       "rows": [[1]]},
                              "pareto": {"objectives": ["m"], "points": []},
                              "learning_curves": [{"epochs": [], "val": []}]}],
     "holdout": {"scores": [{"label": "x", "score": None}], "differences": [{}]}},
    {"title": None, "created_at": "not a date", "direction": "minimize",
     "spec": {"a": [1, {"b": None}], "c": True}, "spec_differences": {"a": "oops"},
     "holdout": {"scores": []}},
])
def test_odd_or_partial_data_renders_without_error(data: dict[str, Any]) -> None:
    page = render_html(data)
    assert page.startswith("<!DOCTYPE html>")
    _check_well_formed(page)


def test_nan_and_infinity_are_not_drawn(data: dict[str, Any]) -> None:
    eng = data["engines"][0]
    eng["anytime"] = [[1.0, float("nan")], [2.0, 0.8], [float("inf"), 0.9], [3.0, 0.85]]
    eng["parallel"]["rows"][0][-1] = float("nan")
    page = render_html(data)
    _check_well_formed(page)
    assert not re.search(r"\b(nan|inf|infinity)\b", page, flags=re.I)


def test_every_user_string_is_escaped(data: dict[str, Any]) -> None:
    data["title"] = EVIL
    data["spec"]["target"] = EVIL
    data["spec_differences"][EVIL] = {EVIL: EVIL}
    eng = data["engines"][0]
    old = eng["label"]
    eng.update(label=EVIL, run_id=EVIL, strategy=EVIL, backend=EVIL, status=EVIL,
               best_family=EVIL, warnings=[EVIL], refused_or_approximated=[EVIL],
               cost={"usd": 1.0, "basis": EVIL, "note": EVIL})
    eng["leaderboard"][0].update(candidate_id=EVIL, family=EVIL, params=EVIL, state=EVIL)
    eng["leaderboard"][1][EVIL] = 0.5
    eng["importances"][EVIL] = 0.01
    eng["parallel"]["params"][0] = EVIL
    eng["parallel"]["rows"][0][0] = EVIL
    eng["pareto"]["points"][0][0] = EVIL
    eng["pareto"]["front"].append(EVIL)
    eng["learning_curves"][0].update(candidate_id=EVIL, architecture=EVIL,
                                     val_metric_name=EVIL)
    for s in data["holdout"]["scores"]:
        s["label"] = EVIL if s["label"] == old else s["label"]
    for d in data["holdout"]["differences"]:
        d["a"] = EVIL if d["a"] == old else d["a"]
    data["holdout"]["notes"].append(EVIL)
    page = render_html(data)
    _check_well_formed(page)
    assert page.count("<script") == 1 and "alert(" not in page.replace("alert(&quot;", "")
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 15


def test_no_external_references(data: dict[str, Any]) -> None:
    data["engines"][2]["warnings"].append("see https://docs.aws.amazon.com/sagemaker/ for more")
    page = render_html(data)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"\b(src|srcset|action|xlink:href|poster|data)\s*=", page)
    assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', page))
    assert "@import" not in page and "url(" not in page
    # the URL in a warning is shown as text only
    assert page.count("http") == 1 and "see https://docs.aws.amazon.com/sagemaker/" in page


def test_a_minimized_metric_turns_the_verdicts(data: dict[str, Any]) -> None:
    flipped = copy.deepcopy(data)
    flipped.update(metric="rmse", direction="minimize")
    page = render_html(flipped)
    assert "real: local/random better" in page and "real: local/tpe better" not in page
    # the best validation score is now the lowest
    assert "Best validation score: <b>vertex</b>" in page
    assert "Best on the holdout: <b>local/random</b>" in page


def test_the_real_comparison_renders() -> None:
    """The structure ``compare()`` produces renders (the contract between the two parts)."""
    compare_mod = pytest.importorskip("automl_bridge.reports.compare")
    from automl_bridge.results import Candidate, RunResult, RunStatus

    def run(rid: str, scores: list[float]) -> RunResult:
        cands = [Candidate(candidate_id=str(i), family="linear", params={"C": float(i + 1)},
                           score=s, fit_time_s=1.0 + i) for i, s in enumerate(scores)]
        return RunResult(run_id=rid, backend="local", status=RunStatus.COMPLETED,
                         metric="accuracy", direction="maximize", candidates=cands,
                         best=max(cands, key=lambda c: c.score), extra={"strategy": rid},
                         wall_time_s=10.0)

    cmp = compare_mod.compare([run("tpe", [0.7, 0.9, 0.8]), run("random", [0.8, 0.75])])
    page = render_html(json.loads(json.dumps(cmp.to_dict())))
    _check_well_formed(page)
    assert "local/tpe" in page and "local/random" in page and 'id="engine-1"' in page
    assert 'id="progress"' in page and _plots(page)


def test_leaderboard_and_importances_skip_what_says_nothing(data: dict[str, Any]) -> None:
    eng = data["engines"][0]
    for row in eng["leaderboard"]:
        row["roc_auc"] = row["score"]  # compare() lists the metric among the metrics too
    eng["importances"].update(unused_a=0.0, unused_b=0.0)
    page = render_html(data)
    board = page.split('id="engine-0"')[1].split("Leaderboard")[1].split("</table>")[0]
    assert board.count(">roc_auc</th>") == 1 and ">Parameters</th>" in board
    section = page.split('id="engine-0"')[1].split("</section>")[0]
    assert "unused_a" not in section and "(2 with none not shown)" in section
