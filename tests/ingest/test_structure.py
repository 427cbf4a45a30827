from __future__ import annotations

import pytest

from assistant.ingest.searchkey import compact
from assistant.ingest.structure import StructureError, parse_document
from tests.conftest import DOC_IDS


def _items(doc):
    return [c for c in doc.clauses if c.kind == "item"]


def _rank_count(doc, rank):
    def walk(nodes):
        for n in nodes:
            yield n
            yield from walk(n.children)
    return sum(1 for n in walk(doc.outline) if n.rank == rank)


@pytest.mark.parametrize("doc_id,sections,second,third", [
    ("2024-qingpu-baihe", 4, 12, 0),
    ("2023-baoshan-songnan", 5, 0, 21),
    ("2024-minhang-pujin", 5, 14, 23),
    ("2024-pudong", 4, 16, 0),
    ("2024-songjiang", 5, 21, 0),
])
def test_heading_tree_has_the_published_shape(parsed, doc_id, sections, second, third):
    doc = parsed[doc_id]
    assert len(doc.outline) == sections
    assert _rank_count(doc, 2) == second
    assert _rank_count(doc, 3) == third


@pytest.mark.parametrize("doc_id,rows", [("2024-pudong", 26), ("2024-songjiang", 51)])
def test_task_tables_have_every_row(parsed, doc_id, rows):
    doc = parsed[doc_id]
    assert [len(t.rows) for t in doc.tables] == [rows]
    assert [r.number for r in doc.tables[0].rows] == list(range(1, rows + 1))


def test_songjiang_has_exactly_one_closing_paragraph(parsed):
    closing = [c for c in parsed["2024-songjiang"].clauses if c.kind == "closing"]
    assert len(closing) == 1
    assert closing[0].text.startswith("区政府各部门、各街镇要加强对政务公开工作的组织领导")


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_parsed_parts_concatenate_to_the_clean_text(parsed, doc_id):
    doc = parsed[doc_id]
    assert compact("".join(text for _, text in doc.parts)) == compact(doc.clean.text)


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_clause_offsets_point_at_their_text(parsed, doc_id):
    doc = parsed[doc_id]
    for clause in doc.clauses:
        if clause.kind != "table_row":
            assert doc.clean.text[clause.start:clause.end] == clause.text, clause.id
        else:  # a row's span covers its broken cells; its task text is inside
            task = clause.text.split("\n")[0].split(" ", 1)[1]
            assert compact(task)[:10] in compact(doc.clean.text[clause.start:clause.end])


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_clause_ids_are_unique_and_structural(parsed, doc_id):
    ids = [c.id for c in parsed[doc_id].clauses]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(doc_id + "/") for i in ids)


def test_clause_ids_survive_a_reparse(parsed):
    from tests.conftest import raw_text
    again = parse_document(raw_text("2024-pudong"), "2024-pudong")
    assert [c.id for c in again.clauses] == [c.id for c in parsed["2024-pudong"].clauses]


def test_run_in_heading_is_the_first_sentence(parsed):
    doc = parsed["2024-qingpu-baihe"]
    first = doc.outline[0].children[0]
    assert first.label == "（一）更好统筹政务公开和安全保密"
    clause = doc.clause("2024-qingpu-baihe/1.1")
    assert clause.text.startswith("（一）更好统筹政务公开和安全保密。完善公文公开属性的认定流程")
    assert clause.heading_path == ("一、持续夯实政务公开工作基础，提升政务公开质效", "（一）更好统筹政务公开和安全保密")


def test_standalone_heading_owns_the_paragraphs_below_it(parsed):
    clause = parsed["2024-pudong"].clause("2024-pudong/3.3")
    assert clause.heading_path[-1] == "（三）常态化推进政府开放活动"
    assert "8月集中组织开展" in clause.text and "最受欢迎的政府开放活动" in clause.text


def test_markdown_headings_and_mixed_item_numbering(parsed):
    doc = parsed["2023-baoshan-songnan"]
    assert doc.outline[2].label == "三、深化政民互动和公众参与"
    sixth = doc.clause("2023-baoshan-songnan/1.6")
    assert sixth.text.startswith("6. 做好公共资源配置结果公开")


def test_half_width_brackets_are_headings(parsed):
    doc = parsed["2024-minhang-pujin"]
    assert doc.outline[0].children[0].label == "(一)巩固公开标准化、制度化、规范化成果"
    assert doc.clause("2024-minhang-pujin/1.1.4").text.startswith("4.推进居(村)务公开标准化规范化工作")


def test_long_clauses_are_split_at_sentence_ends_keeping_path_and_suffix(parsed):
    doc = parsed["2024-songjiang"]
    parts = [c for c in doc.clauses if c.id.startswith("2024-songjiang/1.2#")]
    assert len(parts) >= 2
    assert all(p.heading_path == parts[0].heading_path for p in parts)
    assert all(p.text.endswith("。") for p in parts)
    assert "".join(p.text for p in parts) == doc.clean.text[parts[0].start:parts[-1].end]


def test_songjiang_body_units_are_extracted_and_text_keeps_them(parsed):
    clause = parsed["2024-songjiang"].clause("2024-songjiang/1.1")
    assert clause.units[:3] == ["区政府各部门", "各街镇", "区发展改革委"]
    assert "区合作交流办" in clause.units
    assert "（区合作交流办）" in clause.text


def test_body_clause_gets_deadline_from_its_table_row(parsed):
    clause = parsed["2024-songjiang"].clause("2024-songjiang/4.3")
    assert clause.deadline == "8月"


def test_indexed_text_carries_title_and_heading_path(parsed):
    clause = parsed["2024-pudong"].clause("2024-pudong/1.2")
    assert clause.index_text.startswith("2024年浦东新区政务公开工作要点\n一、优化政策全流程公开")
    assert "政策解读" in clause.index_text.split("\n")[1]


@pytest.mark.parametrize("doc_id,number,units,deadline", [
    ("2024-songjiang", 24, ["区应急局"], "全年"),
    ("2024-songjiang", 45, None, "8月"),
    ("2024-songjiang", 51, None, "5月"),
    ("2024-pudong", 4, ["区政务公开办"], "5月"),
    ("2024-pudong", 19, None, "10月"),
])
def test_pinned_table_rows(parsed, doc_id, number, units, deadline):
    row = parsed[doc_id].tables[0].rows[number - 1]
    assert row.number == number
    assert row.deadline == deadline
    if units is not None:
        assert row.units == units


def test_songjiang_row_30_units_include_science_office(parsed):
    row = parsed["2024-songjiang"].tables[0].rows[29]
    assert "区科创发展办" in row.units
    assert row.task.startswith("夯实现有集成主题的内容建设和效果管理")


def test_songjiang_indicator_cells_are_reassembled_from_body_headings(parsed):
    rows = parsed["2024-songjiang"].tables[0].rows
    assert rows[0].categories == ["聚焦公众关心关切，持续深化重点领域信息公开", "围绕国家重大战略任务落实做好信息公开"]
    assert rows[18].categories[1] == "围绕推进城市治理现代化做好信息公开"  # "围 绕 推 进" spaced cell
    assert rows[42].categories[1] == "持续优化公众代表列席政府决策会议机制"  # "43 持续优化" on the number line
    assert rows[50].categories[1] == "加强组织领导和统筹协调"  # no body heading: short-line fragments


def test_pudong_merged_task_names_are_carried_down(parsed):
    rows = parsed["2024-pudong"].tables[0].rows
    assert rows[1].categories == ["优化政策全流程公开"]
    assert rows[21].categories == ["夯实工作基础"]  # rows 22-26 have no 任务名称 column at all
    assert rows[21].task.startswith("强化办件规范")
    assert rows[25].units[0] == "各委办局"


@pytest.mark.parametrize("table_doc", ["2024-pudong", "2024-songjiang"])
def test_table_rows_lose_and_duplicate_nothing(parsed, table_doc):
    doc = parsed[table_doc]
    for row, clause in zip(doc.tables[0].rows, [c for c in doc.clauses if c.kind == "table_row"]):
        source = compact(doc.clean.text[clause.start:clause.end])
        assert compact("".join(row.own_cells)) == source, row.number


def test_table_row_clause_cites_units_and_deadline(parsed):
    clause = parsed["2024-songjiang"].clause("2024-songjiang/table/24")
    assert clause.text == "24 做好重大事故隐患排查整治工作推进情况公开。\n区应急局 全年"
    assert clause.heading_path[-1] == "第24项"


# --- documents other than the five: the parser must not be tuned to them -------------------

SYNTHETIC = """上海市某某区某某镇人民政府文件
某府〔2025〕3号
某某镇人民政府关于印发《2025年某某镇政务公开工作要点》的通知
各村（居）：
现将《2025年某某镇政务公开工作要点》印发给你们。
某某镇人民政府
2025年3月1日
2025年某某镇政务公开工作要点
为做好政务公开工作，制定本要点。
一、总体安排
（一）深化主动公开
1.按照（一）项要求做好信息发布，不再另行通知。
（1）每季度更新一次公开目录。
（2）在3 月 31 日前完成年报。
2.加强解读。
（二）没有正文的标题
二、保障措施
（一）强化培训。每年至少组织2次培训。
"""


def test_synthetic_document_with_deeper_numbering_parses():
    doc = parse_document(SYNTHETIC, "2025-synthetic")
    assert doc.meta.doc_number == "某府〔2025〕3号"
    assert doc.meta.year == 2025 and doc.meta.level == "镇"
    first = doc.outline[0].children[0]
    assert [c.label for c in first.children] == ["1.按照（一）项要求做好信息发布，不再另行通知", "2.加强解读"]
    item = first.children[0]
    assert [c.label for c in item.children] == ["（1）每季度更新一次公开目录", "（2）在3 月 31 日前完成年报"]
    # The cross-reference inside the sentence did not start a heading.
    assert doc.clause("2025-synthetic/1.1.1").text == "1.按照（一）项要求做好信息发布，不再另行通知。"
    assert doc.clause("2025-synthetic/1.1.1.2").heading_path[-1] == "（2）在3 月 31 日前完成年报"
    # A heading with no body is in the outline but yields no clause.
    empty = doc.outline[0].children[1]
    assert empty.label == "（二）没有正文的标题" and empty.clause_ids == []
    assert compact("".join(t for _, t in doc.parts)) == compact(doc.clean.text)


def test_out_of_sequence_marker_is_body_text_not_a_heading():
    text = SYNTHETIC.replace("2.加强解读。", "5.加强解读。")
    doc = parse_document(text, "x")
    assert [c.label for c in doc.outline[0].children[0].children] == ["1.按照（一）项要求做好信息发布，不再另行通知"]
    assert "5.加强解读。" in doc.clause("x/1.1.1.2").text


def test_empty_document_fails_with_a_message_naming_it():
    with pytest.raises(StructureError, match="empty-doc"):
        parse_document("  \n\n", "empty-doc")


def test_document_without_headings_falls_back_to_paragraphs_as_clauses():
    doc = parse_document("这是一段没有任何编号标题的文字。\n第二段。", "plain")
    assert [c.id for c in doc.clauses] == ["plain/p1", "plain/p2"]
    assert [c.text for c in doc.clauses] == ["这是一段没有任何编号标题的文字。", "第二段。"]
    assert doc.outline == [] and compact("".join(t for _, t in doc.parts)) == compact(doc.clean.text)


def test_a_single_paragraph_without_headings_fails_with_a_clear_message():
    with pytest.raises(StructureError, match="plain.*一、"):
        parse_document("这是一段没有任何编号标题的文字。", "plain")


def test_binary_content_is_refused():
    with pytest.raises(StructureError, match="bin"):
        parse_document("\x00\x01\x02PK", "bin")
