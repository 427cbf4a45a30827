"""The BM25 index saved with the build (assistant/index/lexical.py): loaded at start, not rebuilt,
and scoring exactly as one built from the clauses would. Mock-embedded: only the lexical leg matters."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from assistant.index.lexical import EMPTY_TOKEN, IDS_FILE, build_lexical, tokenizer_for
from assistant.index.manifest import IndexCorrupt
from assistant.index.store import load_index
from tests.conftest import DOC_IDS
from tests.index.conftest import build_small_index, copy_of, mock_embedder

QUESTIONS = ["依申请公开办理有什么要求", "政府开放月在几月", "白鹤镇政务公开培训", "浦锦街道 政策解读 责任单位",
             "重大行政决策预公开", "不存在的词汇组合"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_small_index(tmp_path_factory.mktemp("lexical"), DOC_IDS)


def test_the_build_saves_its_bm25_and_the_manifest_vouches_for_it(built, monkeypatch):
    monkeypatch.setattr("assistant.index.store.get_embed_model", mock_embedder)
    index = load_index(built)
    assert index.bm25 is not None
    assert IDS_FILE in index.manifest.files and any(name.startswith("bm25.") and name.endswith(".npy")
                                                    for name in index.manifest.files)


def test_the_loaded_bm25_scores_exactly_as_one_built_from_the_clauses(built, monkeypatch):
    monkeypatch.setattr("assistant.index.store.get_embed_model", mock_embedder)
    index = load_index(built)
    tokenizer = tokenizer_for(index.documents.values())
    fresh = build_lexical([c.index_text for c in index.clauses.values()], tokenizer)
    for question in QUESTIONS:
        tokens = tokenizer.tokens(question)
        if tokens:
            assert np.array_equal(index.bm25.get_scores(tokens), fresh.get_scores(tokens)), question


def test_token_ids_made_while_tokenising_score_as_bm25s_own_indexing_of_the_token_lists(built, monkeypatch):
    # build_lexical hands bm25s vocabulary ids (less memory at scale); the scores must be those of
    # bm25s indexing the token strings itself, on every clause of the corpus and every question word.
    monkeypatch.setattr("assistant.index.store.get_embed_model", mock_embedder)
    index = load_index(built)
    tokenizer = tokenizer_for(index.documents.values())
    texts = [c.index_text for c in index.clauses.values()]
    ours = build_lexical(texts, tokenizer)
    theirs = bm25s.BM25()
    theirs.index([tokenizer.tokens(text) or [EMPTY_TOKEN] for text in texts], show_progress=False)
    assert set(ours.vocab_dict) == set(theirs.vocab_dict)
    for question in QUESTIONS:
        tokens = tokenizer.tokens(question)
        if tokens:
            assert np.allclose(ours.get_scores(tokens), theirs.get_scores(tokens), rtol=0, atol=1e-6), question
            assert ours.get_scores(tokens).max() > 0 or question == "不存在的词汇组合"


def test_a_bm25_that_disagrees_with_the_clause_file_is_corrupt(built, tmp_path, monkeypatch):
    kb = copy_of(built, tmp_path, monkeypatch)
    index = load_index(kb)
    ids_file = index.path / IDS_FILE
    ids_file.write_text(ids_file.read_text(encoding="utf-8").replace("/1.1", "/9.9", 1), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="bm25.ids.json"):
        load_index(kb)                      # the checksum catches it first
