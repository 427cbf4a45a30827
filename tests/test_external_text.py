"""assistant/external_text.py: the one entry step for outside text, on fixed cases and arbitrary text."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.errors import InputRejected
from assistant.external_text import clean_external, optional_external

# Text as hostile input has it: any code point, lone surrogates, controls and bidi marks included.
HOSTILE_CHARS = st.one_of(
    st.characters(codec=None),
    st.sampled_from("\x00\x07\t\n\r\x0b\x1b\x7f\x85\u200b\u200d\u200e\u202e\u2066\u2069\u2028\ufeff\U000e0041"
                    "\ud800\udfff\udcff 政务公开a1"),
)
HOSTILE_TEXT = st.text(HOSTILE_CHARS, max_size=80)


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs")


@pytest.mark.parametrize("raw, clean", [
    ("  政府开放月在几月？ ", "政府开放月在几月？"),
    ("政府\u200b开放\u202e月", "政府开放月"),                 # zero-width and bidi override
    ("a\u2066b\u2069c\u061c", "abc"),                     # isolates, Arabic letter mark
    ("政务\x00公开\x1b[31m", "政务公开[31m"),               # NUL, escape
    ("tag\U000e0041\U000e0042s", "tags"),                 # invisible "tag" letters
    ("第一行\r\n第二行\t第三行", "第一行 第二行 第三行"),
    ("\ufeff问题", "问题"),
])
def test_invisible_characters_are_removed(raw, clean):
    assert clean_external(raw, what="问题") == clean


def test_multiline_keeps_line_breaks_as_newlines():
    assert clean_external(" 一\r\n二\r三\u2028四\t五 ", what="评论", multiline=True) == "一\n二\n三\n四\t五"


@pytest.mark.parametrize("raw, words", [
    ("\udcff\udcfe政府", "不是有效的 UTF-8"),   # what surrogateescape makes of bytes 0xff 0xfe in argv
    ("政府\ud800", "孤立的代理码位 U+D800"),
    ("\udfff", "孤立的代理码位 U+DFFF"),
])
def test_undecodable_bytes_and_lone_surrogates_are_refused_with_a_message(raw, words):
    with pytest.raises(InputRejected, match=re.escape(words)):
        clean_external(raw, what="问题")


@pytest.mark.parametrize("value", [None, 3, 2.5, True, ["问题"], {"q": 1}, b"bytes"])
def test_non_text_is_refused(value):
    with pytest.raises(InputRejected, match="必须是文本"):
        clean_external(value, what="问题")


def test_length_is_checked_after_cleaning_and_huge_input_is_refused_at_once():
    assert clean_external("问" * 10 + "\u200b" * 10, what="问题", max_chars=10) == "问" * 10
    with pytest.raises(InputRejected, match="太长"):
        clean_external("问" * 11, what="问题", max_chars=10)
    with pytest.raises(InputRejected, match="太长"):
        clean_external("\ud800" * 1_000_000, what="问题", max_chars=10)   # length before the surrogate check


def test_optional_external():
    assert optional_external(None, what="x") is None
    assert optional_external(" \u200b ", what="x") is None
    assert optional_external(" 2024-pudong ", what="x") == "2024-pudong"


@settings(max_examples=400, deadline=None)
@given(HOSTILE_TEXT, st.booleans(), st.one_of(st.none(), st.integers(0, 60)))
@example("\ud800", False, None)
@example("\r\x00\n", True, None)
def test_arbitrary_text_is_cleaned_or_rejected_and_cleaning_is_idempotent(raw, multiline, limit):
    try:
        text = clean_external(raw, what="问题", max_chars=limit, multiline=multiline)
    except InputRejected as exc:
        assert str(exc)
        return
    allowed = "\n\t" if multiline else ""
    assert not [ch for ch in text if _invisible(ch) and ch not in allowed]
    assert text == text.strip()
    assert limit is None or len(text) <= limit
    if not multiline:
        assert not any(ch in text for ch in "\r\n\t\u2028\u2029")
    assert clean_external(text, what="问题", max_chars=limit, multiline=multiline) == text
    text.encode("utf-8")  # storable and printable


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_argv_bytes_decoded_with_surrogateescape_never_pass_undecodable(raw):
    """What Python makes of argv bytes: valid UTF-8 is cleaned, anything else is refused."""
    arg = raw.decode("utf-8", "surrogateescape")
    try:
        text = clean_external(arg, what="问题")
    except InputRejected:
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        return
    assert text == clean_external(raw.decode("utf-8"), what="问题")
