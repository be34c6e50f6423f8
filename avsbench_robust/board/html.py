"""The static leaderboard page (pure): one self-contained HTML file, no network resources.

Per subset and dataset: a chart (only when something can be plotted) and a compact ranked table (rank,
model linked to its paper and code, backbone, G-mIoU, G-F, G-FPR, positive mIoU and F, date, status),
every other number on demand in a per-row <details>. Entries whose predictions `ci` re-scores are
"verified"; scored entries without predictions are "self-reported" and listed in their own table
below, never ranked among verified ones. Every string from an entry goes through `text.h`; the page's
own CSS and JS are pinned by a Content-Security-Policy hash, so even a missed escape could not run an
injected script. The JS only reorders existing rows. Charts are inline SVG.
"""
from __future__ import annotations

import base64
import hashlib
import math
import re

from .rows import DATASET_LABEL, BoardRow, table_groups
from .text import frac, h, pct

SUBSET_TITLE = {"s4": "S4 (single source)", "ms3": "MS3 (multi-source)", "avss": "AVSS (semantic)"}
STATUS_COLOUR = {"paper": "#7a7a7a", "verified": "#1f6fb2", "self-reported": "#d9822b"}
STATUS_LABEL = {"paper": "paper", "verified": "✓ verified", "self-reported": "self-reported"}
STATUS_TITLE = {"paper": "transcribed from the paper as printed",
                "verified": "ci re-scores the shipped predictions on every run",
                "self-reported": "numbers from the submitter; no predictions to re-score"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:1rem 1.5rem;
color:#1b1b1b;max-width:74rem;line-height:1.4}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2.2rem 0 .4rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
p.lead,p.note{color:#333;max-width:62rem}p.note{font-size:.85rem;color:#555}
nav a{margin-right:1rem}
a{color:#1f5fa0}
.cols{display:flex;gap:1.5rem;align-items:flex-start;flex-wrap:wrap}
table.board{border-collapse:collapse;font-size:.85rem;margin:.4rem 0;width:100%}
table.board th,table.board td{border-bottom:1px solid #e2e2e2;padding:.3rem .45rem;text-align:left;vertical-align:top}
table.board thead th{border-bottom:2px solid #999;white-space:nowrap}
table.board td.num,table.board th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.board th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
table.board th[aria-sort=ascending] button::after{content:" \\25B2"}
table.board th[aria-sort=descending] button::after{content:" \\25BC"}
table.board tbody tr:hover{background:#f4f8fc}
table.self td{color:#555}table.self{border-left:4px solid #d9822b}
td.model{max-width:17rem}td.model .sub{color:#666;font-size:.8rem;white-space:nowrap}
.status{font-size:.78rem;border-radius:.7rem;padding:.05rem .45rem;white-space:nowrap;border:1px solid}
.st-verified{color:#1f5f9f;border-color:#1f6fb2;background:#eef5fc}
.st-paper{color:#555;border-color:#aaa;background:#f5f5f5}
.st-self-reported{color:#9a5312;border-color:#d9822b;background:#fdf3e8}
details summary{cursor:pointer;color:#1f5fa0;font-size:.8rem;white-space:nowrap}
details dl{margin:.3rem 0 0;width:19rem;font-size:.78rem;display:grid;grid-template-columns:auto 1fr;gap:.1rem .5rem}
details dt{color:#555}details dd{margin:0;overflow-wrap:anywhere}
figure{margin:.2rem 0;display:flex;gap:1rem;align-items:flex-end;flex-wrap:wrap}
figcaption{font-size:.8rem;color:#444;max-width:24rem;padding-bottom:2.2rem}
svg{max-width:100%;height:auto}svg text{font-size:11px;font-family:inherit}
.howto{background:#f7f7f7;border:1px solid #e3e3e3;padding:.6rem 1rem;border-radius:.3rem}
.howto code,.howto pre{font-size:.8rem}.howto pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0}
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
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
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

# (header, type, value getter, formatter); type None = not sortable
NUM_COLUMNS = (
    ("G-mIoU %", lambda r: r.g_miou, pct, "harmonic mean of positive mIoU and 1 - negative mIoU (higher is better)"),
    ("G-F %", lambda r: r.g_f, pct, "harmonic mean of positive F and 1 - negative F (higher is better)"),
    ("G-FPR", lambda r: r.g_fpr, frac, "false-positive rate under negative audio (lower is better)"),
    ("pos mIoU %", lambda r: r.pos_miou, pct, "mIoU with the clip's own audio"),
    ("pos F %", lambda r: r.pos_f, pct, "F-score with the clip's own audio"),
)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _num_attr(value: object) -> str:
    return "" if value is None else repr(float(value))


def _link(url: str | None, text: str) -> str:
    return f'<a href="{h(url)}" rel="noopener noreferrer">{h(text)}</a>' if url else h(text)


def _model_cell(r: BoardRow) -> str:
    title = _link(r.paper_url, r.display_name)
    extra = []
    if r.code_url:
        extra.append(_link(r.code_url, "code"))
    if r.transcription:
        extra.append(h(f"Table {r.transcription['table']}"))
    sub = f' <span class="sub">· {" · ".join(extra)}</span>' if extra else ""
    return f'<td class="model" data-v="{h(r.display_name.lower())}">{title}{sub}</td>'


def _interval(r: BoardRow, key: str) -> str | None:
    block = (r.intervals or {}).get("global") or {}
    iv = block.get(key)
    return None if not iv else f"[{pct(iv[0])}, {pct(iv[1])}]"


def _details(r: BoardRow) -> str:
    items = [
        ("negatives", r.neg_scope),
        ("neg mIoU / F %", f"{pct(r.neg_miou)} / {pct(r.neg_f)}"),
        ("neg FPR", frac(r.neg_fpr)),
    ]
    for cond, value in r.fpr_by_condition:
        if value is not None:
            items.append((f"FPR {cond}", frac(value)))
    if r.source == "paper":
        items.append(("G from columns", f"G-mIoU {pct(r.g_miou_recomputed)} %, G-F {pct(r.g_f_recomputed)} % "
                                        "(the printed G does not always follow from the printed columns)"))
    for key, label in (("g_miou", "G-mIoU 95% CI"), ("g_f", "G-F 95% CI")):
        iv = _interval(r, key)
        if iv:
            items.append((label, iv + f" % ({r.intervals['resamples']} bootstrap resamples over {r.intervals['unit']}s)"))
    items += [("how obtained", r.how), ("frames", "–" if r.frames is None else str(r.frames)),
              ("entry", r.name)]
    if r.notes:
        items.append(("notes", r.notes))
    body = "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in items)
    return f"<td><details><summary>details</summary><dl>{body}</dl></details></td>"


def _date_cell(r: BoardRow) -> str:
    """Paper rows: the publication year of the cited work (the entry date is when it was transcribed)."""
    year = re.search(r"\b(19|20)\d{2}", r.citation or "") if r.source == "paper" else None
    if year:
        return f'<td data-v="{h(year.group(0))}" title="{h(r.citation or "")}; transcribed {h(r.date)}">{h(year.group(0))}</td>'
    return f'<td data-v="{h(r.date)}">{h(r.date)}</td>'


def _table(table_id: str, rows: list[BoardRow], css: str = "board") -> str:
    head = ['<th scope="col" class="num" data-type="num"><button type="button">#</button></th>',
            '<th scope="col" data-type="text"><button type="button">Model</button></th>',
            '<th scope="col" data-type="text"><button type="button">Backbone</button></th>']
    head += [f'<th scope="col" class="num" data-type="num" title="{h(tip)}"><button type="button">{h(name)}</button></th>'
             for name, _, _, tip in NUM_COLUMNS]
    head += ['<th scope="col" data-type="text"><button type="button">Date</button></th>',
             '<th scope="col" data-type="text"><button type="button">Status</button></th>',
             '<th scope="col">More</th>']
    body = []
    for rank, r in enumerate(rows, 1):
        cells = [f'<td class="num" data-v="{rank}">{rank}</td>', _model_cell(r), f"<td>{h(r.backbone or '–')}</td>"]
        for _name, get, fmt, _tip in NUM_COLUMNS:
            v = get(r)
            cells.append(f'<td class="num" data-v="{_num_attr(v)}">{h(fmt(v))}</td>')
        cells.append(_date_cell(r))
        cells.append(f'<td data-v="{h(r.status)}"><span class="status st-{h(r.status)}" '
                     f'title="{h(STATUS_TITLE[r.status])}">{h(STATUS_LABEL[r.status])}</span></td>')
        cells.append(_details(r))
        body.append(f'<tr data-entry="{h(r.name)}">' + "".join(cells) + "</tr>")
    return (f'<table class="{css}" id="{h(table_id)}"><thead><tr>{"".join(head)}</tr></thead>'
            f"<tbody>\n" + "\n".join(body) + "\n</tbody></table>")


def _label_positions(points: list[tuple[float, float, str]], box: tuple[float, float, float, float]
                     ) -> list[tuple[float, float, str]]:
    """Greedy placement of short labels around their points (SVG pixels): the first candidate offset
    whose box overlaps no placed label and no point, inside the plot; text width estimated at 6.5 px/char."""
    x0, y0, x1, y1 = box
    placed: list[tuple[float, float, float, float]] = []
    out = []
    offsets = [(7, -6), (7, 12), (-7, -6), (-7, 12), (0, -10), (0, 18)]
    for radius in (1.0, 1.8, 2.6, 3.6):
        offsets += [(dx * radius, dy * radius) for dx, dy in ((8, -8), (8, 14), (-8, -8), (-8, 14), (14, 3), (-14, 3))]
    for px, py, label in points:
        w, ht = 6.5 * len(label) + 2, 11
        choice = None
        for dx, dy in offsets:
            left = px + dx if dx >= 0 else px + dx - w
            top = py + dy - ht + 2
            cand = (left, top, left + w, top + ht)
            if cand[0] < x0 or cand[2] > x1 or cand[1] < y0 or cand[3] > y1:
                continue
            if any(not (cand[2] < b[0] or cand[0] > b[2] or cand[3] < b[1] or cand[1] > b[3]) for b in placed):
                continue
            if any(cand[0] - 4 <= qx <= cand[2] + 4 and cand[1] - 4 <= qy <= cand[3] + 4 for qx, qy, _ in points):
                continue
            choice = (cand, dx)
            break
        if choice is None:
            choice = ((px + 7, py - 15, px + 7 + w, py - 4), 7)
        cand, dx = choice
        placed.append(cand)
        out.append((cand[0] + 1, cand[3] - 2, label))
    return out


def _scatter(title: str, rows: list[BoardRow]) -> str:
    """Positive mIoU (x) against G-FPR (y): visual-prior models sit top right, the ideal bottom right.
    Returns "" when no row can be plotted (no empty charts)."""
    pts = [(i, r) for i, r in enumerate(rows, 1) if r.pos_miou is not None and r.g_fpr is not None]
    if not pts:
        return ""
    w, hgt, ml, mr, mt, mb = 560, 260, 52, 14, 12, 38
    pw, ph = w - ml - mr, hgt - mt - mb
    top = max([0.01] + [r.g_fpr for _, r in pts])
    step = next(s for s in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25) if top / s <= 5)  # at most 5 round steps
    ticks = math.ceil(top / step - 1e-9)
    ymax = ticks * step
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{hgt}" viewBox="0 0 {w} {hgt}" '
              f'role="img" aria-label="{h(title)}: positive mIoU against G-FPR">'),
             f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fbfbfb" stroke="#999"/>']
    for k in range(5):
        xv = k / 4
        x = ml + xv * pw
        parts.append(f'<line x1="{x:.1f}" y1="{mt}" x2="{x:.1f}" y2="{mt + ph}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{mt + ph + 15}" text-anchor="middle">{100 * xv:.0f}</text>')
    for k in range(ticks + 1):
        yv = step * k
        y = mt + ph - (yv / ymax) * ph
        parts.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{ml - 5}" y="{y + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
    parts.append(f'<text x="{ml + pw / 2:.1f}" y="{hgt - 5}" text-anchor="middle">positive mIoU % → better</text>'
                 f'<text x="12" y="{mt + ph / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {mt + ph / 2:.1f})">G-FPR ↓ better</text>')
    marks = []
    for rank, r in pts:
        x = ml + min(max(r.pos_miou, 0.0), 1.0) * pw
        y = mt + ph - (min(r.g_fpr, ymax) / ymax) * ph
        marks.append((x, y, str(rank), r))
    labels = _label_positions([(x, y, s) for x, y, s, _ in marks], (ml + 1, mt + 1, ml + pw - 1, mt + ph - 1))
    for (x, y, rank, r), (lx, ly, _) in zip(marks, labels):
        colour = STATUS_COLOUR[r.status]
        tip = f"#{rank} {r.display_name} ({r.status}): positive mIoU {pct(r.pos_miou)} %, G-FPR {frac(r.g_fpr)}"
        parts.append(f'<g><title>{h(tip)}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}" '
                     f'fill-opacity="0.85"/><text x="{lx:.1f}" y="{ly:.1f}">{rank}</text></g>')
    parts.append("</svg>")
    skipped = len(rows) - len(pts)
    caption = ("Numbers are ranks in the table. Grey: paper, blue: verified, orange: self-reported. "
               "Bottom right is best: segments with its own audio, stays silent otherwise.")
    if skipped:
        caption += f" {skipped} row(s) without a positive mIoU are not plotted."
    return f"<figure>{''.join(parts)}<figcaption>{h(caption)}</figcaption></figure>"


HOWTO = """<section id="submit" class="howto"><h2>How to submit</h2>
<ol>
<li>Predict masks for the test split under every condition (positive, silence, noise, offscreen) in any layout of
<code>docs/scoring.md</code>, e.g. 8-bit probability PNGs.</li>
<li>Score them: <pre>avsb-robust score PRED --subset s4 --root /data/AVSBench --json results.json</pre></li>
<li>Pack an entry (predictions re-scored before anything is written):
<pre>avsb-robust submit results.json PRED --out submissions/my-model-s4 --model "My model" --backbone pvt_v2_b5 --paper URL --code URL --root /data/AVSBench</pre></li>
<li>Regenerate and check: <pre>avsb-robust leaderboard &amp;&amp; avsb-robust ci --root /data/AVSBench</pre>
then open a pull request with the entry folder. Entries with predictions are verified on every ci run;
without predictions an entry is listed as self-reported.</li>
</ol>
<p class="note">Compare two of your runs with <code>avsb-robust compare a.json b.json</code> (paired bootstrap
over the same videos) before claiming an improvement; put your numbers under the paper's with
<code>avsb-robust table1 --add results.json --name NAME</code>.</p></section>"""


def _section(subset: str, dataset: str, group: list[BoardRow]) -> str:
    gid = f"{subset}-{dataset}"
    title = f"{SUBSET_TITLE[subset]} — {DATASET_LABEL.get(dataset, dataset)}"
    ranked = [r for r in group if r.status != "self-reported"]
    self_reported = [r for r in group if r.status == "self-reported"]
    parts = [f'<section id="sec-{h(gid)}"><h2>{h(title)}</h2>']
    if dataset.startswith("synthetic"):
        parts.append('<p class="note">Sanity and reference rows on the toolkit\'s embedded synthetic set: they check '
                     "the toolkit (a perfect audio-visual model, an audio-blind one, an empty one, small reference "
                     "models) and are not comparable with AVSBench rows.</p>")
    chart = _scatter(title, ranked)
    if ranked:
        parts.append(chart)
        parts.append(_table(f"t-{gid}", ranked))
    if self_reported:
        parts.append(f'<h3 id="self-{h(gid)}">Self-reported (no predictions shipped, not re-scored by ci)</h3>')
        parts.append(_table(f"t-{gid}-self", self_reported, css="board self"))
    parts.append("</section>")
    return "\n".join(parts)


def render_html(rows: list[BoardRow]) -> str:
    csp = (f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; img-src 'none'; "
           f"base-uri 'none'; form-action 'none'")
    groups = table_groups(rows)
    nav = " ".join(f'<a href="#sec-{h(s.value)}-{h(d)}">{h(SUBSET_TITLE[s.value])}'
                   f'{" (" + d + ")" if d.startswith("synthetic") else ""}</a>' for (s, d), _ in groups)
    sections = [_section(s.value, d, g) for (s, d), g in groups]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{h(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>AVSBench-Robust leaderboard</title>\n"
        f"<style>{CSS}</style></head><body>\n"
        "<h1>AVSBench-Robust leaderboard</h1>\n"
        '<p class="lead">Audio-visual segmentation under positive and negative audio (silence, noise, off-screen '
        "sound, unseen-class sound). Ranked by G-mIoU, the harmonic mean of positive-audio mIoU and 1 − negative-audio mIoU: a model "
        "must segment the sounding object and predict nothing when the sound does not belong to the clip. Click a "
        "column header to sort; <em>details</em> shows the negative-audio columns and how each number was "
        "obtained.</p>\n"
        f'<nav>{nav} <a href="#submit">How to submit</a></nav>\n'
        '<p class="note">mIoU, F, G-mIoU and G-F in percent, FPR as a fraction. <span class="status st-verified">'
        '✓ verified</span> = ci re-scores the shipped predictions; <span class="status st-paper">paper</span> = '
        'transcribed as printed (the paper\'s negative column is its single "Unseen Audio" condition); '
        '<span class="status st-self-reported">self-reported</span> = no predictions, listed apart. Generated by '
        "<code>avsb-robust leaderboard</code> from <code>submissions/</code>.</p>\n"
        + "\n".join(sections) + "\n" + HOWTO
        + f"\n<script>{JS}</script>\n</body></html>\n"
    )
