from __future__ import annotations

import pytest

from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.searchkey import search_key
from assistant.query.catalogue import catalogue_of
from assistant.query.scope import _ancestors, _fold, named_places, resolve_scope


def _every_document_asked(question: str, documents: dict[str, DocumentMeta]) -> list[tuple[str, str]]:
    """named_places as it was: each document asked in turn for its longest alias in the question."""
    q = _fold(question)
    found = []
    for doc_id, meta in documents.items():
        present = [alias for alias in meta.aliases or () if alias in q]
        if present:
            alias = max(present, key=len)
            found.append((q.find(alias), alias, doc_id))
    return [(alias, doc_id) for _, alias, doc_id in sorted(found)]


@pytest.fixture()
def documents(parsed) -> dict[str, DocumentMeta]:
    """The corpus's documents plus look-alikes: a second document of the same place, aliases sharing a prefix,
    equal-length aliases, a shared 文号 and an empty alias (which every question holds)."""
    docs = {doc_id: doc.meta for doc_id, doc in parsed.items()}
    docs["x-pudong-2"] = DocumentMeta(doc_id="x-pudong-2", title=None, place="浦东新区", year=2023,
                                      aliases=["浦东新区", "浦东", "新区"], doc_number="浦府办〔2024〕14号")
    docs["x-short"] = DocumentMeta(doc_id="x-short", title=None, place="淞南镇", aliases=["淞南", "南镇", "淞南镇"])
    docs["x-empty"] = DocumentMeta(doc_id="x-empty", title=None, aliases=["", "某地"])
    docs["x-number"] = DocumentMeta(doc_id="x-number", title=None, doc_number="浦府办〔2024〕14号")
    return docs


QUESTIONS = ["浦东政策解读有什么要求", "宝山淞南镇的工作计划文号是多少", "浦东新区和松江区有什么不同？",
             "青浦区白鹤镇的开放日主题", "浦锦街到的留言回复时限", "依申请公开办理有什么要求?",
             "浦府办〔2024〕14号 说了什么", "浦府办(2024)14号说了什么", "某地淞南和浦东", "上海这几个区的开放日",
             "2023年的工作计划里开放日在几月", "北京市政务公开工作要点", "ＡＢＣ浦东"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_named_places_by_lookup_are_what_asking_every_document_found(documents, question):
    assert named_places(question, documents) == _every_document_asked(question, documents)


@pytest.mark.parametrize("question", QUESTIONS)
def test_documents_numbered_in_a_question_are_found_in_document_order(documents, question):
    key = search_key(_fold(question))
    expected = [d for d, meta in documents.items() if meta.doc_number and search_key(meta.doc_number) in key]
    assert catalogue_of(documents, _ancestors).numbered_in(key) == expected


def test_lookups_by_place_ancestor_and_year_keep_document_order(documents):
    cat = catalogue_of(documents, _ancestors)
    assert cat.by_place["浦东新区"] == [d for d, m in documents.items() if m.place == "浦东新区"]
    assert cat.by_ancestor["上海市"] == [d for d, m in documents.items() if "上海市" in _ancestors(m)]
    assert cat.by_year[2024] == [d for d, m in documents.items() if m.year == 2024]


def test_a_mapping_is_indexed_once_and_again_when_its_size_changes(documents):
    first = catalogue_of(documents, _ancestors)
    assert catalogue_of(documents, _ancestors) is first
    assert catalogue_of(dict(documents), _ancestors) is not first   # another mapping, equal or not
    documents["x-new"] = DocumentMeta(doc_id="x-new", title=None, place="新镇", aliases=["新镇"])
    assert ("新镇", "x-new") in named_places("新镇的开放日", documents)
    assert "x-new" in resolve_scope("新镇的开放日", documents).doc_ids
