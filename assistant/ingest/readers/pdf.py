"""PDF: physical lines and ruled tables per page (pdfplumber), running headers and page numbers dropped."""

from __future__ import annotations

import io
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from assistant.ingest.readers.base import DocumentRejected, ReaderLimits, _check_text_length
from assistant.ingest.readers.cells import _CJK_GAP_RE, _cell_text, _table_lines


@dataclass
class _PdfLine:
    text: str
    top: float
    bottom: float


@dataclass
class _PdfTable:
    rows: list[str]  # TAB-joined
    top: float


_PAGE_NUMBER_RE = re.compile(
    r"""^(?:
        [-—–~·•\s]*\d{1,4}[-—–~·•\s]*                          # 3 / - 3 - / — 3 —
      | 第\s*[\d一二三四五六七八九十百零〇]{1,6}\s*页(?:\s*[,/]?\s*共\s*\d{1,4}\s*页)?  # 第3页 (共10页)
      | 共\s*\d{1,4}\s*页\s*[,/]?\s*第\s*\d{1,4}\s*页         # 共10页 第3页
      | \d{1,4}\s*/\s*\d{1,4}                                  # 3/10
      | (?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?      # Page 3 of 10
    )$""",
    re.I | re.X,
)
_CID_RE = re.compile(r"\(cid:\d+\)")
_EDGE_LINES = 2  # how many lines at the top and at the bottom of a page count as "edge"
_MARGIN_SHARE = 0.2  # page numbers are only looked for in the top/bottom 20% of the page


def _is_page_number_line(text: str) -> bool:
    # NFKC turns full-width digits and dashes (－３－) into ASCII so one pattern covers both.
    return bool(_PAGE_NUMBER_RE.match(unicodedata.normalize("NFKC", text).strip()))


def _read_pdf(data: bytes, name: str, notes: list[str], limits: ReaderLimits) -> str:
    import pdfplumber
    from pdfminer.pdfpage import PDFPage

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer wraps everything in PdfminerException
        detail = repr(exc).lower()
        if "password" in detail or "encrypt" in detail:
            raise DocumentRejected(name, "PDF 已加密，需要密码才能读取", "the PDF is password-protected") from exc
        raise DocumentRejected(name, "PDF 文件已损坏，无法读取", f"damaged PDF: {type(exc).__name__}") from exc

    pages: list[list[_PdfLine | _PdfTable]] = []
    heights: list[float] = []
    chars_seen = 0
    empty_pages = 0
    try:
        with pdf:
            # Walk the page tree lazily and stop past the limit: pdfplumber's ``pages`` builds an
            # object for every page, and the tree's own /Count is a claim.
            for count, _ in enumerate(PDFPage.create_pages(pdf.doc), start=1):
                if count > limits.max_pdf_pages:
                    raise DocumentRejected(
                        name,
                        f"PDF 超过 {limits.max_pdf_pages:,} 页的上限，请拆分后再上传",
                        f"the PDF has more than {limits.max_pdf_pages:,} pages, the limit",
                    )
            for page in pdf.pages:
                chars_seen += len(page.chars)
                _check_text_length(chars_seen, name, limits)
                if not page.chars:
                    empty_pages += 1
                pages.append(_pdf_page_items(page))
                heights.append(float(page.height))
                page.close()  # drop pdfplumber's per-page caches: long PDFs stay small in memory
    except DocumentRejected:
        raise
    except Exception as exc:  # includes RecursionError from deeply nested objects
        raise DocumentRejected(name, "PDF 文件已损坏，无法读取", f"damaged PDF: {type(exc).__name__}") from exc

    if chars_seen == 0:
        raise DocumentRejected(
            name,
            "扫描版 PDF 没有文字层，无法读取，需要先做 OCR 文字识别",
            "scanned PDF without a text layer; it needs OCR",
        )
    if empty_pages:
        notes.append(
            f"{empty_pages} 页没有文字层（可能是扫描页），这些页的内容未读取"
            f"（{empty_pages} page(s) without a text layer were skipped）"
        )

    _drop_running_headers(pages, heights)
    text = _assemble_pdf_text(pages)
    # Fonts without a Unicode map come out as "(cid:1234)"; mostly that means unreadable.
    if sum(len(m) for m in _CID_RE.findall(text)) > 0.5 * len(text):
        raise DocumentRejected(
            name, "PDF 字体缺少文字编码，提取出的是乱码，需要 OCR", "the PDF fonts have no Unicode mapping; it needs OCR"
        )
    return text


def _pdf_page_items(page: Any) -> list[_PdfLine | _PdfTable]:
    """Lines and ruled tables of one page, top to bottom; table text is kept out of the lines."""
    page = page.dedupe_chars()  # fake-bold headings are often printed twice, slightly offset
    tables: list[tuple[tuple[float, float, float, float], list[str]]] = []
    for table in page.find_tables():
        rows = [[_cell_text(_CJK_GAP_RE.sub("", cell or "")) for cell in row] for row in table.extract()]
        # A framed paragraph is found as a one-column "table": that is text, not a table.
        if len(rows) < 2 or max(sum(1 for c in row if c) for row in rows) < 2:
            continue
        tables.append((table.bbox, _table_lines(rows)))

    def outside_tables(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        cx = (obj["x0"] + obj["x1"]) / 2
        cy = (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= cx <= x1 and top <= cy <= bottom for (x0, top, x1, bottom), _ in tables)

    text_page = page.filter(outside_tables) if tables else page
    items: list[_PdfLine | _PdfTable] = []
    for line in text_page.extract_text_lines(return_chars=False):
        # pdfminer turns wide letter-spacing of justified Chinese into spaces; they mean nothing.
        text = _CJK_GAP_RE.sub("", line["text"]).replace("\t", " ").strip()
        if text:
            items.append(_PdfLine(text=text, top=float(line["top"]), bottom=float(line["bottom"])))
    items.extend(_PdfTable(rows=rows, top=float(bbox[1])) for bbox, rows in tables if rows)
    items.sort(key=lambda item: item.top)
    return items


def _edge_indexes(items: list[_PdfLine | _PdfTable]) -> tuple[list[int], list[int]]:
    line_indexes = [i for i, item in enumerate(items) if isinstance(item, _PdfLine)]
    return line_indexes[:_EDGE_LINES], line_indexes[-_EDGE_LINES:]


def _drop_running_headers(pages: list[list[_PdfLine | _PdfTable]], heights: list[float]) -> None:
    """Remove page numbers and lines repeated at the top or bottom of most pages, in place."""

    def key(text: str) -> str:  # "第 3 页" and "第 4 页" are the same running line
        return re.sub(r"\d+", "#", re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)))

    counts: dict[tuple[str, str], int] = {}
    for items in pages:
        top, bottom = _edge_indexes(items)
        for edge, indexes in (("top", top), ("bottom", bottom)):
            for k in {key(items[i].text) for i in indexes}:  # type: ignore[union-attr]
                counts[(edge, k)] = counts.get((edge, k), 0) + 1
    threshold = max(2, math.ceil(0.5 * len(pages))) if len(pages) >= 2 else math.inf
    repeated = {edge_key for edge_key, n in counts.items() if n >= threshold}

    for items, height in zip(pages, heights, strict=True):
        top, bottom = _edge_indexes(items)
        drop: set[int] = set()
        for edge, indexes in (("top", top), ("bottom", bottom)):
            for i in indexes:
                line = items[i]
                assert isinstance(line, _PdfLine)
                in_margin = line.bottom <= height * _MARGIN_SHARE if edge == "top" else line.top >= height * (1 - _MARGIN_SHARE)
                if (edge, key(line.text)) in repeated or (in_margin and _is_page_number_line(line.text)):
                    drop.add(i)
        items[:] = [item for i, item in enumerate(items) if i not in drop]


def _assemble_pdf_text(pages: list[list[_PdfLine | _PdfTable]]) -> str:
    """Physical lines one per line; tables as TAB rows set off by blank lines.

    A table split over two pages stays one block because nothing is emitted between pages.
    """
    out: list[str] = []
    previous: str | None = None
    for items in pages:
        for item in items:
            if isinstance(item, _PdfTable):
                if previous == "line":
                    out.append("")
                out.extend(item.rows)
                previous = "table"
                continue
            if previous == "table":
                out.append("")
            # Undo end-of-line hyphenation of Latin words ("infor-" + "mation").
            if previous == "line" and out and re.search(r"[A-Za-z]-$", out[-1]) and re.match(r"[a-z]", item.text):
                out[-1] = out[-1][:-1] + item.text
            else:
                out.append(item.text)
            previous = "line"
    return "\n".join(out).strip("\n")
