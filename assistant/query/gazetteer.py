"""Every place name of China a question may use, from jionlp's administrative-division data.

A place the corpus has no document for must be recognised as a place (so the answer says the
corpus lacks it) without anyone listing it by hand; the documents' own places come from their
metadata, not from here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.ingest.places import division_tree, is_generic_place, names_of, subdivisions

# Division names that are also ordinary words of the field; never read as places on their own.
_NOT_A_PLACE = frozenset({"新区", "开发区", "高新区", "城区", "郊区", "市区", "矿区", "林区", "示范区"})
# Short forms (alias without 省/市/区/县) are used by people for provinces, cities and the districts
# of the four municipalities ("徐汇", "和平"); a county's bare alias elsewhere is too often a word.
_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
# A town or street is named by two to four characters before 镇/街道; function words never belong to
# a name ("各街道和各镇"). 乡 alone is left out: "城乡", "下乡" are words, not places.
TOWN = re.compile(r"((?:(?![和与及各等的在对要是为将把从向或、按问下一里个了们我你他这那本该全到去来给让被于以说])[\u4e00-\u9fff]){2,4}?(?:街道|镇))")


_PARENTS: dict[str, set[str]] = {}


@lru_cache(maxsize=1)
def place_names() -> dict[str, str]:
    """{name as typed: full name}, for provinces, cities and counties (the ingest step's jionlp tree)."""
    names: dict[str, str] = {}
    _PARENTS.clear()

    def add(aliases: set[str], full: str, *parents: str) -> None:
        _PARENTS.setdefault(full, set()).update(parents)
        for name in aliases:
            if len(name) >= 2 and name not in _NOT_A_PLACE:
                names.setdefault(name, full)

    for province, pnode in subdivisions(division_tree(False)):
        add(names_of(pnode, province), province)
        for city, cnode in subdivisions(pnode):
            add(names_of(cnode, city), city, province)
            for county, knode in subdivisions(cnode):
                # A county's bare alias is a word too often, except in the four municipalities ("徐汇").
                aliases = names_of(knode, county) if province in _MUNICIPALITIES else {county}
                add(aliases, county, city, province)
    return names


@lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern[str]:
    names = sorted(place_names(), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


def places_in(text: str) -> list[tuple[int, str]]:
    """(position, name) of each administrative place named in `text`, longest match first,
    plus the towns and streets ("某某镇", "某某街道") that jionlp's division data holds."""
    found = [(m.start(), m.group(0)) for m in _name_pattern().finditer(text)]
    # Mask the divisions so a town's name never starts inside one ("宝山淞南镇" -> "淞南镇").
    masked = _name_pattern().sub(lambda m: "|" * len(m.group(0)), text)
    for m in TOWN.finditer(masked):
        name = _town_named(m.group(1))
        if name and not is_generic(name):
            found.append((m.end(1) - len(name), name))
    return sorted(found)


@lru_cache(maxsize=1)
def town_names() -> frozenset[str]:
    """Every town, township and street of jionlp's division data (about 34,000 names)."""
    return frozenset(town for _, pnode in subdivisions(division_tree(True)) for _, cnode in subdivisions(pnode)
                     for _, knode in subdivisions(cnode) if isinstance(knode, dict)
                     for town, _ in subdivisions(knode))


def _town_named(candidate: str) -> str | None:
    """The longest ending of `candidate` that is a real town or street ("看看淞南镇" -> "淞南镇"); None when
    none is ("加装电梯这种工程镇里": 工程镇 is no town, "刚接手镇" none at all). A document's own town is
    read from its metadata, not here, so a town missing from the data is still askable once added."""
    for start in range(len(candidate) - 2):
        if candidate[start:] in town_names():
            return candidate[start:]
    return None


def is_generic(name: str) -> bool:
    """各街道, 本镇, 街镇, 乡镇: words for a kind of place, not a place (the ingest step's own rule)."""
    return is_generic_place(name)


def full_name(name: str) -> str:
    return place_names().get(name, name)


def parents(name: str) -> set[str]:
    """Full names of the divisions above `name` (松江区 -> 上海市; 冠县 -> 聊城市, 山东省)."""
    place_names()
    return set(_PARENTS.get(full_name(name), set())) - {full_name(name)}
