"""The information bar of a published page: 索引号, 发布机构, 成文日期, 发文字号 … as label -> value.

Government sites print it in many layouts, all seen in real pages:
  "发文字号: 宝府办〔2022〕11号"       label and value on one line (bullets, pipes or spaces between fields)
  "发布日期:2022-06-30    发布者:…"   several fields on one line
  "[发文机构] 区政务公开领导小组办公室"  the label in brackets
  "成文日期" / "2021-06-28"            the label on its own line, the value on the next
  "发文字号:" / "成文日期:"            an empty field: the next line is another label, not its value
The labels are the field names such pages use; they are format words, not document content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LABELS = (
    "索引号", "主题分类", "组配分类", "所属类目", "体裁", "文种", "公开类别", "公开属性", "公开方式", "有效性",
    "统一编号", "标题", "发布机构", "发布机关", "发文机构", "发文机关", "公开主体", "发布者", "机构名称",
    "联合发文单位", "信息来源", "来源", "成文日期", "发文日期", "发布日期", "发布时间", "生效日期",
    "失效日期", "实施日期", "废止日期", "发文字号", "文号",
)
ISSUER_LABELS = ("发文机构", "发文机关", "发布机构", "发布机关", "公开主体", "发布者")
DATE_LABELS = ("成文日期", "发文日期", "发布日期", "发布时间")
PUBLISHED_LABELS = ("发布日期", "发布时间")
NUMBER_LABELS = ("发文字号", "文号")

_LABEL = "|".join(sorted(LABELS, key=len, reverse=True))
_LEAD = r"^(?:[•·●▪◆\-*|]\s*|\d{1,2}[.．]\s*)*"
# A label is a field name when a colon or bracket follows it, when a date follows a date label,
# or when it is the whole line.
_FIELD = re.compile(
    rf"\[(?P<b>{_LABEL})\]\s*|(?P<c>{_LABEL})\s*[:：]\s*|(?P<d>(?:成文|发文|发布|生效|失效|实施|废止)(?:日期|时间))\s+(?=\d{{4}})"
)
_ALONE = re.compile(rf"{_LEAD}\[?(?P<label>{_LABEL})\]?\s*[:：]?$")
_STARTS = re.compile(rf"{_LEAD}(?:\[(?:{_LABEL})\]|(?:{_LABEL})\s*[:：])")
_SEPARATORS = " \t|•·●▪◆"
_DATE = re.compile(r"^(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2}))$")
_MAX_NEXT_LINE_VALUE = 40


@dataclass
class InfoBar:
    fields: dict[str, str] = field(default_factory=dict)   # label -> first non-empty value
    lines: set[int] = field(default_factory=set)            # lines that belong to the bar

    def get(self, *labels: str) -> str | None:
        return next((self.fields[label] for label in labels if self.fields.get(label)), None)

    def date(self, *labels: str) -> str | None:
        return next((d for d in (iso_date(self.fields.get(label, "")) for label in labels) if d), None)


def iso_date(text: str) -> str | None:
    """'2023年3月31日', '2023.03.30', '2023-03-30', '2023/3/30' -> ISO; '2022328' is no date."""
    m = _DATE.match(text.strip())
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2) or m.group(4)), int(m.group(3) or m.group(5))
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def is_infobar_line(line: str) -> bool:
    """A line that starts with a field label (so it is complete by itself and never joined)."""
    return bool(_ALONE.match(line) or _STARTS.match(line))


def _fields_in(line: str) -> list[tuple[str, str]]:
    """(label, value) for each field written on the line, in order; values may be empty."""
    if alone := _ALONE.match(line):
        return [(alone.group("label"), "")]
    matches = list(_FIELD.finditer(line))
    out = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        label = m.group("b") or m.group("c") or m.group("d")
        out.append((label, line[m.end():end].strip(_SEPARATORS)))
    return out


def read_infobar(lines: list[str]) -> InfoBar:
    """The info-bar fields among `lines` (the part of a document before its body)."""
    bar = InfoBar()
    skip = -1
    for i, line in enumerate(lines):
        if i == skip or not is_infobar_line(line):
            continue
        bar.lines.add(i)
        fields = _fields_in(line)
        for n, (label, value) in enumerate(fields):
            last = n == len(fields) - 1
            if not value and last and i + 1 < len(lines) and _is_value_line(lines[i + 1]):
                value, skip = lines[i + 1].strip(_SEPARATORS), i + 1
                bar.lines.add(i + 1)
            if value and not bar.fields.get(label):
                bar.fields[label] = value
    return bar


def _is_value_line(line: str) -> bool:
    """The next line is a field's value only if it is short, no sentence and no label itself."""
    return (len(line) <= _MAX_NEXT_LINE_VALUE and not is_infobar_line(line)
            and not re.search(r"[。，,]", line))
