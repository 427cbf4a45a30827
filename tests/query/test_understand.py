"""Reading a question once (assistant/query/understand.py): its parts, and what it asks versus the asker's story."""

from __future__ import annotations

import pytest

from assistant.index.lexical import tokenizer_for
from assistant.query.understand import QueryUnderstanding, question_parts


@pytest.fixture(scope="module")
def understanding(parsed):
    documents = {doc_id: doc.meta for doc_id, doc in parsed.items()}
    return QueryUnderstanding(documents, tokenizer_for(documents.values()))


def test_two_questions_are_two_parts():
    assert question_parts("保密审查坚持什么原则？碰到疑难复杂的申请又该怎么办？") == [
        "保密审查坚持什么原则？", "碰到疑难复杂的申请又该怎么办？"]


def test_a_closing_remark_without_an_interrogative_is_not_a_second_question():
    assert question_parts("松江那边政府开放日一般啥时候搞啊？想带娃去政府里面参观一下") == []


def test_who_the_asker_is_searches_at_a_discount_and_is_not_what_must_be_found(understanding):
    query = understanding.understand("我是淞南镇新来的工作人员，想问下计划里对解读内容要聚焦哪些东西？")
    assert "聚焦" in query.content_words and "解读" in query.content_words
    assert "工作人员" not in query.content_words and "工作人员" not in query.search_tokens
    assert "工作人员" in query.story_tokens
    assert query.scope.doc_ids == ["2023-baoshan-songnan"]   # the place in the story still scopes the question


def test_what_the_asker_heard_is_the_topic_not_a_story(understanding):
    query = understanding.understand("听说淞南镇有自己的几个推送渠道，叫啥名字来着？")
    assert "推送" in query.content_words and not query.story_tokens
