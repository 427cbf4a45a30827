"""Word .docx: body paragraphs and tables in order, with automatic numbering put back (python-docx)."""

from __future__ import annotations

import io
import zipfile
from typing import Any, Iterator

from assistant.ingest.readers.base import DocumentRejected, ReaderLimits
from assistant.ingest.readers.cells import _cell_text, _paragraph_lines, _table_lines
from assistant.ingest.readers.docx_numbering import _DocxNumbering, _w, _wval
from assistant.ingest.readers.zip_safety import _damaged_docx, _inspect_docx_archive

_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _read_docx(data: bytes, name: str, limits: ReaderLimits) -> str:
    import docx  # python-docx

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # see _sniff_container
        raise _damaged_docx(name, type(exc).__name__) from exc
    with archive:
        _inspect_docx_archive(archive, data, name, limits)
    # python-docx inflates the parts again; after the inspection that costs at most the verified
    # sizes, and keeping every inflated part around to hand it over would cost the same memory.
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted errors on damaged packages
        if isinstance(exc, ValueError) and "content type" in str(exc):  # .docm / .dotx
            raise DocumentRejected(
                name, "不支持的 Word 文件变体（宏或模板），请另存为 .docx", "unsupported Word variant (macro or template)"
            ) from exc
        raise _damaged_docx(name, type(exc).__name__) from exc

    numbering = _DocxNumbering(document)
    blocks: list[str] = []
    for kind, element in _iter_docx_blocks(document.element.body):
        if kind == "p":
            lines = _paragraph_lines(_docx_paragraph_text(element, numbering))
            if lines:
                blocks.append("\n".join(lines))
        else:
            rows = _table_lines(_docx_table_rows(element, numbering))
            if rows:
                blocks.append("\n".join(rows))
    # Blank line between paragraphs, like the corpus .txt files.
    return "\n\n".join(blocks)


def _iter_docx_blocks(container: Any) -> Iterator[tuple[str, Any]]:
    """Paragraphs and tables in body order, looking inside content controls and custom XML."""
    for child in container.iterchildren():
        if child.tag == _w("p"):
            yield "p", child
        elif child.tag == _w("tbl"):
            yield "tbl", child
        elif child.tag == _w("sdt"):
            content = child.find(_w("sdtContent"))
            if content is not None:
                yield from _iter_docx_blocks(content)
        elif child.tag == _w("customXml"):
            yield from _iter_docx_blocks(child)


# Runs below these are not visible body text of the paragraph: deleted/moved-away revisions,
# the VML fallback that duplicates a drawing, text boxes (their own paragraphs).
_SKIPPED_RUN_ANCESTORS = {_w("del"), _w("moveFrom"), f"{{{_MC_NS}}}Fallback", _w("txbxContent")}


def _docx_paragraph_text(p: Any, numbering: _DocxNumbering) -> str:
    parts: list[str] = []
    for run in p.iter(_w("r")):
        if _run_is_hidden(run) or not _run_belongs_to(run, p):
            continue
        parts.append(run.text)  # python-docx CT_R.text renders w:t, w:tab, w:br, ...
    text = "".join(parts)
    label, separator = numbering.label_for(p)
    if label and text.strip():
        text = label + separator + text.lstrip()
    return text


def _run_is_hidden(run: Any) -> bool:
    rpr = run.find(_w("rPr"))
    if rpr is None:
        return False
    vanish = rpr.find(_w("vanish"))
    return vanish is not None and _wval(vanish, "true") not in ("0", "false", "off")


def _run_belongs_to(run: Any, p: Any) -> bool:
    node = run.getparent()
    while node is not None and node is not p:
        if node.tag in _SKIPPED_RUN_ANCESTORS or node.tag == _w("p"):
            return False
        node = node.getparent()
    return node is p


def _docx_table_rows(tbl: Any, numbering: _DocxNumbering) -> list[list[str]]:
    rows: list[list[str]] = []
    for tr in tbl.iter(_w("tr")):
        if _nearest(tr, _w("tbl")) is not tbl:
            continue  # a row of a nested table: flattened into its cell's text instead
        cells: list[str] = []
        trpr = tr.find(_w("trPr"))
        grid_before = trpr.find(_w("gridBefore")) if trpr is not None else None
        cells.extend([""] * int(_wval(grid_before, "0") or 0))
        for tc in tr.iter(_w("tc")):
            if _nearest(tc, _w("tr")) is not tr:
                continue
            tcpr = tc.find(_w("tcPr"))
            span = 1
            continued = False
            if tcpr is not None:
                span = int(_wval(tcpr.find(_w("gridSpan")), "1") or 1)
                vmerge = tcpr.find(_w("vMerge"))
                # <w:vMerge/> without val="restart" continues the cell above: leave it empty.
                continued = vmerge is not None and _wval(vmerge, "continue") != "restart"
            text = "" if continued else _docx_cell_text(tc, numbering)
            cells.append(text)
            cells.extend([""] * (span - 1))  # keep later cells in their grid columns
        rows.append(cells)
    return rows


def _nearest(el: Any, tag: str) -> Any:
    node = el.getparent()
    while node is not None and node.tag != tag:
        node = node.getparent()
    return node


def _docx_cell_text(tc: Any, numbering: _DocxNumbering) -> str:
    fragments: list[str] = []
    for kind, element in _iter_docx_blocks(tc):
        if kind == "p":
            fragments.extend(_docx_paragraph_text(element, numbering).splitlines())
        else:
            for row in _docx_table_rows(element, numbering):
                fragments.extend(row)
    return _cell_text("\n".join(fragments))
