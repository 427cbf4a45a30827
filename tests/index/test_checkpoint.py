"""Resumable embedding: the checkpoint's parts are used only whole and only for the same clause, text
and model; passages are embedded sorted by length and returned in order; a build killed mid-embedding
restarts from its checkpoint, embeds fewer passages and makes the same index.

The fast tests use a counting stand-in for the model; the slow ones the real corpus and model, the last
one killing a real `assistant index build --rebuild` subprocess after its first checkpoint part.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.atomic_file import TEMP_MARK
from assistant.index.manifest import read_manifest
from assistant.index.store import check_index
from assistant.index.checkpoint import (CHECKPOINT_DIR, EmbeddingCheckpoint, checkpoint_dir, embed_with_checkpoint,
                                        text_hash)
from tests.conftest import ROOT

TOLERANCE = 1e-4
MODEL = "test-model@1"


class CountingModel:
    """A deterministic stand-in embedder: a unit vector from the text, counting what it embeds."""

    embed_batch_size = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self.batches: list[list[str]] = []

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        self.embedded += texts
        out = []
        for text in texts:
            rng = np.random.default_rng(int(text_hash(text)[:8], 16))
            v = rng.normal(size=8)
            out.append((v / np.linalg.norm(v)).astype(np.float32).tolist())  # what the models return
        return out


def _nodes(texts: list[str]):
    from llama_index.core.schema import TextNode

    return [TextNode(id_=f"doc/{i}", text=text) for i, text in enumerate(texts)]


TEXTS = [("条款" * (7 * i % 13 + 1)) + str(i) for i in range(23)]


def test_vectors_come_back_in_the_given_order_after_length_sorted_batches(tmp_path):
    model = CountingModel()
    nodes = _nodes(TEXTS)
    assert embed_with_checkpoint(nodes, model, index_dir=tmp_path, model=MODEL, dimension=8, every=8,
                                 progress=False) == 0
    expected = CountingModel().get_text_embedding_batch(TEXTS)
    assert [n.embedding for n in nodes] == expected
    flat = [len(t) for batch in model.batches for t in batch]
    assert flat == sorted(flat)                       # shortest first, batch after batch
    assert all(len(b) <= model.embed_batch_size for b in model.batches)


def test_parts_are_saved_every_n_passages_and_a_rerun_embeds_nothing(tmp_path):
    embed_with_checkpoint(_nodes(TEXTS), CountingModel(), index_dir=tmp_path, model=MODEL, dimension=8,
                          every=8, progress=False)
    parts = sorted(checkpoint_dir(tmp_path).glob("part-*.npz"))
    assert len(parts) == 3                            # 8 + 8 (two batches of 4 each) + the last 7
    again = CountingModel()
    nodes = _nodes(TEXTS)
    assert embed_with_checkpoint(nodes, again, index_dir=tmp_path, model=MODEL, dimension=8, every=8,
                                 progress=False) == len(TEXTS)
    assert again.embedded == []
    assert [n.embedding for n in nodes] == CountingModel().get_text_embedding_batch(TEXTS)


def test_only_the_same_clause_text_and_model_are_reused(tmp_path):
    embed_with_checkpoint(_nodes(TEXTS), CountingModel(), index_dir=tmp_path, model=MODEL, dimension=8,
                          every=100, progress=False)
    changed = list(TEXTS)
    changed[3] += "（修订）"
    model = CountingModel()
    embed_with_checkpoint(_nodes(changed), model, index_dir=tmp_path, model=MODEL, dimension=8, every=100,
                          progress=False)
    assert model.embedded == [changed[3]]
    other = CountingModel()
    embed_with_checkpoint(_nodes(TEXTS), other, index_dir=tmp_path, model="another-model@2", dimension=8,
                          every=100, progress=False)
    assert sorted(other.embedded) == sorted(TEXTS)    # another model's vectors are never taken


def test_a_torn_or_tampered_part_is_deleted_and_reembedded(tmp_path, capsys):
    embed_with_checkpoint(_nodes(TEXTS), CountingModel(), index_dir=tmp_path, model=MODEL, dimension=8,
                          every=8, progress=False)
    first, second, third = sorted(checkpoint_dir(tmp_path).glob("part-*.npz"))
    first.write_bytes(first.read_bytes()[: len(first.read_bytes()) // 2])     # torn
    data = dict(np.load(second))
    data["vectors"] = data["vectors"] * 1.0001                               # bits changed, checksum not
    np.savez(second, **data)
    (checkpoint_dir(tmp_path) / f".part-000009.npz{TEMP_MARK}x").write_bytes(b"half")   # a killed write
    model = CountingModel()
    nodes = _nodes(TEXTS)
    resumed = embed_with_checkpoint(nodes, model, index_dir=tmp_path, model=MODEL, dimension=8, every=100,
                                    progress=False)
    assert resumed == 7 and len(model.embedded) == 16
    assert [n.embedding for n in nodes] == CountingModel().get_text_embedding_batch(TEXTS)
    assert not first.exists() and not second.exists() and third.exists()
    assert not list(checkpoint_dir(tmp_path).glob(f".*{TEMP_MARK}*"))
    assert capsys.readouterr().err.count("unusable") == 2


def test_a_part_is_written_atomically(tmp_path, monkeypatch):
    checkpoint = EmbeddingCheckpoint(tmp_path, MODEL, 8)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save([("doc/0", "x")], np.eye(1, 8, dtype=np.float32))
    assert list(checkpoint_dir(tmp_path).iterdir()) == []   # no part, and no temporary file either


def test_progress_reports_rate_elapsed_and_eta_on_stderr(tmp_path, capsys):
    embed_with_checkpoint(_nodes(TEXTS), CountingModel(), index_dir=tmp_path, model=MODEL, dimension=8,
                          every=8, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    last = captured.err.strip().splitlines()[-1]
    assert re.search(r"23/23 +100\.0%, [\d.]+ passages/s, elapsed \d+s, ETA 0s", last), last


# --------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_length_sorted_batches_give_the_vectors_of_unsorted_ones(parsed, tmp_path):
    from assistant.config import load_settings
    from assistant.index.embedding import embedding_dimension, get_embed_model
    from assistant.index.store import clause_node

    model = get_embed_model(load_settings())
    nodes = [clause_node(c) for d in parsed.values() for c in d.clauses]
    embed_with_checkpoint(nodes, model, index_dir=tmp_path, model=MODEL, dimension=embedding_dimension(model),
                          every=1000, progress=False)
    from llama_index.core.schema import MetadataMode

    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    size = model.embed_batch_size
    unsorted = np.concatenate([np.asarray(model._get_text_embeddings(texts[i:i + size]))   # corpus order
                               for i in range(0, len(texts), size)])
    assert np.abs(np.asarray([n.embedding for n in nodes]) - unsorted).max() <= TOLERANCE


def _vectors(settings) -> dict[str, np.ndarray]:
    from assistant.index.store import load_index

    store = load_index(settings).vector_store
    return {node_id: store._faiss_index.reconstruct(faiss_id)
            for node_id, faiss_id in store._node_id_to_faiss_id_map.items()}


def _build(index_dir: Path, **env: str) -> subprocess.Popen:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                   "ASSISTANT_INDEX_DIR": str(index_dir), **env}
    return subprocess.Popen([sys.executable, "-m", "assistant.app.cli", "index", "build", "--rebuild"], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_build_killed_mid_embedding_resumes_from_its_checkpoint(built_settings, tmp_path):
    index_dir = tmp_path / "index"
    small_parts = {"ASSISTANT_CHECKPOINT_EVERY": "16", "ASSISTANT_EMBED_BATCH_SIZE": "16"}
    process = _build(index_dir, **small_parts)
    parts = index_dir / CHECKPOINT_DIR
    deadline = time.monotonic() + 300
    while not list(parts.glob("part-*.npz")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = len(list(parts.glob("part-*.npz")))
    assert saved >= 1 and not (index_dir / "CURRENT").exists(), "the build was not killed mid-embedding"

    restart = _build(index_dir, **small_parts)
    out, err = restart.communicate(timeout=540)
    assert restart.returncode == 0, err
    resumed, left = map(int, re.search(r"resumed (\d+) passages from the checkpoint, (\d+) left", err).groups())
    total = read_manifest(index_dir).clause_count
    assert resumed >= 16 * saved and left == total - resumed and left < total
    assert f"{left}/{left}" in err and "ETA" in err and "passages/s" in err   # progress of what was left
    assert "came from the checkpoint" in out
    assert not parts.exists()                                               # deleted once the build is live


    settings = built_settings.replace(index_dir=index_dir)
    assert check_index(settings).healthy
    mine, reference = _vectors(settings), _vectors(built_settings)
    assert sorted(mine) == sorted(reference)
    worst = max(float(np.abs(mine[c] - reference[c]).max()) for c in reference)
    assert worst <= TOLERANCE, worst
