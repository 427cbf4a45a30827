from __future__ import annotations

import pytest

from assistant.ingest.metadata import DocumentMeta
from assistant.query.scope import Scope
from assistant.query.understand import QueryUnderstanding, _occurring


@pytest.fixture(scope="module")
def understanding():
    from assistant.index.lexical import tokenizer_for

    documents = {
        "a": DocumentMeta(doc_id="a", title=None, place="松江区", aliases=["松江区", "松江"]),
        "b": DocumentMeta(doc_id="b", title=None, place="白鹤镇", aliases=["白鹤镇", "白鹤"]),
        "c": DocumentMeta(doc_id="c", title=None, place="上海市", aliases=[]),
    }
    return QueryUnderstanding(documents, tokenizer_for(documents.values()))


@pytest.mark.parametrize("token", ["松江", "江区", "白", "鹤镇", "浦东", "区白", "", "\x00", "松江区白鹤镇"])
def test_a_token_is_part_of_a_name_exactly_when_some_name_holds_it(understanding, token):
    """The joined names answer as testing each name would (a token spanning two names is in neither)."""
    scope = Scope(places=["嘉定区"], unknown_places=["徐汇区"])
    names = set(understanding._aliases) | {"嘉定区", "徐汇区"}
    assert understanding._in_names(token, scope) == any(token in name for name in names)


def test_the_scope_s_own_places_count_as_names(understanding):
    assert understanding._in_names("嘉定", Scope(places=["嘉定区"]))
    assert not understanding._in_names("嘉定", Scope())


@pytest.mark.parametrize("text", ["松江区和白鹤镇的开放日", "白鹤", "没有地名的问题", "", "松江松江区"])
def test_the_names_occurring_in_a_text_are_those_a_search_for_each_finds(text):
    names = frozenset({"松江区", "松江", "白鹤镇", "白鹤", "区和", "开放日活动"})
    assert _occurring(text, names, max(map(len, names))) == sorted(n for n in names if n in text)


def test_content_words_leave_out_the_corpus_s_place_names(understanding):
    words = understanding.content_words("松江区政府开放月在几月", Scope())
    assert words and not any("松江" in w for w in words)
