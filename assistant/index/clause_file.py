"""The clause store of a build: every Clause in one compact file, and what retrieval derives from them.

`clauses.json` holds the typed `Clause` records, one row of values per clause in CLAUSE_FIELDS order
(the field names once, not per clause; UTF-8, not \\u escapes), in the order a load reads them
(documents sorted, each document's clauses in order). It replaced llama-index's `docstore.json`, which
kept each clause as a serialised node with its text twice and its metadata as escaped JSON: 377 MB at
100k clauses, parsed into pydantic objects on every start (most of a 61 s restart and of the
build's peak memory). One `json.loads` of this file and a dataclass per row is a second or two.

`terms.json` holds what `HybridRetriever` needs of every clause before its first search, computed once
by the build instead of on every start: the search key of each clause's indexed text (same order as
the clauses) and the speller's vocabulary (jieba's search-mode words of every clause's text, with the
build's tokenizer). Both depend only on the clauses and that tokenizer, so they are as fresh as the BM25
index saved beside them (lexical.py).

Both files are checksummed by the manifest like the others; what is read here is also checked for
shape, so a file that passes its checksum but does not describe the build's clauses is an error
(ValueError, which the loader reports as a corrupt index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.index.segmentation import ChineseTokenizer
from assistant.ingest.searchkey import search_key
from assistant.ingest.structure import Clause

CLAUSES_FILE = "clauses.json"
TERMS_FILE = "terms.json"
FORMAT = 1
CLAUSE_FIELDS = ("id", "doc_id", "kind", "heading_path", "text", "start", "end", "units", "deadline",
                 "doc_title", "part", "search_terms", "row")
_WRITE_CHUNK = 2000   # rows per write: the whole file is never one string in memory


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_clauses(path: Path, clauses: Iterable[Clause]) -> None:
    """Every clause of `clauses`, in that order (the build folder is not live yet: written in place)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(f'{{"format":{FORMAT},"fields":{_dump(list(CLAUSE_FIELDS))},"rows":[\n')
        rows: list[str] = []
        first = True
        for clause in clauses:
            rows.append(_dump([list(clause.heading_path) if name == "heading_path" else getattr(clause, name)
                               for name in CLAUSE_FIELDS]))
            if len(rows) >= _WRITE_CHUNK:
                out.write(("" if first else ",\n") + ",\n".join(rows))
                rows, first = [], False
        if rows:
            out.write(("" if first else ",\n") + ",\n".join(rows))
        out.write("\n]}\n")


def read_clauses(path: Path) -> list[Clause]:
    """The clauses of a clause file, in file order; ValueError when it is not one this program wrote."""
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a clause file of format {FORMAT}")
    if data.get("fields") != list(CLAUSE_FIELDS):
        raise ValueError(f"{path.name} has the fields {data.get('fields')!r}, not {list(CLAUSE_FIELDS)}")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ValueError(f"{path.name} has no rows")
    width = len(CLAUSE_FIELDS)
    clauses = []
    for number, row in enumerate(rows):
        # The checksum vouches for the bytes; this catches a file that is well formed but not ours.
        if not (isinstance(row, list) and len(row) == width and isinstance(row[0], str) and isinstance(row[4], str)
                and isinstance(row[3], list)):
            raise ValueError(f"{path.name} row {number} is malformed")
        clauses.append(Clause.from_dict(dict(zip(CLAUSE_FIELDS, row))))
    return clauses


@dataclass
class RetrievalTerms:
    """What retrieval derives from every clause: `keys[i]` the search key of clause i's indexed text
    (clauses in load order), `words` the speller's vocabulary (sorted)."""

    keys: list[str]
    words: list[str]


def retrieval_terms(clauses: list[Clause], tokenizer: ChineseTokenizer) -> RetrievalTerms:
    """Computed as HybridRetriever computed them at every start before the build saved them."""
    words = {w for clause in clauses for w in tokenizer.words(clause.text)}
    return RetrievalTerms(keys=[search_key(clause.index_text) for clause in clauses], words=sorted(words))


def write_terms(path: Path, terms: RetrievalTerms) -> None:
    path.write_text(_dump({"format": FORMAT, "keys": terms.keys, "words": terms.words}), encoding="utf-8")


def read_terms(path: Path, clause_count: int) -> RetrievalTerms:
    """The saved terms; ValueError when they are not one search key per clause and a list of words."""
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a terms file of format {FORMAT}")
    keys, words = data.get("keys"), data.get("words")
    if not isinstance(keys, list) or len(keys) != clause_count or not isinstance(words, list):
        raise ValueError(f"{path.name} holds {len(keys) if isinstance(keys, list) else 'no'} search keys "
                         f"for {clause_count} clauses")
    return RetrievalTerms(keys=keys, words=words)
