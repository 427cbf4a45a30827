"""Document metadata read from the text itself: title, issuer, 发文字号, date, place, level, year.

Where the extractor cannot read a field, `corpus/overrides/<doc_id>.json` may supply it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,8})\s*〔\s*(\d{4})\s*〕\s*(\d+)\s*号")
_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_NOTICE = re.compile(r"^(?P<issuer>.*?)\s*关于印发\s*《(?P<title>[^》]+)》\s*的通知")
_LETTERHEAD = re.compile(r"^(?P<issuer>.+?)文件$")
_ORG = re.compile(r"(?:人民政府|办事处|办公室|委员会|政府)$")
_TITLE = re.compile(r"^(?P<year>\d{4})\s*年\s*(?P<place>.+?)(?:政务公开)?工作(?:要点|计划|方案)$")
_DISTRICT = re.compile(r"([\u4e00-\u9fff]{1,4}?(?:新区|区|县))")
_TOWN = re.compile(r"([\u4e00-\u9fff]{1,6}?(?:街道|镇|乡))")
_CITY_PREFIX = re.compile(r"^(?:上海市)")


@dataclass
class DocumentMeta:
    doc_id: str
    title: str
    issuer: str | None = None
    doc_number: str | None = None       # 发文字号, e.g. 浦府办〔2024〕14号
    date: str | None = None             # signing date, ISO
    published: str | None = None        # publication date when the page states one
    district: str | None = None         # 浦东新区, 青浦区 …
    place: str | None = None            # the issuing place: 白鹤镇, 浦锦街道, 松江区 …
    level: str | None = None            # 区 / 镇 / 街道
    year: int | None = None
    source: str | None = None
    aliases: list[str] = field(default_factory=list)  # how a question may name the place

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        """Short display label, e.g. '2024年浦东新区'."""
        return f"{self.year}年{self.place}" if self.year and self.place else self.title


def _iso(match: re.Match[str]) -> str:
    y, m, d = (int(g) for g in match.groups())
    return f"{y:04d}-{m:02d}-{d:02d}"


def _strip_city(name: str) -> str:
    return _CITY_PREFIX.sub("", name)


def place_aliases(place: str | None, district: str | None) -> list[str]:
    """Names a user may use: 浦东新区 -> 浦东新区, 浦东; 淞南镇 -> 淞南镇, 淞南."""
    names: list[str] = []
    if place:
        names.append(place)
        short = re.sub(r"(?:新区|街道|区|镇|乡|县)$", "", place)
        if len(short) >= 2:
            names.append(short)
    return list(dict.fromkeys(names))


def extract_metadata(doc_id: str, preamble: list[str], title_line: str | None,
                     published: str | None = None, source: str | None = None) -> DocumentMeta:
    """Read the metadata from the notice preamble and the document title line."""
    notice = next((m for m in (_NOTICE.match(line) for line in preamble) if m), None)
    title = title_line or (notice.group("title") if notice else doc_id)
    title = re.sub(r"\s+", "", title) if re.search(r"\d\s+年", title) else title

    issuer = None
    if notice and notice.group("issuer").strip():
        issuer = notice.group("issuer").strip()
    else:
        for i, line in enumerate(preamble):
            if _DATE.match(line) and i > 0 and _ORG.search(preamble[i - 1]):
                issuer = preamble[i - 1]
        if issuer is None and preamble and _ORG.search(preamble[0]):
            issuer = preamble[0]
        if issuer is None:
            letterhead = next((m for m in (_LETTERHEAD.match(line) for line in preamble) if m), None)
            issuer = letterhead.group("issuer") if letterhead else None

    number = next((m for m in (_DOC_NUMBER.search(line) for line in preamble) if m), None)
    doc_number = f"{number.group(1)}〔{number.group(2)}〕{number.group(3)}号" if number else None
    dates = [m for m in (_DATE.match(line) for line in preamble) if m]
    date = _iso(dates[-1]) if dates else None

    title_match = _TITLE.match(re.sub(r"\s+", "", title))
    year = int(title_match.group("year")) if title_match else (int(date[:4]) if date else None)
    named = _strip_city(title_match.group("place")) if title_match else ""
    issuer_plain = _strip_city(issuer or "")
    district_match = _DISTRICT.search(named) or _DISTRICT.search(issuer_plain)
    district = district_match.group(1) if district_match else None
    town_match = _TOWN.search(named.replace(district or "\0", "")) or \
        _TOWN.search(issuer_plain.replace(district or "\0", ""))
    place = town_match.group(1) if town_match else district
    level = ("街道" if place and place.endswith("街道") else "镇" if place and place.endswith(("镇", "乡"))
             else "区" if place else None)
    return DocumentMeta(
        doc_id=doc_id, title=title, issuer=issuer, doc_number=doc_number, date=date,
        published=published, district=district, place=place, level=level, year=year,
        source=source, aliases=place_aliases(place, district),
    )


def apply_overrides(meta: DocumentMeta, overrides_dir: Path) -> DocumentMeta:
    """Fields in `<overrides_dir>/<doc_id>.json` replace what the extractor read."""
    path = overrides_dir / f"{meta.doc_id}.json"
    if not path.is_file():
        return meta
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: 元数据覆盖文件无法读取 (cannot read metadata override): {exc}") from exc
    unknown = set(data) - set(meta.to_dict())
    if unknown:
        raise ValueError(f"{path}: unknown metadata field(s): {', '.join(sorted(unknown))}")
    merged = {**meta.to_dict(), **data}
    if "place" in data and "aliases" not in data:
        merged["aliases"] = place_aliases(merged["place"], merged["district"])
    return DocumentMeta(**merged)
