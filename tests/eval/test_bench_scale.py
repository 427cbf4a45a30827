"""`assistant bench scale` at a tiny size: the synthetic corpus, and the figures' keys and sanity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.app.cli import main
from assistant.config import load_settings
from assistant.eval.bench_scale import KEYS, _sources, swapped_questions, synthetic_corpus, synthetic_vectors


def test_synthetic_corpus_swaps_places_and_counts_clauses():
    sources = _sources(load_settings())
    clauses, documents, recipe, swaps = synthetic_corpus(sources, 300)
    assert len(clauses) == len(recipe) == 300
    assert len({c.id for c in clauses}) == 300
    assert all(c.doc_id in documents and c.id.startswith(c.doc_id + "/") for c in clauses)
    real_places = {d.meta.place for d in sources}
    assert not real_places & {m.place for m in documents.values()}
    first = sources[0].meta
    copy = documents[swaps[first.doc_id][0][0]]
    assert first.place not in (copy.title or "") and copy.place in (copy.title or "")
    questions = swapped_questions(swaps)
    assert questions and all(q["doc_filter"] is None or q["doc_filter"] in documents for q in questions)
    vectors = synthetic_vectors(np.eye(4, dtype=np.float32)[[0, 1, 2, 3] * 80][:300], recipe_for(300))
    assert vectors.shape == (300, 4) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def recipe_for(n: int) -> list[tuple[int, int]]:
    return [(i % 4, -1 if i % 2 else (i + 1) % 4) for i in range(n)]


@pytest.mark.slow
def test_bench_scale_json_at_300_clauses(capsys, tmp_path):
    assert main(["bench", "scale", "--sizes", "300", "--backend", "faiss,milvus", "--real-embed-max", "0",
                 "--embed-sample", "16", "--work-dir", str(tmp_path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["size"], r["backend"]) for r in rows] == [(300, "faiss"), (300, "milvus")]
    for row in rows:
        assert tuple(row) == KEYS
        for key in ("build_s", "embed_per_s", "restart_s", "search_p50_ms", "search_p95_ms", "rss_serving_mb",
                    "rss_build_mb", "disk_mb"):
            assert row[key] > 0, key
        assert row["search_p50_ms"] <= row["search_p95_ms"]
        assert row["recall_at_20"] is None or 0 < row["recall_at_20"] <= 1
    assert rows[1]["build_s"] >= rows[0]["build_s"]   # Milvus: the same build plus its sync
    assert not list(tmp_path.iterdir())               # the indexes are removed without --keep


@pytest.mark.slow
def test_bench_scale_reports_hnsw_recall(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_ANN_MIN_CLAUSES", "100")   # the worker processes build HNSW at 300 clauses
    assert main(["bench", "scale", "--sizes", "300", "--backend", "faiss", "--real-embed-max", "0",
                 "--embed-sample", "16", "--work-dir", str(tmp_path), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert 0.5 < row["recall_at_20"] <= 1


@pytest.mark.slow
def test_bench_scale_resume_continues_a_killed_runs_embedding(capsys, tmp_path):
    """A run killed while embedding left part of its vectors in the checkpoint; `--resume` embeds only the rest."""
    from assistant.index.checkpoint import EmbeddingCheckpoint, checkpoint_dir, text_hash
    from assistant.index.embedding import model_id

    settings = load_settings()
    clauses, *_ = synthetic_corpus(_sources(settings), 60)
    index_dir = tmp_path / "n60" / "index"
    checkpoint_dir(index_dir).mkdir(parents=True)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(25, 384)).astype(np.float32)
    EmbeddingCheckpoint(index_dir, model_id(settings), 384).save(
        [(c.id, text_hash(c.index_text)) for c in clauses[:25]], vectors / np.linalg.norm(vectors, axis=1)[:, None])

    assert main(["bench", "scale", "--sizes", "60", "--backend", "faiss", "--real-embed-max", "60",
                 "--work-dir", str(tmp_path), "--resume"]) == 0
    table = capsys.readouterr().out
    assert "| 60 | faiss (25 vectors from the checkpoint) |" in table
    assert not checkpoint_dir(index_dir).exists()            # used up by the finished build
    assert (tmp_path / "n60" / "index" / "CURRENT").is_file()   # --resume keeps the work folder


def test_bench_scale_resume_needs_the_work_dir(capsys):
    assert main(["bench", "scale", "--sizes", "60", "--resume"]) == 2
    assert "--resume needs the --work-dir" in capsys.readouterr().err
