"""Which documents mention something: "哪些文件提到了“政策解读提升年”" is answered by the documents whose text
holds those words, not by those whose clauses are merely near the topic (every plan speaks of 政策解读)."""

from __future__ import annotations

import bisect
import weakref

from assistant.ingest.searchkey import search_key
from assistant.ingest.structure import Clause
from assistant.query.kinds import mentioned_phrase
from assistant.query.understand import Query
from assistant.retrieve.hybrid import Hit, HybridRetriever

MAX_CLAUSES_PER_DOCUMENT = 2
_SEPARATOR = "\x00"   # in no search key


class MentionIndex:
    """Every clause's mention key (the search key of its text and its headings: a heading mentions a phrase for
    the clauses under it, "（二）开展“政策解读提升年”活动"), joined in document order, so that the clauses holding a
    phrase are found by a string search in C instead of keying each of 100,000 clauses per question."""

    def __init__(self, retriever: HybridRetriever) -> None:
        self.clauses: list[Clause] = []
        self.starts: list[int] = []
        keys: list[str] = []
        at = 0
        for doc_id in retriever.documents:
            for clause in retriever.clauses_of(doc_id):
                key = search_key(clause.text + "".join(clause.heading_path))
                self.clauses.append(clause)
                self.starts.append(at)
                keys.append(key)
                at += len(key) + 1
        self.joined = _SEPARATOR.join(keys)

    def holding(self, key: str) -> list[Clause]:
        """The clauses whose mention key holds `key` (non-empty, no separator), in document order."""
        found: list[Clause] = []
        at = self.joined.find(key)
        while at >= 0:
            i = bisect.bisect_right(self.starts, at) - 1
            found.append(self.clauses[i])
            after = i + 1
            if after >= len(self.starts):
                break
            at = self.joined.find(key, self.starts[after])   # the next clause: one hit per clause
        return found


_indexes: "weakref.WeakKeyDictionary[HybridRetriever, MentionIndex]" = weakref.WeakKeyDictionary()


def _index_of(retriever: HybridRetriever) -> MentionIndex:
    """Made on the first which-documents question a retriever answers, and kept while it serves."""
    if retriever not in _indexes:
        _indexes[retriever] = MentionIndex(retriever)
    return _indexes[retriever]


def mention_hits(query: Query | None, retriever: HybridRetriever) -> list[list[Hit]]:
    """Per document that mentions what a which-documents question asks about, the clauses that do, in
    document order; [] when the question names no phrase or no document holds it (then ranking decides)."""
    phrase = mentioned_phrase(query.rewrite) if query is not None and query.qtype == "which_documents" else None
    if not phrase:
        return []
    key = search_key(phrase)
    within = set(query.scope.doc_ids) if len(query.scope.doc_ids) >= 2 else None
    if key and _SEPARATOR not in key:
        holding = _index_of(retriever).holding(key)
    else:   # an empty key is in every clause: each asked, as the index cannot
        holding = [c for d in retriever.documents for c in retriever.clauses_of(d)
                   if key in search_key(c.text + "".join(c.heading_path))]
    by_doc: dict[str, list[Hit]] = {}
    for clause in holding:
        if within is not None and clause.doc_id not in within:
            continue
        found = by_doc.setdefault(clause.doc_id, [])
        if len(found) < MAX_CLAUSES_PER_DOCUMENT:
            found.append(retriever.hit_for(clause.id))
    return list(by_doc.values())
