"""Bytes to text: BOMs, declared charsets, GB18030, charset-normalizer; plain text and HTML sniffing."""

from __future__ import annotations

import codecs
import re
import unicodedata

from assistant.ingest.readers.base import DocumentRejected

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
