from __future__ import annotations

import pytest

from assistant.config import load_settings
from assistant.ingest.corpus import UnknownDocument, corpus_files, load_corpus, load_document, parse_file
from assistant.ingest.readers import DocumentRejected
from assistant.ingest.structure import StructureError
from tests.conftest import DOC_IDS
from tests.ingest.test_structure import SYNTHETIC


def test_corpus_files_are_the_published_documents_byte_for_byte():
    shared = load_settings().paths.corpus_dir.parent.parent / "shared" / "corpus"
    files = corpus_files(load_settings())
    assert [f.doc_id for f in files] == DOC_IDS
    if shared.is_dir():  # beside the project in development and CI
        for f in files:
            assert f.path.read_bytes() == (shared / f.path.name).read_bytes()


def test_load_corpus_parses_every_document():
    docs = load_corpus(load_settings())
    assert [d.doc_id for d in docs] == DOC_IDS and all(d.clauses for d in docs)


def test_unknown_document_lists_the_known_ones():
    with pytest.raises(UnknownDocument) as info:
        load_document("2099-x", load_settings())
    assert "2024-pudong" in str(info.value)


def test_gbk_encoded_document_parses_like_its_utf8_original(tmp_path):
    path = tmp_path / "2025-synthetic.txt"
    path.write_bytes(SYNTHETIC.encode("gbk"))
    doc = parse_file(path, "2025-synthetic", load_settings(corpus_dir=tmp_path))
    assert doc.meta.doc_number == "某府〔2025〕3号" and doc.clause("2025-synthetic/2.1") is not None


@pytest.mark.parametrize("content,error", [(b"", DocumentRejected), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", DocumentRejected),
                                           ("只有一段文字，没有编号标题。".encode(), StructureError)])
def test_unusable_files_fail_with_a_message_naming_the_file(tmp_path, content, error):
    path = tmp_path / "bad-file.txt"
    path.write_bytes(content)
    with pytest.raises(error, match="bad-file"):
        parse_file(path, "bad-file", load_settings(corpus_dir=tmp_path))
