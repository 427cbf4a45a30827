"""assistant.app.knowledge: adding, removing and listing documents keeps corpus/ and the index in step.

Every test works on its own copy of a small knowledge base (two corpus documents and their index,
built once per module with the real embedding model), so the slow part is paid once and each
test only embeds what it adds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.app import cli
from assistant.config import load_settings
from assistant.ingest.corpus import UnknownDocument
from assistant.index.store import ensure_index, read_manifest
from assistant.app.knowledge import (KnowledgeError, add_documents, format_document_table, list_documents,
                                 preview_document, register_commands, remove_document)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
BASE_DOCS = ["2024-qingpu-baihe", "2023-baoshan-songnan"]
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _settings(root: Path, **overrides):
    return load_settings(corpus_dir=root / "corpus", index_dir=root / "index",
                         overrides_dir=root / "corpus" / "overrides", **overrides)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Two corpus documents and an index of them (built once; tests copy it)."""
    root = tmp_path_factory.mktemp("kb-base")
    (root / "corpus").mkdir()
    for doc_id in BASE_DOCS:
        shutil.copy(CORPUS / f"{doc_id}.txt", root / "corpus")
    return root


@pytest.fixture(scope="module")
def base_indexed(base) -> Path:
    ensure_index(_settings(base))
    return base


def _copy(src: Path, dest: Path, *, index: bool) -> Path:
    shutil.copytree(src / "corpus", dest / "corpus")
    if index:
        shutil.copytree(src / "index", dest / "index")
    return dest


@pytest.fixture
def kb(base, tmp_path):
    """A copy of the knowledge base without an index: for tests that never reach the index."""
    root = _copy(base, tmp_path / "kb", index=False)
    return _settings(root)


@pytest.fixture
def kb_indexed(base_indexed, tmp_path):
    root = _copy(base_indexed, tmp_path / "kb", index=True)
    return _settings(root)


def _listing(settings) -> list[tuple[str, bytes]]:
    """Everything in corpus/ (hidden files included), with contents."""
    return sorted((str(p.relative_to(settings.paths.corpus_dir)), p.read_bytes())
                  for p in settings.paths.corpus_dir.rglob("*") if p.is_file())


def _manifest_documents(settings) -> dict | None:
    manifest = read_manifest(settings.paths.index_dir)
    return manifest.documents if manifest else None


def _docx_from_text(text: str, path: Path) -> Path:
    from docx import Document as Docx

    docx = Docx()
    for line in text.splitlines():
        if line.strip():
            docx.add_paragraph(line.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    docx.save(str(path))
    return path


def _uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    return folder


# --- adding ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_add_docx_embeds_only_the_new_document(kb_indexed, tmp_path, capsys):
    from assistant.retrieve.hybrid import HybridRetriever

    settings = kb_indexed
    before = read_manifest(settings.paths.index_dir)
    docx = _docx_from_text((CORPUS / "2024-minhang-pujin.txt").read_text(encoding="utf-8"),
                           _uploads(tmp_path) / "pujin-2024.docx")

    report = add_documents([docx], settings)

    assert report.refused == []
    assert [(a.doc_id, a.title, a.clauses) for a in report.added] == [
        ("pujin-2024", "2024年浦锦街道政务公开工作要点", 31)]
    stored = settings.paths.corpus_dir / "pujin-2024.docx"
    assert report.added[0].stored == stored
    assert stored.read_bytes() == docx.read_bytes()  # byte-identical
    index = report.index
    assert index.added == ["pujin-2024"] and not index.updated and not index.removed
    assert index.full_rebuild_reason is None
    assert index.clauses_embedded == 31
    assert index.clauses_kept == before.clause_count  # nothing else re-embedded
    after = read_manifest(settings.paths.index_dir)
    for doc_id in BASE_DOCS:
        assert after.documents[doc_id] == before.documents[doc_id]
    with capsys.disabled():
        print(f"\n  adding one document (31 clauses): {index.seconds:.2f} s")

    loaded, _ = ensure_index(settings)
    result = HybridRetriever(loaded, settings).search("浦锦街道最终回复不超过几个工作日")
    assert result.hits[0].doc_id == "pujin-2024"
    assert "不超过5个工作日" in result.hits[0].clause.text

    rows = {r["doc_id"]: r for r in list_documents(settings)}
    assert rows["pujin-2024"]["format"] == "docx" and rows["pujin-2024"]["indexed"] is True
    assert rows["pujin-2024"]["place"] == "浦锦街道" and rows["pujin-2024"]["clauses"] == 31

    # The same content again: the same file, and the original .txt under another name.
    listing, manifest = _listing(settings), _manifest_documents(settings)
    txt_copy = _uploads(tmp_path) / "another-name.txt"
    shutil.copy(CORPUS / "2024-minhang-pujin.txt", txt_copy)
    again = add_documents([docx, txt_copy], settings)
    assert again.added == [] and again.index is None
    assert [r.file for r in again.refused] == [docx, txt_copy]
    assert all("已存在相同内容的文档 pujin-2024" in r.reason for r in again.refused)
    assert _listing(settings) == listing and _manifest_documents(settings) == manifest


@pytest.mark.slow
def test_add_gbk_text(kb_indexed, tmp_path):
    settings = kb_indexed
    gbk = _uploads(tmp_path) / "pudong_2024.txt"
    gbk.write_bytes((CORPUS / "2024-pudong.txt").read_text(encoding="utf-8").encode("gbk"))

    report = add_documents([gbk], settings)

    assert [a.doc_id for a in report.added] == ["pudong_2024"] and report.refused == []
    assert (settings.paths.corpus_dir / "pudong_2024.txt").read_bytes() == gbk.read_bytes()
    assert report.index.added == ["pudong_2024"]
    assert report.added[0].title == "2024年浦东新区政务公开工作要点"
    assert set(_manifest_documents(settings)) == {*BASE_DOCS, "pudong_2024"}


def test_duplicates_of_corpus_documents_are_refused(kb):
    """Same bytes under another name, a .docx export of a corpus .txt, and a GBK re-encoding."""
    listing = _listing(kb)
    uploads = _uploads(kb.paths.corpus_dir.parent)
    same_bytes = uploads / "copy.txt"
    shutil.copy(CORPUS / "2024-qingpu-baihe.txt", same_bytes)
    export = _docx_from_text((CORPUS / "2023-baoshan-songnan.txt").read_text(encoding="utf-8"),
                             uploads / "songnan.docx")
    gbk = uploads / "qingpu-gbk.txt"
    gbk.write_bytes((CORPUS / "2024-qingpu-baihe.txt").read_text(encoding="utf-8").encode("gb18030"))

    report = add_documents([same_bytes, export, gbk], kb)

    assert report.added == [] and report.index is None
    reasons = [r.reason for r in report.refused]
    assert reasons[0].startswith("copy.txt: 已存在相同内容的文档 2024-qingpu-baihe")
    assert reasons[1].startswith("songnan.docx: 已存在相同内容的文档 2023-baoshan-songnan")
    assert reasons[2].startswith("qingpu-gbk.txt: 已存在相同内容的文档 2024-qingpu-baihe")
    assert _listing(kb) == listing
    # The index was never touched: an add takes the index lock (index/.lock) but builds nothing here.
    assert not (kb.paths.index_dir / "CURRENT").exists() and not list(kb.paths.index_dir.glob("build-*"))


def test_oversized_binary_empty_and_unstructured_files_are_refused(kb, tmp_path):
    listing = _listing(kb)
    uploads = _uploads(tmp_path)
    big = uploads / "big.txt"
    shutil.copy(CORPUS / "2024-pudong.txt", big)
    png = uploads / "picture.txt"
    png.write_bytes(PNG_BYTES)
    prose = uploads / "prose.txt"
    prose.write_text("这是一段文字。\n", encoding="utf-8")
    missing = uploads / "missing.txt"

    small = kb.replace(max_document_bytes=10_000)
    report = add_documents([big, png, prose, missing], small)

    assert report.added == [] and report.index is None
    reasons = {r.file.name: r.reason for r in report.refused}
    assert reasons["big.txt"].startswith("big.txt: 文件大小") and "超过上限" in reasons["big.txt"]
    assert "file too large" in reasons["big.txt"]
    assert reasons["picture.txt"].startswith("picture.txt: ") and "PNG" in reasons["picture.txt"]
    assert reasons["prose.txt"].startswith("prose.txt: 无法解析文档结构")
    assert "一级标题" in reasons["prose.txt"]  # the parser's own reason
    assert reasons["missing.txt"] == f"missing.txt: 文件不存在（file not found: {missing}）"
    assert _listing(kb) == listing  # no stray (temp) files


def test_preview_doc_ids(kb, tmp_path):
    uploads = _uploads(tmp_path)
    named = uploads / "Pujin notice (final).txt"
    shutil.copy(CORPUS / "2024-minhang-pujin.txt", named)
    preview = preview_document(named, kb)
    assert preview.doc_id == "Pujin-notice-final"
    assert preview.document.doc_id == "Pujin-notice-final"
    assert preview.document.clauses[0].id.startswith("Pujin-notice-final/")
    assert preview.read.kind == "text" and preview.clause_count == 31 and preview.suffix == ".txt"
    assert preview.document.meta.place == "浦锦街道" and preview.document.outline

    chinese = uploads / "2024年浦锦街道政务公开工作要点.txt"
    shutil.copy(named, chinese)
    preview = preview_document(chinese, kb)
    assert preview.doc_id == f"2024-{preview.read.sha256[:8]}"

    # A new document whose file name is an existing doc id gets a fresh id, never the old one.
    clash = uploads / "2024-qingpu-baihe.txt"
    shutil.copy(named, clash)
    assert preview_document(clash, kb).doc_id == "2024-qingpu-baihe-2"
    with pytest.raises(KnowledgeError, match="已被另一文档使用"):
        preview_document(named, kb, doc_id="2024-qingpu-baihe")
    for bad in ("浦锦", "ok\n", "ok\r\n", "\nok", "a/b", "..", "x" * 200):   # ids match whole, no final newline
        with pytest.raises(KnowledgeError, match="只能包含"):
            preview_document(named, kb, doc_id=bad)
    assert preview_document(named, kb, doc_id="pujin").doc_id == "pujin"

    # A .docx saved as .txt is read by its content and stored as .docx.
    disguised = _docx_from_text(named.read_text(encoding="utf-8"), uploads / "disguised.txt")
    preview = preview_document(disguised, kb)
    assert preview.read.kind == "docx" and preview.suffix == ".docx" and preview.warnings


def test_failing_index_update_leaves_corpus_as_before(kb, tmp_path, monkeypatch):
    import assistant.app.knowledge as knowledge

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(knowledge, "ensure_index", broken)
    listing = _listing(kb)
    docx = _docx_from_text((CORPUS / "2024-minhang-pujin.txt").read_text(encoding="utf-8"),
                           _uploads(tmp_path) / "pujin.docx")
    with pytest.raises(KnowledgeError, match="索引更新失败.*disk full"):
        add_documents([docx, _uploads(tmp_path)], kb)
    assert _listing(kb) == listing

    overrides = kb.paths.overrides_dir
    overrides.mkdir()
    (overrides / "2024-qingpu-baihe.json").write_text('{"doc_number": "X〔2024〕1号"}', encoding="utf-8")
    listing = _listing(kb)
    with pytest.raises(KnowledgeError, match="文档已恢复"):
        remove_document("2024-qingpu-baihe", kb)
    assert _listing(kb) == listing


# --- removing ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_remove_drops_only_that_documents_clauses(kb_indexed):
    settings = kb_indexed
    before = read_manifest(settings.paths.index_dir)
    settings.paths.overrides_dir.mkdir()
    override = settings.paths.overrides_dir / "2024-qingpu-baihe.json"
    override.write_text("{}", encoding="utf-8")

    report = remove_document("2024-qingpu-baihe", settings)

    assert report.removed == ["2024-qingpu-baihe"] and report.kept == ["2023-baoshan-songnan"]
    assert report.clauses_embedded == 0 and report.full_rebuild_reason is None
    assert report.clauses_removed == len(before.documents["2024-qingpu-baihe"]["clauses"])
    after = read_manifest(settings.paths.index_dir)
    assert set(after.documents) == {"2023-baoshan-songnan"}
    assert after.documents["2023-baoshan-songnan"] == before.documents["2023-baoshan-songnan"]
    assert [name for name, _ in _listing(settings)] == ["2023-baoshan-songnan.txt"]  # override gone too
    assert not override.exists() and not list(settings.paths.overrides_dir.iterdir())


def test_remove_unknown_document(kb):
    listing = _listing(kb)
    with pytest.raises(UnknownDocument) as info:
        remove_document("2024-nowhere", kb)
    assert info.value.known == sorted(BASE_DOCS)
    assert _listing(kb) == listing


# --- listing and commands ----------------------------------------------------------------------

def test_list_documents_without_index(kb):
    rows = list_documents(kb)
    assert [r["doc_id"] for r in rows] == sorted(BASE_DOCS)
    qingpu = rows[1]
    assert qingpu["title"] == "2024年青浦区白鹤镇政务公开工作要点" and qingpu["year"] == 2024
    assert qingpu["place"] == "白鹤镇" and qingpu["level"] == "镇" and qingpu["format"] == "text"
    assert qingpu["size"] == (CORPUS / "2024-qingpu-baihe.txt").stat().st_size
    assert qingpu["clauses"] > 0 and qingpu["indexed"] is False and qingpu["error"] is None
    table = format_document_table(rows)
    assert "2024-qingpu-baihe" in table and "未索引" in table


def test_commands(kb, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "EXTRA_COMMANDS", [register_commands])
    png = _uploads(tmp_path) / "picture.txt"
    png.write_bytes(PNG_BYTES)
    dirs = ["--corpus-dir", str(kb.paths.corpus_dir), "--index-dir", str(kb.paths.index_dir)]

    assert cli.main([*dirs, "add", str(png)]) == 2
    out = capsys.readouterr().out
    assert "未添加 (refused) picture.txt:" in out and "索引未改动" in out

    assert cli.main([*dirs, "add", str(png), "--json"]) == 2
    assert '"reason": "picture.txt:' in capsys.readouterr().out

    assert cli.main([*dirs, "add", str(png), str(png), "--id", "x"]) == 2
    assert "--id" in capsys.readouterr().err

    assert cli.main([*dirs, "remove", "2024-nowhere"]) == 2
    assert "未知文档" in capsys.readouterr().err


def test_a_document_from_another_place_is_askable_by_its_place_right_after_add(kb_indexed):
    """A county nobody listed: its place comes from its own text, and the scope index from the corpus."""
    from assistant.pipeline import Assistant

    before = Assistant.load(kb_indexed).ask("冠县2021年政务公开工作要点的文号是多少？")
    assert before.refused and "冠县" in before.answer          # a place the corpus lacks, said so
    report = add_documents([ROOT / "eval" / "documents" / "2021-liaocheng-guanxian.txt"], kb_indexed)
    assert [a.doc_id for a in report.added] == ["2021-liaocheng-guanxian"]
    assistant = Assistant.load(kb_indexed)
    answer = assistant.ask("冠县2021年政务公开工作要点的文号是多少？")
    assert not answer.refused and "冠政办发〔2021〕9号" in answer.answer
    assert {c.doc_id for c in answer.citations} == {"2021-liaocheng-guanxian"}
    short = assistant.ask("聊城冠县的要点是哪天印发的？")
    assert "2021年6月28日" in short.answer or "2021-06-28" in short.answer   # as the page writes it
