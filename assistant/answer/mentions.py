"""Which documents mention something: "哪些文件提到了“政策解读提升年”" is answered by the documents whose text
holds those words, not by those whose clauses are merely near the topic (every plan speaks of 政策解读)."""

from __future__ import annotations

from assistant.ingest.searchkey import search_key
from assistant.query.kinds import mentioned_phrase
from assistant.query.understand import Query
from assistant.retrieve.hybrid import Hit, HybridRetriever

MAX_CLAUSES_PER_DOCUMENT = 2


def mention_hits(query: Query | None, retriever: HybridRetriever) -> list[list[Hit]]:
    """Per document that mentions what a which-documents question asks about, the clauses that do, in
    document order; [] when the question names no phrase or no document holds it (then ranking decides)."""
    phrase = mentioned_phrase(query.rewrite) if query is not None and query.qtype == "which_documents" else None
    if not phrase:
        return []
    key = search_key(phrase)
    within = set(query.scope.doc_ids) if len(query.scope.doc_ids) >= 2 else None
    by_doc: dict[str, list[Hit]] = {}
    for doc_id in retriever.documents:
        if within is not None and doc_id not in within:
            continue
        # A heading mentions it for the clauses under it ("（二）开展“政策解读提升年”活动").
        found = [c for c in retriever.clauses_of(doc_id) if key in search_key(c.text + "".join(c.heading_path))]
        if found:
            by_doc[doc_id] = [retriever.hit_for(c.id) for c in found[:MAX_CLAUSES_PER_DOCUMENT]]
    return list(by_doc.values())
