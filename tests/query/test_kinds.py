from __future__ import annotations

import pytest

from assistant.ingest.structure import Clause
from assistant.query.facets import question_facets
from assistant.query.kinds import asks_requirement, question_type

ITEM = Clause(id="d/1", doc_id="d", kind="item", heading_path=(), text="", start=0, end=0)


def kind(question):
    return question_type(question, question_facets(question))


@pytest.mark.parametrize("question,expected", [
    ("浦东新区政策解读有哪些要求？", "requirement"),
    ("依申请公开办理有什么要求", "requirement"),
    ("淞南镇向产业园区推送政策用哪些渠道", "list"),
    ("“三同步”是哪三个同步", "list"),
    ("松江区这份要点是以什么为引领来制定的？", "factoid"),
    ("淞南镇政务公开工作是怎么分工负责的", "requirement"),
    ("白鹤镇怎么做好政策解读", "requirement"),
    ("松江区政府开放月在几月？", "factoid"),
    ("浦东任务分解表第4项由谁负责、几月完成？", "factoid"),
    ("政策解读要同步发布吗", "yes_no"),
    ("行政规范性文件要不要标注有效期", "yes_no"),
    ("哪些文件提到了政策留言板", "which_documents"),
    ("哪份文件把开放日主题定成“幸福温暖家”？", "which_documents"),
    ("2024年松江区政务公开工作要点的文号是多少", "metadata"),
    ("这份文件是哪个单位印发的", "metadata"),
    ("淞南镇工作计划抄送给了谁", "metadata"),
    ("浦府办〔2024〕14号是哪天成文的？", "metadata"),
    ("白鹤镇的工作要点通知落款日期是哪天？", "metadata"),
    ("松江区政务公开要点的标题是什么", "metadata"),
    ("白鹤镇的要点是哪天发的？", "metadata"),
    ("浦东政府公报数字化转型具体要做啥", "requirement"),
])
def test_question_type(question, expected):
    assert kind(question) == expected


@pytest.mark.parametrize("question,kinds", [
    ("由谁负责，什么时候完成？", ["units", "date"]),
    ("哪几类信息要主动公开", []),                     # the items, not how many
    ("这个要点一共分了几个部分，分别是什么？", []),
    ("哪些环节要全程留痕", []),
    ("班子领导每年至少听几次汇报？", ["count"]),
    ("我们科室请了几位代表来开会，会后意见要怎么跟进？", []),   # the asker's story asks nothing
    ("是哪个单位印发的？", ["issuer"]),                 # a unit named, not who is responsible
    ("主送哪些单位？", ["recipients"]),
    ("还有呢？其他几项任务呢？", []),                  # "其他几项" points at items, it does not count them
    ("这份要点是哪个单位哪天印发的？", ["issuer", "date"]),
    ("印发日期是哪天，发文的是哪个单位？", ["issuer", "date"]),
    ("街道多长时间开一次联席会议？", ["duration"]),
    ("在留言板上问过好几次问题，到底改了点啥？", []),   # "好几次" says several, it asks no number
])
def test_facets_asked(question, kinds):
    assert [f.kind for f in question_facets(question)] == kinds


def test_a_day_is_not_answered_by_a_month():
    from assistant.query.facets import find_span

    facet = question_facets("开放月具体是8月几号？")[0]
    assert facet.day
    assert find_span(facet, "8月集中组织开展开放活动。", ITEM) is None
    assert find_span(facet, "于8月15日集中开展。", ITEM) == "8月15日"


def test_where_something_is_filed_is_a_destination_not_a_responsible_unit():
    from assistant.query.facets import find_span

    facet = question_facets("工作人员变动了要向哪里备案？")[0]
    assert facet.kind == "units" and facet.destination
    sentence = "政务公开工作人员发生变动,应做好工作交接,并及时向区政府办公室备案。"
    assert find_span(facet, sentence, ITEM) == "区政府办公室"


@pytest.mark.parametrize("question,asked", [
    ("里面有几条规定，审核应该怎么走？有什么要求？", True),
    ("对保密审查提了哪些要求", True),
    ("年度报告要求在什么时间之前发布？", False),     # names a requirement, asks a date
    ("今年给这项工作安排了多少经费？", False),
])
def test_a_requirement_asked_outright_is_told_from_one_merely_named(question, asked):
    assert asks_requirement(question) is asked


@pytest.mark.parametrize("question", ["这个要点一共分了几个部分？", "这份计划的整体框架是什么", "任务分解表一共列了多少项任务？"])
def test_questions_about_the_documents_structure(question):
    assert question_type(question, question_facets(question)) == "structure"


@pytest.mark.parametrize("question", ["政务公开要求包括哪几个方面", "只涉及部分特定对象的信息怎么公开？"])
def test_parts_of_a_topic_are_not_the_documents_structure(question):
    assert question_type(question, question_facets(question)) != "structure"


def test_a_date_of_something_inside_the_document_is_not_the_documents_date():
    question = "冠县要点里，政府信息公开工作年度报告要求什么时候前发布？"
    assert question_type(question, question_facets(question)) != "metadata"
    question = "冠县2021年政务公开要点是什么时候印发的？"
    assert question_type(question, question_facets(question)) == "metadata"
