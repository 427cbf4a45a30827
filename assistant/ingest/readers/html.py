"""Saved web pages: main text via trafilatura, layout tables unwrapped, a stdlib parser as the fallback."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

from assistant.ingest.readers.cells import _cell_text, _paragraph_lines, _table_lines

# The package's logger, as before the split: one name for every reader's warnings.
log = logging.getLogger(__package__)

_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def _read_html(html: str) -> str:
    """Main text of a saved web page: trafilatura first, a stdlib parser as the fallback."""
    html = _XML_DECLARATION_RE.sub("", html.lstrip("\ufeff"))  # lxml refuses str + declaration
    try:
        html = _unwrap_layout_tables(html)
        text = _html_via_trafilatura(html)
    except RecursionError:
        # The lxml tree is walked recursively (here and in trafilatura); a nesting bomb deeper
        # than libxml2's own depth cap would end here. The stdlib parser keeps no tree.
        log.warning("HTML nested too deeply for the tree walkers; using the plain parser")
        text = ""
    if not text.strip():
        text = _html_via_stdlib(html)
    return text


def _unwrap_layout_tables(html: str) -> str:
    """Turn tables used for page layout into divs, so only data tables are read as tables.

    Older government sites lay out the whole page with nested tables; fed as-is, trafilatura
    keeps the navigation cells and moves the real task table out of place. A table is layout
    when it contains another table or has fewer than two columns.
    """
    try:
        import lxml.html
    except ImportError:  # pragma: no cover - lxml comes with trafilatura
        return html
    try:
        root = lxml.html.document_fromstring(html)
    except Exception:
        return html

    def columns(table: Any) -> int:
        rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
        return max((len(row.xpath("./td | ./th")) for row in rows), default=0)

    def to_divs(el: Any) -> None:
        for child in el:
            if child.tag in ("thead", "tbody", "tfoot", "tr", "td", "th", "caption"):
                to_divs(child)
                child.tag = "div"
        el.tag = "div"

    changed = False
    while True:
        layout = [t for t in root.iter("table") if t.xpath(".//table") or columns(t) < 2]
        if not layout:
            break
        for table in layout:
            to_divs(table)
        changed = True
    return lxml.html.tostring(root, encoding="unicode") if changed else html


def _html_via_trafilatura(html: str) -> str:
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(
        html,
        output_format="xml",  # XML keeps paragraphs, line breaks and table cells apart
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_recall=True,  # government pages are short; precision mode drops real paragraphs
        deduplicate=False,
    )
    if not xml:
        return ""
    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except etree.XMLSyntaxError:
        return ""
    main = root.find("main")
    if main is None:
        return ""
    blocks: list[str] = []
    _collect_xml_blocks(main, blocks)
    return "\n\n".join(blocks)


_XML_BLOCK_TAGS = {"p", "head", "quote", "code", "item", "list", "table", "div"}


def _collect_xml_blocks(el: Any, blocks: list[str]) -> None:
    for child in el:
        if child.tag == "table":
            rows = [[_cell_text(_xml_inline_text(cell)) for cell in row.findall("cell")] for row in child.iter("row")]
            lines = _table_lines(rows)
            if lines:
                blocks.append("\n".join(lines))
        elif child.tag in ("list", "div"):
            _collect_xml_blocks(child, blocks)
        elif child.tag in _XML_BLOCK_TAGS:
            if any(grandchild.tag in _XML_BLOCK_TAGS for grandchild in child):
                _collect_xml_blocks(child, blocks)  # e.g. an <item> holding a nested <list>
            else:
                lines = _paragraph_lines(_xml_inline_text(child))
                if lines:
                    blocks.append("\n".join(lines))


def _xml_inline_text(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag in _XML_BLOCK_TAGS or child.tag == "cell":
            parts.append("\n" + _xml_inline_text(child) + "\n")
        else:
            parts.append(_xml_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


class _PlainHTMLText(HTMLParser):
    """Last-resort extractor (stdlib only): drops chrome by tag and class/id, keeps blocks and rows.

    Table cells are collected per row so rowspan/colspan can be padded with empty cells, the
    same shape trafilatura gives.
    """

    SKIP_TAGS = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                 "select", "button", "iframe", "svg", "head", "object"}
    SKIP_WORDS = {"nav", "navbar", "menu", "footer", "header", "breadcrumb", "crumb", "crumbs", "sidebar",
                  "copyright", "share", "banner", "toolbar", "login", "search", "topbar", "position", "location"}
    BLOCK_TAGS = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
                  "ol", "hr", "blockquote", "pre", "dd", "dt", "dl", "center", "table", "caption", "body"}
    VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._row: list[str] | None = None  # cells of the open table row
        self._cell: list[str] | None = None  # text of the open cell
        self._cell_spans = (1, 1)  # (colspan, rowspan) of the open cell
        self._pending: dict[int, int] = {}  # column -> rows still covered by a rowspan from above

    def _is_chrome(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in self.SKIP_TAGS:
            return True
        for attr, value in attrs:
            if attr in ("class", "id", "role") and value:
                if self.SKIP_WORDS & set(re.split(r"[\s_\-]+", value.lower())):
                    return True
        return False

    def _fill_covered_columns(self) -> None:
        assert self._row is not None
        while self._pending.get(len(self._row), 0) > 0:
            self._pending[len(self._row)] -= 1
            self._row.append("")

    def _close_cell(self) -> None:
        if self._cell is None or self._row is None:
            self._cell = None
            return
        colspan, rowspan = self._cell_spans
        first = len(self._row)
        self._row.append(_cell_text("".join(self._cell)))
        self._row.extend([""] * (colspan - 1))
        if rowspan > 1:
            for column in range(first, first + colspan):
                self._pending[column] = rowspan - 1
        self._cell = None

    def _close_row(self) -> None:
        self._close_cell()
        if self._row:
            self._fill_covered_columns()  # trailing columns still covered by a rowspan
            self.parts.append("\t".join(self._row) + "\n")
        self._row = None

    @staticmethod
    def _span(attrs: list[tuple[str, str | None]], name: str) -> int:
        value = dict(attrs).get(name) or "1"
        return int(value) if value.isdigit() and 0 < int(value) < 1000 else 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        if tag not in self.VOID_TAGS and self._is_chrome(tag, attrs):
            self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "table":
            self._close_row()
            self._pending = {}
            self.parts.append("\n\n")
        elif tag == "tr":
            self._close_row()
            self._row = []
        elif tag in ("td", "th"):
            self._close_cell()
            if self._row is None:
                self._row = []
            self._fill_covered_columns()
            self._cell = []
            self._cell_spans = (self._span(attrs, "colspan"), self._span(attrs, "rowspan"))
        elif tag == "br":
            self._emit("\n")
        elif tag in self.BLOCK_TAGS:
            self._block_break()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table":
            self._close_row()
            self._pending = {}
            self.parts.append("\n\n")
        elif tag in self.BLOCK_TAGS:
            self._block_break()

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            # Source line breaks and tabs inside a block are just whitespace in HTML.
            self._emit(re.sub(r"[ \t\r\n\f]+", " ", data))

    def _emit(self, text: str) -> None:
        (self._cell if self._cell is not None else self.parts).append(text)

    def _block_break(self) -> None:
        # Inside a cell a block only breaks the cell's lines (joined again later); outside it
        # ends a paragraph.
        self._emit("\n" if self._cell is not None else "\n\n")

    def close(self) -> None:
        super().close()
        self._close_row()


def _html_via_stdlib(html: str) -> str:
    parser = _PlainHTMLText()
    parser.feed(html)
    parser.close()
    blocks: list[str] = []
    for block in re.split(r"\n[ \u00a0]*\n", "".join(parser.parts)):
        lines = []
        for line in block.split("\n"):
            if "\t" in line:  # a table row: keep its empty cells
                if line.replace("\t", "").strip():
                    lines.append(line)
            else:
                lines.extend(_paragraph_lines(line))
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
