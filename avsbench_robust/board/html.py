"""The static leaderboard page (pure): one self-contained HTML file, no network resources.

Every string from an entry goes through `text.h`; the page's own CSS and JS are pinned by a
Content-Security-Policy hash, so even a missed escape could not run an injected script. The JS only
reorders existing rows (never builds HTML from strings). The scatter plot is inline SVG.
"""
from __future__ import annotations

import base64
import hashlib

from .rows import DATASET_LABEL, BoardRow, table_groups
from .text import frac, h, pct

SUBSET_TITLE = {"s4": "S4 (single source)", "ms3": "MS3 (multi-source)", "avss": "AVSS (semantic)"}
SOURCE_COLOUR = {"paper": "#8a8a8a", "scored": "#1f6fb2", "reference": "#d9822b"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1b1b1b;max-width:120rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
p.note{color:#444;max-width:60rem}
table.board{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
table.board th,table.board td{border:1px solid #ccc;padding:.25rem .45rem;vertical-align:top}
table.board td.num{text-align:right;font-variant-numeric:tabular-nums}
table.board th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
table.board th[aria-sort=ascending] button::after{content:" \\25B2"}
table.board th[aria-sort=descending] button::after{content:" \\25BC"}
table.board tbody tr:nth-child(even){background:#f6f6f6}
figure{margin:.5rem 0}figcaption{font-size:.8rem;color:#444}
svg text{font-size:11px;font-family:inherit}
"""

JS = """
(function () {
  "use strict";
  function key(cell, type) {
    var v = cell.getAttribute("data-v");
    if (type === "num") { return (v === null || v === "") ? NaN : parseFloat(v); }
    return (v === null ? cell.textContent : v).toLowerCase();
  }
  var tables = document.querySelectorAll("table.board");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.querySelectorAll("thead th");
    Array.prototype.forEach.call(heads, function (th, col) {
      th.querySelector("button").addEventListener("click", function () {
        var type = th.getAttribute("data-type");
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(heads, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], type), y = key(b.cells[col], type);
          if (type === "num" && (isNaN(x) || isNaN(y))) {
            return isNaN(x) === isNaN(y) ? 0 : (isNaN(x) ? 1 : -1);
          }
          var c = x < y ? -1 : (x > y ? 1 : 0);
          return dir === "ascending" ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""

# (header, type, value getter, text formatter)
COLUMNS = (
    ("#", "num", None, None),
    ("Model", "text", lambda r: r.display_name, str),
    ("Backbone", "text", lambda r: r.backbone or "", lambda v: v or "–"),
    ("G-mIoU %", "num", lambda r: r.g_miou, pct),
    ("G-mIoU % (from columns)", "num", lambda r: r.g_miou_recomputed, pct),
    ("G-F %", "num", lambda r: r.g_f, pct),
    ("G-F % (from columns)", "num", lambda r: r.g_f_recomputed, pct),
    ("G-FPR", "num", lambda r: r.g_fpr, frac),
    ("pos mIoU %", "num", lambda r: r.pos_miou, pct),
    ("pos F %", "num", lambda r: r.pos_f, pct),
    ("neg mIoU %", "num", lambda r: r.neg_miou, pct),
    ("neg F %", "num", lambda r: r.neg_f, pct),
    ("neg FPR", "num", lambda r: r.neg_fpr, frac),
    ("negatives", "text", lambda r: r.neg_scope, str),
    ("how obtained", "text", lambda r: r.how, str),
    ("batch", "num", lambda r: r.batch_size, lambda v: "–" if v is None else str(v)),
    ("eval size", "num", lambda r: r.eval_size, lambda v: "–" if v is None else str(v)),
    ("toolkit", "text", lambda r: r.toolkit_version or "", lambda v: v or "–"),
    ("entry", "text", lambda r: r.name, str),
)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _num_attr(value: object) -> str:
    return "" if value is None else repr(float(value))


def _table(group_id: str, rows: list[BoardRow]) -> str:
    head = "".join(f'<th scope="col" data-type="{t}"><button type="button">{h(name)}</button></th>'
                   for name, t, _, _ in COLUMNS)
    body = []
    for rank, row in enumerate(rows, 1):
        cells = []
        for _name, typ, get, fmt in COLUMNS:
            if get is None:
                cells.append(f'<td class="num" data-v="{rank}">{rank}</td>')
            elif typ == "num":
                v = get(row)
                cells.append(f'<td class="num" data-v="{_num_attr(v)}">{h(fmt(v))}</td>')
            else:
                v = get(row)
                cells.append(f"<td>{h(fmt(v))}</td>")
        body.append(f'<tr data-entry="{h(row.name)}">' + "".join(cells) + "</tr>")
    return (f'<table class="board" id="{h(group_id)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table>")


def _scatter(title: str, rows: list[BoardRow]) -> str:
    """Positive mIoU (x) against negative FPR (y): visual-prior models sit top right, ideal bottom right."""
    pts = [(i, r) for i, r in enumerate(rows, 1) if r.pos_miou is not None and r.neg_fpr is not None]
    skipped = len(rows) - len(pts)
    w, hgt, ml, mr, mt, mb = 460, 300, 52, 16, 14, 40
    pw, ph = w - ml - mr, hgt - mt - mb
    top = max([0.05] + [r.neg_fpr for _, r in pts])
    ymax = -(-top * 20 // 1) / 20  # round up to a multiple of 0.05
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{hgt}" viewBox="0 0 {w} {hgt}" '
             f'role="img" aria-label="{h(title)}">'),
             f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fbfbfb" stroke="#999"/>']
    for k in range(5):
        xv = k / 4
        x = ml + xv * pw
        parts.append(f'<line x1="{x:.1f}" y1="{mt + ph}" x2="{x:.1f}" y2="{mt + ph + 4}" stroke="#555"/>'
                     f'<text x="{x:.1f}" y="{mt + ph + 16}" text-anchor="middle">{xv:.2f}</text>')
        yv = ymax * k / 4
        y = mt + ph - (yv / ymax) * ph
        parts.append(f'<line x1="{ml - 4}" y1="{y:.1f}" x2="{ml}" y2="{y:.1f}" stroke="#555"/>'
                     f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{yv:.3f}</text>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{hgt - 6}" text-anchor="middle">positive mIoU</text>'
                 f'<text x="12" y="{mt + ph / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {mt + ph / 2:.1f})">negative FPR</text>')
    for rank, r in pts:
        x = ml + min(max(r.pos_miou, 0.0), 1.0) * pw
        y = mt + ph - (min(r.neg_fpr, ymax) / ymax) * ph
        colour = SOURCE_COLOUR.get(r.source, "#333")
        tip = f"#{rank} {r.display_name} ({r.source}): positive mIoU {pct(r.pos_miou)} %, negative FPR {frac(r.neg_fpr)}"
        parts.append(f'<g><title>{h(tip)}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" '
                     f'fill-opacity="0.8"/><text x="{x + 7:.1f}" y="{y - 5:.1f}">{rank}</text></g>')
    parts.append("</svg>")
    caption = (f"{h(title)}: positive mIoU against negative FPR; numbers are ranks in the table; grey = paper, "
               f"blue = scored, orange = reference.")
    if skipped:
        caption += f" {skipped} row(s) not plotted (no positive mIoU or negative FPR available)."
    return f"<figure>{''.join(parts)}<figcaption>{caption}</figcaption></figure>"


def render_html(rows: list[BoardRow]) -> str:
    csp = (f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; img-src 'none'; "
           f"base-uri 'none'; form-action 'none'")
    sections = []
    for (subset, dataset), group in table_groups(rows):
        gid = f"{subset.value}-{dataset}"
        title = f"{SUBSET_TITLE[subset.value]} — {DATASET_LABEL.get(dataset, dataset)}"
        sections.append(f'<section id="sec-{h(gid)}"><h2>{h(title)}</h2>\n{_scatter(title, group)}\n'
                        f"{_table('t-' + gid, group)}</section>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{h(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>AVSBench-Robust leaderboard</title>\n"
        f"<style>{CSS}</style></head><body>\n"
        "<h1>AVSBench-Robust leaderboard</h1>\n"
        '<p class="note">Generated by <code>avsb-robust leaderboard</code> from <code>submissions/</code>. '
        "Ranked by G-mIoU; click a column header to sort. mIoU, F, G-mIoU and G-F in percent, FPR as a fraction. "
        "<em>neg</em> columns: pooled negatives (silence, noise, offscreen, and unseen where scored) for scored "
        "entries, the single 'Unseen Audio' condition (filed under unseen) for rows transcribed from the paper. 'from columns' = G recomputed from the "
        "positive and negative columns; the paper's printed G-values do not all follow from its columns, so "
        "both are shown. Synthetic-set rows check the toolkit and are not comparable with AVSBench rows.</p>\n"
        + "\n".join(sections)
        + f"\n<script>{JS}</script>\n</body></html>\n"
    )
