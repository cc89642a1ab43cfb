"""The HTML page: sections of fragments and charts, inline CSS and JS, plotly.js once.

The page needs no network: plotly.js, the styles, the script and the data (chart
figures; the largest clusters' members and diffs) are all inline. Data sits in
``<script type="application/json">`` blocks, escaped so that no text can close them.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from functools import lru_cache

from plotly.offline import get_plotlyjs

from engine.report.charts import Chart

__all__ = ["Section", "render_page", "table_html"]


@dataclass
class Section:
    """One section of the page.

    Attributes:
        title: heading.
        anchor: HTML id (letters, digits, dashes) for the table of contents.
        body: HTML fragments shown under the heading, before the charts (escaped
            already by whoever built them).
        charts: charts shown in a grid after ``body``.
        after: HTML fragments shown after the charts.
    """

    title: str
    anchor: str
    body: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def table_html(
    header: list[str], rows: list[list], *, row_attrs: list[str] | None = None, cls: str = ""
) -> str:
    """An HTML table: ``header`` and ``rows`` are escaped, except cells given as
    ``("html", fragment)``; ``row_attrs``: raw attributes of each ``<tr>``."""

    def cell(value) -> str:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
            return value[1]
        if isinstance(value, float):
            return html.escape(f"{value:,.4g}")
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        attrs = f" {row_attrs[index]}" if row_attrs else ""
        body.append(f"<tr{attrs}>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _json_script(element_id: str, data) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    # a literal "</script" inside the library would end the element early
    return get_plotlyjs().replace("</script", "<\\/script")


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;color:#c9d3de}
nav{padding:8px 28px;background:#e9edf2}
nav a{margin-right:16px;color:#1f4e8c;text-decoration:none}
main{padding:8px 28px 40px} section{background:#fff;border-radius:6px;padding:6px 18px 14px;
margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;border-bottom:1px solid #e3e6ea;padding-bottom:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:14px}
.card h3{font-size:14px;margin:8px 0 2px} .note{color:#666;font-size:12px;margin:0 0 4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border-bottom:1px solid #e6e8eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f6} td{max-width:720px;overflow-wrap:anywhere}
tr.cluster-row{cursor:pointer} tr.cluster-row:hover{background:#eef4ff}
tr.cluster-row.open{background:#dbe8ff}
.detail{border:1px solid #c9d6ea;border-radius:6px;padding:8px 14px;margin:10px 0;
background:#fbfcff} .hidden{display:none}
.doc{white-space:pre-wrap;font-family:ui-monospace,Menlo,monospace;font-size:12px;
background:#f7f7f7;padding:6px 8px;border-radius:4px;max-height:260px;overflow:auto}
.diff{font-family:ui-monospace,Menlo,monospace;font-size:12px;background:#f7f7f7;
padding:6px 8px;border-radius:4px;max-height:240px;overflow:auto}
del{background:#ffd7d5;text-decoration:line-through} ins{background:#ccf2d1;text-decoration:none}
mark{background:#ffe58a} .fold,.cut{color:#888;font-style:italic}
.kept{color:#0a7a2f;font-weight:600} .missing{color:#a33}
"""

_JS = """
(function(){
  function data(id){var e=document.getElementById(id);return e?JSON.parse(e.textContent):null;}
  var charts=data('chart-data')||[];
  charts.forEach(function(c){
    var fig=JSON.parse(c.figure);
    Plotly.newPlot(c.id,fig.data,fig.layout,{displaylogo:false,responsive:true});
  });
  var clusters=data('cluster-data')||[];
  var panel=document.getElementById('cluster-detail');
  function esc(s){return String(s).replace(/[&<>"]/g,function(ch){
    return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[ch];});}
  function show(index,row){
    var c=clusters[index]; if(!c||!panel) return;
    document.querySelectorAll('tr.cluster-row.open').forEach(function(r){
      r.classList.remove('open');});
    row.classList.add('open');
    var h=['<h3>Cluster '+esc(c.cluster_id)+': '+esc(c.size)+' documents</h3>'];
    if(c.omitted>0){h.push('<p class="note">'+esc(c.omitted)+
      ' more members not shown.</p>');}
    h.push('<p class="note">Kept document:</p><div class="doc">'+c.kept_html+'</div>');
    h.push('<table class="members"><thead><tr><th>document</th><th>kept</th>'+
      '<th>similarity</th><th>characters</th><th>diff against the kept document</th>'+
      '</tr></thead><tbody>');
    c.members.forEach(function(m){
      var diff=m.diff_html!==null?'<div class="diff">'+m.diff_html+'</div>':
        '<span class="missing">'+esc(m.note)+'</span>';
      h.push('<tr class="member"><td>'+esc(m.doc_id)+'</td><td>'+
        (m.keep?'<span class="kept">kept</span>':'')+'</td><td>'+esc(m.similarity)+
        '</td><td>'+esc(m.chars)+'</td><td>'+diff+'</td></tr>');
    });
    h.push('</tbody></table>');
    panel.innerHTML=h.join('');
    panel.classList.remove('hidden');
  }
  document.querySelectorAll('tr.cluster-row').forEach(function(row){
    row.addEventListener('click',function(){show(+row.dataset.cluster,row);});
  });
})();
"""


def render_page(title: str, subtitle: str, sections: list[Section], clusters: list[dict]) -> str:
    """The whole page as one HTML string.

    ``clusters``: per largest cluster, what the click handler shows (``cluster_id``,
    ``size``, ``omitted``, ``kept_html``, ``members``: ``doc_id``, ``keep``,
    ``similarity``, ``chars``, ``diff_html`` (escaped HTML or None), ``note``).
    """
    chart_specs, parts = [], []
    for section in sections:
        cards = []
        for chart in section.charts:
            chart_id = f"chart-{len(chart_specs)}"
            chart_specs.append({"id": chart_id, "figure": chart.figure_json})
            note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
            cards.append(
                f'<div class="card"><h3>{html.escape(chart.title)}</h3>{note}'
                f'<div class="chart" id="{chart_id}"></div></div>'
            )
        grid = f'<div class="grid">{"".join(cards)}</div>' if cards else ""
        parts.append(
            f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>'
            f"{''.join(section.body)}{grid}{''.join(section.after)}</section>"
        )
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{_plotly_js()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main>"
        f"{_json_script('chart-data', chart_specs)}{_json_script('cluster-data', clusters)}"
        f"<script>{_JS}</script></body></html>"
    )
