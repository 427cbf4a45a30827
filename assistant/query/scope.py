"""Which documents a question is about, read from the question itself.

"浦东", "松江区", "淞南镇", "2023年的工作计划" restrict the search to a document. A place or year the
corpus does not cover is reported, never silently replaced by another document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.query.catalogue import Catalogue, catalogue_of
from assistant.query.facets import story_spans
from assistant.query.gazetteer import full_name, parents, places_in
from assistant.ingest.searchkey import search_key
from assistant.ingest.metadata import DocumentMeta, meta_of

_LOWER_LEVELS = re.compile(r"^(?:市|省)?(?:的)?(?:这几个|这些|各个?|几个|所有|下属|下辖|全部)(?:区|县|镇|街道|乡|区县|街镇)")
_COMPARISON = re.compile(r"相比|对比|比较|比起|不一样|不同|区别|异同|一样吗|和[^，。？]{1,12}(?:的|比)")
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


def _catalogue(documents: dict[str, DocumentMeta]) -> Catalogue:
    return catalogue_of(documents, _ancestors)


def named_places(question: str, documents: dict[str, DocumentMeta]) -> list[tuple[str, str]]:
    """(alias, doc_id) for each corpus place the question names, in order of appearance."""
    q = _fold(question)
    cat = _catalogue(documents)
    occurring = cat.aliases_in(q)
    # Only the documents one of whose aliases occurs, found by lookup, not by asking each of thousands.
    candidates = {doc_id for alias in occurring for doc_id in cat.by_alias[alias]} | set(cat.always_named)
    found: list[tuple[int, str, str]] = []
    for doc_id in candidates:
        # A document's longest alias in the question, the first listed among equals: what trying its aliases
        # longest first finds, without sorting thousands of alias lists per question.
        present = [alias for alias in documents[doc_id].aliases or () if alias in occurring or not alias]
        if present:
            alias = max(present, key=len)
            found.append((q.find(alias), alias, doc_id))
    return [(alias, doc_id) for _, alias, doc_id in sorted(found)]


def _ancestors(meta: DocumentMeta) -> frozenset[str]:
    """Every division a document's place lies in (白鹤镇 -> 青浦区, 上海市)."""
    return _ancestors_of(meta.place, meta.district, meta.city, meta.province)


@lru_cache(maxsize=1 << 16)
def _ancestors_of(place: str | None, district: str | None, city: str | None, province: str | None) -> frozenset[str]:
    # Kept per place: a question naming a place the corpus lacks is checked against every document's
    # ancestors, which took 100 ms a question at 4,500 documents when read from the gazetteer each time.
    out = {district, city, province} - {None, place}
    for name in list(out) + [place]:
        if name:
            out |= parents(name)
    return frozenset(out)


def _drop_qualifiers(places: list[tuple[str, str]], documents: dict[str, DocumentMeta], q: str) -> list[tuple[str, str]]:
    """"上海市松江区": 上海市 qualifies 松江区, written right before it; it does not ask about the city's own
    plan too. "山东教育厅和中都街道…" names two documents, although 中都街道 lies in 山东."""
    def qualifies(alias: str, doc_id: str, other_alias: str, other: str) -> bool:
        end = q.find(alias) + len(alias)
        return other != doc_id and documents[doc_id].place in _ancestors(documents[other]) \
            and q.find(other_alias, end) == end
    return [(alias, doc_id) for alias, doc_id in places
            if not any(qualifies(alias, doc_id, other_alias, other) for other_alias, other in places)]


def _scope_of_selected(scope: Scope, documents: dict[str, DocumentMeta], doc_filter: str) -> None:
    scope.doc_ids, scope.explicit = [doc_filter], True
    # The selected document's own place and year are the question's scope.
    selected = meta_of(documents, doc_filter)
    scope.places.extend(p for p in [selected.place] if p)
    scope.years.extend(y for y in [selected.year] if y)


def _add_numbered_documents(scope: Scope, q: str, documents: dict[str, DocumentMeta]) -> None:
    # "浦府办〔2024〕14号" names its document as surely as a place does.
    if scope.explicit:
        return
    for doc_id in _catalogue(documents).numbered_in(search_key(q)):
        if doc_id not in scope.doc_ids:
            scope.doc_ids.append(doc_id)


def _documents_meant(q: str, alias: str, place: str, doc_id: str, documents: dict[str, DocumentMeta]) -> list[str]:
    """The documents a named place stands for: its own, or those inside it when the question
    asks about its lower levels."""
    # "上海这几个区、镇、街道": the places inside 上海, not the city's own plan.
    inside = list(_catalogue(documents).by_ancestor.get(place, [])) \
        if _LOWER_LEVELS.match(q[q.find(alias) + len(alias):]) else []
    return inside or [doc_id]


def _add_named_places(scope: Scope, q: str, documents: dict[str, DocumentMeta], places: list[tuple[str, str]]) -> None:
    # With a document selected, another document joins only when the question compares with it
    # ("这份文件和白鹤镇的要点有什么不一样").
    compares = scope.explicit and bool(_COMPARISON.search(q))
    for alias, doc_id in _drop_qualifiers(places, documents, q):
        place = documents[doc_id].place or alias
        if place not in scope.places:
            scope.places.append(place)
        for d in _documents_meant(q, alias, place, doc_id, documents):
            if (compares or not scope.explicit) and d not in scope.doc_ids:
                scope.doc_ids.append(d)


def _place_already_read(pos: int, name: str, spans: list[tuple[int, int]], named_ancestors: set[str]) -> bool:
    """A place inside a named alias's span, or one that only qualifies a named document's place
    ("宝山淞南镇"), is not a further place."""
    if any(a <= pos < b or pos <= a < pos + len(name) for a, b in spans):
        return True
    return full_name(name) in named_ancestors or name in named_ancestors


def _add_other_place(scope: Scope, name: str, documents: dict[str, DocumentMeta]) -> None:
    full = full_name(name)
    # A document whose own place this is covers it, whatever its aliases say: "山东" for the
    # 山东省教育厅 plan, a second mention of "上海" after "上海市".
    cat = _catalogue(documents)
    home = cat.in_order(cat.by_place.get(full, []) + cat.by_place.get(name, []))
    if home:
        if full not in scope.places:
            scope.places.append(full)
        scope.doc_ids.extend(d for d in home if not scope.explicit and d not in scope.doc_ids)
        return
    if full not in scope.unknown_places:
        scope.unknown_places.append(full)
    # Tested against a set: thousands of documents lie inside 上海市, and a list test per document was quadratic.
    already = set(scope.related_docs)
    scope.related_docs.extend(d for d in cat.by_ancestor.get(full, []) if d not in already)


def _add_other_places(scope: Scope, q: str, documents: dict[str, DocumentMeta], places: list[tuple[str, str]]) -> None:
    # Any other place the question names is one the corpus has no document for, unless it only
    # qualifies a named document's place ("宝山淞南镇"). Documents inside it are offered instead.
    spans = [(q.find(alias), q.find(alias) + len(alias)) for alias, _ in places]
    named_ancestors = set().union(*(_ancestors(documents[d]) for _, d in places)) if places else set()
    # A place in the asker's own story ("我老家在云南，…长宁区会公开吗？") is not what is asked about when the
    # question names a place the corpus has.
    story = story_spans(q) if places else []
    for pos, name in places_in(q):
        if any(start <= pos < end for start, end in story):
            continue
        if not _place_already_read(pos, name, spans, named_ancestors):
            _add_other_place(scope, name, documents)


def _names_document_year(q: str, match: re.Match[str], places: list[tuple[str, str]]) -> bool:
    """Whether a year is a document's year rather than one inside its content."""
    after = q[match.end():]
    # "2023年的工作计划" and "2023年松江区…" name a document's year; "松江区2023年国民经济…"
    # names a year inside the content.
    before = q[:match.start()].rstrip()
    # "浦东新区2025年的开放月": that year's activities, so that year's plan.
    of_place = after.startswith("的") and any(before.endswith(a) for a, _ in places)
    return bool(_DOC_WORDS.match(after)) or of_place or any(after.lstrip().startswith(a) for a, _ in places)


def _add_document_years(scope: Scope, q: str, documents: dict[str, DocumentMeta], places: list[tuple[str, str]]) -> None:
    for match in _YEAR.finditer(q):
        if not _names_document_year(q, match, places):
            continue  # "2023年国民经济…计划" is content, not the document's year
        year = int(match.group(1))
        if year not in scope.years:
            scope.years.append(year)
        with_year = [d for d in scope.doc_ids if documents[d].year == year] if scope.doc_ids \
            else list(_catalogue(documents).by_year.get(year, []))
        if not with_year:
            scope.unknown_years.append(year)
        elif not scope.doc_ids and not scope.explicit:
            scope.doc_ids = with_year


def resolve_scope(question: str, documents: dict[str, DocumentMeta], doc_filter: str | None = None) -> Scope:
    """Read the scope of `question` against the corpus `documents` ({doc_id: meta dict})."""
    q = _fold(question)
    scope = Scope()
    if doc_filter:
        _scope_of_selected(scope, documents, doc_filter)
    _add_numbered_documents(scope, q, documents)
    places = named_places(q, documents)
    _add_named_places(scope, q, documents, places)
    _add_other_places(scope, q, documents, places)
    _add_document_years(scope, q, documents, places)
    return scope
