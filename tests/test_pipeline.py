from __future__ import annotations

import pytest

from assistant.answer import messages
from assistant.query.followup import Conversation
from assistant.ingest.corpus import UnknownDocument
from assistant.pipeline import InvalidQuestion

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("question,message", [
    ("", messages.EMPTY_QUESTION),
    ("   \n\t", messages.EMPTY_QUESTION),
    ("？？！！……", messages.NO_TEXT_IN_QUESTION),
    ("😀🎉", messages.NO_TEXT_IN_QUESTION),
])
def test_unaskable_questions_get_a_clear_message(assistant, question, message):
    with pytest.raises(InvalidQuestion, match=message[:6]):
        assistant.ask(question)


def test_huge_question_is_refused_with_its_length(assistant):
    with pytest.raises(InvalidQuestion, match="20000"):
        assistant.ask("政" * 20000)


@pytest.mark.parametrize("question", [
    "What are the requirements for information disclosure?",
    "<script>alert(1)</script>依申请公开",
    "依申请\x00公开\x07办理有什么要求",
])
def test_strange_input_still_gets_an_answer_object(assistant, question):
    answer = assistant.ask(question)
    assert answer.answer
    assert "\x00" not in answer.question and "\x07" not in answer.question


def test_unknown_document_filter_is_an_error(assistant):
    with pytest.raises(UnknownDocument):
        assistant.ask("政府开放月", doc_filter="2099-nowhere")


def test_conversation_carries_follow_ups_and_shows_the_rewrite(assistant):
    conversation = Conversation()
    first = assistant.ask("松江区政府开放月在几月？", conversation=conversation)
    assert "8 月" in first.answer or "8月" in first.answer
    second = assistant.ask("那浦东新区呢？", conversation=conversation)
    assert second.rewritten_question == "浦东新区政府开放月在几月？"
    assert second.direct == "8月" and {c.doc_id for c in second.citations} == {"2024-pudong"}
    third = assistant.ask("评选什么时候完成？", conversation=conversation)
    assert third.rewritten_question.startswith("浦东新区")


def test_history_argument_rebuilds_the_conversation(assistant):
    answer = assistant.ask("它由哪个部门负责？", history=["松江区任务分解表第24项是什么任务？"])
    assert answer.rewritten_question == "松江区任务分解表第24项由哪个部门负责？"
    assert answer.direct == "区应急局"


def test_asking_for_more_gives_other_sentences(assistant):
    conversation = Conversation()
    first = assistant.ask("浦东新区推动政府公报数字化转型有什么举措？", conversation=conversation)
    more = assistant.ask("还有别的要求吗？", conversation=conversation)
    said = {first.citations[0].text[a:b] for a, b in first.citations[0].spans}
    assert not any(s in more.answer for s in said)


def test_answer_contract_fields(assistant):
    data = assistant.ask("政府开放月在几月?").to_dict()
    assert set(data) >= {"question", "rewritten_question", "answer", "refused", "scope", "citations",
                         "retrieved", "timings_ms"}
    assert set(data["citations"][0]) >= {"n", "clause_id", "doc_id", "doc_title", "heading_path", "units",
                                         "deadline", "text"}
    assert set(data["retrieved"][0]) == {"clause_id", "doc_id", "score", "text"}
    assert set(data["timings_ms"]) == {"retrieve", "answer", "total"}
