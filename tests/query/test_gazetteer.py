from __future__ import annotations

import pytest

from assistant.query.gazetteer import full_name, is_generic, parents, places_in


def names(text):
    return [name for _, name in places_in(text)]


@pytest.mark.parametrize("text,expected", [
    ("徐汇区2024年的开放月", ["徐汇区"]),
    ("聊城冠县的要点", ["聊城", "冠县"]),
    ("天津和平区2022年", ["天津", "和平区"]),
    ("汶上县中都街道的实施方案", ["汶上县", "中都街道"]),
    ("宝山淞南镇的计划", ["宝山", "淞南镇"]),                         # a town's name never starts inside a district's
    ("某某县2025年政务公开", []),
    ("嘉善县西塘镇2025年政务公开要点", ["嘉善县", "西塘镇"]),         # places nobody listed by hand
])
def test_places_come_from_the_administrative_divisions(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize("text", ["各街道要做什么", "各镇和各街道", "街镇要落实", "城乡居民", "本镇的要求",
                                  "按镇里的计划", "乡镇一级", "新区要求"])
def test_generic_words_are_never_places(text):
    assert names(text) == []


def test_generic_town_words():
    assert is_generic("各街道") and is_generic("乡镇") and not is_generic("淞南镇")


def test_parents_and_full_names():
    assert parents("松江区") == {"上海市"}
    assert parents("冠县") == {"聊城市", "山东省"}
    assert full_name("徐汇") == "徐汇区"


def test_words_before_a_town_that_are_not_its_name_are_not_a_place():
    # "刚接手镇里" is the asker's story (adverb + verb), "看看淞南镇" names 淞南镇 only.
    assert places_in("我刚接手镇里的依申请公开件，领导让我先看看淞南镇今年的计划") == [(21, "淞南镇")]
    assert places_in("去枫林街道问问") == [(1, "枫林街道")]


@pytest.mark.parametrize("text", ["加装电梯这种工程镇里会公示吗", "项目镇里有没有公开", "这事归口镇上管"])
def test_a_word_before_town_that_no_division_data_holds_is_not_a_town(text):
    assert names(text) == []
