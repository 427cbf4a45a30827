"""The numbering schemes of Chinese official documents: 一、 / （一） / 1. / （1） / ① / 一是.

Both the normaliser (never join a line that starts a new numbered item) and the structure
parser (build the heading tree) need to recognise the same markers, so they live here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM = "[一二三四五六七八九十百零〇]+"

# Words a bracket and numeral may begin without being a marker: "(一般…", "(十分…".
_NOT_AFTER_BARE = "一二三四五六七八九十）)般些切样致定律直起旦度并体次种道同分"

# Rank 1 is the outermost level; （一） and （1） share the bracket and differ by numeral. "(一加强…"
# (closing bracket lost in publishing) is still （一）. "一是…二是…" items are the innermost level.
_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^(?P<marker>(?P<num>{_CN_NUM})\s*[、，,．.])")),
    (2, re.compile(rf"^(?P<marker>[（(]\s*(?P<num>{_CN_NUM})\s*[）)]\s*[、．.]?)")),
    (2, re.compile(rf"^(?P<marker>[（(](?P<num>[一二三四五六七八九十]{{1,2}}))(?![{_NOT_AFTER_BARE}])")),
    (3, re.compile(r"^(?P<marker>(?P<num>\d{1,2})\s*(?:[、．]|\.(?!\d)))")),
    (4, re.compile(r"^(?P<marker>[（(]\s*(?P<num>\d{1,2})\s*[）)]\s*[、．.]?)")),
    (5, re.compile(r"^(?P<marker>(?P<num>[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]))")),
    (6, re.compile(r"^(?P<marker>(?P<num>[一二三四五六七八九十]{1,2})是)(?![否])")),
)



@dataclass(frozen=True)
class Marker:
    rank: int          # 1 = 一、, 2 = （一）, 3 = 1., 4 = （1）, 5 = ①, 6 = 一是
    number: int        # the item's ordinal
    text: str          # the marker as written, e.g. "（一）" or "6. "
    rest: str          # the line after the marker


def chinese_numeral(text: str) -> int:
    """Value of a Chinese numeral up to the hundreds (一 … 九十九, 一百…)."""
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def _number(raw: str) -> int:
    if raw.isdecimal():   # isdigit() also takes '①', which int() refuses
        return int(raw)
    if raw in "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳":
        return "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳".index(raw) + 1
    return chinese_numeral(raw)


def match_marker(line: str) -> Marker | None:
    """The numbering marker at the start of `line`, if any."""
    for rank, pattern in _MARKERS:
        m = pattern.match(line)
        if m and m.end() < len(line):  # a bare marker with nothing after it is not an item
            return Marker(rank=rank, number=_number(m.group("num")), text=m.group("marker"),
                          rest=line[m.end():])
    return None
