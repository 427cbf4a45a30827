"""Exact or approximate dense search, chosen by the size of the index.

FAISS flat compares a question with every clause: exact, and fast enough for small indexes, but its
cost grows with the clause count (scripts/ann_recall.py measures it). From `ann_min_clauses` clauses
on, a build replaces the flat index by an HNSW graph (`IndexHNSWFlat`, inner product, `hnsw_m` links,
`hnsw_ef_search` saved in the index file), still inside the `IndexIDMap2` that maps FAISS ids to clauses,
so persisting, loading and the manifest's checks are unchanged.

What HNSW cannot do, and what is done instead:
- delete vectors (`remove_ids` raises): before a document's vectors are deleted the index is turned back
  into flat (`use_flat`); the build then makes the graph again from all vectors (`fit_index`);
- search well among a few chosen clauses (a FAISS selector over a graph misses most of a small set):
  a search limited to `node_ids` scores exactly those vectors (`nearest_among`), which is exact and cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

if TYPE_CHECKING:
    from assistant.config import Settings


def _inner(faiss_index: Any) -> Any:
    return faiss.downcast_index(faiss_index.index) if hasattr(faiss_index, "index") else faiss_index


def is_approximate(faiss_index: Any) -> bool:
    """The index searches an HNSW graph (not every vector)."""
    return isinstance(_inner(faiss_index), faiss.IndexHNSW)


def _contents(faiss_index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of an IndexIDMap2, in its internal order."""
    ids = faiss.vector_to_array(faiss_index.id_map).astype(np.int64)
    vectors = _inner(faiss_index).reconstruct_n(0, faiss_index.ntotal) if faiss_index.ntotal else \
        np.zeros((0, faiss_index.d), dtype=np.float32)
    return ids, np.ascontiguousarray(vectors, dtype=np.float32)


def flat_index(dimension: int) -> Any:
    # Inner product on normalised vectors is cosine similarity.
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def hnsw_index(dimension: int, *, m: int, ef_construction: int, ef_search: int) -> Any:
    graph = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = ef_construction
    graph.hnsw.efSearch = ef_search
    return faiss.IndexIDMap2(graph)


def _refilled(faiss_index: Any, target: Any) -> Any:
    ids, vectors = _contents(faiss_index)
    if len(ids):
        target.add_with_ids(vectors, ids)   # one batch: FAISS links the graph on all threads
    return target


def use_flat(store: Any) -> None:
    """Make `store`'s index flat (exact, deletable), keeping every vector under its id."""
    if is_approximate(store._faiss_index):
        store._faiss_index = _refilled(store._faiss_index, flat_index(store._faiss_index.d))


def wants_approximate(size: int, settings: Settings) -> bool:
    return size > 0 and size >= settings.index.ann_min_clauses


def fit_index(store: Any, settings: Settings) -> None:
    """The index kind the size of `store` calls for: HNSW from `ann_min_clauses` on, flat below."""
    index = store._faiss_index
    if wants_approximate(index.ntotal, settings):
        inner = _inner(index)
        if is_approximate(index) and inner.hnsw.nb_neighbors(1) == settings.index.hnsw_m:
            inner.hnsw.efSearch = settings.index.hnsw_ef_search   # a search-time value: no new graph needed
        else:
            store._faiss_index = _refilled(index, hnsw_index(index.d, m=settings.index.hnsw_m,
                                                             ef_construction=settings.index.hnsw_ef_construction,
                                                             ef_search=settings.index.hnsw_ef_search))
    else:
        use_flat(store)


def nearest_among(faiss_index: Any, vector: np.ndarray, k: int, faiss_ids: np.ndarray) -> list[tuple[int, float]]:
    """The `k` of `faiss_ids` with the highest inner product to `vector`, best first, scored exactly."""
    if not len(faiss_ids) or k <= 0:
        return []
    stored = faiss_index.reconstruct_batch(faiss_ids)
    scores = stored @ np.asarray(vector, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(faiss_ids[i]), float(scores[i])) for i in order]


def recall_at_k(exact: np.ndarray, approximate: np.ndarray) -> float:
    """Mean share of each row of `exact` (ids of the true top k) that `approximate` found too."""
    hits = [len(set(e[e >= 0].tolist()) & set(a[a >= 0].tolist())) / max(1, int((e >= 0).sum()))
            for e, a in zip(exact, approximate)]
    return float(np.mean(hits)) if hits else 1.0
