"""Exact or approximate dense search by index size: flat below `ann_min_clauses`, HNSW from there on,
every vector kept under its id across the switch, deletes and searches among chosen clauses still exact,
and a real build, reload, remove and add with an HNSW index.
"""

from __future__ import annotations

import shutil

import faiss
import numpy as np
import pytest

from assistant.config import SettingsError, load_settings, field_info
from assistant.index import ann
from assistant.index.store import ClauseVectorStore, check_index, ensure_index, load_index
from tests.conftest import CORPUS

D = 16


def _store(n: int, seed: int = 1) -> ClauseVectorStore:
    from llama_index.core.schema import TextNode

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, D)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = ClauseVectorStore.empty(D)
    store.add([TextNode(id_=f"doc{i % 3}/{i}", text="x", embedding=v.tolist()) for i, v in enumerate(vectors)])
    return store


def _contents(store: ClauseVectorStore) -> dict[str, np.ndarray]:
    return {node: store._faiss_index.reconstruct(i) for node, i in store._node_id_to_faiss_id_map.items()}


def test_settings_are_validated_and_documented():
    settings = load_settings()
    assert settings.index.ann_min_clauses > 0 and settings.index.hnsw_m >= 4
    for name in ("ann_min_clauses", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "checkpoint_every"):
        assert field_info(name).description
    with pytest.raises(SettingsError, match="hnsw_m"):
        load_settings(hnsw_m=2)
    with pytest.raises(SettingsError, match="ann_min_clauses"):
        load_settings(ann_min_clauses=-1)
    with pytest.raises(SettingsError, match="checkpoint_every"):
        load_settings(checkpoint_every=0)


def test_the_index_turns_hnsw_at_the_threshold_and_flat_below_keeping_every_vector():
    store = _store(300)
    before = _contents(store)
    ann.fit_index(store, load_settings(ann_min_clauses=301))
    assert not ann.is_approximate(store._faiss_index)
    ann.fit_index(store, load_settings(ann_min_clauses=300, hnsw_m=8, hnsw_ef_search=40))
    index = store._faiss_index
    assert ann.is_approximate(index) and faiss.downcast_index(index.index).hnsw.efSearch == 40
    after = _contents(store)
    assert after.keys() == before.keys() and all(np.array_equal(after[k], before[k]) for k in before)
    graph = store._faiss_index
    ann.fit_index(store, load_settings(ann_min_clauses=300, hnsw_m=8, hnsw_ef_search=90))
    assert store._faiss_index is graph and faiss.downcast_index(graph.index).hnsw.efSearch == 90   # not rebuilt
    ann.fit_index(store, load_settings(ann_min_clauses=300, hnsw_m=16))
    assert store._faiss_index is not graph and ann.is_approximate(store._faiss_index)
    ann.fit_index(store, load_settings(ann_min_clauses=1000))
    assert not ann.is_approximate(store._faiss_index)
    assert all(np.array_equal(_contents(store)[k], before[k]) for k in before)


def test_a_document_is_deleted_from_an_hnsw_index_and_chosen_clauses_are_searched_exactly():
    store = _store(300)
    settings = load_settings(ann_min_clauses=100)
    ann.fit_index(store, settings)
    store.delete("doc1")                      # HNSW cannot delete: flat first, then the graph again
    assert store.size == 200 and not any(n.startswith("doc1/") for n in store._node_id_to_faiss_id_map)
    ann.fit_index(store, settings)
    assert ann.is_approximate(store._faiss_index)
    query = _contents(store)["doc0/0"]
    chosen = [n for n in store._node_id_to_faiss_id_map if n.startswith("doc2/")]
    found = store.nearest(query, 5, chosen)
    exact = sorted(((n, float(_contents(store)[n] @ query)) for n in chosen), key=lambda x: -x[1])[:5]
    assert [n for n, _ in found] == [n for n, _ in exact]
    assert [s for _, s in found] == pytest.approx([s for _, s in exact], abs=1e-6)
    assert store.nearest(query, 1)[0][0] == "doc0/0"


def test_an_hnsw_index_persists_and_loads_as_hnsw(tmp_path):
    store = _store(200)
    ann.fit_index(store, load_settings(ann_min_clauses=1, hnsw_ef_search=77))
    store.persist(str(tmp_path / "default__vector_store.json"))
    loaded = ClauseVectorStore.from_persist_dir(str(tmp_path))
    assert ann.is_approximate(loaded._faiss_index)
    assert faiss.downcast_index(loaded._faiss_index.index).hnsw.efSearch == 77
    assert loaded.size == 200


def test_recall_at_k_is_the_share_of_the_exact_top_k_found():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert ann.recall_at_k(exact, np.array([[4, 3, 2, 1], [5, 6, 0, 9]])) == pytest.approx(0.75)


@pytest.mark.slow
def test_a_real_build_with_hnsw_loads_searches_removes_and_adds(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for doc_id in ("2024-qingpu-baihe", "2023-baoshan-songnan"):
        shutil.copy(CORPUS / f"{doc_id}.txt", corpus / f"{doc_id}.txt")
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index", overrides_dir=tmp_path / "none",
                             ann_min_clauses=1)
    index, _ = ensure_index(settings)
    store = index.vector_store
    assert ann.is_approximate(store._faiss_index) and check_index(settings).healthy
    exact = ClauseVectorStore.empty(store._faiss_index.d)
    ann._refilled(store._faiss_index, exact._faiss_index)
    exact._faiss_id_to_node_id_map = store._faiss_id_to_node_id_map
    vector = np.asarray(index.vector_index._embed_model.get_query_embedding("政府开放日活动的主题是什么"))
    assert [n for n, _ in store.nearest(vector, 10)] == [n for n, _ in exact.nearest(vector, 10)]

    moved = corpus / "2023-baoshan-songnan.txt"
    kept = moved.read_bytes()
    moved.unlink()
    index, report = ensure_index(settings)                  # a delete on an HNSW index
    assert report.removed == ["2023-baoshan-songnan"] and ann.is_approximate(index.vector_store._faiss_index)
    assert check_index(settings).healthy
    moved.write_bytes(kept)
    index, report = ensure_index(settings)                  # vectors added to the graph
    assert report.added == ["2023-baoshan-songnan"] and ann.is_approximate(index.vector_store._faiss_index)
    assert load_index(settings).vector_store.size == index.manifest.clause_count and check_index(settings).healthy
