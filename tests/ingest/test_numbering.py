"""Numbering markers (assistant/ingest/numbering.py): fast, no corpus, no model."""

from __future__ import annotations

import pytest

from assistant.ingest.numbering import chinese_numeral, match_marker


@pytest.mark.parametrize("line, rank, number, rest", [
    ("一、总体要求", 1, 1, "总体要求"),
    ("十二、其他", 1, 12, "其他"),
    ("（三）加强解读", 2, 3, "加强解读"),
    ("(三)加强解读", 2, 3, "加强解读"),
    ("(一加强解读", 2, 1, "加强解读"),          # closing bracket lost in publishing
    ("12. 做好", 3, 12, " 做好"),
    ("3、做好", 3, 3, "做好"),
    ("（2）推进", 4, 2, "推进"),
    ("③落实", 5, 3, "落实"),
    ("二是加强", 6, 2, "加强"),
])
def test_each_numbering_scheme_is_recognised_with_its_rank_and_number(line, rank, number, rest):
    marker = match_marker(line)
    assert marker is not None and (marker.rank, marker.number, marker.rest) == (rank, number, rest)


@pytest.mark.parametrize("line", ["(一般情况下", "（十分重要）", "2024.5做好", "一、", "是否公开", "一是否"])
def test_words_and_dates_that_look_like_markers_are_not(line):
    assert match_marker(line) is None


@pytest.mark.parametrize("text, value", [("一", 1), ("十", 10), ("十二", 12), ("二十三", 23), ("一百零五", 105)])
def test_chinese_numerals(text, value):
    assert chinese_numeral(text) == value
