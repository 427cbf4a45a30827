"""Turn an uploaded or corpus file into plain text shaped like ``corpus/*.txt``.

The parser (``assistant.ingest.structure``) only understands plain text: headings on their own line
or run into a paragraph (一、 / （一） / 1. / （1）), paragraphs separated by line breaks, task
tables as TAB-separated rows. This module gets every supported format into that shape and
refuses, with a plain-words reason, whatever it cannot read.

Public API::

    read_document(path, limits) -> ReadResult(text, kind, encoding, sha256, notes)
    DocumentRejected(Exception)       # str(exc) == "<file name>: <中文原因>（<English reason>）"

Decisions worth knowing:

* The format is judged by the bytes, never by the extension: ``%PDF-`` -> pdf, a zip holding
  ``word/document.xml`` -> docx, text that starts like an HTML page -> html, other decodable
  text -> text. A file whose extension disagrees (a .docx saved as .txt or .pdf) is read by its
  content; the mismatch is logged and reported in ``ReadResult.notes``.
* Known-but-unsupported containers get a specific reason (old .doc / encrypted Office, other
  zip files, RTF, MHT, images, programs) instead of a generic one.
* Hostile files are refused before they cost memory (limits in :class:`ReaderLimits`): a
  .docx is inflated member by member in small chunks, counting the bytes that really come out
  (the zip directory's sizes are claims, a zip bomb lies in them), before python-docx sees it;
  a PDF's pages are counted before any text is extracted; text and HTML are measured in
  characters before an HTML parser runs.
* Output shapes: docx and html paragraphs are separated by a blank line, like the corpus
  files; PDF keeps its physical lines (one per line, the normaliser downstream re-joins them);
  tables of every format become one TAB-joined line per row with merged cells left empty.

Modules: ``base`` (ReadResult, ReaderLimits, DocumentRejected, size checks), ``text`` (decoding,
charset detection, plain text), ``cells`` (table cells and paragraph lines shared by the formats
below), ``zip_safety`` (zip-bomb checks before python-docx), ``docx`` and ``docx_numbering``,
``pdf``, ``html`` (trafilatura and the stdlib fallback parser). This module judges the format
and dispatches.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

from assistant.ingest.readers.base import (
    KINDS,
    DocumentRejected,
    ReaderLimits,
    ReadResult,
    _check_text_length,
    _read_bytes,
)
from assistant.ingest.readers.docx import _read_docx
from assistant.ingest.readers.html import _read_html
from assistant.ingest.readers.pdf import _read_pdf
from assistant.ingest.readers.text import (
    _clean_plain_text,
    _decode_text,
    _looks_like_html,
    _reject_unsupported_text_formats,
)
from assistant.ingest.readers.zip_safety import _check_zip_member_count

__all__ = ["KINDS", "DocumentRejected", "ReadResult", "ReaderLimits", "read_document"]

log = logging.getLogger(__name__)

# Which kind an extension promises; only used to tell the user about a mismatch.
_EXTENSION_KINDS = {
    ".txt": "text", ".text": "text", ".md": "text",
    ".docx": "docx",
    ".pdf": "pdf",
    ".html": "html", ".htm": "html", ".shtml": "html", ".xhtml": "html",
}
_KIND_NAMES = {"text": "纯文本", "docx": "Word (.docx)", "pdf": "PDF", "html": "网页 (HTML)"}


def read_document(path: Path, limits: ReaderLimits | int) -> ReadResult:
    """Read ``path`` into corpus-shaped plain text, or raise :class:`DocumentRejected`.

    `limits` may be a bare byte limit (the other limits then keep their defaults)."""
    if isinstance(limits, int):
        limits = ReaderLimits(max_bytes=limits)
    max_bytes = limits.max_bytes
    path = Path(path)
    name = path.name
    data = _read_bytes(path, max_bytes)
    digest = hashlib.sha256(data).hexdigest()

    notes: list[str] = []
    encoding: str | None = None
    kind = _sniff_container(data, name, limits)
    if kind == "pdf":
        text = _read_pdf(data, name, notes, limits)
    elif kind == "docx":
        text = _read_docx(data, name, limits)
    else:
        decoded = _decode_text(data)
        if decoded is None:
            raise DocumentRejected(name, "不是可识别的文档格式", "not a recognised document format: binary or undecodable content")
        decoded_text, encoding = decoded
        _reject_unsupported_text_formats(decoded_text, name)
        # Before any parser: trafilatura/lxml on a huge page is slow and holds many copies of it.
        _check_text_length(len(decoded_text), name, limits)
        if _looks_like_html(decoded_text):
            kind = "html"
            text = _read_html(decoded_text)
        else:
            kind = "text"
            text = _clean_plain_text(decoded_text)

    if not text.strip():
        raise DocumentRejected(name, "文件为空，没有可读的文字", "the file is empty: no text found")
    _check_text_length(len(text), name, limits)  # a .docx within its byte limits can still yield too much

    expected = _EXTENSION_KINDS.get(path.suffix.lower())
    if expected is not None and expected != kind:
        note = (
            f"扩展名 {path.suffix} 与内容不符，已按{_KIND_NAMES[kind]}内容读取"
            f"（extension {path.suffix} but the content is {kind}; read as {kind}）"
        )
        log.warning("%s: %s", name, note)
        notes.append(note)
    return ReadResult(text=text, kind=kind, encoding=encoding, sha256=digest, notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------

# Magic numbers of common non-document files, so the rejection can say what the file looks like.
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG 图片", "a PNG image"),
    (b"\xff\xd8\xff", "JPEG 图片", "a JPEG image"),
    (b"GIF87a", "GIF 图片", "a GIF image"),
    (b"GIF89a", "GIF 图片", "a GIF image"),
    (b"II*\x00", "TIFF 图片", "a TIFF image"),
    (b"MM\x00*", "TIFF 图片", "a TIFF image"),
    (b"MZ", "Windows 程序", "a Windows executable"),
    (b"\x7fELF", "程序文件", "an executable"),
    (b"\x1f\x8b", "gzip 压缩包", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包", "a 7z archive"),
    (b"Rar!", "RAR 压缩包", "a RAR archive"),
)


def _sniff_container(data: bytes, name: str, limits: ReaderLimits) -> str | None:
    """Return "pdf" or "docx" for those containers, None for "try it as text"; reject known others."""
    # The PDF spec tolerates junk before the header, so look in the first KB, not only at 0.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        _check_zip_member_count(data, name, limits)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except Exception as exc:  # zipfile raises BadZipFile, but also ValueError, EOFError, ... on junk
            raise DocumentRejected(
                name, "压缩文件已损坏，无法读取", f"damaged zip/Office file: {type(exc).__name__}"
            ) from exc
        if "word/document.xml" in names:
            return "docx"
        raise DocumentRejected(
            name,
            "不是可识别的文档格式：这是压缩包或其他 Office 文件（不是 Word .docx）",
            "not a recognised document format: a zip archive or non-Word Office file",
        )
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise DocumentRejected(
            name,
            "旧版 Word (.doc/.wps) 或加密的 Office 文件无法读取，请另存为 .docx 或 PDF",
            "legacy .doc/.wps or password-protected Office file; save it as .docx or PDF",
        )
    for magic, what_zh, what_en in _BINARY_MAGIC:
        if data.startswith(magic):
            raise DocumentRejected(
                name, f"不是可识别的文档格式（看起来是{what_zh}）", f"not a recognised document format: looks like {what_en}"
            )
    return None
