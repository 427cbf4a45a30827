"""Documents nobody tuned on parse with correct metadata and a sensible outline.

The 14 files in eval/documents/ are real plans from other places, each only the beginning of its page.
The expected values are the table in eval/documents/README.md ("not shown" -> None). The synthetic
variants below change what those files happen to show, so the parser cannot be fitted to them.
Parsing only: no model, no index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.places import parse_place
from assistant.ingest.searchkey import compact
from assistant.ingest.structure import parse_document
from assistant.ingest.tables import deadline_in_parentheses, split_units, units_in_parentheses

DOCUMENTS = Path(__file__).resolve().parents[2] / "eval" / "documents"

# title, issuer, 文号, date, place, level, year
EXPECTED = {
    "2021-liaocheng-guanxian": ("2021年冠县政务公开工作要点", "冠县人民政府办公室", "冠政办发〔2021〕9号", "2021-06-28",
                                "冠县", "县", 2021),
    "2022-shanghai-baoshan": ("2022年宝山区政务公开工作要点", "上海市宝山区人民政府办公室", "宝府办〔2022〕11号",
                              "2022-03-28", "宝山区", "区", 2022),
    "2022-shanghai-chongming": (None, "上海市崇明区人民政府办公室", None, "2022-03-17", "崇明区", "区", 2022),
    "2022-tianjin-heping": ("和平区2022年政务公开工作要点", "和平区人民政府办公室", None, "2022-06-30", "和平区", "区", 2022),
    "2023-beijing-mentougou": (None, None, None, None, "门头沟区", "区", 2023),
    "2023-shandong-jiaoyuting": ("2023年政务公开工作要点任务分工", "山东省教育厅(中共山东省委教育工委)办公室",
                                 "鲁教厅办字〔2023〕24号", "2023-07-04", "山东省", "部门", 2023),
    "2023-shanghai": ("2023年上海市政务公开工作要点", "上海市人民政府办公厅", "沪府办字〔2023〕5号", "2023-03-31",
                      "上海市", "市", 2023),
    "2024-anhui-jiaoyuting": ("安徽省教育厅2024年政务公开重点工作任务分解", "安徽省教育厅", None, "2024-06-07",
                              "安徽省", "部门", 2024),
    "2024-beijing-dongcheng": ("北京市东城区2024年政务公开工作要点", "东城区政务公开领导小组办公室",
                               "东政务公开办发〔2024〕1号", "2024-05-15", "东城区", "区", 2024),
    "2024-minhang-minzhengju": (None, None, None, None, "闵行区", "部门", 2024),
    "2024-shanghai-changning": ("2024年上海市长宁区政务公开工作要点与责任分工", "上海市长宁区人民政府办公室",
                                "长府办〔2024〕12号", "2024-04-24", "长宁区", "区", 2024),
    "2025-shanghai-hongkou": ("2025年虹口区政务公开工作要点", "虹口区人民政府办公室", None, "2025-05-12", "虹口区", "区", 2025),
    "2025-shanghai-putuo": ("2025年上海市普陀区政务公开工作要点", "上海市普陀区人民政府办公室", None, "2025-05-20",
                            "普陀区", "区", 2025),
    "2025-wenshang-zhongdu": (None, None, None, None, "中都街道", "街道", None),
}

# published, district, province, city, aliases
PLACES = {
    "2021-liaocheng-guanxian": ("2021-06-28", "冠县", "山东省", "聊城市", ["冠县", "聊城冠县", "聊城市冠县"]),
    "2022-shanghai-baoshan": ("2022-03-28", "宝山区", "上海市", "上海市", ["宝山区", "宝山"]),
    "2022-shanghai-chongming": ("2022-03-21", "崇明区", "上海市", "上海市", ["崇明区", "崇明"]),
    "2022-tianjin-heping": ("2022-06-30", "和平区", "天津市", "天津市", ["和平区", "和平"]),
    "2023-beijing-mentougou": (None, "门头沟区", "北京市", "北京市", ["门头沟区", "门头沟"]),
    "2023-shandong-jiaoyuting": ("2024-01-18", None, "山东省", None, ["山东省教育厅", "山东教育厅"]),
    "2023-shanghai": (None, None, "上海市", "上海市", ["上海市", "上海"]),
    "2024-anhui-jiaoyuting": (None, None, "安徽省", None, ["安徽省教育厅", "安徽教育厅"]),
    "2024-beijing-dongcheng": ("2024-05-15", "东城区", "北京市", "北京市", ["东城区", "东城"]),
    "2024-minhang-minzhengju": (None, "闵行区", "上海市", "上海市", ["闵行区民政局", "闵行民政局"]),
    "2024-shanghai-changning": ("2024-04-28", "长宁区", "上海市", "上海市", ["长宁区", "长宁"]),
    "2025-shanghai-hongkou": (None, "虹口区", "上海市", "上海市", ["虹口区", "虹口"]),
    "2025-shanghai-putuo": (None, "普陀区", "上海市", "上海市", ["普陀区", "普陀"]),
    "2025-wenshang-zhongdu": (None, "汶上县", "山东省", "济宁市", ["中都街道", "中都"]),
}

# top-level headings, the first one, where the text is cut (README), whether the body is a task table
OUTLINE = {
    "2021-liaocheng-guanxian": (1, "一、优化重点领域政府信息公开", "做好我县", False),
    "2022-shanghai-baoshan": (1, "一、持续夯实政务公开基础工作", "3月底前完成对本单位不予", False),
    "2022-shanghai-chongming": (1, "一、规范政务公开日常工作", "若干问题的指", False),
    "2022-tianjin-heping": (1, "一、聚焦经济领域,以公开促落实", "采取“全覆盖”“一对", False),
    "2023-beijing-mentougou": (3, "一、指导思想", "2.持续做好高精尖产业发展、智", False),
    "2023-shandong-jiaoyuting": (3, "教育高质量发展", "在文字、图", True),
    "2023-shanghai": (2, "一、总体要求", "引领区、“三大", False),
    "2024-anhui-jiaoyuting": (1, "一、围绕中心工作抓好主动公开", "4.完善政策文件库建设,", True),
    "2024-beijing-dongcheng": (1, "一、总体要求", "坚持依法依规、服务为民、", False),
    "2024-minhang-minzhengju": (3, "一、完善政务公开工作机制", "8.持续提高政", False),
    "2024-shanghai-changning": (1, "一、依法规范做实主动公开,服务保障中心工作", "推进帮扶", True),
    "2025-shanghai-hongkou": (1, "一、依据法定职责,深化主动公开", "4.加强政务舆情监测", False),
    "2025-shanghai-putuo": (2, "一、夯实根基,依法全面履行政府信息公开核心职责", "二、提升效能,充分发挥公开促落实、优服务、强监",
                            False),
    "2025-wenshang-zhongdu": (4, "一、强化组织领导,完善工作机制", "提升决策透明度和公众参与度。", False),  # not cut
}


@pytest.fixture(scope="module")
def new_docs():
    return {doc_id: parse_document((DOCUMENTS / f"{doc_id}.txt").read_text(encoding="utf-8"), doc_id)
            for doc_id in EXPECTED}


def test_every_development_document_is_covered():
    assert sorted(p.stem for p in DOCUMENTS.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_metadata_matches_the_readme_table(new_docs, doc_id):
    meta = new_docs[doc_id].meta
    got = (meta.title, meta.issuer, meta.doc_number, meta.date, meta.place, meta.level, meta.year)
    assert got == EXPECTED[doc_id]


@pytest.mark.parametrize("doc_id", sorted(PLACES))
def test_publication_date_and_place_hierarchy(new_docs, doc_id):
    meta = new_docs[doc_id].meta
    assert (meta.published, meta.district, meta.province, meta.city, meta.aliases) == PLACES[doc_id]


def test_nothing_is_read_from_the_file_name(new_docs):
    text = (DOCUMENTS / "2025-wenshang-zhongdu.txt").read_text(encoding="utf-8")
    renamed = parse_document(text, "1999-shanghai-pudong").meta
    assert (renamed.year, renamed.place, renamed.title) == (None, "中都街道", None)


@pytest.mark.parametrize("doc_id", sorted(OUTLINE))
def test_outline_and_the_cut_text_as_the_last_clause(new_docs, doc_id):
    tops, first, cut, tabular = OUTLINE[doc_id]
    doc = new_docs[doc_id]
    assert len(doc.outline) == tops
    assert doc.outline[0].label == first
    assert doc.clauses[-1].text.endswith(cut)
    assert doc.clauses[-1].kind == ("table_row" if tabular else "item")


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_parts_offsets_and_ids_hold_for_new_documents(new_docs, doc_id):
    doc = new_docs[doc_id]
    assert compact("".join(text for _, text in doc.parts)) == compact(doc.clean.text)
    ids = [c.id for c in doc.clauses]
    assert len(ids) == len(set(ids))
    for clause in doc.clauses:
        if clause.kind != "table_row":
            assert doc.clean.text[clause.start:clause.end] == clause.text, clause.id
    for table in doc.tables:
        rows = [c for c in doc.clauses if c.kind == "table_row"]
        for row, clause in zip(table.rows, rows):
            assert compact("".join(row.own_cells)) == compact(doc.clean.text[clause.start:clause.end])


def test_preamble_info_bar_and_introduction_are_recognised(new_docs):
    chongming = new_docs["2022-shanghai-chongming"]
    preamble = [c for c in chongming.clauses if c.kind == "preamble"]
    assert len(preamble) == 1 and preamble[0].text.startswith("索引号:") and "失效日期:" in preamble[0].text
    intro = [c for c in chongming.clauses if c.kind == "intro"]
    assert intro[0].text.startswith("2022年,崇明区政务公开工作的总体要求是")
    heping = new_docs["2022-tianjin-heping"]   # an info bar below the title
    assert [c.text[:5] for c in heping.clauses if c.kind == "preamble"] == ["丨网站无障", "发布日期:"]
    assert [c for c in new_docs["2023-beijing-mentougou"].clauses if c.kind == "intro"][0].text.startswith("2023年是")


def test_headings_with_continued_numbers_and_lost_brackets(new_docs):
    shanghai = new_docs["2023-shanghai"]
    assert shanghai.outline[1].children[0].label == "(三)国家重大战略任务落实情况信息公开"
    minzheng = new_docs["2024-minhang-minzhengju"]   # a page that lost its line breaks
    assert [len(n.children) for n in minzheng.outline] == [3, 4, 1]
    assert minzheng.outline[1].children[0].label == "4.按时编制政府信息公开年报和政府信息公开指南"
    heping = new_docs["2022-tianjin-heping"]   # "(一加强…": the closing bracket is missing
    assert [n.marker for n in heping.outline[0].children] == ["(一", "(二"]


def test_units_and_deadlines_are_read_into_clauses(new_docs):
    clause = new_docs["2023-beijing-mentougou"].clause("2023-beijing-mentougou/3.1.1")
    assert (clause.units, clause.deadline) == (["区发改委"], "2023年10月")
    heping = new_docs["2022-tianjin-heping"].clause("2022-tianjin-heping/1.1")
    assert heping.units[0] == "区发展改革委" and heping.units[-1] == "区金融局"
    baoshan = new_docs["2022-shanghai-baoshan"].clause("2022-shanghai-baoshan/1.1")
    assert baoshan.units == ["区政府办公室", "区信息委", "各街镇", "园区", "区政府各部门"]
    putuo = new_docs["2025-shanghai-putuo"].clause("2025-shanghai-putuo/1.4")
    assert (putuo.units, putuo.deadline) == (["区府办", "区司法局"], "全年")


def test_task_tables_in_pipe_and_cell_per_line_layouts(new_docs):
    shandong = new_docs["2023-shandong-jiaoyuting"].tables[0]
    assert [r.categories for r in shandong.rows] == [["教育高质量发展"], ["教育民生"], ["教育民生"], ["教育民生"],
                                                     ["政策解读"]]
    assert shandong.rows[2].units == ["基教处", "各市教育(教体)局"]
    anhui = new_docs["2024-anhui-jiaoyuting"].tables[0]
    assert (anhui.rows[2].units, anhui.rows[2].deadline) == (["基教处", "电教馆", "各市、县(市、区)教育局"], "6月底前")
    assert anhui.rows[0].units[-3:] == ["就业指导中心", "各市、县(市、区)教育局", "各高校"]
    changning = new_docs["2024-shanghai-changning"]
    rows = changning.tables[0].rows
    assert [r.number for r in rows] == [1, 2, 3, 4, 5]
    assert rows[2].units == ["区府办", "区发改委", "区商务委", "区科委", "区数据局", "区城运中心"]
    assert rows[1].categories == ["一、依法规范做实主动公开,服务保障中心工作", "(一)围绕国家重大战略任务落实做好信息公开"]
    assert changning.outline[0].children[0].clause_ids == [f"2024-shanghai-changning/table/{n}" for n in range(1, 6)]


# --- synthetic variants: what the real files happen not to show --------------------------------

_BODY = "一、总体要求\n（一）深化主动公开。做好重点领域信息公开（县政府办公室、县发展改革局）。\n二、保障措施\n加强培训。"


def _notice(*, above: str = "", signature: str = "婺源县人民政府办公室", date: str = "2025年3月30日",
            title: str = "2025年婺源县政务公开工作要点", info: str = "") -> str:
    return (f"{info}{above}婺源县人民政府办公室关于印发《{title}》的通知\n各乡镇人民政府，县政府各部门：\n"
            f"现将《{title}》印发给你们。\n{signature}\n{date}\n{title}\n为做好政务公开工作，制定本要点。\n{_BODY}")


@pytest.mark.parametrize("name,text,expected", [
    ("dotted date", _notice(date="2025.03.30"), {"date": "2025-03-30"}),
    ("dashed date", _notice(date="2025-03-30"), {"date": "2025-03-30"}),
    ("落款 without 年月日 uses the info bar", _notice(date="2025330", info="成文日期：2025-03-28\n"),
     {"date": "2025-03-28"}),
    ("info bar only", "发布机构：婺源县人民政府办公室\n成文日期：2025-03-28\n发布日期：2025-03-31\n"
     "2025年婺源县政务公开工作要点\n" + _BODY,
     {"date": "2025-03-28", "published": "2025-03-31", "issuer": "婺源县人民政府办公室"}),
    ("文号 above the title", _notice(above="婺府办发〔2025〕3号\n"), {"doc_number": "婺府办发〔2025〕3号"}),
    ("文号 in an info bar", _notice(info="发文字号：婺府办发〔2025〕7号\n"), {"doc_number": "婺府办发〔2025〕7号"}),
    ("a county jionlp knows and the corpus does not", _notice(),
     {"place": "婺源县", "district": "婺源县", "level": "县", "province": "江西省", "city": "上饶市", "year": 2025,
      "aliases": ["婺源县", "婺源"], "issuer": "婺源县人民政府办公室"}),
    ("its city named in the text", _notice().replace("制定本要点", "按照上饶市要求，制定本要点"),
     {"aliases": ["婺源县", "婺源", "上饶婺源县", "上饶市婺源县"]}),
    ("a town nobody knows", _notice(title="2025年某某镇政务公开工作要点", signature="某某镇人民政府"),
     {"place": "某某镇", "level": "镇", "district": None}),
    ("a county nobody knows", _notice(title="2025年某某县政务公开工作要点", signature="某某县人民政府办公室"),
     {"place": "某某县", "level": "县", "province": None}),
    ("a department", _notice(title="2025年婺源县民政局政务公开工作要点", signature="婺源县民政局"),
     {"place": "婺源县", "level": "部门", "aliases": ["婺源县民政局", "婺源民政局"]}),
    ("notice split over two lines, no 《》", "婺源县人民政府办公室\n关于印发2025年婺源县政务公开工作要点的通知\n"
     "各乡镇人民政府：\n现印发给你们。\n2025年3月30日\n" + _BODY,
     {"issuer": "婺源县人民政府办公室", "title": "2025年婺源县政务公开工作要点", "place": "婺源县"}),
    ("generic words are never a place", "各街道办事处、各镇人民政府：\n2025年，各街道政务公开工作的总体要求是：做好公开。\n"
     + _BODY, {"place": None, "level": None, "issuer": None, "year": 2025, "title": None}),
])
def test_synthetic_variants(name, text, expected):
    meta = parse_document(text, "2099-synthetic").meta
    assert {k: getattr(meta, k) for k in expected} == expected, name


@pytest.mark.parametrize("word", ["各街道", "各镇", "各村居", "各区", "本区", "全区", "乡镇", "街镇", "各区人民政府"])
def test_generic_words_are_never_places(word):
    assert parse_place(word) is None


def test_half_width_brackets_enumerated_run_ins_and_a_document_that_is_only_a_table():
    doc = parse_document("2025年某某县政务公开工作要点\n一、总体要求\n(一)深化公开\n1、做好发布。\n一是抓好目录。\n"
                         "二是抓好解读。\n2、加强解读。", "x")
    item = doc.outline[0].children[0].children[0]
    assert [c.label for c in item.children] == ["一是抓好目录", "二是抓好解读"]
    assert [c.label for c in doc.outline[0].children[0].children] == ["1、做好发布", "2、加强解读"]
    table = parse_document("2025年某某县政务公开工作任务分工\n工作任务 | 具体要求 | 责任单位 | 完成时限 |\n"
                           "一、主动公开 | 1.做好发布。 | 县政府办公室 | 全年 |\n2.加强解读。 | 县发展改革局 | 6月 | |", "t")
    assert [(r.task, r.units, r.deadline) for r in table.tables[0].rows] == [
        ("1.做好发布。", ["县政府办公室"], "全年"), ("2.加强解读。", ["县发展改革局"], "6月")]
    assert table.outline[0].label == "一、主动公开"


@pytest.mark.parametrize("sentence,units,deadline", [
    ("做好公开（区发展改革委、区经委）。", ["区发展改革委", "区经委"], None),
    ("做好公开。(责任单位:区发展改革委、区科委)", ["区发展改革委", "区科委"], None),
    ("做好公开。（责任单位：区政府办公室、各街镇；完成时限：2023年10月）", ["区政府办公室", "各街镇"], "2023年10月"),
    ("做好公开。(区发改委负责落实,完成时限:2023年10月)", ["区发改委"], "2023年10月"),
    ("做好公开。(区发展改革委、区金融局等负责落实)", ["区发展改革委", "区金融局"], None),
    ("做好公开。（牵头单位：区政务公开办，配合单位：区大数据中心、各街镇）", ["区政务公开办", "区大数据中心", "各街镇"], None),
    ("做好公开。（区政务公开办牵头，各单位落实）", ["区政务公开办", "各单位"], None),
    ("做好公开。(责任单位:园区、区政府各部门,完成时限:全年)", ["园区", "区政府各部门"], "全年"),
    ("按照《通知》（鲁政办发〔2021〕5号）要求。", [], None),
    ("发布2023年版目录（2023年版）。", [], None),
])
def test_units_and_deadlines_in_every_form(sentence, units, deadline):
    assert units_in_parentheses(sentence) == units
    assert deadline_in_parentheses(sentence) == deadline


def test_units_in_a_clause_of_a_synthetic_document():
    doc = parse_document("2025年某某区政务公开工作要点\n一、主动公开\n1.做好发布。（责任单位：区府办；完成时限：6月底前）", "u")
    clause = doc.clause("u/1.1")
    assert (clause.units, clause.deadline) == (["区府办"], "6月底前")


def test_unit_names_keep_their_brackets():
    assert split_units("办公室、基教处;各市、县(市、区)教育局;各高校") == ["办公室", "基教处", "各市、县(市、区)教育局", "各高校"]


def test_a_document_without_yi_headings_starts_its_outline_at_its_first_numbered_item():
    doc = parse_document("2025年某某县政务公开工作要点\n为做好工作，制定本要点。\n（一）深化公开。做好发布。\n1.做好目录。\n"
                         "2.做好年报。\n（二）加强解读。做好解读。", "n")
    assert [n.label for n in doc.outline] == ["（一）深化公开", "（二）加强解读"]
    assert [c.label for c in doc.outline[0].children] == ["1.做好目录", "2.做好年报"]
    assert [c.kind for c in doc.clauses] == ["intro", "item", "item", "item", "item"]
