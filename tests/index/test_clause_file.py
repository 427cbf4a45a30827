"""The build's clause store and retrieval terms (assistant/index/clause_file.py): every Clause field
survives the round trip, a damaged or foreign clause file is refused (and a build holding one is
rebuilt), an index of the format before it is rebuilt, and the saved terms are what the retriever
computed from the clauses at every start before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.index.clause_file import (CLAUSE_FIELDS, CLAUSES_FILE, TERMS_FILE, read_clauses, read_terms,
                                         retrieval_terms, write_clauses)
from assistant.index.lexical import tokenizer_for
from assistant.index.manifest import INDEX_FORMAT, _digest
from assistant.index.store import CURRENT, MANIFEST, IndexCorrupt, IndexOutdated, ensure_index, load_index
from assistant.ingest.searchkey import search_key
from assistant.ingest.structure import Clause
from tests.index.conftest import build_small_index, copy_of

SMALL = ["2024-qingpu-baihe", "2023-baoshan-songnan"]


def _every_field_set(i: int) -> Clause:
    return Clause(id=f"2024-测试/表/{i}", doc_id="2024-测试", kind="table_row", heading_path=("一、总体要求", f"（{i}）\"引号\""),
                  text=f"第{i}项：公开\\n\u3000全角空格、emoji 🚀 和 \u2028 分隔符。", start=i, end=i + 40,
                  units=["区政府办公室", "区数据局"], deadline="2025年3月31日前", doc_title="关于印发《要点》的通知",
                  part=2, search_terms="政务公开 要点", row=i + 1)


def test_every_clause_field_round_trips_in_order(tmp_path):
    plain = Clause(id="d/1", doc_id="d", kind="item", heading_path=(), text="", start=0, end=0)   # defaults, None
    clauses = [plain] + [_every_field_set(i) for i in range(4500)]   # more than one write chunk
    write_clauses(tmp_path / CLAUSES_FILE, clauses)
    back = read_clauses(tmp_path / CLAUSES_FILE)
    assert back == clauses
    assert all(isinstance(c.heading_path, tuple) for c in back)   # as the parser makes them
    assert set(CLAUSE_FIELDS) == set(Clause.__dataclass_fields__)   # a new Clause field must be stored too
    raw = (tmp_path / CLAUSES_FILE).read_text(encoding="utf-8")
    assert "全角空格" in raw and "\\u" not in raw.replace("\\u2028", "")   # UTF-8, not \u escapes


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) * 2 // 3],                                   # truncated
    lambda text: text.replace('"format":1', '"format":7', 1),                  # another format
    lambda text: text.replace('"deadline"', '"due"', 1),                       # other fields
    lambda text: text.replace('["d/1","d",', '["d/1",', 1),                    # a row of the wrong width
    lambda text: "",                                                           # empty
], ids=["truncated", "other format", "other fields", "short row", "empty"])
def test_a_damaged_or_foreign_clause_file_is_refused(tmp_path, damage):
    path = tmp_path / CLAUSES_FILE
    write_clauses(path, [Clause(id="d/1", doc_id="d", kind="item", heading_path=("一",), text="条款", start=0, end=2),
                         _every_field_set(1)])
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError):
        read_clauses(path)


def test_terms_are_the_search_keys_and_speller_words_the_retriever_computed(parsed, tmp_path):
    clauses = [c for d in parsed.values() for c in d.clauses]
    tokenizer = tokenizer_for([d.meta for d in parsed.values()])
    terms = retrieval_terms(clauses, tokenizer)
    assert terms.keys == [search_key(c.index_text) for c in clauses]
    assert set(terms.words) == {w for c in clauses for w in tokenizer.words(c.text)}
    from assistant.index.clause_file import write_terms
    write_terms(tmp_path / TERMS_FILE, terms)
    assert read_terms(tmp_path / TERMS_FILE, len(clauses)) == terms
    with pytest.raises(ValueError, match="search keys"):
        read_terms(tmp_path / TERMS_FILE, len(clauses) + 1)


# --- in a build ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("clause-file")
    return build_small_index(base, SMALL, overrides_dir=base / "none")


def _build(settings) -> Path:
    return settings.paths.index_dir / (settings.paths.index_dir / CURRENT).read_text(encoding="utf-8").strip()


def test_a_build_keeps_its_clauses_in_the_clause_file_not_a_docstore(built, tmp_path, monkeypatch):
    kb = copy_of(built, tmp_path, monkeypatch)
    build = _build(kb)
    index = load_index(kb)
    assert read_clauses(build / CLAUSES_FILE) == list(index.clauses.values())
    assert not (build / "docstore.json").exists() and not (build / "index_store.json").exists()
    assert index.terms is not None and len(index.terms.keys) == len(index.clauses)


def test_a_truncated_clause_file_resealed_is_corrupt_and_rebuilt(built, tmp_path, monkeypatch, capsys):
    """Even when the manifest is made to vouch for the cut file, the load refuses it and the build is redone."""
    kb = copy_of(built, tmp_path, monkeypatch)
    build = _build(kb)
    path = build / CLAUSES_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    size, sha = _digest(path)
    manifest["files"][CLAUSES_FILE] = {"size": size, "sha256": sha}
    (build / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="index files unreadable"):
        load_index(kb)
    index, report = ensure_index(kb)
    assert "索引损坏" in capsys.readouterr().err and report.full_rebuild_reason
    assert sorted(report.added) == sorted(SMALL) and len(index.clauses) == index.vector_store.size > 0


def test_an_index_of_the_previous_format_is_rebuilt_into_the_new_one(built, tmp_path, monkeypatch, capsys):
    """A format-3 build (llama-index's docstore.json, no clause file) is outdated, not corrupt: rebuilt quietly."""
    kb = copy_of(built, tmp_path, monkeypatch)
    build = _build(kb)
    for name in (CLAUSES_FILE, TERMS_FILE):
        (build / name).unlink()
    (build / "docstore.json").write_text('{"docstore/data": {}}', encoding="utf-8")
    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    manifest["index_format"] = 3
    (build / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexOutdated, match=f"index format 3 is not this program's \\({INDEX_FORMAT}\\)"):
        load_index(kb)
    index, report = ensure_index(kb)
    assert "index format 3" in report.full_rebuild_reason and "索引损坏" not in capsys.readouterr().err
    assert (_build(kb) / CLAUSES_FILE).is_file() and not (_build(kb) / "docstore.json").exists()
    assert sorted(index.documents) == sorted(SMALL)
