"""The gold-quote matching rule shared by the benchmark and the evaluation (fast, no model)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.eval.goldmatch import first_hit_rank, hit_gold, quote_hits, quote_key

ROOT = Path(__file__).resolve().parents[2]


def test_plain_containment():
    assert quote_hits("白鹤镇以“战略赋能区、数创新高地、幸福温暖家”为主题开展活动。", "“战略赋能区、数创新高地、幸福温暖家”为主题")
    assert not quote_hits("白鹤镇开展活动。", "“战略赋能区、数创新高地、幸福温暖家”为主题")


def test_whitespace_is_ignored_on_both_sides():
    assert quote_hits("2024 年浦东新区\n政务公开 工作要点", "2024年浦东新区政务公开工作要点")
    assert quote_hits("2024年浦东新区政务公开工作要点", "2024 年 浦东新区 政务公开工作要点")


def test_full_and_half_width_variants_match():
    # the raw text has a half-width comma, the clause a full-width one (and the other way round)
    assert quote_hits("政务公开工作人员发生变动，应做好工作交接，并及时向区政府办公室备案。",
                      "政务公开工作人员发生变动,应做好工作交接,并及时向区政府办公室备案")
    assert quote_hits("区政务公开办(大数据中心)", "区政务公开办（大数据中心）")
    assert quote_hits("在３月31日前完成", "3月31日前")


def test_markdown_markup_in_the_quote_is_ignored():
    assert quote_hits("抄送：区府办政务公开科。", "**抄送：**区府办政务公开科")
    assert quote_hits("一、总体要求", "# 一、总体要求")
    assert quote_hits("一、总体要求", "## **一、总体要求**")
    assert quote_key("**抄送：**区府办政务公开科") == ["抄送:区府办政务公开科"]


def test_tab_separated_quote_needs_every_field():
    clause = "30 开展面向企业群众的社会评价活动。\n区政务公开办 5月"
    assert quote_hits(clause, "开展面向企业群众的社会评价活动。\t区政务公开办\t5月")
    assert not quote_hits(clause, "开展面向企业群众的社会评价活动。\t区政务公开办\t10月")
    assert not quote_hits(clause, "开展面向企业群众的社会评价活动。\t各街镇\t5月")
    # empty fields (merged cells) are skipped
    assert quote_hits(clause, "开展面向企业群众的社会评价活动。\t\t5月")


def test_empty_quote_hits_nothing():
    assert not quote_hits("任何文本", "")
    assert not quote_hits("任何文本", " \t** ")


def test_first_hit_rank_needs_the_gold_document():
    gold = [{"doc": "2024-pudong", "quote": "四类推送法"}, {"doc": "2024-songjiang", "quote": "精准推送或者订阅服务"}]
    hits = [
        ("2024-songjiang", "松江区也有四类推送法"),          # right quote, wrong document
        ("2024-pudong", "浦东新区的政策集成式发布"),          # right document, no quote
        ("2024-pudong", "推行“四类推送法”"),                  # hit
        ("2024-songjiang", "精准推送或者订阅服务"),
    ]
    assert first_hit_rank(hits, gold) == 3
    assert first_hit_rank(hits[3:], gold) == 1
    assert first_hit_rank(hits[:2], gold) is None
    assert first_hit_rank([], gold) is None
    assert first_hit_rank(hits, []) is None
    assert hit_gold("2024-pudong", "推行“四类推送法”", gold)
    assert not hit_gold("2024-qingpu-baihe", "推行“四类推送法”", gold)


def test_every_gold_quote_hits_a_clause_of_its_document():
    """The rule works on the real corpus: no gold quote is lost to clause splitting or cleaning."""
    from assistant.config import load_settings
    from assistant.ingest.corpus import load_corpus

    clauses = {d.doc_id: [c.text for c in d.clauses] for d in load_corpus(load_settings(corpus_dir=ROOT / "corpus"))}
    items = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    lost = [(it["id"], g["quote"]) for it in items for g in it["gold"]
            if not any(quote_hits(text, g["quote"]) for text in clauses[g["doc"]])]
    assert not lost, lost


def test_pipe_drawn_table_cells_are_cells():
    from assistant.eval.goldmatch import quote_hits

    clause = "2 做好高校毕业生就业创业补贴等信息公开。\n学生处,各高等学校"
    assert quote_hits(clause, "等信息公开。 | 学生处,各高等学校")
    assert not quote_hits(clause, "等信息公开。 | 基教处")
