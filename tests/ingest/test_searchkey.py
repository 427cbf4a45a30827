"""Keys for matching text regardless of layout (assistant/ingest/searchkey.py)."""

from __future__ import annotations

import pytest

from assistant.ingest.searchkey import search_key


@pytest.mark.parametrize("a,b", [
    ("３ 月 31 日", "3月31日"),
    ("（一）加强", "(一)加强"),
    ("推进居(村)务公开", "推进居村务公开"),          # an optional character in brackets is found without them
    ("区政务公开办（管委会）", "区政务公开办管委会"),
])
def test_layout_widths_and_round_brackets_do_not_matter(a, b):
    assert search_key(a) == search_key(b)


def test_the_words_themselves_still_do():
    assert search_key("居务公开") != search_key("居村务公开")
