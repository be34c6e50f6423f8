"""Escaping and number formatting shared by every renderer (pure).

Entries are written by strangers: a string reaches Markdown, LaTeX, CSV or HTML only through these
functions, so a model named `<script>alert(1)</script>` or `=HYPERLINK(...)` stays text everywhere.
"""
from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # what can start emphasis, code, links or end a cell
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\^{}",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
}
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def one_line(text: object) -> str:
    """Collapse control characters and newlines: a cell never spans lines."""
    return " ".join(str(text).replace("\x00", " ").split())


def md(text: object) -> str:
    """Markdown table cell: HTML-escaped (GitHub renders raw HTML) and Markdown punctuation escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one_line(text), quote=False))


def latex(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in one_line(text))


def h(text: object) -> str:
    """HTML text or attribute value."""
    return html.escape(str(text), quote=True)


def csv_cell(value: object) -> str | float | int:
    """Numbers stay numbers; strings that a spreadsheet would run as a formula get a leading quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = one_line(value)
    return "'" + text if text.startswith(CSV_TRIGGERS) else text


def pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100.0 * value:.{digits}f}"


def frac(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"
