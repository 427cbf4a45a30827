"""Which sentences of a clause an answer quotes (assistant/answer/sentences.py), on the real corpus and index."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_a_rare_word_of_the_question_weighs_more_than_a_common_one(assistant):
    answerer = assistant.answerer
    assert answerer.weight_of("推进早餐民心工程建设", ["早餐"]) > answerer.weight_of("做好信息公开", ["信息公开"])


def test_the_sentence_holding_most_of_the_question_is_picked(assistant):
    clause = assistant.retriever.index.clauses["2024-songjiang/1.3#2"]
    picked = assistant.answerer.pick_sentences(clause, ["早餐", "民心工程"], limit=1)
    assert len(picked) == 1 and "早餐民心工程" in picked[0]


def test_a_near_clause_with_a_better_sentence_joins_the_chosen_one(assistant):
    hit = assistant.retriever.hit_for
    chosen, near = hit("2024-songjiang/1.2#1"), hit("2024-songjiang/1.3#2")
    words = ["早餐", "民心工程"]
    assert assistant.answerer._best_sentence_elsewhere([chosen], [chosen, near], words) is near
    # Not when the chosen clause already holds as much of the question.
    assert assistant.answerer._best_sentence_elsewhere([near], [near, chosen], words) is None
