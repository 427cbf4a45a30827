"""Questions about a document's structure, answered from its outline (assistant/answer/structure.py)."""

from __future__ import annotations

import pytest

from assistant.answer.structure import top_headings
from assistant.eval.evaluate import grounding_of

pytestmark = pytest.mark.slow

PUJIN_PARTS = ["一、夯实公开工作基础", "二、依法规范做实主动公开", "三、优化政策全流程公开", "四、优化政民互动和公众参与",
               "五、加强培训指导与组织落实"]


def test_top_headings_are_the_body_parts_in_order(assistant):
    clauses = assistant.retriever.clauses_of("2024-minhang-pujin")
    assert [heading for heading, _ in top_headings(clauses)] == PUJIN_PARTS


def test_the_parts_of_the_selected_document_are_listed_each_cited(assistant):
    answer = assistant.ask("这份要点分成哪几个部分？", doc_filter="2024-minhang-pujin")
    assert answer.kind == "structure" and not answer.refused
    assert "5个部分" in answer.answer
    for part in PUJIN_PARTS:
        assert part in answer.answer
    assert all(c.doc_id == "2024-minhang-pujin" for c in answer.citations)
    grounding = grounding_of(answer.to_dict())
    assert grounding["supported"] == grounding["sentences"] > 0


def test_the_number_of_tasks_is_the_last_row_of_the_task_table(assistant):
    answer = assistant.ask("松江区的任务分解表一共有多少项任务？")
    assert answer.direct is None and answer.answer.startswith("答：51项")
    assert answer.citations[0].clause_id == "2024-songjiang/table/51"
    grounding = grounding_of(answer.to_dict())
    assert grounding["supported"] == grounding["sentences"] > 0


def test_a_document_without_a_task_table_is_not_given_a_count(assistant):
    answer = assistant.ask("浦锦街道的任务分解表一共有多少项任务？")
    assert "项[1]" not in answer.answer.split("\n")[0]


def test_the_tasks_of_several_named_documents_are_counted_each_in_its_section(assistant):
    answer = assistant.ask("浦东 松江 任务分解表 各多少条")
    assert "答：26项" in answer.answer and "答：51项" in answer.answer
    assert [line.kind for line in answer.lines].count("document") == 2
