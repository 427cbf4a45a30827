"""Where a document comes from: province, city, county, town, read with jionlp's gazetteer.

No place names are written here. A structured string that starts with a place (the part of a
title before "政务公开", an issuer's name) is parsed with `jionlp.parse_location`; what jionlp leaves
over is read for a town (…镇 / …乡 / …街道) or a department (…局 / …厅 / …委). Whatever the string
does not say (the county of a town, the province of a county that several provinces have) is
completed from jionlp's gazetteer, using the document's own text to choose between namesakes.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

_CJK = r"\u4e00-\u9fff"
# Words that stand for "every town" / "this district" and never name one place.
# ("全椒县", "本溪市" are places: 本/全 are generic only before a level word.)
_GENERIC = re.compile(r"^(?:各|所属|有关|相关|其他|每个?|所在|属地|(?:本|全|我|该|辖)(?:区|县|市|省|镇|乡|街道|街镇|乡镇|村)"
                      r"|乡镇|街镇|城镇|集镇|市镇|村居|社区|城区$)|^.*(?:街镇|乡镇)$")


def is_generic_place(name: str) -> bool:
    """各街道, 本镇, 街镇, 乡镇: words for a kind of place, never one place (documents and questions alike)."""
    return bool(_GENERIC.match(name))
_ASIDE = re.compile(r"[（(][^（）()]*[）)]")
# A county jionlp does not know ("某某县"), when what follows shows it is one: a town, a government,
# a department, or nothing.
_COUNTY = re.compile(rf"^([{_CJK}]{{2,6}}?(?:新区|区|县|旗))(?=[{_CJK}]{{2,8}}?(?:街道|镇|乡)|人民政府|政府|办公室"
                     rf"|政务公开|[{_CJK}]{{1,8}}(?:局|厅|委员会|委)$|$)")
_TOWN = re.compile(rf"^([{_CJK}]{{2,8}}?(?:街道|镇|乡))(?=人民政府|政府|办事处|党委|党工委|政务公开|$)")
_OFFICE = re.compile(r"(?:办公室|办公厅)$")
_DEPARTMENT = re.compile(rf"^[{_CJK}]{{1,10}}(?:厅|局|委员会|委|署)$")
_NOT_DEPARTMENT = re.compile(r"政府|政务公开|办事处|管委会|党委|党工委|领导小组")
_ORGANISATION = re.compile(rf"^(?:人民政府|政府|党委|区委|县委|市委|[{_CJK}]{{0,8}}(?:局|厅|委|办|办公室|中心))")
_SUFFIX = re.compile(r"(?:维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|自治州|自治县|地区|新区|街道|省|市|区|县|旗|盟|镇|乡)$")
# How a document refers to itself ("本区", "全县"): the level of the place it is about.
_SELF = re.compile(r"(?:本|全|我)(区|县|市|省|镇|乡|街道)")


@dataclass(frozen=True)
class Place:
    province: str | None = None
    city: str | None = None
    county: str | None = None        # the county-level unit: 区 / 县 / 旗 / 县级市
    town: str | None = None          # 镇 / 乡 / 街道
    department: str | None = None    # "民政局" when the document is a department's own plan

    @property
    def name(self) -> str | None:
        """The most specific unit: 白鹤镇, 冠县, 上海市, 山东省."""
        return self.town or self.county or self.city or self.province

    @property
    def level(self) -> str | None:
        if self.department:
            return "部门"
        if self.town:
            return "街道" if self.town.endswith("街道") else self.town[-1]
        if self.county:
            return "县" if self.county.endswith(("县", "旗")) else "市" if self.county.endswith("市") else "区"
        if self.city:
            return "市"
        if self.province:
            return "市" if self.province.endswith("市") else "省"
        return None

    def merged(self, other: Place) -> Place:
        """This place with the units `other` adds, when both name the same place."""
        return replace(self, **{k: getattr(other, k) for k in ("province", "city", "county", "town")
                                if getattr(self, k) is None and getattr(other, k) is not None})

    def agrees_with(self, other: Place) -> bool:
        pairs = [(getattr(self, k), getattr(other, k)) for k in ("town", "county", "city", "province")]
        shared = [(a, b) for a, b in pairs if a and b]
        return bool(shared) and all(a == b for a, b in shared)


def short_name(name: str) -> str:
    """浦东新区 -> 浦东, 淞南镇 -> 淞南, 上海市 -> 上海 (the suffix dropped)."""
    return _SUFFIX.sub("", name)


# --- jionlp -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _jionlp():
    with contextlib.redirect_stdout(io.StringIO()):  # jionlp prints a banner on import
        import jionlp
    return jionlp


@lru_cache(maxsize=4096)
def _parse_location(text: str) -> tuple[str | None, str | None, str | None, str]:
    with contextlib.redirect_stdout(io.StringIO()):
        result = _jionlp().parse_location(text)
    return result["province"], result["city"], result["county"], result["detail"] or ""


@lru_cache(maxsize=2)
def division_tree(detail: bool) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        from jionlp.dictionary.dictionary_loader import china_location_loader
        return china_location_loader(detail=detail)


def names_of(node: dict, full: str) -> set[str]:
    alias = node.get("_alias") or []
    return {full, *([alias] if isinstance(alias, str) else alias)}


def subdivisions(node: dict) -> Iterator[tuple[str, dict]]:
    return ((k, v) for k, v in node.items() if not k.startswith("_"))


@lru_cache(maxsize=1)
def _counties() -> dict[str, list[tuple[str, str, str]]]:
    """County name or alias -> every (province, city, county) it may be."""
    index: dict[str, list[tuple[str, str, str]]] = {}
    for prov, pnode in subdivisions(division_tree(False)):
        for city, cnode in subdivisions(pnode):
            for county, knode in subdivisions(cnode):
                for name in names_of(knode, county):
                    index.setdefault(name, []).append((prov, city, county))
    return index


@lru_cache(maxsize=1)
def _regions() -> dict[str, tuple[str, str | None]]:
    """Province and city names and aliases -> (province, city or None)."""
    index: dict[str, tuple[str, str | None]] = {}
    for prov, pnode in subdivisions(division_tree(False)):
        for name in names_of(pnode, prov):
            index.setdefault(name, (prov, None))
        for city, cnode in subdivisions(pnode):
            if city != prov:
                for name in names_of(cnode, city):
                    index.setdefault(name, (prov, city))
    return index


@lru_cache(maxsize=1)
def _towns() -> dict[str, list[tuple[str, str, str]]]:
    """Town name -> every (province, city, county) that has a town of that name."""
    index: dict[str, list[tuple[str, str, str]]] = {}
    for prov, pnode in subdivisions(division_tree(True)):
        for city, cnode in subdivisions(pnode):
            for county, knode in subdivisions(cnode):
                for town, _ in subdivisions(knode):
                    index.setdefault(town, []).append((prov, city, county))
    return index


def regions_named_in(text: str) -> set[str]:
    """Provinces and cities the text names (full names and aliases of two characters or more)."""
    found: set[str] = set()
    for name, (prov, city) in _regions().items():
        if len(name) >= 2 and name in text:
            found.update(x for x in (prov, city) if x)
    return found


# --- parsing ----------------------------------------------------------------------------------

def _only_place_names(prefix: str, names: tuple[str | None, ...]) -> bool:
    """Whether `prefix` is made of the given place names only ("绿水青山" is not "青山")."""
    for name in sorted((n for n in names if n), key=len, reverse=True):
        prefix = prefix.replace(name, "").replace(short_name(name), "")
    return not prefix


def _ends_cleanly(prefix: str, names: tuple[str | None, ...], detail: str) -> bool:
    """Whether jionlp's match ends where a name ends: after a full name ("青浦区|白鹤镇"), or after a
    short one only when nothing or an organisation follows ("宝山", "浦东|民政局"), never inside a
    longer name ("城关|镇", "大连|路街道")."""
    if not detail or prefix.endswith(tuple(n for n in names if n and _SUFFIX.search(n))):
        return True
    return bool(_ORGANISATION.match(detail))


def _department(detail: str) -> str | None:
    """'教育厅办公室' -> 教育厅, '民政局' -> 民政局; a government's own office is not one."""
    name = _OFFICE.sub("", detail) or detail
    if _DEPARTMENT.match(name) and not _NOT_DEPARTMENT.search(name):
        return name
    return None


def parse_place(text: str | None) -> Place | None:
    """The place a structured string starts with: '上海市宝山区淞南镇人民政府' -> 上海市/宝山区/淞南镇."""
    s = re.sub(r"\s+", "", _ASIDE.sub("", text or ""))
    s = re.sub(r"^中共", "", s)
    if not s or is_generic_place(s):
        return None
    province, city, county, detail = _parse_location(s)
    prefix = s[:len(s) - len(detail)] if s.endswith(detail) else ""
    names = (province, city, county)
    if not prefix or not _only_place_names(prefix, names) or not _ends_cleanly(prefix, names, detail):
        province = city = county = None
        detail = s
    if county is None and (m := _COUNTY.match(detail)) and not is_generic_place(m.group(1)):
        county, detail = m.group(1), detail[m.end():]
    town = None
    if (m := _TOWN.match(detail)) and not is_generic_place(m.group(1)):
        town, detail = m.group(1), detail[m.end():]
    if not any((province, city, county, town)):
        return None
    return Place(province, city, county, town, _department(detail))


def _pick(candidates: list[tuple[str, str, str]], place: Place, context: set[str]) -> tuple[str, str, str] | None:
    """The one candidate consistent with what is known and with the regions the text names."""
    fits = [c for c in candidates if place.province in (None, c[0]) and place.city in (None, c[1])]
    if len(fits) > 1:
        fits = [c for c in fits if c[0] in context or c[1] in context]
    return fits[0] if len(fits) == 1 else None


def complete(place: Place, text: str) -> Place:
    """Fill the units the text left out from the gazetteer: 中都街道 -> 汶上县, 济宁市, 山东省."""
    context = regions_named_in(text)
    if place.county is None and place.town:
        found = _pick(_towns().get(place.town, []), place, context)
        if found:
            place = replace(place, province=found[0], city=found[1], county=found[2])
    if place.county and (place.province is None or place.city is None):
        candidates = _counties().get(place.county, [])
        found = _pick(candidates, place, context)
        if found:
            place = replace(place, province=found[0], city=found[1], county=found[2])
        elif len({c[2] for c in candidates}) == 1:  # "宝山" is 宝山区 wherever it is
            place = replace(place, county=candidates[0][2])
    if place.city is None and place.province and place.province.endswith("市") and place.county:
        place = replace(place, city=place.province)  # a municipality is its own city
    return place


def county_named_in(text: str) -> Place | None:
    """Last resort for a text that never names itself: the one county of the kind it calls itself
    ("本区") that it names ("门头沟"), inside a province or city it also names ("北京")."""
    kinds = {m.group(1) for m in _SELF.finditer(text)} & {"区", "县"}
    if not kinds:
        return None
    context = regions_named_in(text)
    found = {c for name, cands in _counties().items() if len(name) >= 2 and name in text
             for c in cands if c[2][-1] in kinds and (c[0] in context or c[1] in context)}
    if len(found) != 1:
        return None
    prov, city, county = found.pop()
    return Place(prov, city, county)


def place_aliases(place: str | None, *, department: str | None = None, city: str | None = None,
                  province: str | None = None, text: str = "") -> list[str]:
    """Names a user may type for the place: 浦东新区 -> 浦东新区, 浦东; 淞南镇 -> 淞南镇, 淞南.

    A county in a prefecture-level city the text names is also called by both ("聊城冠县"). A
    department's plan is named by the department ("闵行区民政局", "闵行民政局"), never by the bare
    department word ("民政局"), which every district has.
    """
    if not place:
        return []
    if department:
        names = [place + department, short_name(place) + department]
    else:
        names = [place, short_name(place)]
        named = city and city != province and (city in text or short_name(city) in text)
        if named and place.endswith(("县", "区", "旗", "市")):
            names += [short_name(city) + place, city + place]
    return list(dict.fromkeys(n for n in names if len(n) >= 2))
