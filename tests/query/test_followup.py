from __future__ import annotations

import pytest

from assistant.query.followup import Conversation, rewrite_followup


@pytest.fixture(scope="module")
def documents(parsed):
    return {doc_id: doc.meta for doc_id, doc in parsed.items()}


def _rewrite(history, question, documents):
    conversation = Conversation.from_questions(history, documents)
    return rewrite_followup(question, conversation.turns, documents)


def test_same_topic_new_place(documents):
    r = _rewrite(["松江区政府开放月在几月？"], "那浦东新区呢？", documents)
    assert r.question == "浦东新区政府开放月在几月？" and r.rule == "place"


def test_place_swap_replaces_district_and_town_together(documents):
    r = _rewrite(["宝山淞南镇的工作计划文号是多少？"], "那白鹤镇的呢？", documents)
    assert r.question == "白鹤镇的工作计划文号是多少？"


def test_place_swaps_chain_over_several_turns(documents):
    r = _rewrite(["浦锦街道对公开内容只涉及部分特定对象的信息怎么处理？", "浦东新区呢？"], "松江区呢？", documents)
    assert r.question == "松江区对公开内容只涉及部分特定对象的信息怎么处理？"


def test_same_clause_new_facet_with_a_pronoun(documents):
    r = _rewrite(["松江区任务分解表第24项是什么任务？"], "它由哪个部门负责？", documents)
    assert r.question == "松江区任务分解表第24项由哪个部门负责？" and r.rule == "facet"


def test_bare_facet_question_takes_the_previous_subject(documents):
    r = _rewrite(["浦东新区政策解读优秀案例评选什么时候做？"], "由哪个部门负责？", documents)
    assert r.question == "浦东新区政策解读优秀案例评选由哪个部门负责？"


def test_more_precise_facet(documents):
    r = _rewrite(["浦锦街道网上区长直通车的留言多久要有回应？"], "具体几天？", documents)
    assert r.question.startswith("浦锦街道网上区长直通车的留言") and r.question.endswith("具体几天？")


def test_same_place_same_ask_new_topic(documents):
    r = _rewrite(["松江区重大事故隐患排查整治情况公开由谁负责？"], "那“一江一河一带”建设情况公开呢？", documents)
    assert r.question == "松江区“一江一河一带”建设情况公开由谁负责？" and r.rule == "topic"


def test_asking_for_more_repeats_the_question_and_avoids_what_was_said(documents):
    conversation = Conversation()
    conversation.record("浦东新区推动政府公报数字化转型有什么举措？", "浦东新区推动政府公报数字化转型有什么举措？",
                        ["2024-pudong"], ["开通电子公报订阅渠道，进一步减少纸质版发行量。"])
    r = conversation.rewrite("还有别的要求吗？", documents)
    assert r.question == "浦东新区推动政府公报数字化转型有什么举措" and r.rule == "more"
    assert r.avoid_sentences == {"开通电子公报订阅渠道，进一步减少纸质版发行量。"}


def test_place_carries_over_to_a_question_that_names_none(documents):
    r = _rewrite(["淞南镇的重大行政决策事项目录什么时候公开？"], "那决策出台后多久要公开意见采纳情况？", documents)
    assert r.question == "淞南镇决策出台后多久要公开意见采纳情况？" and r.rule == "place-carried"


@pytest.mark.parametrize("question", ["依申请公开办理有什么要求?", "浦东新区政府开放月在几月？"])
def test_standalone_question_is_left_as_it_is(documents, question):
    assert rewrite_followup(question, [], documents).question == question
    r = _rewrite(["白鹤镇政府开放月是几月？"], "各区普遍怎么处理政策咨询？", documents)
    assert r.question == "各区普遍怎么处理政策咨询？" and r.rule is None


def test_a_full_new_question_does_not_inherit_the_place(documents):
    r = _rewrite(["浦东新区政府开放月在几月？"], "依申请公开办理有什么要求？", documents)
    assert r.question == "依申请公开办理有什么要求？" and r.rule is None


def test_change_of_topic_carries_nothing_over(documents):
    r = _rewrite(["浦东新区政府开放月在几月？"], "换个问题，依申请公开有什么要求？", documents)
    assert r.question == "依申请公开有什么要求？" and r.rule == "new-topic"


def test_same_question_for_another_place(documents):
    r = _rewrite(["松江区政府开放月在几月？"], "同样的问题，白鹤镇怎么说？", documents)
    assert r.question == "白鹤镇政府开放月在几月？" and r.rule == "place"


def test_traditional_history_is_read_like_a_simplified_one(documents):
    r = _rewrite(["松江區政府開放月在幾月？"], "那浦东新区呢？", documents)
    assert r.question == "浦东新区政府开放月在几月？"


def test_a_pronoun_follow_up_after_a_yes_no_question_keeps_its_whole_subject(documents):
    # "要求" inside the subject is not the question's asking part; the closing "吗" is.
    r = _rewrite(["松江区要求清理网站上的过期信息吗？"], "这一条由谁负责？", documents)
    assert r.question == "松江区要求清理网站上的过期信息由谁负责？" and r.rule == "facet"


def test_a_new_subject_is_asked_the_facets_the_previous_question_asked(documents):
    r = _rewrite(["松江任务分解表里，“两旧一村”改造情况公开的责任单位和时间节点是什么？"], "那重大事故隐患排查整治那一条呢？",
                 documents)
    assert r.rule == "topic" and "重大事故隐患排查整治" in r.question
    assert "责任单位" in r.question and "时间" in r.question


def test_a_pronoun_after_a_yes_no_question_takes_what_that_question_asked_about(documents):
    r = _rewrite(["浦东新区要点里有没有组织政策解读优秀案例评选？"], "这一条什么时候完成？", documents)
    assert r.question == "浦东新区要点里组织政策解读优秀案例评选什么时候完成？" and r.rule == "facet"


def test_a_verb_and_an_interrogative_alone_ask_a_facet_of_the_previous_subject(documents):
    r = _rewrite(["松江区2024年要点印发以后，各单位任务分解要多久内报上去？"], "报给谁？", documents)
    assert r.question == "松江区2024年要点印发以后，各单位任务分解报给谁？" and r.rule == "facet"



@pytest.mark.parametrize("history,question,rewritten,rule", [
    # A facet's name and an interrogative ask that facet of the previous subject.
    (["浦东新区政策解读优秀案例评选什么时候做？"], "责任单位是哪些？", "浦东新区政策解读优秀案例评选责任单位是哪些？", "facet"),
    # The row, not its 时间节点, is responsible: the subject leaves behind the facet it was asked for.
    (["松江区任务分解表第24项的时间节点是什么？"], "它由哪个部门负责？", "松江区任务分解表第24项由哪个部门负责？", "facet"),
    # "还有呢？X…" asks X about the previous subject, not the previous facet again.
    (["浦东新区政府开放月是在几月？"], "还有呢？开放活动方面还有别的安排没？", "浦东新区政府开放月，开放活动方面还有别的安排没？", "more"),
])
def test_a_follow_up_asks_about_the_previous_subject_not_its_facet(documents, history, question, rewritten, rule):
    r = _rewrite(history, question, documents)
    assert (r.question, r.rule) == (rewritten, rule)
