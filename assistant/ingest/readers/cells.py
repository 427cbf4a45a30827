"""Text helpers shared by the docx, pdf and html readers: table cells, table rows, paragraph lines."""

from __future__ import annotations

import re

_CJK = r"\u2018-\u201d\u2460-\u24ff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP_RE = re.compile(rf"(?<=[{_CJK}])[ \u00a0]+(?=[{_CJK}])")
_CJK_CHAR_RE = re.compile(rf"[{_CJK}]")


def _join_fragments(fragments: list[str]) -> str:
    """Join the lines of one table cell: nothing between CJK text, one space between words."""
    out = ""
    for frag in (f.strip() for f in fragments):
        if not frag:
            continue
        if out and not (_CJK_CHAR_RE.match(out[-1]) or _CJK_CHAR_RE.match(frag[0])):
            out += " "
        out += frag
    return out


def _cell_text(text: str | None) -> str:
    # A TAB or newline inside a cell would break the one-row-per-line, TAB-per-cell contract.
    if not text:
        return ""
    return _join_fragments(text.replace("\t", " ").splitlines())


def _table_lines(rows: list[list[str]]) -> list[str]:
    """TAB-join rows, dropping rows with no text at all."""
    return ["\t".join(cells) for cells in rows if any(c.strip() for c in cells)]


def _paragraph_lines(text: str) -> list[str]:
    # Stray TABs in running text would make the line look like a table row downstream.
    lines = (line.replace("\t", " ").strip() for line in text.splitlines())
    return [line for line in lines if line]
