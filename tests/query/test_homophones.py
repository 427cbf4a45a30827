"""Place names typed by ear are read as the corpus place they sound like (assistant/query/homophones.py)."""

from __future__ import annotations

import pytest

from assistant.query.homophones import correct_place_homophones

# Made-up corpus places, as any added document would bring them.
DOCUMENTS = {"a": {"aliases": ["门头沟区", "门头沟"]}, "b": {"aliases": ["冠县"]}, "c": {"aliases": ["浦锦街道", "浦锦"]},
             "d": {"aliases": ["上海市", "上海"]}}


@pytest.mark.parametrize("typed,read", [
    ("门头钩区2023年要点的指导思想", "门头沟区2023年要点的指导思想"),
    ("官县2021年要点的文号", "冠县2021年要点的文号"),
    ("浦金街道的留言多久回复", "浦锦街道的留言多久回复"),
])
def test_a_homophone_of_a_corpus_place_is_read_as_that_place(typed, read):
    assert correct_place_homophones(typed, DOCUMENTS) == read


@pytest.mark.parametrize("text", [
    "上海市的要点",            # spelled right
    "造成伤害怎么办",          # sounds like 上海 but shares no character: a word, not a typo
    "依申请公开有什么要求",
])
def test_other_text_is_left_alone(text):
    assert correct_place_homophones(text, DOCUMENTS) == text


def test_a_document_added_later_brings_its_own_place():
    documents = dict(DOCUMENTS, e={"aliases": ["泗泾镇", "泗泾"]})
    assert correct_place_homophones("四泾镇的开放日", documents) == "泗泾镇的开放日"
