"""Task tables and bracketed units/deadlines (assistant/ingest/tables.py): fast, no corpus, no model."""

from __future__ import annotations

import pytest

from assistant.ingest.tables import (deadline_in_parentheses, find_table_header, header_roles, parse_table,
                                     split_units, units_in_parentheses)


@pytest.mark.parametrize("text, units, deadline", [
    ("做好公开。(责任单位:区发展改革委、区科委)", ["区发展改革委", "区科委"], None),
    ("推进。(区发改委负责落实,完成时限:2023年10月)", ["区发改委"], "2023年10月"),
    ("推进。（区政府办公室、区司法局等负责落实）", ["区政府办公室", "区司法局"], None),
    ("加强解读（牵头单位：区政府办公室；配合单位：各街镇）", ["区政府办公室", "各街镇"], None),
    ("加强政策解读。", [], None),
])
def test_units_and_deadlines_are_read_in_every_bracket_form(text, units, deadline):
    assert units_in_parentheses(text) == units
    assert deadline_in_parentheses(text) == deadline


def test_unit_lists_split_on_every_separator():
    assert split_units("区政府办公室、区司法局，各街镇") == ["区政府办公室", "区司法局", "各街镇"]


def test_a_tab_separated_task_table_gives_one_row_per_task():
    lines = ["一、总体要求", "序号\t工作任务\t责任单位\t完成时限",
             "1\t推进政务公开\t区政府办公室、区司法局\t2024年6月", "2\t做好政策解读\t各街镇\t长期"]
    assert header_roles(lines[1]) == ["number", "task", "units", "deadline"]
    assert find_table_header(lines) == (1, 1)
    rows = parse_table(lines[1:], {})
    assert [(r.number, r.task, r.units, r.deadline) for r in rows] == [
        (1, "推进政务公开", ["区政府办公室", "区司法局"], "2024年6月"), (2, "做好政策解读", ["各街镇"], "长期")]
