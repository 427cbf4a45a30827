"""The 公文 elements besides the metadata fields (assistant/answer/metadata.py), read from the documents' own
front and back matter."""

from __future__ import annotations

import pytest

from assistant.answer.metadata import document_facts, element_facts, element_labels


@pytest.mark.parametrize("question,labels", [
    ("这份计划一共印了多少份？", ["印数"]),
    ("要点的版头是什么", ["版头"]),
    ("这份要点是公开发布的吗？", ["公开属性"]),
    ("这个计划是在什么会上讨论通过的？", ["审议"]),
    ("是哪个部门印发的？", ["印发机关"]),
    ("松江区那份要点是哪天印发的？又是经区政府第几次常务会议审议通过的？", ["审议"]),
    ("落款那儿是谁代盖的章？", ["印章"]),
    ("那是哪个单位代盖的章？", ["印章"]),
    # Content questions that share a word with an element are not about the document itself.
    ("怎么减少纸质公报的印数？", []),
    ("对公文公开属性审查有什么要求？", []),
    ("公文类信息的公开方式是怎么规定的？", []),
    ("重大行政决策要经过哪个会议审议？", []),
])
def test_element_questions_are_told_from_content_questions(question, labels):
    assert element_labels(question) == labels


@pytest.mark.slow
@pytest.mark.parametrize("doc_id,question,label,span", [
    ("2023-baoshan-songnan", "这份计划一共印了多少份？", "印数", "共印60份"),
    ("2023-baoshan-songnan", "这份计划是哪个部门印发的？", "印发机关", "上海市宝山区淞南镇党政办公室"),
    ("2024-songjiang", "要点的版头是什么", "版头", "松江区人民政府办公室文件"),
    ("2024-pudong", "这份要点是公开发布的吗？", "公开属性", "此件公开发布"),
    ("2024-songjiang", "这份要点是经过什么会议审议通过的？", "审议", "经区政府第 62 次常务会议审议通过"),
])
def test_elements_are_quoted_from_the_documents_front_and_back_matter(assistant, doc_id, question, label, span):
    facts = element_facts(question, assistant.retriever.clauses_of(doc_id))
    assert [(f.label, f.span) for f in facts] == [(label, span)]
    assert span.replace(" ", "") in facts[0].clause.text.replace(" ", "")


@pytest.mark.slow
def test_an_element_the_document_lacks_is_not_stated(assistant):
    facts = element_facts("这份要点一共印了多少份？", assistant.retriever.clauses_of("2024-songjiang"))
    assert [(f.label, f.span) for f in facts] == [("印数", None)]


@pytest.mark.slow
def test_a_seal_question_beside_an_issuer_question_gets_both(assistant):
    answer = assistant.ask("松江区的要点是谁发的？落款盖的又是谁的章？")
    assert "上海市松江区人民政府办公室" in answer.answer and not answer.refused


@pytest.mark.slow
def test_every_part_of_a_two_part_document_question_is_answered(assistant):
    answer = assistant.ask("松江区那份要点是哪天印发的？又是经区政府第几次常务会议审议通过的？")
    assert "第 62 次常务会议" in answer.answer and "5 月 10 日" in answer.answer


@pytest.mark.slow
def test_the_signature_date_is_read_under_the_signature(assistant):
    clauses = assistant.retriever.clauses_of("2023-baoshan-songnan")
    meta = assistant.retriever.documents["2023-baoshan-songnan"]
    facts = document_facts("这份计划的落款是哪天？", ["date"], meta, clauses)
    assert [(f.label, f.span) for f in facts] == [("落款日期", "2023年7月3日")]
    assert facts[0].clause.kind in ("preamble", "footer")


def test_validity_asked_in_everyday_words_is_the_pages_field():
    from assistant.answer.metadata import infobar_labels

    assert infobar_labels("冠县2021年那个政务公开要点现在还算数吗？") == ["有效性"]
