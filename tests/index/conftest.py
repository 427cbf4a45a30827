"""Small indexes built with llama-index's MockEmbedding, for tests of what the index step does with
files (integrity, recovery, staleness), where the vectors themselves do not matter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from llama_index.core import MockEmbedding

from assistant.config import Settings, load_settings
from assistant.index.store import ensure_index
from tests.conftest import CORPUS


def mock_embedder(*_args, **_kwargs) -> MockEmbedding:
    return MockEmbedding(embed_dim=384)


def build_small_index(base: Path, doc_ids: list[str], *, overrides: dict[str, str] | None = None,
                      overrides_dir: Path | None = None) -> Settings:
    """`doc_ids` from the corpus (and `overrides`: doc id -> JSON text) in `base`, indexed once."""
    (base / "corpus" / "overrides").mkdir(parents=True)
    for doc_id in doc_ids:
        shutil.copy(CORPUS / f"{doc_id}.txt", base / "corpus")
    for doc_id, text in (overrides or {}).items():
        (base / "corpus" / "overrides" / f"{doc_id}.json").write_text(text, encoding="utf-8")
    settings = load_settings(corpus_dir=base / "corpus", index_dir=base / "index", overrides_dir=overrides_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("assistant.index.store.get_embed_model", mock_embedder)
        ensure_index(settings)
    return settings


def copy_of(built: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of a built corpus and index, with the mock embedder in place."""
    monkeypatch.setattr("assistant.index.store.get_embed_model", mock_embedder)
    shutil.copytree(built.paths.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built.paths.index_dir, tmp_path / "index")
    return built.replace(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
