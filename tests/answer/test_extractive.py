from __future__ import annotations

import pytest

from assistant.answer import messages
from assistant.ingest.searchkey import compact
from assistant.ingest.structure import Clause

pytestmark = pytest.mark.slow

ALL_DOCS = {"2023-baoshan-songnan", "2024-minhang-pujin", "2024-pudong", "2024-qingpu-baihe", "2024-songjiang"}


def _grounded(answer):
    """Every quoted sentence is verbatim in a clause it cites (our own wording claims nothing)."""
    by_n = {c.n: compact(c.text) for c in answer.citations}
    for line in answer.lines:
        for pieces, numbers in line.claims():
            for piece in pieces:
                assert numbers and any(compact(piece) in by_n[n] for n in numbers), (line, piece)


def test_cross_document_question_covers_every_document_with_such_a_clause(assistant):
    answer = assistant.ask("依申请公开办理有什么要求?")
    assert answer.kind == "cross_doc" and not answer.refused
    assert {c.doc_id for c in answer.citations} == ALL_DOCS
    for title in ("2024年浦东新区政务公开工作要点", "2024年松江区政务公开工作要点", "2023年淞南镇政务公开工作计划"):
        assert f"【{title}】" in answer.answer
    assert messages.SHARED_HEADER in answer.answer
    shared = answer.answer.split(messages.SHARED_HEADER)[1]
    assert "强化办件规范，保障答复质效和办理时限。" in shared and "份文件）" in shared
    _grounded(answer)


def test_factoid_leads_with_the_span(assistant):
    answer = assistant.ask("松江区任务分解表第24项由哪个单位负责？")
    assert answer.kind == "factoid" and answer.direct == "区应急局"
    assert answer.answer.startswith("答：区应急局[1]")
    assert "第24项 · 责任单位：区应急局 · 时间节点：全年[1]" in answer.answer
    assert answer.citations[0].clause_id == "2024-songjiang/table/24"
    _grounded(answer)


@pytest.mark.parametrize("question,span", [
    ("浦东新区政策解读优秀案例评选的时间节点是什么时候？", "5月"),
    ("浦锦街道网上区长直通车的留言，最终回复不能超过几个工作日？", "5个工作日"),
    ("淞南镇重大行政决策事项目录要在什么时间前向社会公开？", "3 月 31 日前"),
    ("松江区2024年政务公开工作要点的文号是多少？", "沪松府办〔2024〕12 号"),
    ("白鹤镇常态化政府开放日活动的主题是什么？", "“战略赋能区、数创新高地、幸福温暖家”"),
])
def test_direct_answer_spans(assistant, question, span):
    answer = assistant.ask(question)
    assert answer.direct == span
    _grounded(answer)


def test_span_comes_from_the_sentence_about_the_question(assistant):
    answer = assistant.ask("浦东新区“最受欢迎的政府开放活动”评选要在几月完成？")
    assert answer.direct == "10月"  # not the "8月" of the open month in the neighbouring sentence


def test_two_facets_in_one_question(assistant):
    answer = assistant.ask("浦东新区开通电子公报订阅渠道由哪个单位负责，什么时候完成？")
    assert answer.direct == "区政务公开办" and "时间节点：全年" in answer.answer


@pytest.mark.parametrize("question,expected", [
    ("松江区的工作要点主送给哪些单位？", "各镇人民政府、街道办事处，区政府各部门"),
    ("淞南镇这份工作计划抄送给了哪个单位？", "区府办政务公开科"),
])
def test_recipients_are_read_from_the_notice(assistant, question, expected):
    assert assistant.ask(question).direct == expected


def test_question_about_one_document_cites_only_it(assistant):
    answer = assistant.ask("浦东新区政策留言板建设有什么要求？")
    assert {c.doc_id for c in answer.citations} == {"2024-pudong"}
    assert "增设政策评价与建议窗口" in answer.answer
    _grounded(answer)


def test_detail_the_named_document_lacks_is_said_plainly(assistant):
    answer = assistant.ask("浦东新区依申请公开的答复期限是多少个工作日？")
    assert answer.refused and answer.kind == "not_stated"
    assert answer.answer.startswith("浦东新区的文件中没有写明具体时限。")
    assert all(c.doc_id == "2024-pudong" for c in answer.citations)  # nothing passed off from elsewhere


def test_detail_stated_elsewhere_is_named_with_its_place(assistant):
    answer = assistant.ask("白鹤镇班子领导每年至少听取几次政务公开工作汇报？")
    assert answer.refused and answer.kind == "not_stated"
    assert messages.ELSEWHERE in answer.answer and "【浦锦街道】" in answer.answer
    assert any(c.doc_id == "2024-minhang-pujin" for c in answer.citations)


@pytest.mark.parametrize("question", ["明天上海天气怎么样？", "徐汇区2024年的政府开放月安排在几月？", "北京市政务公开工作要点有哪些重点任务？"])
def test_refusal_uses_the_fixed_sentence_lists_the_corpus_and_cites_nothing(assistant, question):
    answer = assistant.ask(question)
    assert answer.refused and answer.kind == "refusal"
    assert answer.answer.startswith(messages.REFUSAL)
    assert "2024年浦东新区政务公开工作要点" in answer.answer
    assert answer.citations == []


def test_refusal_names_the_place_that_is_missing(assistant):
    answer = assistant.ask("徐汇区2024年的政府开放月安排在几月？")
    assert messages.UNKNOWN_PLACE.format(names="徐汇区") in answer.answer


def test_citations_carry_the_data_the_ui_needs(assistant):
    answer = assistant.ask("松江区政策留言板建设由哪些单位负责?")
    c = answer.citations[0]
    assert c.n == 1 and c.clause_id.startswith("2024-songjiang/")
    assert c.doc_title == "2024年松江区政务公开工作要点" and c.doc_number == "沪松府办〔2024〕12号"
    assert any(p.endswith("加强政策留言板建设") for p in c.heading_path)
    assert "区数据局" in c.units and c.deadline == "全年"
    assert c.spans and all(0 <= a < b <= len(c.text) for a, b in c.spans)
    used = [c.text[a:b] for a, b in c.spans]
    assert any(u in answer.answer for u in used)


def test_answer_picks_sentences_not_whole_clauses(assistant):
    answer = assistant.ask("浦东新区的“四类推送法”具体是哪四类推送？")
    assert "四类推送法" in answer.answer
    cited = answer.citations[0]
    assert len(answer.answer) < len(cited.text) + 60


def test_named_table_row_is_the_source(assistant):
    answer = assistant.ask("松江区分解表中“加强业务能力建设”（第50项）的责任单位是哪个？")
    assert answer.direct == "区政府办公室"
    assert answer.citations[0].clause_id == "2024-songjiang/table/50"


def test_issue_date_comes_from_the_footer_not_the_signing_date(assistant):
    assert assistant.ask("浦东新区的工作要点通知是哪天印发的？").direct == "2024年4月28日"
    assert assistant.ask("浦东新区的工作要点是哪天签发的？").direct == "2024年4月26日"


def test_metadata_of_several_named_documents_each_quoted_from_its_notice(assistant):
    answer = assistant.ask("淞南、白鹤、浦东、松江这几份文件的文号各是多少？")
    assert answer.kind == "metadata"
    for number in ("宝淞府〔2023〕8号", "青白府〔2024〕15号", "浦府办〔2024〕14号", "沪松府办〔2024〕12 号"):
        assert number in answer.answer
    assert {c.doc_id for c in answer.citations} == ALL_DOCS - {"2024-minhang-pujin"}
    _grounded(answer)


def test_signing_and_issue_dates_asked_together_are_both_given(assistant):
    answer = assistant.ask("浦府办〔2024〕14号是哪天成文的？又是哪天印发的？")
    assert "2024年4月26日" in answer.answer and "2024年4月28日" in answer.answer
    _grounded(answer)


def test_copy_recipients_come_from_the_footer(assistant):
    answer = assistant.ask("那抄送单位有哪些？", history=["浦东新区2024年政务公开要点是哪天印发的？"])
    assert answer.kind == "metadata" and "区委各部门" in answer.answer and "区人大办" in answer.answer
    assert answer.citations[0].clause_id == "2024-pudong/footer"


def test_a_question_of_two_independent_questions_answers_both(assistant):
    answer = assistant.ask("白鹤镇公文公开前的保密审查坚持什么原则？碰到疑难复杂的申请又该怎么办？")
    assert answer.kind == "multi_part"
    assert "先审查、后公开" in answer.answer and "会商研判" in answer.answer
    assert answer.answer.count("【") >= 2
    _grounded(answer)


def test_a_leaning_second_question_that_asks_what_is_answered_too(assistant):
    # "…几月份？去了都有些啥环节？": the second piece leans on the first, but asks a list, not a facet of it.
    answer = assistant.ask("听说淞南镇政府每年会搞那种开门活动让老百姓进去看看，一般是几月份？去了都有些啥环节？")
    assert answer.kind == "multi_part" and "8 月" in answer.answer and "问卷调查" in answer.answer
    assert "没有写明" not in answer.answer
    _grounded(answer)


def test_a_second_facet_the_first_sentence_lacks_is_answered_or_said_absent(assistant):
    answer = assistant.ask("浦锦街道班子领导每年至少要听几次政务公开汇报？公开工作人员变动了要向哪里备案？")
    assert "1次" in answer.answer and "区政府办公室" in answer.answer
    _grounded(answer)


@pytest.mark.parametrize("question,points", [
    ("松江区在统筹政务公开和安全保密方面有什么要求？", ("先审查、后公开", "一事一审", "定点、定向公开")),
    # The asker's words ("依申请", "办件") are not the heading's ("答复信息公开申请"); the clause is one task of
    # four sentences, and each is part of what the plan requires on it.
    ("我刚接手浦锦街道的依申请办件，要点对这块有哪些要求？", ("关键节点信息及时录入平台", "会商研判", "诉讼案件信息报备")),
])
def test_requirement_question_gets_every_sentence_of_the_clause_on_its_topic(assistant, question, points):
    answer = assistant.ask(question)
    for point in points:
        assert point in answer.answer
    _grounded(answer)


def test_a_day_is_not_answered_with_the_month(assistant):
    answer = assistant.ask("浦东2024年政府开放月具体是8月几号开始？")
    assert answer.refused and answer.direct is None
    assert "没有写明" in answer.answer


def test_traditional_characters_are_understood(assistant):
    answer = assistant.ask("松江區政府開放月在幾月？")
    assert answer.direct == "8月" and {c.doc_id for c in answer.citations} == {"2024-songjiang"}


def test_a_page_field_is_answered_from_the_info_bar(tmp_path_factory):
    """有效性, 索引号: fields of a published page's info bar, quoted from it; an empty field is not stated."""
    from assistant.answer.metadata import document_facts
    from assistant.config import load_settings
    from assistant.ingest.corpus import parse_file
    from tests.conftest import ROOT

    path = ROOT / "eval" / "documents" / "2024-beijing-dongcheng.txt"
    document = parse_file(path, path.stem, load_settings())
    clauses, meta = document.clauses, document.meta
    validity = document_facts("东城那个2024年政务公开要点现在还算有效不？", [], meta, clauses)
    assert [(f.label, f.span) for f in validity] == [("有效性", "有效")]
    index = document_facts("这份文件的索引号是多少？", [], meta, clauses)
    assert index[0].span == "11A000/ZK-2024-000030"
    repealed = document_facts("废止日期是哪天？", ["date"], meta, clauses)
    assert [(f.label, f.span) for f in repealed] == [("废止日期", None)]


# --- typed lines ----------------------------------------------------------------------------------

def _quotes_are_in_their_citations(line, by_n) -> bool:
    quotes = [s for s in line.segments if s.quote]
    return bool(quotes) and all(s.cites and any(compact(s.text) in compact(by_n[n].text) for n in s.cites)
                                for s in quotes)


def test_a_factoid_answer_leads_with_a_direct_line_cited_to_the_clause_holding_its_span(assistant):
    answer = assistant.ask("松江区政府开放月在几月？")
    by_n = {c.n: c for c in answer.citations}
    direct = [line for line in answer.lines if line.kind == "direct"]
    assert direct and direct[0].cites
    span = "".join(s.text for s in direct[0].segments if s.quote)
    assert "8月" in span and all(compact(span) in compact(by_n[n].text) for n in direct[0].cites)
    assert answer.answer == "\n".join(line.render() for line in answer.lines)


def test_a_cross_document_answer_has_one_document_line_per_document(assistant):
    answer = assistant.ask("依申请公开办理有什么要求?")
    documents = [line.text for line in answer.lines if line.kind == "document"]
    assert len(documents) >= 3 and len(set(documents)) == len(documents)
    by_n = {c.n: c for c in answer.citations}
    for line in answer.lines:
        if line.kind == "sentence":
            assert line.cites and _quotes_are_in_their_citations(line, by_n), line


def test_a_refusal_is_one_refusal_line_without_citations(assistant):
    answer = assistant.ask("2019年嘉定区政府开放月在几月？")        # a place and year the corpus lacks
    assert answer.refused and [line.kind for line in answer.lines][0] == "refusal"
    assert all(not line.cites for line in answer.lines)


def test_ask_json_exposes_the_lines_beside_the_answer(built_settings, capsys):
    import json

    from assistant.app import cli

    assert cli.main(["--index-dir", str(built_settings.paths.index_dir), "ask", "松江区政府开放月在几月？", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answer"] and data["lines"] and {"kind", "text", "cites"} <= set(data["lines"][0])
    assert any(line["kind"] == "direct" and "8月" in line["text"] for line in data["lines"])


def test_a_scoped_question_ranks_the_answering_clause_above_the_notice(assistant):
    # The place words name the scope; left in the lexical query they would rank the notice first.
    answer = assistant.ask("浦锦街道对复杂、疑难申请要怎么处理？")
    assert answer.citations and answer.citations[0].clause_id == "2024-minhang-pujin/1.2"
    assert "会商研判" in answer.answer


def test_a_follow_up_without_a_place_stays_with_the_conversation_document(assistant):
    answer = assistant.ask("疑难申请怎么处理？", history=["浦锦街道的政府开放活动集中在什么时候？"])
    assert {c.doc_id for c in answer.citations} == {"2024-minhang-pujin"}


def test_a_requirement_answer_keeps_who_is_responsible_and_by_when(assistant):
    # A clause's closing "(责任单位…,完成时限…)" (the form of plans from other places) is part of what it requires.
    text = "5.严格执行公文公开属性审查和发布审查程序。(责任单位:各部门、各街镇,完成时限:全年)"
    clause = Clause(id="d/2.5", doc_id="d", kind="item", heading_path=("二、规范公开", "5.严格执行公文公开属性审查和发布审查程序"),
                    text=text, start=0, end=len(text))
    picked = assistant.answerer.topic_sentences(clause, ["公开属性", "审查"])
    assert picked[-1] == "(责任单位:各部门、各街镇,完成时限:全年)"


@pytest.mark.slow
def test_a_which_documents_answer_names_each_document_by_its_cited_title(assistant):
    answer = assistant.ask("哪些文件提到要做深做实“政府开放月”品牌？")
    titled = [line for line in answer.lines if line.kind == "document"]
    assert len(titled) >= 2
    for line in titled:
        title = next(s for s in line.segments if s.quote)
        cited = next(c for c in answer.citations if c.n in title.cites)
        assert title.text in cited.text.replace("\n", "") and cited.clause_id.endswith("/preamble")
        assert title.text.startswith("2024年") and title.text.endswith("政务公开工作要点")
