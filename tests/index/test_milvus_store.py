"""The Milvus backend (ASSISTANT_VECTOR_STORE=milvus) against Milvus Lite: settings, the per-document
sync of the collection with the build, and, on the real corpus and model, the same legs, rankings and
evaluation as FAISS + bm25s."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from assistant.config import SettingsError, load_settings
from assistant.index import milvus_store
from assistant.index.milvus_store import ANALYZER, MilvusClauseStore, milvus_uri, token_text
from assistant.index.segmentation import ChineseTokenizer

TOKENIZER = ChineseTokenizer(["浦东新区", "浦东"])


def test_the_setting_is_validated_and_the_uri_defaults_to_a_file_in_the_index(tmp_path, monkeypatch):
    settings = load_settings(index_dir=tmp_path / "index")
    assert settings.index.vector_store == "faiss"                     # FAISS stays the default
    assert milvus_uri(settings) == str((tmp_path / "index" / "milvus.db").resolve())
    assert milvus_uri(settings.replace(milvus_uri="http://milvus.internal:19530")) == "http://milvus.internal:19530"
    monkeypatch.setenv("ASSISTANT_VECTOR_STORE", "milvsu")
    with pytest.raises(SettingsError, match="ASSISTANT_VECTOR_STORE"):
        load_settings()


def test_milvus_jieba_analyser_gives_back_exactly_our_tokens():
    """What makes Milvus's BM25 score as bm25s does: the same tokens, repeats and quantities included."""
    from milvus_lite.analyzer.factory import create_analyzer

    analyser = create_analyzer(ANALYZER)
    for text in ("２０２４年 3 月，浦东新区政务公开（试行）在5个工作日内答复", "政策解读 政策解读 Q&A ∅", ""):
        tokens = TOKENIZER.tokens(text)
        assert analyser.tokenize(token_text(tokens)) == [token_text([t]) for t in tokens]
    assert token_text(["政务公开"]) == "t" + "政务公开".encode().hex()


def _store(tmp_path: Path, **changes) -> MilvusClauseStore:
    settings = load_settings(index_dir=tmp_path / "index", vector_store="milvus", **changes)
    return MilvusClauseStore(settings, model="test-model", dimension=4)


def _text(clause_id: str) -> str:
    return token_text(TOKENIZER.tokens(TEXTS[clause_id]))


TEXTS = {"a/1": "政务公开工作要点 推进政务公开标准化", "a/2": "政府信息公开申请 5个工作日内答复",
         "a/3": "政府信息公开年度报告", "b/1": "政策解读 政务公开", "b/2": "政府开放月活动在8月举办"}
VECTORS = {clause_id: np.eye(4)[i % 4] * (1 + i / 10) for i, clause_id in enumerate(TEXTS)}


def _vectors(ids: list[str]) -> np.ndarray:
    return np.array([VECTORS[i] for i in ids])


def test_a_sync_touches_only_the_documents_that_changed(tmp_path):
    store = _store(tmp_path)
    wanted = {"a": ("sha-a", ["a/1", "a/2", "a/3"]), "b": ("sha-b", ["b/1", "b/2"])}
    first = store.sync(wanted, _text, _vectors)
    assert first.inserted == ["a", "b"] and first.deleted == [] and store.count() == 5
    again = store.sync(wanted, _text, _vectors)
    assert again.inserted == [] and again.deleted == []          # nothing changed: nothing written
    changed = store.sync({"a": wanted["a"], "b": ("sha-b2", ["b/1"])}, _text, _vectors)
    assert changed.deleted == ["b"] and changed.inserted == ["b"]
    removed = store.sync({"a": wanted["a"]}, _text, _vectors)
    assert removed.deleted == ["b"] and removed.inserted == []
    assert store.documents() == {"a": ({"sha-a"}, 3)}


def test_the_searches_answer_by_clause_id(tmp_path):
    store = _store(tmp_path)
    store.sync({"a": ("sha-a", ["a/1", "a/2", "a/3"]), "b": ("sha-b", ["b/1", "b/2"])}, _text, _vectors)
    query = np.array([1.0, 0.0, 0.0, 0.5])
    top = store.nearest(query, 2)
    assert [i for i, _ in top] == ["b/2", "a/1"]                # e0 * 1.4, then e0 * 1.0
    assert store.nearest(query, 5, ["b"])[0][0] == "b/2"
    assert store.nearest(query, 5, []) == []
    assert np.allclose(store.similarity(query, ["a/3", "b/1"]), [VECTORS["a/3"] @ query, VECTORS["b/1"] @ query])
    hits = store.bm25(["政务", "公开", "政务公开"], 10)
    # "政务公开" first; "信息公开" shares only "公开"; "开放月" nothing, so it is not listed.
    assert {i for i, _ in hits[:2]} == {"a/1", "b/1"} and {i for i, _ in hits[2:]} == {"a/2", "a/3"}
    assert all(score > 0 for _, score in hits)
    assert dict(store.bm25(["政务公开"], 10, node_ids=["b/1"])).keys() == {"b/1"}
    assert store.bm25([], 10) == []


def test_a_sync_killed_half_way_is_finished_by_the_next(tmp_path):
    store = _store(tmp_path)
    wanted = {"a": ("sha-a", ["a/1", "a/2", "a/3"])}
    # A run killed after writing part of document a: one row of three.
    store.store.add(MilvusClauseStore._nodes("a", "sha-a", ["a/1"], _text, _vectors(["a/1"])))
    report = store.sync(wanted, _text, _vectors)
    assert report.deleted == ["a"] and report.inserted == ["a"] and store.count() == 3


def test_another_model_gets_a_new_collection_and_the_old_one_is_dropped(tmp_path):
    first = _store(tmp_path)
    first.sync({"a": ("sha-a", ["a/1"])}, _text, _vectors)
    settings = load_settings(index_dir=tmp_path / "index", vector_store="milvus")
    second = MilvusClauseStore(settings, model="another-model", dimension=4)
    assert second.collection != first.collection
    assert second.drop_others() == [first.collection]


def test_a_server_without_bm25_gets_a_dense_collection_and_bm25s_does_the_lexical_leg(tmp_path, monkeypatch):
    original = MilvusClauseStore._vector_store

    def no_bm25(self, name, *, bm25):
        if bm25:
            raise RuntimeError("function type BM25 not supported")     # what a Milvus before 2.5 answers
        return original(self, name, bm25=bm25)

    monkeypatch.setattr(MilvusClauseStore, "_vector_store", no_bm25)
    store = _store(tmp_path)
    assert not store.has_bm25
    store.sync({"a": ("sha-a", ["a/1", "a/2"])}, _text, _vectors)
    assert store.nearest(np.ones(4), 1)[0][0] == "a/2"


def test_an_unreachable_server_is_one_message_naming_it(tmp_path):
    with pytest.raises(milvus_store.MilvusUnavailable, match="127.0.0.1:9"):
        _store(tmp_path, milvus_uri="http://127.0.0.1:9", milvus_token="")


# --- the real corpus and model --------------------------------------------------------------------
# Against Milvus Lite in a temporary file; MILVUS_TEST_URI=http://host:19530 runs them against a server
# too (each test in a collection prefix of its own, dropped afterwards).

def _milvus(settings, folder: Path, **changes):
    server = os.environ.get("MILVUS_TEST_URI")
    if not server:
        return settings.replace(vector_store="milvus", milvus_uri=str(folder / "milvus.db"), **changes)
    prefix = "test_" + uuid.uuid4().hex[:8]
    return settings.replace(vector_store="milvus", milvus_uri=server, milvus_collection=prefix, **changes)


def _drop(settings) -> None:
    if os.environ.get("MILVUS_TEST_URI"):
        from pymilvus import MilvusClient

        client = MilvusClient(settings.index.milvus_uri)
        for name in client.list_collections():
            if name.startswith(settings.index.milvus_collection + "_"):
                client.drop_collection(name)

@pytest.fixture(scope="module")
def legs(built_settings, tmp_path_factory):
    """FAISS + bm25s and Milvus Lite retrievers over the same real index."""
    from assistant.index.store import load_index
    from assistant.retrieve.hybrid import HybridRetriever

    index = load_index(built_settings)
    milvus = _milvus(built_settings, tmp_path_factory.mktemp("milvus"))
    yield HybridRetriever(index, built_settings), HybridRetriever(index, milvus)
    _drop(milvus)


def _questions() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    items = [json.loads(line) for line in (root / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return [item["question"] for item in items]


@pytest.mark.slow
def test_milvus_holds_every_clause_under_its_id_with_the_builds_vectors(legs):
    faiss_leg, milvus_leg = legs
    assert milvus_leg.dense_search.count() == len(faiss_leg.ids)
    assert milvus_leg.dense_search.documents().keys() == faiss_leg.documents.keys()
    vector = faiss_leg.query_vector("政府信息公开申请的答复时限")
    assert np.allclose(milvus_leg.dense_search.similarity(vector, faiss_leg.ids),
                       faiss_leg.dense_search.similarity(vector, faiss_leg.ids), atol=1e-5)


@pytest.mark.slow
def test_the_dense_leg_is_the_same_as_faiss(legs):
    faiss_leg, milvus_leg = legs
    for question in _questions()[:60]:
        for doc_ids in (None, ["2024-pudong"]):
            a, b = faiss_leg.dense_leg(question, doc_ids), milvus_leg.dense_leg(question, doc_ids)
            assert a.order == b.order
            assert np.allclose([a.known[i] for i in a.order], [b.known[i] for i in b.order], atol=1e-5)
            assert abs(a.low - b.low) < 1e-5 and abs(a.high - b.high) < 1e-5


@pytest.mark.slow
def test_the_rankings_are_those_of_faiss_and_bm25s(legs):
    """Milvus's BM25 over our tokens scores as bm25s does, so the fused rankings are the same."""
    faiss_leg, milvus_leg = legs
    for question in _questions():
        a, b = faiss_leg.search(question), milvus_leg.search(question)
        assert [h.clause_id for h in a.hits] == [h.clause_id for h in b.hits], question
        assert a.relevant == b.relevant, question
        assert np.allclose([h.bm25 for h in a.hits], [h.bm25 for h in b.hits], rtol=1e-4, atol=1e-4), question
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-4), question


@pytest.mark.slow
def test_adding_and_removing_a_document_writes_only_that_document(built_settings, tmp_path):
    from assistant.app.knowledge import add_documents, remove_document
    from assistant.index.store import load_index
    from assistant.pipeline import Assistant
    from assistant.retrieve.hybrid import HybridRetriever

    shutil.copytree(built_settings.paths.corpus_dir, tmp_path / "corpus", ignore=shutil.ignore_patterns("overrides"))
    shutil.copytree(built_settings.paths.index_dir, tmp_path / "index")
    settings = _milvus(built_settings, tmp_path, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    retriever = HybridRetriever(load_index(settings), settings)
    assert retriever.dense_search.last_sync.inserted == sorted(retriever.documents)
    gone = tmp_path / "2024-pudong.txt"
    shutil.copy(tmp_path / "corpus" / "2024-pudong.txt", gone)

    remove_document("2024-pudong", settings)
    retriever = HybridRetriever(load_index(settings), settings)
    assert (retriever.dense_search.last_sync.deleted, retriever.dense_search.last_sync.inserted) == (["2024-pudong"], [])
    assert all(doc != "2024-pudong" for doc in retriever.dense_search.documents())

    add_documents([gone], settings)
    assistant = Assistant.load(settings)
    sync = assistant.retriever.dense_search.last_sync
    assert (sync.deleted, sync.inserted) == ([], ["2024-pudong"])
    answer = assistant.ask("浦东新区政府开放月在几月？")
    assert any(c.doc_id == "2024-pudong" for c in answer.citations)
    _drop(settings)


@pytest.mark.slow
def test_the_evaluation_on_milvus_is_within_a_hundredth_of_faiss(built_settings, tmp_path):
    from assistant.eval.evaluate import run_eval

    milvus = _milvus(built_settings, tmp_path)
    reports = [run_eval(s, out_dir=tmp_path / name, baselines=False)
               for name, s in (("faiss", built_settings), ("milvus", milvus))]
    _drop(milvus)
    figures = [_figures(r["systems"]["system"]["overall"]) for r in reports]
    assert figures[0].keys() == figures[1].keys() and figures[0]
    far = {k: (figures[0][k], figures[1][k]) for k in figures[0] if abs(figures[0][k] - figures[1][k]) > 0.01}
    assert not far


def _figures(report: dict, prefix: str = "") -> dict[str, float]:
    """Every number of a set report that is a share or score (latencies and counts are not compared)."""
    out: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_figures(value, name + "."))
        elif isinstance(value, float) and 0 <= value <= 1 and not any(w in name for w in ("ms", "seconds", "latency")):
            out[name] = value
    return out
