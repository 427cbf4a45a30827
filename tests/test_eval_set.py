"""Integrity checks for the hand-written evaluation set eval/questions.jsonl.

Fast: reads only the JSONL file and the raw corpus files; no model loading.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "corpus"

DOC_IDS = (
    "2024-qingpu-baihe",
    "2023-baoshan-songnan",
    "2024-minhang-pujin",
    "2024-pudong",
    "2024-songjiang",
)
TYPES = {
    "lookup",
    "requirement",
    "cross_doc",
    "table",
    "numeric",
    "followup",
    "unanswerable",
    "paraphrase",
}
KEY_TYPES = {
    "id": str,
    "type": str,
    "question": str,
    "history": list,
    "doc_filter": (str, type(None)),
    "gold": list,
    "answer_points": list,
    "notes": str,
}
MIN_PER_TYPE = 10
MIN_TOTAL = 100
MIN_PER_DOC = 15
QUOTE_MIN_CHARS = 8
QUOTE_MAX_CHARS = 60

_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub("", text)


@pytest.fixture(scope="module")
def raw_lines() -> list[str]:
    assert QUESTIONS.is_file(), f"missing {QUESTIONS}"
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


@pytest.fixture(scope="module")
def items(raw_lines) -> list[dict]:
    return [json.loads(line) for line in raw_lines]


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))}


def test_every_line_parses_as_a_json_object(raw_lines):
    bad = []
    for n, line in enumerate(raw_lines, 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"line {n}: {exc}")
            continue
        if not isinstance(obj, dict):
            bad.append(f"line {n}: not an object")
    assert not bad, bad


def test_every_item_has_all_keys_with_the_right_types(items):
    bad = []
    for it in items:
        for key, typ in KEY_TYPES.items():
            if key not in it:
                bad.append(f"{it.get('id')}: missing {key}")
            elif not isinstance(it[key], typ):
                bad.append(f"{it.get('id')}: {key} has type {type(it[key]).__name__}")
        if not all(isinstance(h, str) and h.strip() for h in it.get("history", [])):
            bad.append(f"{it.get('id')}: history must hold non-empty strings")
        if not all(isinstance(a, str) and a.strip() for a in it.get("answer_points", [])):
            bad.append(f"{it.get('id')}: answer_points must be non-empty strings")
        for g in it.get("gold", []):
            if not (isinstance(g, dict) and isinstance(g.get("doc"), str)
                    and isinstance(g.get("quote"), str)):
                bad.append(f"{it.get('id')}: gold entry must be {{doc: str, quote: str}}")
        if not it.get("question", "").strip():
            bad.append(f"{it.get('id')}: empty question")
    assert not bad, bad


def test_ids_are_unique(items):
    counts = Counter(it["id"] for it in items)
    dupes = [i for i, c in counts.items() if c > 1]
    assert not dupes, dupes


def test_types_are_from_the_allowed_set(items):
    bad = [(it["id"], it["type"]) for it in items if it["type"] not in TYPES]
    assert not bad, bad


def test_every_type_has_at_least_ten_items(items):
    counts = Counter(it["type"] for it in items)
    short = {t: counts.get(t, 0) for t in TYPES if counts.get(t, 0) < MIN_PER_TYPE}
    assert not short, short


def test_eval_set_has_at_least_one_hundred_items(items):
    assert len(items) >= MIN_TOTAL, len(items)


def test_corpus_holds_the_five_documents(corpus):
    missing = [d for d in DOC_IDS if d not in corpus]
    assert not missing, missing


def test_gold_docs_and_doc_filters_name_known_documents(items, corpus):
    bad = []
    for it in items:
        if it["doc_filter"] is not None and it["doc_filter"] not in corpus:
            bad.append(f"{it['id']}: doc_filter {it['doc_filter']}")
        for g in it["gold"]:
            if g["doc"] not in corpus:
                bad.append(f"{it['id']}: gold doc {g['doc']}")
    assert not bad, bad


def test_every_gold_quote_is_a_verbatim_substring_of_its_raw_document(items, corpus):
    bad = []
    for it in items:
        for g in it["gold"]:
            text = corpus.get(g["doc"], "")
            if g["quote"] not in text:
                bad.append(f"{it['id']}: {g['doc']}: {g['quote']!r}")
    assert not bad, bad


def test_gold_quotes_are_short_and_lie_on_one_raw_line(items):
    bad = []
    for it in items:
        for g in it["gold"]:
            quote = g["quote"]
            if "\n" in quote or "\r" in quote:
                bad.append(f"{it['id']}: quote spans lines: {quote!r}")
            if not QUOTE_MIN_CHARS <= len(quote) <= QUOTE_MAX_CHARS:
                bad.append(f"{it['id']}: quote length {len(quote)}: {quote!r}")
    assert not bad, bad


def test_every_answer_point_is_contained_in_the_gold_quotes_ignoring_whitespace(items):
    bad = []
    for it in items:
        joined = _squash("".join(g["quote"] for g in it["gold"]))
        for point in it["answer_points"]:
            if _squash(point) not in joined:
                bad.append(f"{it['id']}: {point!r}")
    assert not bad, bad


def test_every_document_is_gold_in_at_least_fifteen_items(items):
    counts = Counter()
    for it in items:
        for doc in {g["doc"] for g in it["gold"]}:
            counts[doc] += 1
    short = {d: counts.get(d, 0) for d in DOC_IDS if counts.get(d, 0) < MIN_PER_DOC}
    assert not short, short


def test_followup_items_have_non_empty_history(items):
    bad = [it["id"] for it in items if it["type"] == "followup" and not it["history"]]
    assert not bad, bad


def test_only_followup_items_carry_history(items):
    bad = [it["id"] for it in items if it["type"] != "followup" and it["history"]]
    assert not bad, bad


def test_unanswerable_items_have_empty_gold_and_answer_points(items):
    bad = [it["id"] for it in items
           if it["type"] == "unanswerable" and (it["gold"] or it["answer_points"])]
    assert not bad, bad


def test_answerable_items_have_gold_and_answer_points(items):
    bad = [it["id"] for it in items
           if it["type"] != "unanswerable" and not (it["gold"] and it["answer_points"])]
    assert not bad, bad


def test_cross_doc_items_cite_several_documents_without_a_doc_filter(items):
    bad = []
    for it in items:
        if it["type"] != "cross_doc":
            continue
        if it["doc_filter"] is not None:
            bad.append(f"{it['id']}: doc_filter should be null")
        if len({g["doc"] for g in it["gold"]}) < 2:
            bad.append(f"{it['id']}: fewer than 2 gold documents")
    assert not bad, bad


def test_single_document_items_cite_the_filtered_document(items):
    bad = []
    for it in items:
        if it["type"] in {"cross_doc", "unanswerable"} or it["doc_filter"] is None:
            continue
        docs = {g["doc"] for g in it["gold"]}
        if docs != {it["doc_filter"]}:
            bad.append(f"{it['id']}: doc_filter {it['doc_filter']} vs gold {sorted(docs)}")
    assert not bad, bad


def test_table_items_cite_a_document_with_a_task_table(items):
    with_tables = {"2024-pudong", "2024-songjiang"}
    bad = [it["id"] for it in items
           if it["type"] == "table" and not {g["doc"] for g in it["gold"]} <= with_tables]
    assert not bad, bad
