"""The lexical leg's index: BM25 (bm25s) over the jieba tokens of every clause's indexed text.

It is built with the vector index and saved in the same build folder (its files are checksummed by
the manifest like the others), so a start loads it instead of re-tokenising every clause, which took
65 s of a 95 s restart at 100k clauses. The tokenizer knows the corpus's place names, so the index is
rebuilt whenever the vector index is (a new document may bring new names).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import bm25s

from assistant.index.segmentation import ChineseTokenizer
from assistant.ingest.metadata import DocumentMeta

IDS_FILE = "bm25.ids.json"
_FILES = {"data_name": "bm25.data.npy", "indices_name": "bm25.indices.npy", "indptr_name": "bm25.indptr.npy",
          "vocab_name": "bm25.vocab.json", "params_name": "bm25.params.json", "nnoc_name": "bm25.nnoc.npy"}
EMPTY_TOKEN = "∅"   # bm25s needs at least one token per document


def tokenizer_for(documents: Iterable[DocumentMeta]) -> ChineseTokenizer:
    """The tokenizer of a corpus: the field's terms plus every document's place names and aliases."""
    return ChineseTokenizer([alias for meta in documents for alias in meta.aliases])


def build_lexical(texts: list[str], tokenizer: ChineseTokenizer) -> bm25s.BM25:
    # Each text's tokens become vocabulary ids as they are made: the token strings of 100k clauses held
    # at once were 1.3 GB, the peak of a large build.
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(token, len(vocab)) for token in tokenizer.tokens(text) or [EMPTY_TOKEN]] for text in texts]
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return bm25


def save_lexical(bm25: bm25s.BM25, clause_ids: list[str], build: Path) -> None:
    """Into `build` (written before the manifest, which then vouches for these files too)."""
    bm25.save(str(build), show_progress=False, **_FILES)
    (build / IDS_FILE).write_text(json.dumps(clause_ids, ensure_ascii=False), encoding="utf-8")


def has_lexical(file_names: set[str]) -> bool:
    return IDS_FILE in file_names and set(_FILES.values()) - {_FILES["nnoc_name"]} <= file_names


def load_lexical(build: Path, clause_ids: list[str]) -> bm25s.BM25:
    """The saved BM25 of `build`; ValueError when it indexes other clauses than `clause_ids`, in order."""
    saved = json.loads((build / IDS_FILE).read_text(encoding="utf-8"))
    if saved != clause_ids:
        raise ValueError(f"the BM25 index holds {len(saved)} clauses that do not match the clause file's "
                         f"{len(clause_ids)} in order")
    return bm25s.BM25.load(str(build), show_progress=False, **_FILES)
