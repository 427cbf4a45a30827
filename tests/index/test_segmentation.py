"""jieba with the field's terms (assistant/index/segmentation.py): fast, no model."""

from __future__ import annotations

from assistant.index.segmentation import ChineseTokenizer, stopwords


def test_terms_of_the_field_are_kept_whole_beside_their_parts():
    tokens = ChineseTokenizer().tokens("依申请公开办理有什么要求")
    assert "依申请公开" in tokens and "公开" in tokens and "办理" in tokens


def test_question_words_are_stopwords_not_tokens():
    tokens = ChineseTokenizer().tokens("依申请公开办理有什么要求")
    assert "什么" not in tokens and "什么" in stopwords()


def test_extra_words_such_as_place_names_become_tokens():
    tokens = ChineseTokenizer(["白鹤镇"]).tokens("白鹤镇政府开放月在几月")
    assert "白鹤镇" in tokens and "政府开放月" in tokens
