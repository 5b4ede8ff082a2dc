"""The report page's inline CSS and script, and the HTML formatting helpers its sections share.

Example:
    >>> fmt_seconds(3725), fmt_score(0.88712), esc('<a href="x">')
    ('1 h 02 min', '0.8871', '&lt;a href=&quot;x&quot;&gt;')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from automl_bridge.reports.svg import fmt, num

Cell = tuple[str, Any]  # (inner HTML, sort value or None)

CSS = """
:root{--fg:#1f2430;--muted:#5f6672;--line:#e3e6eb;--bg:#f5f6f8;--card:#fff;--accent:#2f6fde}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:#fff;border-bottom:1px solid var(--line);padding:22px 0 14px}
header.top>*,main,footer,nav.toc>div{max-width:1180px;margin-left:auto;margin-right:auto;
 padding-left:24px;padding-right:24px}
h1{font-size:26px;line-height:1.25;margin:0 auto 4px;font-weight:650}
h2{font-size:19px;margin:0 0 6px;font-weight:650;display:flex;align-items:center;gap:10px}
h3{font-size:15px;margin:22px 0 8px;color:#333}
.sub{color:var(--muted);margin:0 auto 6px}.sub b{color:var(--fg);font-weight:600}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.96);
 border-bottom:1px solid var(--line);font-size:14px;white-space:nowrap;overflow-x:auto}
nav.toc a{display:inline-block;padding:9px 0;margin-right:18px;color:var(--accent);
 text-decoration:none}
nav.toc a:hover{text-decoration:underline}
main{padding-top:6px;padding-bottom:40px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;
 padding:18px 22px;margin:18px 0;box-shadow:0 1px 2px rgba(16,24,40,.04);scroll-margin-top:48px}
section.engine{border-top:4px solid var(--line)}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f1f3f6;position:sticky;top:0;z-index:1}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th:hover{background:#e7eaef}
table.sortable thead th::after{content:" \\2195";color:#b3b9c3;font-size:11px}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2";color:var(--accent)}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC";color:var(--accent)}
tbody tr:hover td{background:#f7f9fc}
tr.best td{background:#eef5ff}
td .params{display:inline-block;min-width:200px;max-width:420px;white-space:normal;
 font-size:12.5px;color:var(--muted)}
.kv{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:4px 20px;
 font-size:14px}
.kv>div{padding:3px 0;border-bottom:1px dotted var(--line);overflow-wrap:anywhere}
.kv .k{color:var(--muted);margin-right:4px}
.wide{overflow-x:auto}
.scroll{max-height:430px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.scroll table th,.scroll table td{border-bottom:1px solid var(--line)}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:7px;
 vertical-align:-1px;flex:none}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;
 line-height:1.6}
.badge.ok{background:#e6f4ea;color:#1e7e34}.badge.bad{background:#fce8e6;color:#c5221f}
.badge.warn{background:#fef3e0;color:#a05a00}.badge.neutral{background:#eef0f3;color:#5f6672}
svg.plot{display:block;width:100%;height:auto;margin:10px 0;font-family:inherit;font-size:12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:8px 24px;
 align-items:start}
.caption,.muted{color:var(--muted)}.caption{font-size:13px;margin:2px 0 8px}
ul.findings{margin:0;padding-left:20px}ul.findings li{margin:4px 0}
ul.refused,ul.notes{padding-left:20px}ul.refused ul{margin:2px 0 8px}
details{margin:10px 0}summary{cursor:pointer;color:var(--accent)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;
 background:#f1f3f6;padding:1px 5px;border-radius:4px}
a{color:var(--accent)}
footer{color:var(--muted);font-size:13px;padding-bottom:30px}
@media (max-width:700px){section.card{padding:14px}.grid2{grid-template-columns:1fr}}
@media print{nav.toc{display:none}.scroll{max-height:none}body{background:#fff}}
"""

SCRIPT = """
(function(){
function key(td){
 var v=td.getAttribute('data-v');if(v===null)v=td.textContent.trim();
 if(v==='')return null;var n=Number(v);return isFinite(n)?n:v.toLowerCase();}
function sortBy(table,th,col){
 var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
 table.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('aria-sort');});
 th.setAttribute('aria-sort',dir>0?'ascending':'descending');
 var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(a,b){
  var x=key(a.cells[col]),y=key(b.cells[col]);
  if(x===null||y===null)return x===y?0:(x===null?1:-1);
  if(typeof x!==typeof y)return (typeof x==='number'?-1:1)*dir;
  return (x<y?-1:x>y?1:0)*dir;});
 rows.forEach(function(r){body.appendChild(r);});}
document.querySelectorAll('table.sortable').forEach(function(table){
 table.querySelectorAll('thead th').forEach(function(th,col){
  th.tabIndex=0;th.title='Sort';
  th.addEventListener('click',function(){sortBy(table,th,col);});
  th.addEventListener('keydown',function(ev){
   if(ev.key==='Enter'||ev.key===' '){ev.preventDefault();sortBy(table,th,col);}});});});
})();
"""


def esc(value: Any) -> str:
    """``str(value)``, HTML-escaped (quotes too)."""
    return escape(str(value))


def fmt_score(value: Any) -> str:
    v = num(value)
    if v is None:
        return '<span class="muted">—</span>'
    return esc(f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4f}" if abs(v) < 10 else f"{v:.5g}")


def fmt_seconds(value: Any) -> str:
    v = num(value)
    if v is None:
        return '<span class="muted">—</span>'
    if v < 60:
        return f"{v:.1f} s"
    if v < 3600:
        return f"{int(v // 60)} min {int(v % 60):02d} s"
    return f"{int(v // 3600)} h {int(v % 3600 // 60):02d} min"


def fmt_value(value: Any) -> str:
    if value is None or value == "":
        return '<span class="muted">—</span>'
    if isinstance(value, Mapping | list | tuple):
        return f"<code>{esc(json.dumps(value, default=str, separators=(', ', ': ')))}</code>"
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = num(value)
    return esc(fmt(v) if v is not None and not isinstance(value, int) else value)


def fmt_cost(cost: Any) -> tuple[str, float | None]:
    if not isinstance(cost, Mapping) or num(cost.get("usd")) is None:
        return '<span class="muted">—</span>', None
    usd = float(cost["usd"])
    tip = " ".join(str(cost.get(k, "")) for k in ("basis", "note")).strip()
    return f'<span title="{esc(tip)}">${usd:,.2f}</span>', usd


def badge(status: Any) -> str:
    s = str(status or "unknown")
    kind = {"completed": "ok", "succeeded": "ok", "failed": "bad", "cancelled": "warn",
            "stopped": "warn", "timeout": "warn", "running": "neutral"}.get(s.lower(), "neutral")
    return f'<span class="badge {kind}">{esc(s)}</span>'


def swatch(label: str, color: str) -> str:
    return f'<span class="swatch" style="background:{color}"></span>{esc(label)}'


def table(headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[Cell]], *,
           scroll: bool = False, best_row: int | None = None) -> str:
    """A sortable table; ``headers`` are ``(text, numeric)``; cells ``(html, sort value)``."""
    head = "".join(f'<th class="{"num" if numeric else ""}" scope="col">{esc(h)}</th>'
                   for h, numeric in headers)
    body = []
    for r, row in enumerate(rows):
        cells = []
        for (html, key), (_, numeric) in zip(row, headers, strict=True):
            attr = "" if key is None else f' data-v="{esc(key)}"'
            cells.append(f'<td{" class=num" if numeric else ""}{attr}>{html}</td>')
        cls = ' class="best"' if r == best_row else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    table = (f'<table class="sortable"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table>")
    return f'<div class="{"scroll" if scroll else "wide"}">{table}</div>'


def sort_key(value: Any) -> Any:
    v = num(value)
    return "" if value is None else (repr(v) if v is not None else str(value))


def sign_of(data: Mapping[str, Any]) -> int:
    return -1 if str(data.get("direction", "maximize")) == "minimize" else 1


def best_engine(engines: Sequence[Mapping[str, Any]], sign: int) -> Mapping[str, Any] | None:
    scored = [e for e in engines if num(e.get("best_score")) is not None]
    return max(scored, key=lambda e: sign * float(e["best_score"])) if scored else None
