"""No stale index: whatever shapes a document's clauses or metadata is part of what the index checks.

Runs with llama-index's MockEmbedding (what is checked is which documents are re-parsed, not vectors).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.config import LEXICON_DIR
from assistant.index.store import ensure_index, load_index
from assistant.ingest.structure import PARSER_VERSION, parser_version
from tests.index.conftest import build_small_index, mock_embedder

DOCS = ["2024-qingpu-baihe", "2024-minhang-pujin"]
INGEST = Path(__file__).resolve().parents[2] / "assistant" / "ingest"


@pytest.fixture
def kb(tmp_path, monkeypatch):
    monkeypatch.setattr("assistant.index.store.get_embed_model", mock_embedder)
    return build_small_index(tmp_path, DOCS)


def test_editing_an_override_file_re_parses_that_document_alone(kb):
    override = kb.paths.overrides_dir / "2024-qingpu-baihe.json"
    override.write_text(json.dumps({"doc_number": "青白府〔2024〕99号"}, ensure_ascii=False), encoding="utf-8")
    _, report = ensure_index(kb)
    assert report.updated == ["2024-qingpu-baihe"] and report.kept == ["2024-minhang-pujin"]
    assert load_index(kb).documents["2024-qingpu-baihe"].doc_number == "青白府〔2024〕99号"

    override.unlink()                                   # and removing it takes the change back
    _, report = ensure_index(kb)
    assert report.updated == ["2024-qingpu-baihe"]
    assert load_index(kb).documents["2024-qingpu-baihe"].doc_number != "青白府〔2024〕99号"


def test_the_parser_version_covers_every_ingest_module_the_lexicon_and_the_tokenizer(tmp_path):
    package, lexicon, index = tmp_path / "ingest", tmp_path / "lexicon", tmp_path / "index"
    shutil.copytree(INGEST, package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LEXICON_DIR, lexicon)
    shutil.copytree(INGEST.parent / "index", index, ignore=shutil.ignore_patterns("__pycache__"))
    assert parser_version(package, lexicon, index) == PARSER_VERSION
    seen = {PARSER_VERSION}
    # The tokenizer's code too: the build saves what it made of each clause (BM25 tokens, speller words, keys).
    for edited in [package / "readers" / "docx.py", package / "corpus.py", next(lexicon.glob("*.txt")),
                   index / "segmentation.py"]:
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        version = parser_version(package, lexicon, index)
        assert version not in seen, edited.name        # each edit gives a new version
        seen.add(version)


def test_a_new_parser_version_re_parses_every_document(kb, monkeypatch):
    monkeypatch.setattr("assistant.index.store.PARSER_VERSION", "3-edited-reader")
    _, report = ensure_index(kb)
    assert report.full_rebuild_reason and "parser version" in report.full_rebuild_reason
    manifest = load_index(kb).manifest
    assert report.clauses_embedded == manifest.clause_count > 0 and report.clauses_kept == 0
    assert manifest.parser_version == "3-edited-reader"
