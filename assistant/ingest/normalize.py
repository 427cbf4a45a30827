"""Raw document text -> clean text: one paragraph per line, noise removed, characters kept.

What is noise: page numbers ("- 3 -"), Markdown markup (#, **), web-page chrome ("当前位置:",
"来源: … 发布时间: …"), non-breaking spaces and blank lines. Everything else is kept as written;
lines a PDF broke mid-sentence or mid-word are joined without inserting anything.

Task tables are left line by line (their cells are broken over lines on purpose); the table
parser reassembles them. Lines complete by themselves are never joined: info-bar fields
("发文字号: …"), pipe-separated rows, titles, dates. A web page that lost its line breaks
("…水平。 一、完善… 1.建立…") gets one line per numbered item back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from assistant.ingest.infobar import is_infobar_line
from assistant.ingest.metadata import is_title_line
from assistant.ingest.numbering import match_marker
from assistant.ingest.tables import is_table_caption, is_table_header

_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－]\s*\d{1,3}\s*[-—–－]|第\s*\d{1,3}\s*页(?:\s*[,，/]?\s*共\s*\d{1,3}\s*页)?"
    r"|\d{1,3}\s*/\s*\d{1,3})$"
)
_WEB_CHROME = re.compile(
    r"^(?:当前位置\s*[:：].*|您现在的位置\s*[:：].*|【?\s*(?:打印|关闭|字号|大|中|小)\s*】?(?:\s*【?\s*(?:打印|关闭|字号|大|中|小)\s*】?)*"
    r"|分享到\s*[:：]?.*|扫一扫.*手机.*)$"
)
_PUBLISHED = re.compile(r"发布(?:时间|日期)\s*[:：]?\s*(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})")
_SOURCE = re.compile(r"来源\s*[:：]\s*(.+?)\s*(?:发布(?:时间|日期)|$)")
_BOLD = re.compile(r"\*\*|__")
_MD_HEADING = re.compile(r"^#{1,6}\s*")
_ODD_SPACES = re.compile(r"[\u00a0\u2002\u2003\u2009\u200b\u3000\ufeff]")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef“”‘’《》〈〉「」『』【】—…·"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])[ \t]+(?=[{_CJK}{_CJK_PUNCT}])")
_DATE_LINE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*印发)?$")
_DOC_NUMBER_LINE = re.compile(r"〔\s*\d{4}\s*〕\s*\d+\s*号$")
_STANDS_ALONE = re.compile(r"(?:的通知|特此通知。?|[（(]此件[^（）()]*[）)])$")
# A web page that lost its line breaks: "…水平。 一、完善… 1.建立…" (items after a space).
_INLINE_ITEM = re.compile(r"[ \t\u00a0\u3000]+(?=[一二三四五六七八九十]{1,3}、|\d{1,2}[.．、](?!\d)"
                          r"|[（(](?:[一二三四五六七八九十]{1,3}|\d{1,2})[）)])")
# A hard-wrapped (PDF) text has many lines of one width, and a page holds more than 20 characters.
_MIN_WRAPPED_LINES = 30
_MIN_WRAP_WIDTH = 40
_FOOTER_START = re.compile(r"^(?:抄送|抄报|主送)\s*[:：]|印发$|^[（(]?\s*共印\s*\d+\s*份\s*[)）]?$")

# A paragraph ends at these; a line ending otherwise was broken by layout.
_SENTENCE_END = "。！？!?"
_SOFT_END = "；;：:"
_OPENERS = {"《": "》", "（": "）", "(": ")", "“": "”", "「": "」", "【": "】"}


@dataclass
class CleanText:
    """The clean text of one document and what was taken out of it."""

    text: str
    removed: list[str] = field(default_factory=list)   # noise, for the no-loss check
    published: str | None = None                        # from web chrome, ISO date
    source: str | None = None                           # from web chrome


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _unbalanced(text: str) -> bool:
    for opener, closer in _OPENERS.items():
        if text.count(opener) > text.count(closer):
            return True
    return False


def _wrap_width(lines: list[str]) -> int | None:
    """The width a PDF wrapped the body at, if the text looks hard-wrapped; else None.

    A hard-wrapped text has many lines of (nearly) the same display width; paragraph-per-line
    text (web pages, Word exports) has widths all over the place.
    """
    widths = [display_width(line) for line in lines if display_width(line) >= 20]
    if len(widths) < _MIN_WRAPPED_LINES:
        return None
    counts: dict[int, int] = {}
    for w in widths:
        counts[w // 4] = counts.get(w // 4, 0) + 1
    bucket, hits = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    near = sum(counts.get(b, 0) for b in (bucket - 1, bucket, bucket + 1))
    if near < 0.35 * len(widths) or bucket * 4 < _MIN_WRAP_WIDTH:
        return None
    return bucket * 4


def _is_standalone_heading(line: str) -> bool:
    marker = match_marker(line)
    return marker is not None and not any(ch in line for ch in _SENTENCE_END + "；;")


def _keeps_alone(line: str, wrapped: bool) -> bool:
    """Lines that are complete by themselves even without closing punctuation."""
    return bool(_DATE_LINE.match(line) or _DOC_NUMBER_LINE.search(line) or is_title_line(line)
                or _FOOTER_START.search(line) or _STANDS_ALONE.search(line) or is_table_caption(line)
                or is_infobar_line(line) or line.startswith(("|", "•")) or line.endswith("|")
                or (not wrapped and _is_label(line)))


def _is_label(line: str) -> bool:
    """A short line without any punctuation: a letterhead, signature or heading, never a fragment."""
    return len(line) <= 30 and not re.search(r"[，,。、；;：:！!？?（）()“”《》]", line)


def _is_wrapped(line: str, wrap: int | None) -> bool:
    """Whether a hard-wrapping layout filled this line (so its end is not a paragraph end)."""
    return wrap is not None and display_width(line) >= wrap - 6


def _should_join(prev: str, prev_line: str, nxt: str, wrap: int | None) -> bool:
    """Whether `nxt` continues the paragraph `prev`, whose last physical line was `prev_line`."""
    wrapped = _is_wrapped(prev_line, wrap)
    if match_marker(nxt) or _keeps_alone(nxt, _is_wrapped(nxt, wrap)) or _keeps_alone(prev, wrapped):
        return False
    if _unbalanced(prev):
        return True
    if _is_standalone_heading(prev) and not wrapped and prev == prev_line:
        return False
    last = prev[-1]
    closes_sentence = last in _SENTENCE_END or (last in "”’）)》】" and prev[-2:-1] in tuple(_SENTENCE_END))
    if closes_sentence or last in _SOFT_END:
        # In hard-wrapped text a full line may end with 。 and still go on; elsewhere it ends.
        return wrapped
    return True


def _clean_line(line: str) -> tuple[str, list[str]]:
    """Strip markup and odd spaces from one line; return it with the markup removed."""
    removed: list[str] = []
    md = _MD_HEADING.match(line.lstrip())
    if md:
        removed.append(md.group(0).strip())
        line = line.lstrip()[md.end():]
    removed.extend(_BOLD.findall(line))
    line = _BOLD.sub("", line)
    line = _ODD_SPACES.sub(" ", line).strip()
    line = _SPACE_BETWEEN_CJK.sub("", line)
    return line, removed


def normalize(raw: str) -> CleanText:
    """Clean one document's raw text (see the module docstring for what is removed)."""
    clean = CleanText(text="")
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")

    # Pass 1: drop noise line by line; mark the lines that belong to a task table.
    lines: list[tuple[str, bool]] = []
    in_table = False
    for physical in raw.split("\n"):
        split = not in_table and not is_table_header(_ODD_SPACES.sub(" ", physical))
        for original in (_split_inline_items(physical) if split else [physical]):
            in_table = _take_line(original, in_table, clean, lines)

    # Pass 2: join lines that layout broke; table lines stay as they are.
    wrap = _wrap_width([line for line, tabular in lines if not tabular])
    paragraphs: list[str] = []
    previous_tabular, previous_line = True, ""
    for line, tabular in lines:
        if not tabular and not previous_tabular and _should_join(paragraphs[-1], previous_line, line, wrap):
            paragraphs[-1] += line
        else:
            paragraphs.append(line)
        previous_tabular, previous_line = tabular, line
    clean.text = "\n".join(paragraphs)
    return clean


def _take_line(original: str, in_table: bool, clean: CleanText, lines: list[tuple[str, bool]]) -> bool:
    """Pass 1 for one line: drop it if it is noise, else keep it (marked if it is a table line).
    Returns whether the table continues after it."""
    line, markup = _clean_line(original)
    clean.removed.extend(markup)
    if not line:
        return in_table
    if _PAGE_NUMBER.match(line):
        clean.removed.append(line)
        return in_table
    if _PUBLISHED.search(line):
        _read_chrome(line, clean)  # the page's 来源/发布时间 line stays: it is the document's own record
    if _WEB_CHROME.match(line):
        clean.removed.append(line)
        return in_table
    if is_table_header(_ODD_SPACES.sub(" ", original)):
        in_table = True
    elif in_table and _FOOTER_START.search(line):
        in_table = False
    lines.append((_table_line(original) if in_table else line, in_table))
    return in_table


def _split_inline_items(line: str) -> list[str]:
    """'…水平。 一、完善政务公开工作机制 1.建立…' -> one line per item. A space before a marker splits
    only after a sentence end or after a heading (a marker and text without punctuation)."""
    pieces, start = [], 0
    for m in _INLINE_ITEM.finditer(line):
        before = line[start:m.start()].strip()
        heading = match_marker(before) is not None and not re.search(r"[。；;，,：:！？!?]", before)
        if before and (before[-1] in "。；;！？!?" or heading):
            pieces.append(line[start:m.start()])
            start = m.end()
    return pieces + [line[start:]]


def _read_chrome(line: str, clean: CleanText) -> None:
    published = _PUBLISHED.search(line)
    if published:
        y, m, d = (int(g) for g in published.groups())
        clean.published = f"{y:04d}-{m:02d}-{d:02d}"
    source = _SOURCE.search(line)
    if source:
        clean.source = source.group(1)


def _table_line(original: str) -> str:
    """A table line keeps its inner spaces and tabs: they separate cells (units | deadline)."""
    return _BOLD.sub("", _ODD_SPACES.sub(" ", original)).strip(" \r")
