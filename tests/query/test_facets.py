"""Where a facet's span is in a sentence (fast: no model, no index)."""

from __future__ import annotations

import pytest

from assistant.ingest.structure import Clause
from assistant.query.facets import find_span, question_facets

ITEM = Clause(id="d/1", doc_id="d", kind="item", heading_path=(), text="", start=0, end=0)


@pytest.mark.parametrize("question,sentence,span", [
    ("最后要报送给哪个单位？", "于本工作要点发布后30日内报送区政府办公室，并加强过程管理。", "区政府办公室"),
    ("变动了要向哪里备案？", "并及时向区政府办公室备案。", "区政府办公室"),
    ("要找谁一起会商？", "对于疑难复杂申请，及时组织法律顾问、公职律师等进行会商研判。", "法律顾问、公职律师"),
    ("是第几届进博会？", "做好第七届进博会活动资讯、服务保障等信息公开。", "第七届"),
    ("完成时限呢？", "(区发改委负责落实,完成时限:2023年10月)", "2023年10月"),
    ("由哪些部门负责？", "(责任单位:区发展改革委、区科委)", "区发展改革委、区科委"),
    ("什么时候公开？", "于 3 月 31 日前向社会公开。", "3 月 31 日前"),
    ("最终回复最多几个工作日？", "最终回复不超过5个工作日。", "5个工作日"),
    ("目录什么时候要建成？", "到2025年底,建成全区统一的公开目录。", "2025年底"),
    ("多长时间研究一次？", "建立调度机制,每季度研究解决重点难点问题。", "每季度"),
])
def test_span_of_the_asked_facet(question, sentence, span):
    facet = question_facets(question)[0]
    assert find_span(facet, sentence, ITEM) == span


@pytest.mark.parametrize("question,sentence", [
    ("答复期限是多少个工作日？", "于2024年6月底前完成。"),      # a number of working days is not a date
    ("开放月具体是8月几号？", "8月集中组织开展开放活动。"),         # a day is not a month
    ("分管领导是谁？", "完善主要领导主抓、分管领导具体负责的工作机制。"),   # no name is ever guessed
])
def test_no_span_that_does_not_answer(question, sentence):
    facet = question_facets(question)[0]
    assert find_span(facet, sentence, ITEM) is None


def test_a_clauses_labelled_units_answer_before_an_actor_guessed_from_its_prose():
    text = "2.根据市政务公开办要求,适时启动本区法定主动公开事项目录编制研究。(责任单位:区府办、各部门,完成时限:全年)"
    clause = Clause(id="d/1.2", doc_id="d", kind="item", heading_path=("一、夯实根基",), text=text, start=0,
                    end=len(text), units=["区府办", "各部门"])
    facet = question_facets("这项工作谁负责？")[0]
    assert find_span(facet, "2.根据市政务公开办要求,适时启动本区法定主动公开事项目录编制研究。", clause) == "区府办、各部门"


def test_a_task_rows_deadline_column_answers_a_time_limit_whatever_it_says():
    text = "2 持续加大民生实事信息公开力度\n办公室、基教处 持续推进"
    row = Clause(id="d/table/2", doc_id="d", kind="table_row", heading_path=("任务分解", "第2项"), text=text, start=0,
                 end=len(text), units=["办公室", "基教处"], deadline="持续推进", row=2)
    facet = question_facets("民生实事信息公开的时限是什么？")[0]
    assert find_span(facet, "持续加大民生实事信息公开力度", row) == "持续推进"
    # A length asked for ("几个工作日") is not answered by a deadline column.
    assert find_span(question_facets("要在几个工作日内完成？")[0], "持续加大民生实事信息公开力度", row) is None


@pytest.mark.parametrize("question,kinds", [
    ("长宁那边进博会的消息一般是哪个部门负责往外发的？", ["units"]),   # who sends the news out, not the issuer
    ("这份要点是哪个部门负责印发的？", ["issuer", "units"]),
])
def test_who_sends_something_out_is_the_issuer_only_when_the_document_is_sent(question, kinds):
    assert [f.kind for f in question_facets(question)] == kinds


def test_work_handed_to_someone_asks_who_is_responsible_not_where_it_is_filed():
    facet = question_facets("高校毕业生就业政策的公开，山东省教育厅和松江区分别交给谁？")[0]
    assert facet.kind == "units" and not facet.destination
    assert question_facets("备案材料要报给谁？")[0].destination


@pytest.mark.parametrize("question", ["一申请就几十上百条，政府拿这种情况有办法没？", "每年十几次开放活动都公开吗？",
                                      "好几个部门都提过，到底要不要公示？"])
def test_a_rough_amount_the_asker_states_is_not_a_number_asked_for(question):
    assert not {f.kind for f in question_facets(question)} & {"count", "number"}


@pytest.mark.parametrize("question,kinds", [
    ("天津和平区2022年政务公开工作要点是谁发布的，发布日期是哪天？", {"issuer", "date"}),
    ("松江和浦东的要点，哪个先发的？", {"date"}),
    ("长府办〔2024〕12号是什么文件？", {"title"}),
])
def test_document_facets_asked_in_everyday_words(question, kinds):
    assert {f.kind for f in question_facets(question)} == kinds


BASIS = ("认真落实《山东省人民政府办公厅关于印发2021年山东省政务公开工作要点的通知》(鲁政办发〔2021〕5号)和"
         "《聊城市人民政府办公室关于印发2021年聊城市政务公开工作要点的通知》(聊政办发〔2021〕5号)精神。")


def test_the_documents_a_plan_follows_are_read_from_its_text_with_their_numbers():
    facets = question_facets("冠县2021年的政务公开要点是落实哪两个上级文件制定的？给一下文号。")
    assert [f.kind for f in facets] == ["basis"]   # the 文号 asked for is theirs, not the plan's own
    assert find_span(facets[0], BASIS, ITEM) == BASIS[4:-3]


def test_a_referenced_document_named_by_its_place_is_the_one_given():
    facet = question_facets("冠县的要点里提到的聊城市2021年要点，文号是多少？")[0]
    assert find_span(facet, BASIS, ITEM) == "《聊城市人民政府办公室关于印发2021年聊城市政务公开工作要点的通知》(聊政办发〔2021〕5号)"


def test_the_plans_own_title_is_not_a_document_it_follows():
    facet = question_facets("和平区的要点是按照哪个文件制定的？")[0]
    notice = Clause(id="d/n", doc_id="d", kind="preamble", heading_path=(), text="", start=0, end=0,
                    doc_title="和平区2022年政务公开工作要点")
    assert find_span(facet, "现将《和平区2022年政务公开工作要点》印发给你们。", notice) is None
    assert find_span(facet, "按照《天津市2022年政务公开工作要点》的部署要求,", notice) == "《天津市2022年政务公开工作要点》"


def test_the_plans_own_number_is_still_its_metadata():
    assert [f.kind for f in question_facets("这份要点的文号是多少？")] == ["doc_number"]


def test_laws_and_regulations_a_clause_follows_are_documents_it_follows_too():
    facet = question_facets("白鹤镇 主动公开 依据哪些规定")[0]
    assert find_span(facet, "严格按照《信息公开条例》《上海市政府信息公开规定》要求，做好主动公开。", ITEM) == \
        "《信息公开条例》《上海市政府信息公开规定》"
