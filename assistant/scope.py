"""Which documents a question is about, read from the question itself.

"浦东", "松江区", "淞南镇", "2023年的工作计划" restrict the search to a document. A place or year the
corpus does not cover is reported, never silently replaced by another document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from assistant.segmentation import known_places

_TOWN = re.compile(r"([\u4e00-\u9fff]{2,4}?(?:街道|镇|乡))")
_GENERIC_TOWN = re.compile(r"^(?:乡镇|城镇|各镇|本镇|街镇|全镇|该镇|集镇|各街道|本街道|该街道|全街道|各乡|.*各街镇)$")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年(?:度)?")
_DOC_WORDS = re.compile(r"^\s*(?:年度)?(?:的)?\s*(?:政务公开|工作要点|工作计划|要点|计划|文件)")


@dataclass
class Scope:
    doc_ids: list[str] = field(default_factory=list)       # restricted to these; [] = whole corpus
    places: list[str] = field(default_factory=list)        # corpus places the question names
    unknown_places: list[str] = field(default_factory=list)  # places named that the corpus lacks
    years: list[int] = field(default_factory=list)          # document years the question names
    unknown_years: list[int] = field(default_factory=list)   # … that no (scoped) document has
    related_docs: list[str] = field(default_factory=list)   # documents near an unknown place
    explicit: bool = False                                   # set by --doc / the UI selector

    @property
    def covered(self) -> bool:
        return not self.unknown_places and not self.unknown_years

    def to_dict(self) -> dict:
        return {"doc_ids": self.doc_ids, "places": self.places, "unknown_places": self.unknown_places,
                "years": self.years, "unknown_years": self.unknown_years, "related_docs": self.related_docs,
                "explicit": self.explicit}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def named_places(question: str, documents: dict[str, dict]) -> list[tuple[str, str]]:
    """(alias, doc_id) for each corpus place the question names, in order of appearance."""
    q = _fold(question)
    found: list[tuple[int, str, str]] = []
    for doc_id, meta in documents.items():
        for alias in sorted(meta.get("aliases") or [], key=len, reverse=True):
            pos = q.find(alias)
            if pos >= 0:
                found.append((pos, alias, doc_id))
                break
    return [(alias, doc_id) for _, alias, doc_id in sorted(found)]


def _district_short(name: str) -> str:
    return re.sub(r"(?:新区|区|县)$", "", name)


def resolve_scope(question: str, documents: dict[str, dict], doc_filter: str | None = None) -> Scope:
    """Read the scope of `question` against the corpus `documents` ({doc_id: meta dict})."""
    q = _fold(question)
    scope = Scope()
    if doc_filter:
        scope.doc_ids, scope.explicit = [doc_filter], True

    places = named_places(q, documents)
    for alias, doc_id in places:
        scope.places.append(documents[doc_id].get("place") or alias)
        if not scope.explicit and doc_id not in scope.doc_ids:
            scope.doc_ids.append(doc_id)

    covered_spans = [alias for alias, _ in places]
    # Districts whose only corpus document is a town's (宝山区 -> 淞南镇): the district itself
    # is not covered, but say which document is near.
    by_district: dict[str, list[str]] = {}
    for doc_id, meta in documents.items():
        if meta.get("district"):
            by_district.setdefault(meta["district"], []).append(doc_id)
    for name in known_places():
        if name not in q or any(name in span for span in covered_spans):
            continue
        covered_spans.append(name)
        district = next((d for d in by_district if name in (d, _district_short(d))), None)
        if district and any(documents[d].get("place") == district for d in by_district[district]):
            continue  # a district-level document exists and was matched through its alias
        if district and any(doc in scope.doc_ids for doc in by_district[district]):
            continue  # "宝山淞南镇": the town is named too
        scope.unknown_places.append(name)
        if district:
            scope.related_docs.extend(by_district[district])
    for town in _TOWN.findall(q):
        if _GENERIC_TOWN.match(town) or any(town in span or span in town for span in covered_spans):
            continue
        scope.unknown_places.append(town)

    for match in _YEAR.finditer(q):
        year = int(match.group(1))
        after = q[match.end():]
        # "2023年的工作计划" and "2023年松江区…" name a document's year; "松江区2023年国民经济…"
        # names a year inside the content.
        about_document = bool(_DOC_WORDS.match(after)) or any(after.lstrip().startswith(a) for a, _ in places)
        if not about_document:
            continue  # "2023年国民经济…计划" is content, not the document's year
        scope.years.append(year)
        candidates = scope.doc_ids or list(documents)
        with_year = [d for d in candidates if documents[d].get("year") == year]
        if not with_year:
            scope.unknown_years.append(year)
        elif not scope.doc_ids and not scope.explicit:
            scope.doc_ids = with_year
    return scope
