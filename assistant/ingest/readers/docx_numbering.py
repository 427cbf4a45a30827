"""Word's automatic numbering (numbering.xml) turned back into visible labels: 一、 （一） 1. （1）."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from assistant.ingest.readers.cells import _CJK_CHAR_RE

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _w(tag: str) -> str:
    return f"{{{_W_NS}}}{tag}"


def _wval(el: Any, default: str | None = None) -> str | None:
    return default if el is None else el.get(_w("val"), default)


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


def _enclosed(first: int) -> Callable[[int], str]:
    """Word's enclosed numerals exist for 1 to 20 only; past them the number is written plainly."""
    return lambda n: chr(first + n - 1) if 1 <= n <= 20 else str(n)


_NUMBER_FORMATS: dict[str, Callable[[int], str]] = {
    **dict.fromkeys(("chineseCounting", "chineseCountingThousand", "japaneseCounting",
                     "taiwaneseCounting", "taiwaneseCountingThousand", "ideographLegalTraditional"),
                    _chinese_number),
    "chineseLegalSimplified": lambda n: _chinese_number(n, _CN_LEGAL_DIGITS, "拾佰仟"),
    **dict.fromkeys(("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"),
                    lambda n: "".join("〇一二三四五六七八九"[int(d)] for d in str(n))),
    "ideographTraditional": lambda n: "甲乙丙丁戊己庚辛壬癸"[(n - 1) % 10],
    "ideographZodiac": lambda n: "子丑寅卯辰巳午未申酉戌亥"[(n - 1) % 12],
    **dict.fromkeys(("decimalEnclosedCircle", "decimalEnclosedCircleChinese"), _enclosed(0x2460)),  # ①
    "decimalEnclosedParen": _enclosed(0x2474),  # ⑴
    "decimalEnclosedFullstop": _enclosed(0x2488),  # ⒈
    **dict.fromkeys(("decimalFullWidth", "decimalFullWidth2"),
                    lambda n: "".join(chr(0xFF10 + int(d)) for d in str(n))),
    "decimalZero": lambda n: f"{n:02d}",
    "lowerLetter": _letters,
    "upperLetter": lambda n: _letters(n).upper(),
    "lowerRoman": _roman,
    "upperRoman": lambda n: _roman(n).upper(),
    "none": lambda n: "",
}


def _format_number(n: int, fmt: str) -> str:
    return _NUMBER_FORMATS.get(fmt, str)(n)
