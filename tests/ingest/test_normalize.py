from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.ingest.normalize import normalize
from assistant.ingest.searchkey import compact, search_key
from tests.conftest import DOC_IDS, raw_text


@pytest.mark.parametrize("doc_id", DOC_IDS)
def test_only_recorded_noise_is_removed(doc_id):
    raw = raw_text(doc_id)
    clean = normalize(raw)
    # Every non-whitespace character of the raw file is either in the clean text or in the
    # recorded noise: nothing is silently lost, nothing invented.
    assert len(compact(raw)) == len(compact(clean.text)) + sum(len(compact(n)) for n in clean.removed)
    # And the clean text keeps the raw characters in order (a subsequence of the raw text).
    it = iter(compact(raw))
    assert all(ch in it for ch in compact(clean.text))


def test_pdf_lines_broken_mid_word_are_joined_without_spaces():
    text = normalize(raw_text("2024-songjiang")).text
    assert "围绕服务“五个中心”建设，依法公开经济、金融、贸易、航运和科技创新领域" in text
    # "做" / "- 3 -" / "好促进民营经济…" : joined across the page number, which is dropped
    assert "（区发展改革委）。做好促进民营经济发展" in text
    assert "- 3 -" not in text and "- 5 -" not in text


def test_heading_lines_stay_separate_from_their_body():
    lines = normalize(raw_text("2024-pudong")).text.split("\n")
    assert "（一）深化政策集成式发布成果" in lines
    assert "一、优化政策全流程公开，助推政策落地见效" in lines


def test_broken_paragraphs_in_web_and_word_exports_are_joined():
    qingpu = normalize(raw_text("2024-qingpu-baihe")).text
    assert "进一步完善主要领导主抓、分管领导具体负责、党政办协调推进的工作机制" in qingpu
    baoshan = normalize(raw_text("2023-baoshan-songnan")).text
    assert "提升各招商公司、投促中心、社区事务受理中心" in baoshan
    pudong = normalize(raw_text("2024-pudong")).text
    assert "开展面向企业群众的社会评价活动。" in pudong


def test_markdown_markup_is_dropped():
    text = normalize(raw_text("2023-baoshan-songnan")).text
    assert "#" not in text and "**" not in text
    assert "三、深化政民互动和公众参与" in text.split("\n")


def test_web_chrome_and_non_breaking_spaces_are_dropped_but_publication_record_is_kept():
    clean = normalize(raw_text("2024-minhang-pujin"))
    assert "当前位置" not in clean.text
    assert "来源:上海市闵行区人民政府浦锦街道办事处发布时间:2024年5月16日" in clean.text.split("\n")
    assert "\u00a0" not in clean.text
    assert clean.published == "2024-05-16"
    assert not re.search(r"\n\s*\n", clean.text)


def test_task_table_lines_are_left_for_the_table_parser():
    text = normalize(raw_text("2024-songjiang")).text
    assert "序号 一级指标 二级指标 三级指标 责任单位 时间节点" in text.split("\n")
    assert "区应急局 全年" in text  # the space between units and deadline survives


def test_no_space_is_inserted_between_cjk_characters():
    text = normalize(raw_text("2023-baoshan-songnan")).text
    assert "关于印发《2023年淞南镇政务公开工作计划》的通知" in text


@pytest.mark.parametrize("spaced,compact_form", [
    ("3 月 31 日", "3月31日"), ("８月", "8月"), ("（一）", "(一)"), ("OA 备案", "oa备案"),
])
def test_search_key_matches_spaced_and_full_width_forms(spaced, compact_form):
    assert search_key(spaced) == search_key(compact_form)


_NEW = Path(__file__).resolve().parents[2] / "eval" / "documents"


def test_a_page_that_lost_its_line_breaks_gets_one_line_per_item():
    lines = normalize((_NEW / "2024-minhang-minzhengju.txt").read_text(encoding="utf-8")).text.split("\n")
    assert "一、完善政务公开工作机制" in lines
    assert any(line.startswith("1.建立执行政府信息公开审查机制。") for line in lines)
    assert lines[0].endswith("持续提升政务公开标准化、规范化水平。")


def test_info_bar_fields_pipe_rows_and_signatures_stay_on_their_own_lines():
    baoshan = normalize((_NEW / "2022-shanghai-baoshan.txt").read_text(encoding="utf-8"))
    lines = baoshan.text.split("\n")
    assert "• 发文字号: 宝府办〔2022〕11号" in lines and "2022328" in lines
    assert "各镇人民政府,各街道办事处,区政府各委、办、局:" in lines
    assert baoshan.published == "2022-03-28"   # "发布时间 2022-03-28", no colon
    shandong = normalize((_NEW / "2023-shandong-jiaoyuting.txt").read_text(encoding="utf-8")).text.split("\n")
    assert shandong[0] == "索引号: | 11370000004502323D/2024-00050 | 发布日期: | 2024-01-18 |"
    assert "工作要点 | 具体要求 | 任务分工 |" in shandong


def test_a_short_web_page_is_not_taken_for_hard_wrapped_pdf_text():
    lines = normalize((_NEW / "2024-beijing-dongcheng.txt").read_text(encoding="utf-8")).text.split("\n")
    assert "各街道办事处,区政府各委、办、局,各区属机构:" in lines
    assert "(此件公开发布)" in lines and "北京市东城区2024年政务公开工作要点" in lines
