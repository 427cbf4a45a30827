from __future__ import annotations

import pytest

from assistant.ingest.metadata import DocumentMeta
from assistant.query.scope import resolve_scope


def _metas(fields: dict[str, dict]) -> dict[str, DocumentMeta]:
    return {doc_id: DocumentMeta(doc_id=doc_id, title=None, **values) for doc_id, values in fields.items()}


@pytest.fixture(scope="module")
def documents(parsed):
    return {doc_id: doc.meta for doc_id, doc in parsed.items()}


@pytest.mark.parametrize("question,doc_ids", [
    ("浦东政策解读有什么要求", ["2024-pudong"]),
    ("松江区政策留言板建设由哪些单位负责?", ["2024-songjiang"]),
    ("淞南镇重大行政决策事项目录什么时候公开", ["2023-baoshan-songnan"]),
    ("宝山淞南镇的工作计划文号是多少", ["2023-baoshan-songnan"]),
    ("青浦区白鹤镇的开放日主题", ["2024-qingpu-baihe"]),
    ("浦锦街到的留言回复时限", ["2024-minhang-pujin"]),   # typo 街到: the short name still matches
    ("2023年的工作计划里开放日在几月", ["2023-baoshan-songnan"]),
    ("依申请公开办理有什么要求?", []),
])
def test_question_names_its_document(documents, question, doc_ids):
    scope = resolve_scope(question, documents)
    assert scope.doc_ids == doc_ids
    assert scope.covered


@pytest.mark.parametrize("question,unknown", [
    ("徐汇区2024年的政府开放月安排在几月？", ["徐汇区"]),
    ("嘉定区依申请公开的答复期限", ["嘉定区"]),
    ("北京市政务公开工作要点", ["北京市"]),
    ("七宝镇的政务公开要点", ["七宝镇"]),
])
def test_places_outside_the_corpus_are_reported_not_replaced(documents, question, unknown):
    scope = resolve_scope(question, documents)
    assert scope.unknown_places == unknown
    assert not scope.covered


def test_district_of_a_town_document_is_not_the_town(documents):
    scope = resolve_scope("宝山区区级的政务公开工作要点", documents)
    assert scope.unknown_places == ["宝山区"]
    assert scope.related_docs == ["2023-baoshan-songnan"]


@pytest.mark.parametrize("question,year", [
    ("白鹤镇2023年的政务公开工作要点有哪些？", 2023),
    ("松江区2019年政务公开工作要点里开放月是几月？", 2019),
    ("浦东新区2025年政务公开工作要点有什么新变化？", 2025),
])
def test_years_the_named_document_does_not_have_are_reported(documents, question, year):
    scope = resolve_scope(question, documents)
    assert scope.unknown_years == [year]


def test_a_year_inside_the_content_is_not_the_documents_year(documents):
    scope = resolve_scope("松江区2023年国民经济和社会发展计划执行情况公开由谁负责", documents)
    assert scope.covered and scope.doc_ids == ["2024-songjiang"]


def test_explicit_filter_wins(documents):
    scope = resolve_scope("依申请公开办理有什么要求", documents, doc_filter="2024-pudong")
    assert scope.doc_ids == ["2024-pudong"] and scope.explicit


def test_a_selected_document_is_compared_with_a_named_one(documents):
    scope = resolve_scope("这份文件和白鹤镇的要点在政策解读上有什么不一样？", documents, "2023-baoshan-songnan")
    assert scope.doc_ids == ["2023-baoshan-songnan", "2024-qingpu-baihe"] and scope.explicit


def test_a_selected_document_keeps_the_scope_when_a_place_is_only_mentioned(documents):
    scope = resolve_scope("这份文件里浦东新区的做法是什么？", documents, "2024-songjiang")
    assert scope.doc_ids == ["2024-songjiang"]


def test_a_year_right_after_a_place_names_that_years_plan(documents):
    scope = resolve_scope("浦东新区2025年的政府开放月还是放在8月吗？", documents)
    assert scope.unknown_years == [2025]


def test_qualifying_city_is_not_a_document_of_its_own(documents):
    scope = resolve_scope("上海市松江区政府开放月在几月", documents)
    assert scope.doc_ids == ["2024-songjiang"] and scope.covered


def test_a_city_followed_by_its_lower_levels_means_the_places_inside_it():
    documents = _metas({
        "city": {"place": "上海市", "province": "上海市", "aliases": ["上海市", "上海"]},
        "town": {"place": "淞南镇", "district": "宝山区", "city": "上海市", "aliases": ["淞南镇", "淞南"]},
        "district": {"place": "松江区", "district": "松江区", "city": "上海市", "aliases": ["松江区", "松江"]},
    })
    inside = resolve_scope("上海这几个区、镇、街道的文件对涉企政策怎么要求？", documents)
    assert sorted(inside.doc_ids) == ["district", "town"]
    assert resolve_scope("上海市2023年的要点对涉企政策怎么要求？", documents).doc_ids == ["city"]


CITY_AND_DISTRICT = _metas({
    "2023-shanghai": {"place": "上海市", "level": "市", "province": "上海市", "aliases": ["上海市", "上海"]},
    "2024-songjiang": {"place": "松江区", "level": "区", "city": "上海市", "aliases": ["松江区", "松江"]},
})


@pytest.mark.parametrize("question,doc_ids", [
    ("上海市松江区的政府开放月在几月", ["2024-songjiang"]),             # 上海市 qualifies 松江区
    ("上海市和松江区的要点在政策解读上有什么不同", ["2023-shanghai", "2024-songjiang"]),   # two documents named
])
def test_a_place_qualifies_another_only_when_written_right_before_it(question, doc_ids):
    assert resolve_scope(question, CITY_AND_DISTRICT).doc_ids == doc_ids


def test_a_place_in_the_askers_story_is_not_the_scope(documents):
    scope = resolve_scope("我老家在云南，一直听说松江在搞对口帮扶，松江区会公开这些吗？", documents)
    assert scope.doc_ids == ["2024-songjiang"] and scope.unknown_places == []
    assert resolve_scope("云南省的政务公开要点有什么要求", documents).unknown_places == ["云南省"]


def test_a_document_is_named_by_its_longest_alias_in_the_question_the_first_listed_among_equals():
    from assistant.query.scope import named_places

    documents = _metas({"x": {"place": "甲乙区", "aliases": ["甲乙", "乙区", "甲乙区"]},
                        "y": {"place": "丙丁镇", "aliases": ["丁镇", "丙丁"]},
                        "z": {"place": "戊己县", "aliases": ["戊己县"]}})
    # x: 甲乙区 (3 characters) over 甲乙 and 乙区; y: 丁镇 and 丙丁 tie at 2, 丁镇 is listed first; by position.
    assert named_places("丙丁镇和甲乙区", documents) == [("丁镇", "y"), ("甲乙区", "x")]
    assert named_places("没有地名", documents) == []


def test_a_place_the_corpus_lacks_offers_each_document_inside_it_once_in_corpus_order():
    documents = _metas({f"d{i}": {"place": f"{name}镇", "district": "松江区", "city": "上海市", "aliases": [f"{name}镇"]}
                        for i, name in enumerate(["甲", "乙", "丙", "丁"])})
    scope = resolve_scope("上海市的开放月在几月", documents)
    assert scope.unknown_places == ["上海市"]
    assert scope.related_docs == ["d0", "d1", "d2", "d3"]
