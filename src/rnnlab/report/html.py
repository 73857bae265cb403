"""HTML pieces shared by the compare report and the claims page: one page layout (viewport
meta tag, readable at 700 px), tables with right-aligned numeric columns that scroll inside
their box and sort by a click on a header (a small inline script: no network), figures
shown at half their pixel size (rendered at 2×)."""

from __future__ import annotations

import base64
import html
import re
import struct
from collections.abc import Sequence

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;"
    "color:#222;line-height:1.45}"
    ".wide{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3;cursor:pointer;white-space:nowrap}"
    "th[aria-sort=ascending]::after{content:' ▲'}th[aria-sort=descending]::after{content:' ▼'}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.short{white-space:nowrap}"
    "img{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 .2em}"
    ".answer{font-size:1.1em;background:#f6f8fa;border-left:4px solid #0072B2;"
    "padding:.5em 1em;margin:.5em 0}"
    ".flag{color:#b35900}figcaption{font-size:.9em;color:#555}"
)

SORT_SCRIPT = """<script>
document.querySelectorAll('table.sortable th').forEach(function (th, _, all) {
  th.title = 'click to sort';
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var up = th.getAttribute('aria-sort') !== 'ascending';
    th.parentNode.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    function key(row) {
      var text = row.children[col] ? row.children[col].textContent.trim() : '';
      var n = parseFloat(text.replace(/,/g, '').replace('\\u2212', '-'));
      return isNaN(n) ? text.toLowerCase() : n;
    }
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
</script>"""

SHORT_CELL = 32
"""Columns whose cells are all at most this long never wrap (no three-line cells)."""

_NUMBER = re.compile(r"^[−\-+]?(\d[\d,]*\.?\d*|\.\d+)(e[−\-+]?\d+)?\b")


def is_numeric(cell: str) -> bool:
    """True when a cell starts with a number (``0.51 [0.4, 0.6]``, ``1,941``, ``3/3 seeds``)."""
    return bool(_NUMBER.match(cell.strip()))


def numeric_columns(rows: Sequence[Sequence[str]]) -> list[bool]:
    """Per column: every non-empty, non-dash cell is numeric (then it is right-aligned)."""
    width = max((len(r) for r in rows), default=0)
    out = []
    for col in range(width):
        cells = [r[col] for r in rows if col < len(r) and r[col].strip() not in ("", "–", "-")]
        out.append(bool(cells) and all(is_numeric(c) for c in cells))
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], inline=html.escape) -> str:
    """A sortable table in a horizontally scrolling box; ``inline`` renders a cell's text."""
    numeric = numeric_columns(rows)
    classes = []
    for i in range(len(headers)):
        longest = max((len(r[i]) for r in rows if i < len(r)), default=0)
        if i < len(numeric) and numeric[i]:
            classes.append(" class=num")
        elif longest <= SHORT_CELL:
            classes.append(" class=short")
        else:
            classes.append("")
    head = "".join(f"<th{classes[i]}>{inline(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{classes[i] if i < len(classes) else ''}>{inline(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="wide"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height in pixels of PNG ``data`` (from its IHDR chunk)."""
    return struct.unpack(">II", data[16:24])


def figure(png: bytes, caption: str, scale: float = 2.0) -> str:
    """An inline (base64) PNG shown at 1/``scale`` of its pixel size, with its caption."""
    width, height = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" width="{round(width / scale)}" '
        f'height="{round(height / scale)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def page(title: str, body: Sequence[str]) -> str:
    """A whole self-contained page: viewport meta tag, the shared style, the sort script."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            SORT_SCRIPT,
            "</body></html>",
        ]
    )
