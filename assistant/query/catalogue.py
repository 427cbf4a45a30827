"""The corpus's documents looked up by what a question may name: place alias, 文号, place, enclosing place, year.

Reading a question's scope asked every document in turn whether the question names it; at 100,000 clauses (some
6,600 documents) those loops cost several ms a question, and a multi-part question reads its scope once per part.
A `Catalogue` answers the same questions by dictionary lookups. It is made once per documents mapping (see
`catalogue_of`): the documents of a loaded index do not change while it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.searchkey import search_key


@dataclass
class Catalogue:
    order: dict[str, int] = field(default_factory=dict)                # doc id -> its place in the mapping
    by_alias: dict[str, list[str]] = field(default_factory=dict)       # alias -> documents listing it
    alias_max: int = 0                                                 # the longest alias
    always_named: list[str] = field(default_factory=list)              # documents with an empty alias ("" is in every text)
    by_number: dict[str, list[str]] = field(default_factory=dict)      # search key of a 文号 -> its documents
    number_lengths: list[int] = field(default_factory=list)            # the lengths of those keys
    by_place: dict[str, list[str]] = field(default_factory=dict)       # meta.place -> documents
    by_ancestor: dict[str, list[str]] = field(default_factory=dict)    # an enclosing division -> documents inside it
    by_year: dict[int, list[str]] = field(default_factory=dict)        # meta.year -> documents

    def in_order(self, doc_ids: Iterable[str]) -> list[str]:
        """`doc_ids` without repeats, in the documents' own order (what a loop over the documents yields)."""
        return sorted(set(doc_ids), key=self.order.__getitem__)

    def aliases_in(self, text: str) -> set[str]:
        """The non-empty aliases that occur in `text`: each span of `text` up to the longest alias looked up."""
        longest = self.alias_max
        spans = {text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + longest) + 1)}
        return spans & self.by_alias.keys()

    def numbered_in(self, key: str) -> list[str]:
        """The documents whose 文号's search key occurs in the search key `key`, in document order."""
        found: set[str] = set(self.by_number.get("", ()))
        for length in self.number_lengths:
            for i in range(len(key) - length + 1):
                found.update(self.by_number.get(key[i:i + length], ()))
        return self.in_order(found)


def build_catalogue(documents: Mapping[str, DocumentMeta],
                    ancestors: Callable[[DocumentMeta], Iterable[str]]) -> Catalogue:
    """Index `documents`; `ancestors(meta)` names the divisions a document's place lies in."""
    cat = Catalogue()
    for i, (doc_id, meta) in enumerate(documents.items()):
        cat.order[doc_id] = i
        for alias in dict.fromkeys(meta.aliases or ()):
            if alias:
                cat.by_alias.setdefault(alias, []).append(doc_id)
                cat.alias_max = max(cat.alias_max, len(alias))
            elif doc_id not in cat.always_named:
                cat.always_named.append(doc_id)
        if meta.doc_number:
            cat.by_number.setdefault(_number_key(meta.doc_number), []).append(doc_id)
        if meta.place is not None:
            cat.by_place.setdefault(meta.place, []).append(doc_id)
        for name in ancestors(meta):
            cat.by_ancestor.setdefault(name, []).append(doc_id)
        if meta.year is not None:
            cat.by_year.setdefault(meta.year, []).append(doc_id)
    cat.number_lengths = sorted({len(k) for k in cat.by_number if k})
    return cat


@lru_cache(maxsize=1 << 16)
def _number_key(number: str) -> str:
    return search_key(number)


_MAX_KEPT = 8
_kept: dict[int, tuple[Mapping[str, DocumentMeta], int, Catalogue]] = {}


def catalogue_of(documents: Mapping[str, DocumentMeta],
                 ancestors: Callable[[DocumentMeta], Iterable[str]]) -> Catalogue:
    """The catalogue of `documents`, made on the first question about that mapping and kept with it (the entry
    holds the mapping, so its id is not reused while kept; a mapping whose size changed is indexed again)."""
    entry = _kept.get(id(documents))
    if entry is not None and entry[0] is documents and entry[1] == len(documents):
        return entry[2]
    if len(_kept) >= _MAX_KEPT:
        _kept.pop(next(iter(_kept)))
    cat = build_catalogue(documents, ancestors)
    _kept[id(documents)] = (documents, len(documents), cat)
    return cat
