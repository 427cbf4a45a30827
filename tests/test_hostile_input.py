"""Property-based hostile input: arbitrary text through the question normaliser, the structure
parser, and a real loaded Assistant's `ask`. Each may only return or raise its own documented
error — never a TypeError, an IndexError or a UnicodeEncodeError from deep inside."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.errors import InputRejected
from assistant.external_text import clean_external
from assistant.query.normalize import normalize_question
from assistant.ingest.structure import StructureError, parse_document
from tests.conftest import DOC_IDS

# Characters that matter to the parser and the normaliser, mixed into arbitrary text: heading and
# list markers, full-width forms, brackets, table and footer words, line breaks, invisible marks.
PIECES = ["一、", "（一）", "(二)", "1.", "2．", "（1）", "①", "第一条", "附件", "附件1：", "抄送：", "共印 5 份",
          "任务分解表", "序号", "责任单位", "完成时限", "\n", "\r\n", "\t", "。", "；", "：", "“", "”", "（", "）",
          "政府开放月", "2024年", "8月", "区政府办公室", "浦东新区", "ＡＢＣ１２３", "繁體字", "\u3000", " ",
          "\u200b", "\u202e", "\x00", "\x0c", "\ufeff", "\u2028", "??", "！", "%", "…"]
SHAPED_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=60).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=200), SHAPED_TEXT)


def _cleaned(raw: str, limit: int | None = None) -> str | None:
    try:
        return clean_external(raw, what="问题", max_chars=limit)
    except InputRejected:
        return None


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("什么是ＡＢＣ１２３？繁體字 政府開放月")
@example("")
def test_the_normaliser_returns_text_for_any_cleaned_question(raw):
    text = _cleaned(raw)
    if text is None:
        return
    out = normalize_question(text)
    assert isinstance(out, str)
    out.encode("utf-8")
    assert "  " not in out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
@example("一、总体要求\n（一）公开\n1.做好公开。\n附件：任务分解表\n序号 任务 责任单位 完成时限\n1 公开 区政府办公室 8月")
@example("\n\n\n")
@example("（一）" * 40)
def test_the_structure_parser_returns_a_document_or_a_structure_error(raw):
    try:
        doc = parse_document(raw, "fuzz-doc")
    except StructureError as exc:
        assert str(exc)
        return
    assert doc.doc_id == "fuzz-doc"
    ids = [c.id for c in doc.clauses]
    assert len(ids) == len(set(ids))
    for clause in doc.clauses:
        assert clause.doc_id == "fuzz-doc" and clause.id.startswith("fuzz-doc/")
        assert 0 <= clause.start <= clause.end


def test_circled_number_markers_are_list_items():
    """Found by the property test above: '①'.isdigit() is True but int('①') fails."""
    doc = parse_document("一、总体要求\n①做好公开工作。\n②加强解读。", "fuzz-doc")
    assert [c.heading_path[-1] for c in doc.clauses] == ["①做好公开工作", "②加强解读"]


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.one_of(st.text(max_size=40), SHAPED_TEXT.map(lambda s: s[:60])),
       history=st.lists(st.sampled_from(["松江区政府开放月在几月?", "", "\u202e", "它由哪个部门负责？", "??"]), max_size=2),
       doc_filter=st.sampled_from([None, *DOC_IDS]))
@example(question="\ud800政府", history=[], doc_filter=None)
@example(question="\udcff\udcfe", history=[], doc_filter=None)
@example(question="政府\u202e开放月\x00在几月?", history=[], doc_filter=None)
@example(question="它呢", history=["??"], doc_filter="2024-pudong")
@example(question="一责任单位", history=[], doc_filter="2023-baoshan-songnan")
def test_ask_answers_or_refuses_any_short_text(assistant, question, history, doc_filter):
    from assistant.pipeline import InvalidQuestion

    try:
        answer = assistant.ask(question, history=history, doc_filter=doc_filter)
    except InvalidQuestion as exc:
        assert str(exc)
        return
    data = answer.to_dict()
    assert isinstance(data["answer"], str) and data["answer"].strip()
    data["answer"].encode("utf-8")
    assert not any(ch in data["question"] for ch in "\u202e\x00\u200b")
    if doc_filter:
        assert {c["doc_id"] for c in data["citations"]} <= {doc_filter}
