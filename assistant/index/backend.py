"""What retrieval asks of the store behind it, whichever it is (`settings.index.vector_store`).

Two legs, each a small interface, so assistant/retrieve/hybrid.py never knows which store answers:

* `DenseSearch`: the `k` clauses nearest a query vector within some documents, and the cosine of any
  named clauses. FAISS in the build folder (`FaissDense`, the default) or a Milvus collection
  (`MilvusClauseStore`).
* `LexicalScores`: the BM25 score of every clause for the question's tokens plus, at a discount, the
  thesaurus terms', as one array in index order. bm25s from the build (`BM25sScores`, every clause
  scored) or Milvus's own BM25 over the same tokens (`MilvusBM25Scores`: its top candidates in scope, plus
  the clauses the caller also needs, scored exactly; the rest 0, which fusion never reads).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import faiss
import numpy as np

from assistant.config import Settings
from assistant.index import ann

if TYPE_CHECKING:
    from assistant.index.milvus_store import MilvusClauseStore
    from assistant.index.segmentation import ChineseTokenizer
    from assistant.index.store import ClauseIndex, ClauseVectorStore


class DenseSearch(Protocol):
    def nearest(self, vector: np.ndarray, k: int, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """The `k` clauses (of `doc_ids` when given) with the highest inner product to `vector`, best first."""

    def similarity(self, vector: np.ndarray, node_ids: list[str]) -> list[float]:
        """Inner product of `vector` with each clause of `node_ids`."""


class LexicalScores(Protocol):
    def scores(self, tokens: list[str], extra: list[str], doc_ids: list[str] | None,
               also: list[str]) -> np.ndarray:
        """BM25 of `tokens` + expansion_weight x BM25 of `extra`, one value per clause in index order.
        Exact for the best candidate_k clauses of `doc_ids` (all when None) and for the clauses `also`."""


# A scope of at most this many clauses is searched as a flat index of its own vectors (read back from the
# store: a copy of 1.5 KB a clause) rather than by a selector over the whole index, which asks about each of the
# 100,000 ids. Above it the copy would cost more than the selector's scan.
SUB_INDEX_MAX_CLAUSES = 20_000


@contextmanager
def one_faiss_thread() -> Iterator[None]:
    """FAISS on one OpenMP thread for a question's search (two query vectors: one thread each otherwise). On the
    shared 2-core machine a search waited for its second thread: 100k flat, 48 ms on two threads, 10 ms on one.
    Each query's scores come from the same per-query kernel either way, so results are the same bit for bit.
    The setting is the calling thread's and is put back after, so builds keep every thread."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class FaissDense:
    """The build's FAISS store, asked by document (it filters by clause id)."""

    def __init__(self, store: "ClauseVectorStore", clauses_of: dict[str, list[str]]) -> None:
        self.store = store
        self.clauses_of = clauses_of
        self._faiss_ids: dict[str, np.ndarray] = {}   # doc id -> its clauses' FAISS ids, made on first ask
        self._ordered: tuple[Any, int, bool] | None = None   # (index, ntotal, ids ascend with position)

    def nearest(self, vector: np.ndarray, k: int, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        wanted = None if doc_ids is None else [c for d in doc_ids for c in self.clauses_of.get(d, [])]
        return self.store.nearest(vector, k, wanted)

    def extremes(self, vector: np.ndarray, k: int,
                 doc_ids: list[str] | None = None) -> tuple[list[tuple[str, float]], float | None]:
        """`nearest(vector, k, doc_ids)` and the lowest inner product among those clauses (None when there are
        none), from one FAISS search of `vector` and `-vector` together: a flat index then reads its vectors
        once for both (one scan of 100,000 vectors instead of two), and each query's scores are computed as
        alone (the same per-query kernel, so the same values, bit for bit, as two searches)."""
        index = self.store._faiss_index
        one = np.asarray(vector, dtype="float32")
        queries = np.stack([one, -one])
        if doc_ids is None:
            k = min(k, self.store.size)
            if k <= 0:
                return [], None
            with one_faiss_thread():
                scores, ids = index.search(queries, k)
            return self._named(scores, ids)
        wanted = np.concatenate([self._ids_of(d) for d in doc_ids] or [np.zeros(0, dtype=np.int64)])
        if not len(wanted):
            return [], None
        if ann.is_approximate(index):   # a graph search of a small chosen set: as the store does it
            lowest = self.nearest(-vector, 1, doc_ids)
            return self.nearest(vector, k, doc_ids), (-lowest[0][1] if lowest else None)
        k = min(k, len(wanted), self.store.size)
        if k <= 0:
            return [], None
        with one_faiss_thread():
            if len(wanted) <= SUB_INDEX_MAX_CLAUSES and self._ids_ascend(index):
                scores, ids = self._search_among(index, queries, k, np.unique(wanted))
            else:
                scores, ids = index.search(queries, k, params=faiss.SearchParameters(sel=faiss.IDSelectorBatch(wanted)))
        return self._named(scores, ids)

    @staticmethod
    def _search_among(index: Any, queries: np.ndarray, k: int, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What `index.search(queries, k)` restricted to the ids `wanted` (ascending) returns, from a flat index of
        just their vectors. The same vectors in the same order go through the same kernel (the selector's scan
        scores the chosen vectors in index order too), so the scores, their order and the order of ties are
        those of the selector search; `wanted` ascends as the positions do (see `_ids_ascend`)."""
        inner = ann._inner(index)
        sub = faiss.IndexFlat(index.d, inner.metric_type)
        sub.add(index.reconstruct_batch(wanted))
        scores, local = sub.search(queries, k)
        return scores, np.where(local >= 0, wanted[np.maximum(local, 0)], -1)

    def _ids_ascend(self, index: Any) -> bool:
        """Whether `index` is flat and its ids ascend with position (the store gives each new vector the next id
        and FAISS keeps the order on removal, so they do; checked once per index rather than assumed)."""
        if self._ordered is None or self._ordered[0] is not index or self._ordered[1] != index.ntotal:
            flat = isinstance(ann._inner(index), faiss.IndexFlat) and hasattr(index, "id_map")
            ids = faiss.vector_to_array(index.id_map) if flat else np.zeros(0, dtype=np.int64)
            self._ordered = (index, index.ntotal, flat and bool(np.all(ids[1:] > ids[:-1])))
        return self._ordered[2]

    def _named(self, scores: np.ndarray, ids: np.ndarray) -> tuple[list[tuple[str, float]], float | None]:
        names = self.store._faiss_id_to_node_id_map
        top = [(names[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]
        return top, (-float(scores[1][0]) if ids[1][0] >= 0 else None)

    def _ids_of(self, doc_id: str) -> np.ndarray:
        """The FAISS ids of a document's clauses (those stored), kept: a scoped search asked for them per
        question, one dictionary lookup per clause."""
        if doc_id not in self._faiss_ids:
            ids = self.store._node_id_to_faiss_id_map
            self._faiss_ids[doc_id] = np.array([ids[c] for c in self.clauses_of.get(doc_id, []) if c in ids],
                                               dtype=np.int64)
        return self._faiss_ids[doc_id]

    def similarity(self, vector: np.ndarray, node_ids: list[str]) -> list[float]:
        return self.store.similarity(vector, node_ids)


class BM25sScores:
    """bm25s scores every clause at once (a few ms at 100k); what the FAISS backend has always done."""

    def __init__(self, bm25: Any, size: int, expansion_weight: float) -> None:
        self.bm25 = bm25
        self.size = size
        self.expansion_weight = expansion_weight

    def scores(self, tokens: list[str], extra: list[str], doc_ids: list[str] | None,
               also: list[str]) -> np.ndarray:
        scores = self.bm25.get_scores(tokens) if tokens else np.zeros(self.size)
        if extra:
            # Thesaurus terms help a colloquial question find the plan's wording, at a discount:
            # they are our reading of the question, not the user's words.
            scores = scores + self.expansion_weight * self.bm25.get_scores(extra)
        return scores


class MilvusBM25Scores:
    """Milvus's BM25: the question's and the thesaurus terms' top candidates in scope (twice candidate_k
    each, so a clause strong on both sums into the top), then both scores of every candidate and of
    `also` read exactly (a search restricted to those ids), so fused scores match bm25s's."""

    def __init__(self, milvus: "MilvusClauseStore", ids: list[str], candidate_k: int,
                 expansion_weight: float) -> None:
        self.milvus = milvus
        self.position = {clause_id: i for i, clause_id in enumerate(ids)}
        self.size = len(ids)
        self.limit = 2 * candidate_k
        self.expansion_weight = expansion_weight

    def scores(self, tokens: list[str], extra: list[str], doc_ids: list[str] | None,
               also: list[str]) -> np.ndarray:
        legs = [(tokens, 1.0), (extra, self.expansion_weight)]
        found: dict[str, float] = {}
        for words, _ in legs:
            if words:
                found.update(self.milvus.bm25(words, self.limit, doc_ids=doc_ids))
        ids = sorted(set(found) | set(also))
        scores = np.zeros(self.size)
        for words, weight in legs:
            if words and ids:
                for clause_id, score in self.milvus.bm25(words, len(ids), node_ids=ids):
                    if clause_id in self.position:
                        scores[self.position[clause_id]] += weight * score
        return scores


def open_backend(index: "ClauseIndex", settings: Settings, bm25: Any,
                 tokenizer: "ChineseTokenizer") -> tuple[DenseSearch, LexicalScores]:
    """The two legs for `index`: FAISS and `bm25` (bm25s) by default; Milvus, synced to the index, when
    `settings.index.vector_store` is 'milvus' (its BM25 too where the server has it)."""
    ids = list(index.clauses)
    local = BM25sScores(bm25, len(ids), settings.retrieval.expansion_weight)
    if settings.index.vector_store != "milvus":
        return FaissDense(index.vector_store, clauses_by_document(index)), local
    milvus = open_milvus(index, settings, tokenizer)
    lexical = (MilvusBM25Scores(milvus, ids, settings.retrieval.candidate_k, settings.retrieval.expansion_weight)
               if milvus.has_bm25 else local)
    return milvus, lexical


def clauses_by_document(index: "ClauseIndex") -> dict[str, list[str]]:
    return {doc_id: list(doc["clauses"]) for doc_id, doc in index.manifest.documents.items()}


def open_milvus(index: "ClauseIndex", settings: Settings, tokenizer: "ChineseTokenizer") -> "MilvusClauseStore":
    """The Milvus collection of `index`, brought in line with it (only changed documents are written)."""
    from assistant.index.lexical import EMPTY_TOKEN
    from assistant.index.milvus_store import MilvusClauseStore, token_text  # pymilvus only when Milvus is asked for

    # pymilvus logs every refused call with its traceback (a server without BM25 refuses the first try) and an
    # iterator's fallback timestamp; what matters is raised as MilvusUnavailable or handled.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    milvus = MilvusClauseStore(settings, model=index.manifest.embed_model, dimension=index.manifest.dimension)
    wanted = {doc_id: (doc["sha256"], list(doc["clauses"])) for doc_id, doc in index.manifest.documents.items()}
    # The clause's tokens as bm25s indexes them (EMPTY_TOKEN for a clause without any), written only for
    # the documents the sync inserts.
    milvus.sync(wanted, lambda clause_id: token_text(tokenizer.tokens(index.clauses[clause_id].index_text)
                                                     or [EMPTY_TOKEN]),
                lambda clause_ids: build_vectors(index, clause_ids))
    milvus.drop_others()
    return milvus


def build_vectors(index: "ClauseIndex", clause_ids: list[str]) -> np.ndarray:
    """The build's own vectors of `clause_ids` (read back from FAISS: nothing is embedded twice)."""
    store = index.vector_store
    faiss_ids = np.array([store._node_id_to_faiss_id_map[c] for c in clause_ids], dtype=np.int64)
    return store._faiss_index.reconstruct_batch(faiss_ids)
