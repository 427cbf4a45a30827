"""The clause vectors and the BM25 leg in Milvus (`ASSISTANT_VECTOR_STORE=milvus`).

`ASSISTANT_MILVUS_URI` names the Milvus: a file path runs Milvus Lite inside this process (tests, one
machine), `http://host:19530` a Milvus server or cluster. The collection is made and filled through
llama-index's `MilvusVectorStore` (its schema, inserts and per-document deletes); searches go to its
pymilvus client directly, because retrieval fuses the two legs itself (hybrid.py) and needs each leg's
own top candidates, scores for named clauses, and scope filters, which `MilvusVectorStore.query` does
not give.

The build folder stays the source of truth (manifest, clause records, FAISS vectors): the collection is
a mirror brought in line with it by document whenever an index is opened (`MilvusClauseStore.sync`).
Every row carries its document's sha256, so an added, changed or removed document touches only its own
rows, its vectors are copied from the build (nothing is embedded twice), and a run killed half-way
through a sync is finished by the next one. Clause ids are the primary keys, the same ids FAISS maps.

The lexical leg is Milvus's own BM25 (a BM25 function over the text field, a sparse inverted index,
BM25 statistics, top-k and scope filters all in Milvus, analysed by its jieba tokenizer) where the server
has it (Milvus >= 2.5, Milvus Lite); a server without it gets a dense-only collection and the build's
bm25s index serves the lexical leg (`has_bm25`). The words are ours, though: the text field holds the
clause's tokens from ChineseTokenizer (jieba with the field's dictionary, the corpus's place names,
quantities such as "5个工作日" as one token, stop-words dropped), each spelled as one ASCII word
(`token_text`) that jieba keeps whole, and a question is sent the same way. Measured before this choice,
Milvus's jieba segmenting the clause text itself (our dictionary passed as its `dict`, our stop-words as a
filter) changed 9 of 1,010 eval answers and heldout MRR@10 by 0.014: a server's jieba has no word
frequencies for a custom dictionary and no quantity rule, and Milvus versions differ in which jieba
options they take. With our tokens the two legs score alike on every server (`tests/index/test_milvus_store.py`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.milvus import MilvusVectorStore
from llama_index.vector_stores.milvus.utils import BM25BuiltInFunction

from assistant.config import Settings
from assistant.errors import AssistantError

TEXT_FIELD = "text"
DENSE_FIELD = "embedding"
SPARSE_FIELD = "sparse_embedding"
DOC_FIELD = "doc_id"
SHA_FIELD = "doc_sha256"
# Milvus caps one search's limit (topk) and one filter's list at 16384.
MAX_LIMIT = 16_384
# BM25 as bm25s computes it (k1 1.5, b 0.75, Lucene idf), so Milvus's lexical scores are on the same scale.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
# Milvus's jieba tokenizer as it comes: a run of ASCII letters and digits is one word (jieba's dictionary has
# no ASCII word to split it at), so a token spelled that way reaches BM25 whole.
ANALYZER = {"tokenizer": "jieba"}
# Every request asks for "Session" consistency (this client reads its own sync's writes), whatever the
# collection was made with: "Strong" made a Milvus 2.3 server wait for a time tick on every request.
CONSISTENCY = "Session"
_CONNECT_FAILED = 2   # pymilvus's MilvusException code for a server it cannot connect to
TOKEN_FORMAT = 1   # in the collection's name: a change of spelling gets a new collection, filled from the build


class MilvusUnavailable(AssistantError):
    """Milvus could not be reached or refused the collection; the message says which URI and why."""


def milvus_uri(settings: Settings) -> str:
    """The configured URI; a file path (Milvus Lite) is made absolute and its folder created."""
    uri = settings.index.milvus_uri or str(settings.paths.index_dir / "milvus.db")
    if re.match(r"^[a-z][a-z0-9+.-]*://", uri):
        return uri
    path = Path(uri).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def token_text(tokens: list[str]) -> str:
    """Our tokens as text Milvus's jieba analyser splits back into exactly these tokens, repeats included
    (BM25 counts them, as bm25s does): each token's UTF-8 in hex behind "t", lower case as the analyser
    leaves it."""
    return " ".join("t" + token.encode("utf-8").hex() for token in tokens)


def collection_name(settings: Settings, model: str, dimension: int, bm25: bool) -> str:
    """The prefix and a hash of what the collection's contents depend on: a new model, dimension or token
    spelling gets a new collection, filled from the build. A document bringing a new place name changes
    the tokenizer, but only that document's rows are written with it: the other rows keep their tokens
    (a place name rarely occurs in another place's plan), where bm25s re-tokenises every clause; opening
    the index with a new collection prefix, or a fresh Milvus Lite file, writes every row anew."""
    key = json.dumps([model, dimension, ANALYZER, TOKEN_FORMAT, bm25], sort_keys=True)
    return f"{settings.index.milvus_collection}_{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _quoted(values: Iterable[str]) -> str:
    return "[" + ",".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


@dataclass
class SyncReport:
    """What `sync` changed in the collection (document ids) and the rows it holds after it."""
    collection: str
    deleted: list[str] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    rows: int = 0


class MilvusClauseStore:
    """One index's clauses in a Milvus collection: dense nearest/similarity and BM25 searches by clause id."""

    def __init__(self, settings: Settings, *, model: str, dimension: int) -> None:
        self.settings = settings
        self.uri = milvus_uri(settings)
        self.dimension = dimension
        self.has_bm25 = True
        self.store = self._open(model)
        self.last_sync: SyncReport | None = None     # what the latest sync changed

    def _open(self, model: str) -> MilvusVectorStore:
        """The collection, made with a BM25 function when the server supports one, dense-only otherwise."""
        with_bm25 = collection_name(self.settings, model, self.dimension, True)
        try:
            store = self._vector_store(with_bm25, bm25=True)
        except Exception as first:  # a server without BM25 functions or the jieba analyser (Milvus < 2.5)
            if getattr(first, "code", None) == _CONNECT_FAILED:   # no server there: nothing else to try
                raise MilvusUnavailable(f"Milvus at {self.uri} unreachable ({first})") from first
            try:
                store = self._vector_store(collection_name(self.settings, model, self.dimension, False), bm25=False)
            except Exception as exc:
                raise MilvusUnavailable(f"Milvus at {self.uri} unusable ({type(exc).__name__}: {exc}; "
                                        f"with BM25: {type(first).__name__}: {first})") from exc
            self.has_bm25 = False
            # Milvus 2.3 makes the collection and then refuses its sparse index: drop what it left.
            if store.client.has_collection(with_bm25):
                store.client.drop_collection(with_bm25)
        # A collection made by an earlier run is released (on disk, not searchable) until loaded.
        store.client.load_collection(store.collection_name)
        return store

    def _vector_store(self, name: str, *, bm25: bool) -> MilvusVectorStore:
        kwargs: dict[str, Any] = {}
        if bm25:
            kwargs = {"enable_sparse": True, "sparse_embedding_field": SPARSE_FIELD,
                      "sparse_embedding_function": BM25BuiltInFunction(
                          input_field_names=TEXT_FIELD, output_field_names=SPARSE_FIELD,
                          analyzer_params=ANALYZER),
                      "sparse_index_config": {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25",
                                              **BM25_PARAMS}}
        # FLAT inner product: exact cosine on normalised vectors, as FAISS flat gives, so fusion sees the
        # same scores. Upserts, so that two processes syncing the same documents at once cannot leave a
        # clause twice.
        return MilvusVectorStore(uri=self.uri, token=self.settings.index.milvus_token, collection_name=name,
                                 dim=self.dimension, embedding_field=DENSE_FIELD, text_key=TEXT_FIELD,
                                 doc_id_field=DOC_FIELD, similarity_metric="IP",
                                 index_config={"index_type": "FLAT", "metric_type": "IP"},
                                 consistency_level=CONSISTENCY, upsert_mode=True, use_async_client=False, **kwargs)

    @property
    def client(self) -> Any:
        return self.store.client

    @property
    def collection(self) -> str:
        return self.store.collection_name

    # --- keeping the collection in line with the build ---------------------------------------------

    def documents(self) -> dict[str, tuple[set[str], int]]:
        """doc id -> (the sha256s its rows carry, how many rows) as the collection holds them now."""
        held: dict[str, tuple[set[str], int]] = {}
        iterator = self.client.query_iterator(self.collection, batch_size=1000, filter='id != ""',
                                              consistency_level=CONSISTENCY,
                                              output_fields=[DOC_FIELD, SHA_FIELD])
        try:
            while rows := iterator.next():
                for row in rows:
                    shas, count = held.get(row[DOC_FIELD], (set(), 0))
                    held[row[DOC_FIELD]] = (shas | {row.get(SHA_FIELD) or ""}, count + 1)
        finally:
            iterator.close()
        return held

    def sync(self, wanted: dict[str, tuple[str, list[str]]], text_of: Callable[[str], str],
             vectors: Callable[[list[str]], np.ndarray]) -> SyncReport:
        """Make the collection hold exactly `wanted` (doc id -> (sha256, clause ids)): a document whose rows
        are missing, extra or of another sha256 is deleted and inserted again; the others are not touched.
        `text_of(id)` gives a clause's text for BM25 (`token_text`), `vectors(ids)` their vectors (one row each)."""
        report = SyncReport(collection=self.collection)
        held = self.documents()
        stale = sorted(d for d, (shas, count) in held.items()
                       if d not in wanted or shas != {wanted[d][0]} or count != len(wanted[d][1]))
        for doc_id in stale:
            self.store.delete(doc_id)
        report.deleted = stale
        missing = sorted(d for d in wanted if d not in held or d in stale)
        for doc_id in missing:
            sha, ids = wanted[doc_id]
            if ids:
                self.store.add(self._nodes(doc_id, sha, ids, text_of, np.asarray(vectors(ids), dtype="float32")))
        report.inserted = missing
        if stale or missing:
            self.client.flush(self.collection)
        report.rows = sum(len(ids) for _, ids in wanted.values())
        self.last_sync = report
        return report

    @staticmethod
    def _nodes(doc_id: str, sha: str, ids: list[str], text_of: Callable[[str], str],
               vectors: np.ndarray) -> list[TextNode]:
        nodes = []
        for clause_id, vector in zip(ids, vectors):
            # Only what the searches need travels: the clause records stay in the build folder.
            node = TextNode(id_=clause_id, text=text_of(clause_id), metadata={SHA_FIELD: sha},
                            embedding=[float(x) for x in vector])
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
            nodes.append(node)
        return nodes

    def drop_others(self) -> list[str]:
        """Drop the collections of this prefix other than the live one (an old model or dictionary)."""
        prefix = self.settings.index.milvus_collection + "_"
        dropped = [n for n in self.client.list_collections() if n.startswith(prefix) and n != self.collection
                   and re.fullmatch(r"[0-9a-f]{12}", n[len(prefix):])]
        for name in dropped:
            self.client.drop_collection(name)
        return dropped

    # --- searching ----------------------------------------------------------------------------------

    @staticmethod
    def _filter(doc_ids: list[str] | None = None, node_ids: list[str] | None = None) -> str:
        parts = []
        if doc_ids is not None:
            parts.append(f"{DOC_FIELD} in {_quoted(doc_ids)}")
        if node_ids is not None:
            parts.append(f"id in {_quoted(node_ids)}")
        return " and ".join(parts)

    def _search(self, data: Any, field_name: str, metric: str, limit: int, expr: str) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        results = self.client.search(self.collection, data=[data], anns_field=field_name, limit=min(limit, MAX_LIMIT),
                                     filter=expr, output_fields=[], search_params={"metric_type": metric},
                                     consistency_level=CONSISTENCY)
        return [(str(hit["id"]), float(hit["distance"])) for hit in results[0]]

    def nearest(self, vector: np.ndarray, k: int, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """The `k` clauses (of the documents `doc_ids` when given) with the highest inner product to
        `vector`, best first; `-vector` gives the lowest."""
        if doc_ids is not None and not doc_ids:
            return []
        vector = [float(x) for x in np.asarray(vector, dtype="float32")]
        return self._search(vector, DENSE_FIELD, "IP", k, self._filter(doc_ids))

    def similarity(self, vector: np.ndarray, node_ids: list[str]) -> list[float]:
        """Inner product of `vector` with each clause of `node_ids` (their stored vectors, read back)."""
        if not node_ids:
            return []
        rows = self.client.query(self.collection, filter=self._filter(node_ids=node_ids),
                                 output_fields=[DENSE_FIELD], consistency_level=CONSISTENCY)
        stored = {str(r["id"]): np.asarray(r[DENSE_FIELD], dtype="float32") for r in rows}
        query = np.asarray(vector, dtype="float32")
        return [float(stored[i] @ query) for i in node_ids]

    def bm25(self, tokens: list[str], limit: int, *, doc_ids: list[str] | None = None,
             node_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Milvus's BM25 of the clauses (of `doc_ids`, or only `node_ids`) for our search `tokens`, best
        first, at most `limit`; a clause sharing no token with them is not listed (its score is 0)."""
        text = token_text(tokens)
        if not text or (doc_ids is not None and not doc_ids) or (node_ids is not None and not node_ids):
            return []
        # BM25 is never negative; Milvus Lite reports it negated (as a distance), a Milvus server as is.
        # Milvus scores carry Okapi's (k1 + 1) factor, bm25s's Lucene variant does not: fusion divides by
        # the best score, so only the printed scores (`search --json`) change, and they are made the same.
        scale = 1.0 / (BM25_PARAMS["bm25_k1"] + 1.0)
        return [(i, abs(score) * scale) for i, score in self._search(text, SPARSE_FIELD, "BM25", limit,
                                                                     self._filter(doc_ids, node_ids))]

    def count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"],
                                 consistency_level=CONSISTENCY)
        return int(rows[0]["count(*)"]) if rows else 0

    def close(self) -> None:
        self.client.close()
