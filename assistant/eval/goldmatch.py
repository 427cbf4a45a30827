"""Does a retrieved text hit a gold quote? One rule, shared by the benchmark and the evaluation.

A gold quote (eval/questions.jsonl, `gold: [{doc, quote}]`) is a verbatim piece of the raw
document. A clause (or any retrieved chunk) hits it when the clause contains the quote with all
whitespace removed and full-/half-width variants folded (`searchkey.search_key`: NFKC, lower
case). Markdown markup in the quote (`**bold**`, a leading `#` heading marker) is ignored, since
the parser strips it from clause texts. A quote from a task table holds TAB-separated cells; the
cells of a row are rejoined differently in a clause, so it hits when every non-empty cell is in
the clause.

Public API::

    quote_key(quote) -> list[str]                      # the search keys that must all be present
    quote_hits(clause_text, quote) -> bool
    first_hit_rank(hits, gold) -> int | None           # hits: [(doc_id, text)], 1-based rank
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from assistant.ingest.searchkey import search_key

_BOLD = re.compile(r"\*\*|__")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s*")


def _strip_markup(text: str) -> str:
    return _BOLD.sub("", _MD_HEADING.sub("", text))


# Table cells in a quote: TAB-separated (as the shipped tables are), or " | " as pipe-drawn web tables
# print them; a clause holding the row holds every cell, whatever the layout between them.
_CELLS = re.compile(r"\t|\s*\|\s*")


def quote_key(quote: str) -> list[str]:
    """The search keys a text must all contain to hit `quote` (one per non-empty table cell)."""
    keys = [search_key(_strip_markup(field)) for field in _CELLS.split(quote)]
    return [k for k in keys if k]


def text_key(text: str) -> str:
    """The search key of a clause or chunk text (markup removed, like the quote's)."""
    return search_key(_BOLD.sub("", text))


def quote_hits(clause_text: str, quote: str) -> bool:
    """True when `clause_text` contains `quote` (whitespace, width and markup ignored)."""
    keys = quote_key(quote)
    if not keys:
        return False
    text = text_key(clause_text)
    return all(k in text for k in keys)


def hit_gold(doc_id: str, text: str, gold: Iterable[dict]) -> bool:
    """True when (doc_id, text) hits a gold quote of the same document."""
    key = None
    for g in gold:
        if g.get("doc") != doc_id:
            continue
        keys = quote_key(g.get("quote", ""))
        if not keys:
            continue
        if key is None:
            key = text_key(text)
        if all(k in key for k in keys):
            return True
    return False


def first_hit_rank(hits: Sequence[tuple[str, str]], gold: Sequence[dict]) -> int | None:
    """1-based rank of the first (doc_id, text) that hits a gold quote of its document, or None."""
    for rank, (doc_id, text) in enumerate(hits, 1):
        if hit_gold(doc_id, text, gold):
            return rank
    return None
