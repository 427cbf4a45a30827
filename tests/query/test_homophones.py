"""Place names typed by ear are read as the corpus place they sound like (assistant/query/homophones.py)."""

from __future__ import annotations

import pytest

from assistant.ingest.metadata import DocumentMeta
from assistant.query.homophones import correct_place_homophones


def _metas(aliases: dict[str, list[str]]) -> dict[str, DocumentMeta]:
    return {doc_id: DocumentMeta(doc_id=doc_id, title=None, aliases=names) for doc_id, names in aliases.items()}

# Made-up corpus places, as any added document would bring them.
DOCUMENTS = _metas({"a": ["门头沟区", "门头沟"], "b": ["冠县"], "c": ["浦锦街道", "浦锦"], "d": ["上海市", "上海"]})


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
    documents = DOCUMENTS | _metas({"e": ["泗泾镇", "泗泾"]})
    assert correct_place_homophones("四泾镇的开放日", documents) == "泗泾镇的开放日"


def _speller():
    import jieba

    from assistant.query.homophones import TermSpeller

    jieba.initialize()
    corpus_words = {"政策留言板", "留言板", "会议", "清理", "公文", "历史公文", "评选", "审查", "热线", "各市", "自既有"}
    return TermSpeller(corpus_words, lambda w: int(jieba.dt.FREQ.get(w, 0) or 0), lambda t: list(jieba.dt.cut(t)),
                       frozenset({"政策留言板"}))


@pytest.mark.parametrize("typed,read", [
    ("政策留言版要增设什么窗口", "政策留言板要增设什么窗口"),
    ("历史公问转化公开怎么弄", "历史公文转化公开怎么弄"),
    ("规范性文件清哩主要清理哪些", "规范性文件清理主要清理哪些"),
    ("开放活动坪选几月份搞", "开放活动评选几月份搞"),
])
def test_a_misheard_term_is_read_as_the_corpus_word_it_sounds_like(typed, read):
    assert _speller().correct(typed) == read


@pytest.mark.parametrize("text", [
    "他们自己有没有说过要让老百姓看得懂？",   # 己有 sounds like 既有, but 己 belongs to 自己
    "几份文件的文号各是多少？",               # 是 is meant as typed, not 市
    "我刚接手政务公开的活",                   # 接手 is a word, not a typo of 接受
])
def test_words_meant_as_typed_are_left_alone(text):
    assert _speller().correct(text) == text


def test_a_protected_name_is_never_corrected():
    assert _speller().correct("会意街道的政策留言版", protected=["会意街道"]) == "会意街道的政策留言板"
