"""The entry step for every string that comes from outside: argv, batch lines, the web app, feedback.

Text is checked once, here, before anything stores, echoes or embeds it:
- invalid UTF-8 (argv decoded with surrogateescape) and lone surrogates are refused with a message
  (a lone surrogate cannot be encoded, so letting it through made the embedder retry and crash);
- control, zero-width and bidirectional-override characters are removed (they hide or reorder text);
- the length is checked against a limit, before the (possibly huge) string is cleaned.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.errors import InputRejected

# Characters no question or comment needs and that hide or reorder text: every control (Cc) and
# format (Cf) character — zero-width, bidi overrides and isolates, BOM, soft hyphen, invisible
# "tag" letters. Decided by `unicodedata`, so a newer Unicode's additions are covered too; the
# regex only picks out what could be one (everything but printable ASCII and common CJK).
_CANDIDATE = re.compile(r"[^\t\n\r\x20-\x7e\u3001-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e]")
_INVISIBLE_KINDS = frozenset({"Cc", "Cf"})
_LINE_BREAKS = re.compile(r"[\t\r\n\u2028\u2029]+")
_NEWLINE = re.compile(r"\r\n?|[\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Python decodes undecodable argv bytes 0x80-0xFF to U+DC80-U+DCFF (PEP 383 surrogateescape).
_ESCAPED_BYTE = re.compile(r"[\udc80-\udcff]")


def _drop_invisible(match: re.Match[str]) -> str:
    ch = match.group()
    return "" if unicodedata.category(ch) in _INVISIBLE_KINDS else ch


def clean_external(value: object, *, what: str, max_chars: int | None = None, multiline: bool = False) -> str:
    """`value` as clean text, or InputRejected saying what is wrong with `what` (e.g. "问题")."""
    if not isinstance(value, str):
        raise InputRejected(f"{what}必须是文本 (expected text, got {type(value).__name__})")
    if max_chars is not None and len(value) > 4 * max_chars + 64:
        # Far over the limit: refuse before cleaning, so a huge body costs nothing more.
        raise InputRejected(f"{what}太长（{len(value)} 字），请精简到 {max_chars} 字以内。")
    bad = _SURROGATE.search(value)
    if bad:
        if _ESCAPED_BYTE.fullmatch(bad.group()):
            raise InputRejected(f"{what}不是有效的 UTF-8 文本（第 {bad.start() + 1} 个字符处有无法解码的字节），"
                                "请检查终端或文件编码。")
        raise InputRejected(f"{what}含有无效字符（第 {bad.start() + 1} 个字符是孤立的代理码位 "
                            f"U+{ord(bad.group()):04X}），请重新输入。")
    text = _CANDIDATE.sub(_drop_invisible, value)
    text = _NEWLINE.sub("\n", text) if multiline else _LINE_BREAKS.sub(" ", text)
    text = text.strip()
    if max_chars is not None and len(text) > max_chars:
        raise InputRejected(f"{what}太长（{len(text)} 字），请精简到 {max_chars} 字以内。")
    return text


def has_lone_surrogate(text: str) -> bool:
    """True when `text` cannot be encoded as UTF-8 (so must not be sent back to a client)."""
    return _SURROGATE.search(text) is not None


def optional_external(value: object, *, what: str, max_chars: int | None = None) -> str | None:
    """Like `clean_external`, with None and "" meaning "not given"."""
    if value is None:
        return None
    text = clean_external(value, what=what, max_chars=max_chars)
    return text or None
