"""The HTML report in headless Chromium (Debian's ``chromium``; skipped when not installed):
no console errors, every plot rendered with a non-zero size, tables sort on a click, and a
screenshot saved as a test artefact (pytest's tmp dir; also ``docs/img/report.png`` with
``UPDATE_SCREENSHOT=1``).

The page is opened from a file with the network off (no network is needed to view it)."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from automl_bridge.reports.html import render_html

FIXTURE = Path(__file__).parent / "fixtures" / "comparison.json"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "report.png"
WIDTH, HEIGHT = 1280, 2400

#: Injected at the start of <head> (the probe copy only): records errors and console.error.
CATCH = """<script>window.__errors=[];
window.addEventListener('error',function(e){window.__errors.push(String(e.message));});
var __ce=console.error;console.error=function(){
 window.__errors.push(Array.prototype.join.call(arguments,' '));__ce.apply(console,arguments);};
</script>"""
#: Injected before </body>: measures every plot, sorts a table, writes JSON into the DOM.
PROBE = """<script>window.addEventListener('load',function(){
var plots=[].map.call(document.querySelectorAll('svg.plot'),function(s){
 var r=s.getBoundingClientRect(),b=s.getBBox(),marks=0;
 s.querySelectorAll('polyline,circle,rect,path,line').forEach(function(m){
  var bb=m.getBBox();if(bb.width>0||bb.height>0)marks++;});
 return {w:r.width,h:r.height,bw:b.width,bh:b.height,children:s.childElementCount,marks:marks,
  label:s.getAttribute('aria-label')};});
var t=document.querySelector('#engines table'),th=t.querySelectorAll('thead th');
var col=[].findIndex.call(th,function(h){return h.textContent.indexOf('Wall time')===0;});
function first(){return t.tBodies[0].rows[0].cells[0].textContent.trim();}
var before=first();th[col].click();var asc=first();th[col].click();var desc=first();
var out=document.createElement('pre');out.id='probe';
out.textContent=JSON.stringify({plots:plots,errors:window.__errors,before:before,asc:asc,
 desc:desc,sortable:document.querySelectorAll('th[tabindex]').length,
 width:document.documentElement.scrollWidth});
document.body.appendChild(out);});</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium; .ci/run does it)")


def _run(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--user-data-dir={profile}",
           f"--window-size={WIDTH},{HEIGHT}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _console_errors(stderr: str, page: Path) -> list[str]:
    """Console lines of ``page`` (``--enable-logging=stderr``): the report logs nothing, so
    any is an error; plus every uncaught exception."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or ("CONSOLE" in line and page.as_uri() in line)]


def _png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated (still filtered) image data of a PNG."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        chunk = blob[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    out.write_text(render_html(json.loads(FIXTURE.read_text())), encoding="utf-8")
    return out


def test_the_detector_sees_console_errors(tmp_path: Path) -> None:
    """Self-check: a page with an uncaught error is caught by :func:`_console_errors`."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>")
    res = _run(bad, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert any("undefinedFunction" in line for line in _console_errors(res.stderr, bad)), \
        res.stderr[-2000:]


def test_the_report_renders_without_errors_and_sorts(report: Path, tmp_path: Path) -> None:
    html = report.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + CATCH, 1)
                     .replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    res = _run(probe, tmp_path / "profile", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=5000", "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    assert _console_errors(res.stderr, probe) == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, flags=re.S)
    assert found, "the probe did not run: " + res.stdout[-500:]
    got: dict[str, Any] = json.loads(html_lib.unescape(found.group(1)))
    assert got["errors"] == []
    assert len(got["plots"]) == html.count('<svg class="plot"') == 10
    for plot in got["plots"]:
        assert plot["w"] > 300 and plot["h"] > 100, plot
        assert plot["bw"] > 100 and plot["bh"] > 50 and plot["children"] > 5, plot
        assert plot["marks"] >= 3, plot
    # the page script made the headers keyboard-sortable, and a click sorts by wall time
    assert got["sortable"] == html.count("<th ")
    assert (got["before"], got["asc"], got["desc"]) == ("local/tpe", "local/tpe", "vertex")
    assert got["width"] <= WIDTH  # no horizontal scrolling of the page itself


def test_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    res = _run(report, tmp_path / "profile", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=5000", f"--screenshot={shot}")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    assert _console_errors(res.stderr, report) == []
    width, height, pixels = _png(shot)
    assert (width, height) == (WIDTH, HEIGHT)
    # a blank page compresses to almost nothing and has few distinct byte values
    assert shot.stat().st_size > 50_000 and len(set(pixels)) > 128
    print(f"screenshot: {shot}")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
