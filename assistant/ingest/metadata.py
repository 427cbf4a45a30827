"""Document metadata read from the text itself: title, issuer, 发文字号, dates, place, level, year.

Each field is read from where documents print it, in order of trust: the document's own title
line, the notice line (…关于印发…的通知), the 落款 signature and date, the letterhead, and the
information bar of a web page (infobar.py). What the text does not state stays None: nothing is
guessed from the file name. Places are parsed with jionlp (places.py). Where the extractor cannot
read a field, `corpus/overrides/<doc_id>.json` may supply it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.ingest.infobar import DATE_LABELS, ISSUER_LABELS, NUMBER_LABELS, PUBLISHED_LABELS, iso_date, read_infobar
from assistant.ingest.places import Place, complete, county_named_in, parse_place, place_aliases

_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,8})\s*〔\s*(\d{4})\s*〕\s*(\d+)\s*号")
_NOTICE = re.compile(r"^(?P<issuer>[^,，:：。；;《》]*?)\s*关于印发\s*《?(?P<title>[^《》]+?)》?\s*的通知")
_LETTERHEAD = re.compile(r"^(?P<issuer>.+?)文件$")
_ORG = re.compile(r"(?:人民政府|办事处|办公室|办公厅|委员会|政府|厅|局)$")
_NOT_A_NAME = re.compile(r"^各|[,，、:：。；;！？\s]")
_ASIDE_LINE = re.compile(r"^[（(][^（）()]*[）)]$")   # "(北京市东城区政务服务和数据管理局代章)"
_TITLE_LINE = re.compile(r"^(?!关于)[^。，,：:；;《》“”（）()]{0,24}?\d{4}\s*年[^。，,：:；;《》“”]{0,40}?"
                         r"(?:要点|计划|方案|分工|分解|清单)$")
_YEAR = re.compile(r"(\d{4})\s*年度?")
# Lines only a notice has: the notice line, a 主送 line (a list of recipients and a colon), the
# letterhead, "(此件公开发布)", "特此通知".
_NOTICE_MARK = re.compile(r"^[^《。]{0,40}关于印发.{2,60}的通知|^(?:各[^。]{1,80}|[^。]{2,80}[、,，][^。]*)[:：]$"
                          r"|文件$|^[（(]此件[^（）()]*[）)]$|^特此通知")
_PLACE_IN_TITLE = re.compile(r"(?:政务公开|工作要点|工作计划|工作方案|实施方案|重点工作|工作).*$")
# "2022年,崇明区政务公开工作的总体要求是…", "2024年闵行区民政局政务公开工作,…": who the plan is for.
_SUBJECT = re.compile(r"^\d{4}\s*年度?\s*[,，、]?\s*(?P<name>[^,，。:：;；“”《》\s]{2,20}?)(?:政务公开|工作)")
# "…特制定中都街道政务公开工作实施方案": the plan naming itself.
_SELF_NAME = re.compile(r"制定(?:了|本)?《?(?P<name>[^《》。,，、\s]{2,20}?)政务公开")


@dataclass
class DocumentMeta:
    doc_id: str
    title: str | None                   # the document's own title; None when the text shows none
    issuer: str | None = None
    doc_number: str | None = None       # 发文字号, e.g. 浦府办〔2024〕14号
    date: str | None = None             # signing date (落款, else the info bar's 成文日期 …), ISO
    published: str | None = None        # publication date when the page states one
    district: str | None = None         # the county-level unit at or above the place: 青浦区 for 白鹤镇
    place: str | None = None            # the issuing place: 白鹤镇, 浦锦街道, 松江区, 上海市, 山东省 …
    level: str | None = None            # 省 / 市 / 区 / 县 / 镇 / 乡 / 街道 / 部门
    year: int | None = None
    source: str | None = None
    aliases: list[str] = field(default_factory=list)  # how a question may name the place
    province: str | None = None
    city: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DocumentMeta":
        """The metadata a `to_dict` wrote (the index manifest stores it so)."""
        return cls(**data)

    @property
    def label(self) -> str:
        """Short display label, e.g. '2024年浦东新区'."""
        if self.year and self.place:
            return f"{self.year}年{self.place}"
        return self.title or self.place or self.doc_id


def meta_of(documents: dict[str, DocumentMeta], doc_id: str) -> DocumentMeta:
    """A document's metadata; a document the index does not hold has only its id."""
    return documents.get(doc_id) or DocumentMeta(doc_id=doc_id, title=None)


def is_title_line(line: str) -> bool:
    """A document title: '2024年松江区政务公开工作要点', '和平区 2022 年政务公开工作要点' …"""
    return bool(_TITLE_LINE.match(line.strip())) and ("政务公开" in line or "工作" in line)


def notice_end(lines: list[str]) -> int:
    """The first line after the notice and the info bar (0 when the text starts with its body):
    the line after the last one that only a notice has (info-bar field, notice line, 文号, 主送
    line, 落款 date, letterhead, "(此件公开发布)", "特此通知")."""
    bar = read_infobar(lines)
    last = -1
    for i, line in enumerate(lines):
        if i in bar.lines or _NOTICE_MARK.search(line) or _DOC_NUMBER.fullmatch(line) or iso_date(line):
            last = i
    return last + 1


def _is_org_name(line: str) -> bool:
    """An organisation's name on a line of its own (never a 主送 line such as '各区人民政府,…:')."""
    return len(line) <= 40 and bool(_ORG.search(line)) and not _NOT_A_NAME.search(line)


def _notice(lines: list[str]) -> tuple[str | None, str | None]:
    """(issuer, title) from the notice line, also when it is split over two lines."""
    issuer = title = None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        m = _NOTICE.match(line) or (_NOTICE.match(line + nxt) if "关于印发" in line else None)
        if not m:
            continue
        title = title or m.group("title").strip()
        named = m.group("issuer").strip() or (lines[i - 1] if i > 0 and _is_org_name(lines[i - 1]) else "")
        if named and issuer is None:
            issuer = named
    return issuer, title


def _signature(lines: list[str], skip: set[int]) -> tuple[str | None, str | None]:
    """(issuer, ISO date) of the 落款: the last date line and the organisation signed above it."""
    issuer = date = None
    for i, line in enumerate(lines):
        if i in skip or not iso_date(line):
            continue
        date = iso_date(line)
        above = i - 1
        while above >= 0 and _ASIDE_LINE.match(lines[above]):
            above -= 1
        if above >= 0 and above not in skip and _is_org_name(lines[above]):
            issuer = lines[above]
    return issuer, date


def _doc_number(lines: list[str], from_bar: str | None) -> str | None:
    """The 文号: the info bar's, else a line of its own, else the first outside a sentence."""
    candidates = [from_bar or ""] + [ln for ln in lines if _DOC_NUMBER.fullmatch(ln.strip())]
    candidates += [ln for ln in lines if not re.search(r"[《。]", ln)]
    for text in candidates:
        if m := _DOC_NUMBER.search(text):
            return f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号"
    return None


def _place(candidates: list[str | None], text: str) -> Place | None:
    """The first candidate that names a place, completed by the later ones that agree with it."""
    places = [p for p in (parse_place(c) for c in candidates if c) if p]
    if not places:
        found = county_named_in(text)
        return complete(found, text) if found else None
    place = places[0]
    for other in places[1:]:
        if place.agrees_with(other):
            place = place.merged(other)
    return complete(place, text)


def _place_fields(place: Place | None, text: str) -> dict:
    if place is None:
        return {}
    return {"place": place.name, "district": place.county, "level": place.level, "province": place.province,
            "city": place.city, "aliases": place_aliases(place.name, department=place.department, city=place.city,
                                                         province=place.province, text=text)}


def _title(title_line: str | None, notice_title: str | None) -> str | None:
    """The title line as printed, without the blanks of '和平区 2022 年…'; else the notice's."""
    title = title_line.strip() if title_line else notice_title
    return re.sub(r"\s+", "", title) if title and re.search(r"\d\s+年", title) else title


def _year(title: str | None, opening: str, date: str | None) -> int | None:
    """From the title; else the first sentence ('2023年是…', '2022年,崇明区…'); else the date."""
    found = _YEAR.search(title or "") or re.match(r"^(\d{4})\s*年", opening)
    return int(found.group(1)) if found else (int(date[:4]) if date else None)


def _named_in_intro(intro: list[str]) -> list[str | None]:
    """Who the plan is for, as its first sentence or its own name says."""
    subject = _SUBJECT.match(intro[0]) if intro else None
    self_name = next((m for m in (_SELF_NAME.search(ln) for ln in intro[:2]) if m), None)
    return [subject.group("name") if subject else None, self_name.group("name") if self_name else None]


def extract_metadata(doc_id: str, preamble: list[str], title_line: str | None,
                     published: str | None = None, source: str | None = None, *,
                     intro: list[str] = (), text: str = "") -> DocumentMeta:
    """Read the metadata from the lines before the body (notice, info bar), the title line and the
    introduction; `text` (the whole clean text) only tells namesake places apart."""
    bar = read_infobar(preamble)
    notice_issuer, notice_title = _notice(preamble)
    signed_by, signed_on = _signature(preamble, bar.lines)
    letterhead = next((m.group("issuer") for m in (_LETTERHEAD.match(ln) for ln in preamble) if m), None)
    first_org = preamble[0] if preamble and _is_org_name(preamble[0]) else None
    issuers = [notice_issuer, signed_by, first_org, letterhead, *(bar.get(k) for k in ISSUER_LABELS)]

    title = _title(title_line, notice_title)
    date = signed_on or bar.date(*DATE_LABELS)   # "2022328" is no date: the info bar's then
    in_title = _PLACE_IN_TITLE.sub("", _YEAR.sub("", re.sub(r"\s+", "", title))) if title else None
    place = _place([in_title, *issuers, *_named_in_intro(list(intro))], text or "\n".join([*preamble, *intro]))
    return DocumentMeta(
        doc_id=doc_id, title=title, issuer=next((i for i in issuers if i), None),
        doc_number=_doc_number(preamble, bar.get(*NUMBER_LABELS)), date=date,
        published=bar.date(*PUBLISHED_LABELS) or published, year=_year(title, intro[0] if intro else "", date),
        source=source, **_place_fields(place, text),
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
        merged["aliases"] = place_aliases(merged["place"], city=merged["city"], province=merged["province"])
    return DocumentMeta(**merged)
