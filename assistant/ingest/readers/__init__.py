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
"""

from __future__ import annotations

from assistant.errors import AssistantError
import codecs
import hashlib
import io
import logging
import math
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

KINDS = ("text", "docx", "pdf", "html")

# Which kind an extension promises; only used to tell the user about a mismatch.
_EXTENSION_KINDS = {
    ".txt": "text", ".text": "text", ".md": "text",
    ".docx": "docx",
    ".pdf": "pdf",
    ".html": "html", ".htm": "html", ".shtml": "html", ".xhtml": "html",
}
_KIND_NAMES = {"text": "纯文本", "docx": "Word (.docx)", "pdf": "PDF", "html": "网页 (HTML)"}


@dataclass(frozen=True)
class ReadResult:
    text: str
    kind: str  # one of KINDS
    encoding: str | None  # the text encoding used ("utf-8", "utf-8-sig", "gb18030", ...); None for docx/pdf
    sha256: str  # hex digest of the raw file bytes
    notes: tuple[str, ...] = ()  # non-fatal remarks for the user (extension mismatch, pages without text)


class DocumentRejected(AssistantError):
    """The file cannot be ingested. ``str(exc)`` names the file and says why, in plain words."""

    def __init__(self, filename: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"{filename}: {reason_zh}（{reason_en}）")
        self.filename = filename
        self.reason_zh = reason_zh
        self.reason_en = reason_en


@dataclass(frozen=True)
class ReaderLimits:
    """What a reader refuses before spending memory on a file (see the settings of the same names)."""
    max_bytes: int = 20_000_000
    max_unpacked_bytes: int = 60_000_000
    max_compression_ratio: float = 100.0
    max_archive_members: int = 2_000
    max_pdf_pages: int = 500
    max_text_chars: int = 5_000_000
    # Small XML parts (styles, settings) legitimately compress far past any sane ratio; only a
    # member that has already produced this much is judged by its compression ratio.
    ratio_check_after_bytes: int = 1_000_000
    # Far beyond any part name Word writes ("word/embeddings/Microsoft_Excel_Worksheet1.xlsx").
    max_member_name_chars: int = 255

    @classmethod
    def from_settings(cls, settings: Any) -> "ReaderLimits":
        return cls(max_bytes=settings.max_document_bytes, max_unpacked_bytes=settings.max_unpacked_bytes,
                   max_compression_ratio=settings.max_compression_ratio,
                   max_archive_members=settings.max_archive_members, max_pdf_pages=settings.max_pdf_pages,
                   max_text_chars=settings.max_text_chars)


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
# Bytes, sniffing, decoding
# --------------------------------------------------------------------------------------------


def _human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n} B"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    name = path.name
    try:
        if not path.is_file():
            raise DocumentRejected(name, "不是普通文件或文件不存在", "not a regular file or does not exist")
        size = path.stat().st_size
        # Check the size before reading so an oversized upload is never loaded into memory.
        if size > max_bytes:
            raise _too_large(name, size, max_bytes)
        if size == 0:
            raise DocumentRejected(name, "文件为空", "the file is empty (0 bytes)")
        with path.open("rb") as fh:
            # read(n) allocates n bytes up front: ask for the stat size, not the limit.
            data = fh.read(size + 1)
            if len(data) > size:  # the file grew since stat(): read on up to the limit
                data += fh.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise DocumentRejected(name, "无法打开文件", f"cannot open the file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # the file grew between stat() and read()
        raise _too_large(name, len(data), max_bytes)
    return data


def _check_text_length(chars: int, name: str, limits: ReaderLimits) -> None:
    if chars > limits.max_text_chars:
        raise DocumentRejected(
            name,
            f"文字内容 {chars:,} 字，超过上限 {limits.max_text_chars:,} 字",
            f"too much text: {chars:,} characters, limit {limits.max_text_chars:,}",
        )


def _too_large(name: str, size: int, max_bytes: int) -> DocumentRejected:
    return DocumentRejected(
        name,
        f"文件大小 {_human_size(size)} 超过上限 {_human_size(max_bytes)}",
        f"file too large: {size:,} bytes, limit {max_bytes:,} bytes",
    )


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


_META_CHARSET_RE = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Labels that really mean "GBK family"; gb18030 is a superset of all of them.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}


def _decode_text(data: bytes) -> tuple[str, str] | None:
    """Decode bytes as text, returning (text, encoding) or None when they are not text.

    Order matters: strict UTF-8 first (it practically never validates by accident), then a
    charset the page declares, then strict GB18030 (superset of GB2312/GBK, the other encoding
    Chinese government files come in), then charset-normalizer's guess. Every candidate must
    also look like text, so a binary file that happens to decode is still refused.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8):]  # a lying BOM: try the other encodings
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
        return (text, "utf-16") if _plausible_text(text) else None

    if b"\x00" in data:  # NUL bytes: a binary file (UTF-16 without BOM is not worth guessing)
        return None

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return (text, "utf-8") if _plausible_text(text) else None

    candidates: list[str] = []
    declared = _declared_charset(data)
    if declared:
        candidates.append(declared)
    candidates.append("gb18030")
    gb_fallback: str | None = None
    for enc in dict.fromkeys(candidates):
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if not _plausible_text(text):
            continue
        # Big5 or other double-byte text also "decodes" as GB18030; real simplified Chinese
        # uses GB2312 characters almost exclusively, garbage does not.
        if enc == "gb18030" and not _mostly_gb2312(text):
            gb_fallback = text
            continue
        return text, enc

    best = _charset_normalizer_guess(data)
    if best is not None:
        return best
    if gb_fallback is not None:
        return gb_fallback, "gb18030"
    return None


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET_RE.search(data[:4096])
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore").lower()
    if label in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        return None
    text = str(best)
    if not _plausible_text(text):
        return None
    enc = "gb18030" if best.encoding.lower() in _GB_FAMILY else best.encoding
    return text, enc


def _plausible_text(text: str) -> bool:
    """True when control, unassigned, private-use and replacement characters are rare."""
    text = text[:200_000]  # binary garbage shows early; no need to walk a 20 MB file
    if not text:
        return True
    bad = 0
    for ch in text:
        if ch in "\t\n\r\f\v":
            continue
        if ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs"):
            bad += 1
    return bad <= max(2, len(text) // 100)


def _mostly_gb2312(text: str) -> bool:
    hanzi = [ch for ch in text[:200_000] if "\u4e00" <= ch <= "\u9fff"]
    if len(hanzi) < 20:
        return True
    common = 0
    for ch in hanzi:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= 0.8 * len(hanzi)


def _reject_unsupported_text_formats(text: str, name: str) -> None:
    head = text[:2048].lstrip("\ufeff \t\r\n")
    if head.startswith("{\\rtf"):
        raise DocumentRejected(name, "RTF 格式暂不支持，请另存为 .docx 或 PDF", "RTF is not supported; save it as .docx or PDF")
    if "MIME-Version:" in head and "multipart/related" in head.lower():
        raise DocumentRejected(
            name, "MHT 网页归档暂不支持，请另存为 .html", "MHT web archives are not supported; save the page as .html"
        )


_LEADING_JUNK_RE = re.compile(r"^(?:\s+|<\?xml[^>]*\?>|<!--.*?-->)+", re.S)
_HTML_START_RE = re.compile(r"<(?:!doctype\s+html|html|head|body)\b", re.I)
_HTML_CLOSING_TAG_RE = re.compile(r"</(?:p|div|table|td|span|a|li|h[1-6])>|<br\s*/?>", re.I)


def _looks_like_html(text: str) -> bool:
    # Saved pages may start with an XML declaration or a "<!-- saved from url=... -->" comment.
    head = _LEADING_JUNK_RE.sub("", text[:8192].lstrip("\ufeff"), count=1)
    if _HTML_START_RE.match(head):
        return True
    # A bare fragment ("<div>...</div>") is HTML too when it is full of closing tags.
    return head.startswith("<") and len(_HTML_CLOSING_TAG_RE.findall(head[:4096])) >= 3


def _clean_plain_text(text: str) -> str:
    # Plain text is handed on as published (the normaliser owns the mess); only unify line ends.
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------
# Shared text helpers
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# .docx archive checks (zip bombs)
# --------------------------------------------------------------------------------------------

_ZIP_END_RECORD = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP_END_SIGNATURE = b"PK\x05\x06"
_ZIP_CENTRAL_SIGNATURE = b"PK\x01\x02"
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_ZIP_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP_MAX_COMMENT = 0xFFFF
_ZIP64_MARKER = 0xFFFFFFFF
_ZIP_ENCRYPTED_FLAG = 0x1
# Output of one inflate step: the most memory a member can take while it is checked.
_INFLATE_CHUNK = 1 << 16
# Word keeps embedded workbooks and chart data (.xlsx, themselves zips) here; python-docx keeps
# them as opaque blobs and nothing ever unpacks them, so only there is a nested archive normal.
_DOCX_EMBEDDINGS = "word/embeddings/"
# Not gzip: compressed pictures (.emz/.wmz, from WPS and converted .doc files) start like one.
_NESTED_ARCHIVE_MAGIC = (b"PK\x03\x04", b"7z\xbc\xaf\x27\x1c", b"Rar!")
_MAGIC_PREFIX = max(len(magic) for magic in _NESTED_ARCHIVE_MAGIC)


def _damaged_docx(name: str, detail: str) -> DocumentRejected:
    return DocumentRejected(name, "Word 文档已损坏，无法读取", f"damaged .docx: {detail}")


def _suspicious_docx(name: str, reason_zh: str, reason_en: str) -> DocumentRejected:
    return DocumentRejected(name, f"Word 文档{reason_zh}，疑似恶意构造的文件，不予读取", reason_en)


def _member_label(member: str) -> str:
    return ascii(member[:80])  # a hostile name may hold control characters or be endless


def _check_zip_member_count(data: bytes, name: str, limits: ReaderLimits) -> None:
    """Refuse a zip with too many members before ``zipfile`` builds an object for each one.

    zipfile reads the whole central directory up front, roughly 600 bytes of Python objects per
    46-byte entry, so a 20 MB zip of empty entries costs a few hundred MB before any check on
    the ZipFile could run. The entries are counted by their signature inside the directory the
    end record points at, which is what zipfile will read; without a plain end record (zip64,
    or none at all) the whole file is searched, which can only over-count.
    """
    start, end = 0, len(data)
    record = data.rfind(_ZIP_END_SIGNATURE, max(0, len(data) - _ZIP_END_RECORD.size - _ZIP_MAX_COMMENT))
    if record >= 0 and record + _ZIP_END_RECORD.size <= len(data):
        directory_size = _ZIP_END_RECORD.unpack_from(data, record)[5]
        if directory_size != _ZIP64_MARKER:
            start, end = max(0, record - directory_size), record
    members = data.count(_ZIP_CENTRAL_SIGNATURE, start, end)
    if members > limits.max_archive_members:
        raise _too_many_members(name, members, limits)


def _too_many_members(name: str, members: int, limits: ReaderLimits) -> DocumentRejected:
    return _suspicious_docx(
        name,
        f"内含 {members:,} 个部件，超过上限 {limits.max_archive_members:,} 个",
        f"the archive holds {members:,} members, limit {limits.max_archive_members:,}",
    )


def _inspect_docx_archive(archive: zipfile.ZipFile, data: bytes, name: str, limits: ReaderLimits) -> None:
    """Inflate every member in small chunks, counting what really comes out, before python-docx runs.

    The sizes in the zip directory are claims: a bomb declares a few KB and inflates to GB, and
    zipfile's ``read()`` inflates a whole member in one call (up to 2 GB) before it notices.
    Here nothing larger than one chunk is ever held, and the file is refused as soon as the
    running total, a member's real compression ratio, or a member's declared size is exceeded.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_archive_members:
        raise _too_many_members(name, len(infos), limits)
    seen: set[str] = set()
    for info in infos:
        member = info.filename
        if len(member) > limits.max_member_name_chars:
            raise _suspicious_docx(
                name, "内有名称过长的部件",
                f"a member name is {len(member):,} characters long, limit {limits.max_member_name_chars:,}",
            )
        if member in seen:  # python-docx would read one of them; which one is the attacker's choice
            raise _suspicious_docx(name, "内有重名的部件", f"two members are named {_member_label(member)}")
        seen.add(member)
        if info.flag_bits & _ZIP_ENCRYPTED_FLAG:
            raise DocumentRejected(name, "Word 文档的内容已加密，无法读取", "the .docx has encrypted members")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # OOXML allows only these two; bzip2/lzma also inflate without any output bound in zipfile.
            raise DocumentRejected(
                name, "Word 文档使用了不支持的压缩方式，无法读取",
                f"member {_member_label(member)} uses zip compression method {info.compress_type}; "
                "a .docx uses only stored or deflated members",
            )
    unpacked = 0
    for info in infos:
        unpacked = _verify_docx_member(data, info, name, limits, unpacked)


def _verify_docx_member(data: bytes, info: zipfile.ZipInfo, name: str, limits: ReaderLimits, unpacked: int) -> int:
    """Inflate one member, checking it as it comes out; return the archive's running unpacked total."""
    member = _member_label(info.filename)
    payload = _member_payload(data, info, name)
    produced = 0
    crc = 0
    head = b""
    try:
        for chunk, consumed in _inflate_chunks(payload, info.compress_type):
            produced += len(chunk)
            unpacked += len(chunk)
            crc = zlib.crc32(chunk, crc)
            if len(head) < _MAGIC_PREFIX:
                head += chunk[: _MAGIC_PREFIX - len(head)]
            if unpacked > limits.max_unpacked_bytes:
                raise _suspicious_docx(
                    name, f"解压后超过 {_human_size(limits.max_unpacked_bytes)}",
                    f"the archive inflates past {limits.max_unpacked_bytes:,} bytes, the limit",
                )
            ratio = produced / max(consumed, 1)
            if produced > limits.ratio_check_after_bytes and ratio > limits.max_compression_ratio:
                raise _suspicious_docx(
                    name, f"内有压缩比超过 {limits.max_compression_ratio:g}:1 的部件（压缩炸弹）",
                    f"member {member} inflates more than {limits.max_compression_ratio:g} times its compressed size",
                )
            if produced > info.file_size:
                raise _suspicious_docx(
                    name, "的压缩目录与实际内容不符：部件解压后远大于声明的大小（压缩炸弹）",
                    f"member {member} declares {info.file_size:,} bytes but inflates to more",
                )
    except zlib.error as exc:
        raise _damaged_docx(name, f"member {member}: {exc}") from exc
    if produced != info.file_size or crc != info.CRC:
        raise _damaged_docx(name, f"member {member} does not match its size or checksum")
    if head.startswith(_NESTED_ARCHIVE_MAGIC) and not info.filename.startswith(_DOCX_EMBEDDINGS):
        raise _suspicious_docx(name, "内嵌了压缩包", f"member {member} is itself an archive")
    return unpacked


def _member_payload(data: bytes, info: zipfile.ZipInfo, name: str) -> memoryview:
    """The member's compressed bytes, located through its local header as zipfile does."""
    offset = info.header_offset
    if offset < 0 or offset + _ZIP_LOCAL_HEADER.size > len(data):
        raise _damaged_docx(name, f"member {_member_label(info.filename)} lies outside the file")
    fields = _ZIP_LOCAL_HEADER.unpack_from(data, offset)
    if fields[0] != _ZIP_LOCAL_SIGNATURE:
        raise _damaged_docx(name, f"member {_member_label(info.filename)} has no local header")
    name_length, extra_length = fields[9], fields[10]
    start = offset + _ZIP_LOCAL_HEADER.size + name_length + extra_length
    end = start + info.compress_size
    if end > len(data):
        raise _damaged_docx(name, f"member {_member_label(info.filename)} runs past the end of the file")
    return memoryview(data)[start:end]


def _inflate_chunks(payload: memoryview, method: int) -> Iterator[tuple[bytes, int]]:
    """Yield (at most _INFLATE_CHUNK bytes of output, compressed bytes consumed so far).

    Input goes in in chunks too: ``unconsumed_tail`` is a copy, and copying the rest of a large
    member after every output chunk would be quadratic.
    """
    if method == zipfile.ZIP_STORED:
        for start in range(0, len(payload), _INFLATE_CHUNK):
            end = min(start + _INFLATE_CHUNK, len(payload))
            yield bytes(payload[start:end]), end
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # zip members are raw deflate streams
    fed = 0
    while not inflater.eof:
        pending: bytes | memoryview
        if inflater.unconsumed_tail:
            pending = inflater.unconsumed_tail
        else:
            pending = payload[fed:fed + _INFLATE_CHUNK]
            fed += len(pending)
        out = inflater.decompress(pending, _INFLATE_CHUNK)
        if out:
            yield out, fed - len(inflater.unconsumed_tail)
        elif not pending:  # all input used, nothing more comes out, and the stream has not ended
            raise zlib.error("the compressed data ends early")


# --------------------------------------------------------------------------------------------
# .docx
# --------------------------------------------------------------------------------------------

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def _w(tag: str) -> str:
    return f"{{{_W_NS}}}{tag}"


def _wval(el: Any, default: str | None = None) -> str | None:
    return default if el is None else el.get(_w("val"), default)


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


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    suffix: str = "tab"
    legal: bool = False  # w:isLgl: show every level as arabic digits


class _DocxNumbering:
    """Reconstructs the visible labels of Word's automatic numbering (w:numPr).

    Word keeps "一、" / "（一）" / "1." out of the paragraph text and draws it from
    numbering.xml; without this the headings lose the markers the parser relies on.
    Counters are kept per abstract definition, as Word does (two w:num sharing one
    abstractNum continue each other unless one carries a startOverride).
    """

    def __init__(self, document: Any) -> None:
        self._abstract: dict[str, dict[int, _Level]] = {}
        self._abstract_style_link: dict[str, str] = {}
        self._style_levels: dict[tuple[str, str], int] = {}
        self._nums: dict[str, tuple[str, dict[int, int], dict[int, _Level]]] = {}
        self._counters: dict[str, list[int | None]] = {}
        self._started: set[str] = set()
        self._styles: dict[str, Any] = {}
        self._default_style: str | None = None
        self._load_styles(document)
        self._load_numbering(document)

    # -- loading --------------------------------------------------------------------------

    def _load_styles(self, document: Any) -> None:
        try:
            styles_el = document.styles.element
        except Exception:  # no styles part
            return
        for style in styles_el.findall(_w("style")):
            style_id = style.get(_w("styleId"))
            if style_id:
                self._styles[style_id] = style
                if style.get(_w("type")) == "paragraph" and style.get(_w("default")) in ("1", "true", "on"):
                    self._default_style = style_id

    def _load_numbering(self, document: Any) -> None:
        try:
            numbering_el = document.part.numbering_part.element
        except Exception:  # no numbering part: nothing is auto-numbered
            return
        for abstract in numbering_el.findall(_w("abstractNum")):
            abs_id = abstract.get(_w("abstractNumId"))
            self._abstract[abs_id] = {
                int(lvl.get(_w("ilvl"), "0")): self._parse_level(lvl) for lvl in abstract.findall(_w("lvl"))
            }
            for lvl in abstract.findall(_w("lvl")):
                linked_style = _wval(lvl.find(_w("pStyle")))
                if linked_style:
                    self._style_levels[(abs_id, linked_style)] = int(lvl.get(_w("ilvl"), "0"))
            link = abstract.find(_w("numStyleLink"))
            if link is not None:
                self._abstract_style_link[abs_id] = _wval(link) or ""
        for num in numbering_el.findall(_w("num")):
            num_id = num.get(_w("numId"))
            abs_id = _wval(num.find(_w("abstractNumId")))
            starts: dict[int, int] = {}
            level_overrides: dict[int, _Level] = {}
            for override in num.findall(_w("lvlOverride")):
                ilvl = int(override.get(_w("ilvl"), "0"))
                start = override.find(_w("startOverride"))
                if start is not None:
                    starts[ilvl] = int(_wval(start, "1") or 1)
                lvl = override.find(_w("lvl"))
                if lvl is not None:
                    level_overrides[ilvl] = self._parse_level(lvl)
            if num_id and abs_id is not None:
                self._nums[num_id] = (abs_id, starts, level_overrides)

    @staticmethod
    def _parse_level(lvl: Any) -> _Level:
        level = _Level()
        level.start = int(_wval(lvl.find(_w("start")), "1") or 1)
        level.fmt = _wval(lvl.find(_w("numFmt")), "decimal") or "decimal"
        level.text = _wval(lvl.find(_w("lvlText")), "") or ""
        level.suffix = _wval(lvl.find(_w("suff")), "tab") or "tab"
        is_lgl = lvl.find(_w("isLgl"))
        level.legal = is_lgl is not None and _wval(is_lgl, "true") not in ("0", "false", "off")
        return level

    # -- lookup ---------------------------------------------------------------------------

    def _resolve_abstract(self, abs_id: str) -> str:
        # numStyleLink: the real definition hangs off the numbering of a list style.
        link = self._abstract_style_link.get(abs_id)
        if link:
            style_num = self._style_numpr(link)[0]
            if style_num and style_num in self._nums:
                return self._nums[style_num][0]
        return abs_id

    def _style_numpr(self, style_id: str | None) -> tuple[str | None, int | None]:
        """numId/ilvl from a paragraph style or the styles it is based on."""
        seen: set[str] = set()
        while style_id and style_id not in seen and style_id in self._styles:
            seen.add(style_id)
            style = self._styles[style_id]
            ppr = style.find(_w("pPr"))
            numpr = ppr.find(_w("numPr")) if ppr is not None else None
            if numpr is not None:
                num_id = _wval(numpr.find(_w("numId")))
                ilvl = _wval(numpr.find(_w("ilvl")))
                return num_id, int(ilvl) if ilvl is not None else None
            style_id = _wval(style.find(_w("basedOn")))
        return None, None

    def label_for(self, p: Any) -> tuple[str, str]:
        """(label, separator) for paragraph ``p``; ("", "") when it is not numbered.

        Advances the counters, so call it once per paragraph, in document order.
        """
        ppr = p.find(_w("pPr"))
        style_id = _wval(ppr.find(_w("pStyle"))) if ppr is not None else None
        style_id = style_id or self._default_style
        num_id, ilvl = None, None
        numpr = ppr.find(_w("numPr")) if ppr is not None else None
        if numpr is not None:
            num_id = _wval(numpr.find(_w("numId")))
            lvl_val = _wval(numpr.find(_w("ilvl")))
            ilvl = int(lvl_val) if lvl_val is not None else None
        style_num, style_ilvl = self._style_numpr(style_id)
        num_id = num_id or style_num
        if not num_id or num_id == "0" or num_id not in self._nums:
            return "", ""
        abs_id, starts, level_overrides = self._nums[num_id]
        abs_id = self._resolve_abstract(abs_id)
        levels = dict(self._abstract.get(abs_id, {}))
        levels.update(level_overrides)
        if ilvl is None:
            ilvl = style_ilvl if style_ilvl is not None else self._level_linked_to_style(abs_id, style_id)
        if ilvl not in levels:
            return "", ""
        return self._advance(num_id, abs_id, starts, levels, ilvl)

    def _level_linked_to_style(self, abs_id: str, style_id: str | None) -> int:
        # A style-linked list says which level a style gets via <w:lvl><w:pStyle w:val=.../>.
        return self._style_levels.get((abs_id, style_id or ""), 0)

    def _advance(
        self, num_id: str, abs_id: str, starts: dict[int, int], levels: dict[int, _Level], ilvl: int
    ) -> tuple[str, str]:
        counters = self._counters.setdefault(abs_id, [None] * 9)
        if num_id not in self._started:
            self._started.add(num_id)
            for level_index, start in starts.items():  # "restart numbering" in Word
                if 0 <= level_index < 9:
                    counters[level_index] = start - 1
        current = counters[ilvl]
        counters[ilvl] = levels[ilvl].start if current is None else current + 1
        for deeper in range(ilvl + 1, 9):  # a new parent item restarts its children
            counters[deeper] = None

        level = levels[ilvl]
        if level.fmt == "bullet":
            return "", ""  # bullet glyphs are often private-use Symbol characters: drop them

        def substitute(match: re.Match[str]) -> str:
            k = int(match.group(1)) - 1
            source = levels.get(k, _Level())
            value = counters[k] if k < 9 and counters[k] is not None else source.start
            fmt = "decimal" if level.legal else source.fmt
            return _format_number(int(value or 0), fmt)

        label = re.sub(r"%([1-9])", substitute, level.text).strip()
        if not label:
            return "", ""
        # Word puts a TAB (or space) after the label; Chinese labels end in 、/）/. punctuation
        # that already separates, so only Latin-looking labels ("1.") get a space.
        needs_space = level.suffix != "nothing" and not _CJK_CHAR_RE.match(label[-1])
        return label, " " if needs_space else ""


_CN_DIGITS = "零一二三四五六七八九"
_CN_LEGAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"


def _chinese_number(n: int, digits: str = _CN_DIGITS, units: str = "十百千") -> str:
    """1 -> 一, 10 -> 十, 11 -> 十一, 21 -> 二十一, 105 -> 一百零五 (up to 99999)."""
    if n <= 0:
        return digits[0]
    if n >= 100_000:
        return str(n)
    big = ["", units[0], units[1], units[2], "万"]
    chars: list[str] = []
    text = str(n)
    zero_pending = False
    for i, d in enumerate(text):
        pos = len(text) - 1 - i
        if d == "0":
            zero_pending = bool(chars)
            continue
        if zero_pending:
            chars.append(digits[0])
            zero_pending = False
        chars.append(digits[int(d)] + big[pos])
    result = "".join(chars)
    # "一十一" is written "十一" in counting style.
    if digits is _CN_DIGITS and 10 <= n < 20:
        result = result[1:]
    return result


def _letters(n: int) -> str:
    # Word repeats the letter: 27 -> aa, 28 -> bb.
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _roman(n: int) -> str:
    table = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
             (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for value, numeral in table:
        while n >= value:
            out += numeral
            n -= value
    return out


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting",
               "taiwaneseCounting", "taiwaneseCountingThousand", "ideographLegalTraditional"):
        return _chinese_number(n)
    if fmt == "chineseLegalSimplified":
        return _chinese_number(n, _CN_LEGAL_DIGITS, "拾佰仟")
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(n))
    if fmt == "ideographTraditional":
        return "甲乙丙丁戊己庚辛壬癸"[(n - 1) % 10]
    if fmt == "ideographZodiac":
        return "子丑寅卯辰巳午未申酉戌亥"[(n - 1) % 12]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)  # ①
    if fmt == "decimalEnclosedParen" and 1 <= n <= 20:
        return chr(0x2474 + n - 1)  # ⑴
    if fmt == "decimalEnclosedFullstop" and 1 <= n <= 20:
        return chr(0x2488 + n - 1)  # ⒈
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "none":
        return ""
    return str(n)


# --------------------------------------------------------------------------------------------
# .pdf
# --------------------------------------------------------------------------------------------


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

    for items, height in zip(pages, heights):
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


# --------------------------------------------------------------------------------------------
# .html
# --------------------------------------------------------------------------------------------

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
