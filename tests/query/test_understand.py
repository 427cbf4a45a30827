"""Reading a question once (assistant/query/understand.py): its parts, what it asks versus the asker's story, and
the corpus's names."""

from __future__ import annotations

import pytest

from assistant.index.lexical import tokenizer_for
from assistant.ingest.metadata import DocumentMeta
from assistant.query.scope import Scope
from assistant.query.understand import QueryUnderstanding, _occurring, question_parts


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



@pytest.fixture(scope="module")
def toy_understanding():
    documents = {
        "a": DocumentMeta(doc_id="a", title=None, place="松江区", aliases=["松江区", "松江"]),
        "b": DocumentMeta(doc_id="b", title=None, place="白鹤镇", aliases=["白鹤镇", "白鹤"]),
        "c": DocumentMeta(doc_id="c", title=None, place="上海市", aliases=[]),
    }
    return QueryUnderstanding(documents, tokenizer_for(documents.values()))


@pytest.mark.parametrize("token", ["松江", "江区", "白", "鹤镇", "浦东", "区白", "", "\x00", "松江区白鹤镇"])
def test_a_token_is_part_of_a_name_exactly_when_some_name_holds_it(toy_understanding, token):
    """The joined names answer as testing each name would (a token spanning two names is in neither)."""
    scope = Scope(places=["嘉定区"], unknown_places=["徐汇区"])
    names = set(toy_understanding._aliases) | {"嘉定区", "徐汇区"}
    assert toy_understanding._in_names(token, scope) == any(token in name for name in names)


def test_the_scope_s_own_places_count_as_names(toy_understanding):
    assert toy_understanding._in_names("嘉定", Scope(places=["嘉定区"]))
    assert not toy_understanding._in_names("嘉定", Scope())


@pytest.mark.parametrize("text", ["松江区和白鹤镇的开放日", "白鹤", "没有地名的问题", "", "松江松江区"])
def test_the_names_occurring_in_a_text_are_those_a_search_for_each_finds(text):
    names = frozenset({"松江区", "松江", "白鹤镇", "白鹤", "区和", "开放日活动"})
    assert _occurring(text, names, max(map(len, names))) == sorted(n for n in names if n in text)


def test_content_words_leave_out_the_corpus_s_place_names(toy_understanding):
    words = toy_understanding.content_words("松江区政府开放月在几月", Scope())
    assert words and not any("松江" in w for w in words)
