from __future__ import annotations

import numpy as np
import pytest

from assistant.index.backend import FaissDense


class _Node:
    def __init__(self, node_id: str, vector: np.ndarray) -> None:
        self.id_, self.vector = node_id, vector

    def get_embedding(self) -> np.ndarray:
        return self.vector


@pytest.fixture(scope="module")
def dense():
    """A FAISS flat store of 300 clauses in 3 documents, asked through FaissDense."""
    from assistant.index.store import ClauseVectorStore

    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(300, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] = vectors[8]   # two clauses with the same vector: tied cosines
    store = ClauseVectorStore.empty(16)
    ids = [f"d{i % 3}/{i}" for i in range(300)]
    store.add([_Node(ids[i], vectors[i]) for i in range(300)])
    clauses_of = {f"d{d}": [c for c in ids if c.startswith(f"d{d}/")] for d in range(3)}
    return FaissDense(store, clauses_of), vectors


@pytest.mark.parametrize("doc_ids", [None, ["d1"], ["d0", "d2"], ["nowhere"]])
def test_extremes_are_the_nearest_clauses_and_the_lowest_cosine_of_the_scope(dense, doc_ids):
    """One search of the vector and its negation gives what two searches gave: the same clauses in the same
    order, and the same cosines (to float rounding: FAISS's one-query kernel may sum in another order)."""
    store, vectors = dense
    for query in vectors[[3, 8, 100]]:
        top, lowest = store.extremes(query, 10, doc_ids)
        alone = store.nearest(query, 10, doc_ids)
        least = store.nearest(-query, 1, doc_ids)
        assert [c for c, _ in top] == [c for c, _ in alone]
        assert np.allclose([s for _, s in top], [s for _, s in alone], rtol=0, atol=1e-6)
        assert (lowest is None) == (not least)
        if least:
            assert lowest == pytest.approx(-least[0][1], abs=1e-6)


def test_a_scoped_search_asks_faiss_for_the_documents_own_clauses_only(dense):
    store, vectors = dense
    top, _ = store.extremes(vectors[4], 500, ["d1"])
    assert len(top) == 100 and all(c.startswith("d1/") for c, _ in top)


def _selector_search(store: FaissDense, query: np.ndarray, k: int, doc_ids: list[str]):
    """The scoped search as it was: the whole index asked with an id selector."""
    import faiss

    wanted = np.concatenate([store._ids_of(d) for d in doc_ids])
    index = store.store._faiss_index
    return index.search(np.stack([query, -query]), min(k, len(wanted)),
                        params=faiss.SearchParameters(sel=faiss.IDSelectorBatch(wanted)))


@pytest.mark.parametrize("doc_ids", [["d1"], ["d0", "d2"], ["d2", "d0", "d1"]])
def test_a_small_scope_searched_among_its_own_vectors_gives_the_selector_search_bit_for_bit(dense, doc_ids):
    """Same clauses, same order (ties too: clauses 7 and 8 share a vector), same float scores."""
    store, vectors = dense
    names = store.store._faiss_id_to_node_id_map
    for query in vectors[[3, 7, 8, 100, 299]]:
        for k in (1, 5, 30, 500):
            scores, ids = _selector_search(store, query, k, doc_ids)
            top, lowest = store.extremes(query, k, doc_ids)
            assert top == [(names[int(i)], float(s)) for s, i in zip(scores[0], ids[0])]
            assert lowest == -float(scores[1][0])


def test_a_large_scope_still_goes_through_the_selector(dense, monkeypatch):
    from assistant.index import backend

    store, vectors = dense
    small = store.extremes(vectors[5], 10, ["d0", "d1"])
    monkeypatch.setattr(backend, "SUB_INDEX_MAX_CLAUSES", 0)
    assert store.extremes(vectors[5], 10, ["d0", "d1"]) == small


def test_a_search_runs_on_one_faiss_thread_and_gives_the_callers_threads_back():
    import faiss

    from assistant.index.backend import one_faiss_thread

    before = faiss.omp_get_max_threads()
    with one_faiss_thread():
        assert faiss.omp_get_max_threads() == 1
    assert faiss.omp_get_max_threads() == before
