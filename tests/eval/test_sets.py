"""Integrity checks for the hand-written evaluation set eval/questions.jsonl.

Fast: reads only the JSONL file and the raw corpus files; no model loading.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


# --- the blind-set schema (assistant.eval.sets) ----------------------------------------------

from assistant.eval import sets as eval_sets  # noqa: E402
from assistant.config import load_settings  # noqa: E402

DOCUMENTS = ROOT / "eval" / "documents"
BLIND_ITEM = {
    "id": "b1", "type": "selected_doc", "question": "这份文件的协调性审核由谁组织？", "history": [],
    "doc_filter": "2025-shanghai-hongkou", "selected_doc": "2025-shanghai-hongkou",
    "gold": [{"doc": "2025-shanghai-hongkou", "quote": "在文件报请印发时由本级政务公开主管部门组织开展审核"}],
    "answer_points": ["本级政务公开主管部门"], "notes": "", "style": "terse", "voice": "staff",
    "expect": {"qtype": "factoid", "facets": ["units"], "places": ["虹口区"], "years": [2025],
               "rewrite": "虹口区2025年政务公开工作要点中，协调性审核由谁组织？"},
}
KNOWN = list(DOC_IDS) + ["2025-shanghai-hongkou"]


def _lines(path: Path, objs: list) -> Path:
    path.write_text("\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs) + "\n",
                    encoding="utf-8")
    return path


def test_a_blind_item_with_every_new_key_is_valid():
    assert eval_sets.validate_item(BLIND_ITEM, KNOWN) == []
    for t in ("list", "colloquial", "multi_part", "metadata", "which_docs", "yes_no", "traditional", "typo"):
        assert eval_sets.validate_item({**BLIND_ITEM, "type": t}, KNOWN) == [], t
    no_rewrite = {**BLIND_ITEM, "expect": {"qtype": "list"}, "style": None, "selected_doc": None}
    assert eval_sets.validate_item(no_rewrite, KNOWN) == []
    unanswerable = {**BLIND_ITEM, "type": "typo", "gold": [], "answer_points": [],
                    "expect": {"qtype": "unanswerable", "facets": ["none"], "places": ["徐汇区"], "years": ["2024"]}}
    assert eval_sets.validate_item(unanswerable, KNOWN) == []
    assert not eval_sets.is_answerable(unanswerable) and eval_sets.is_answerable(BLIND_ITEM)


def test_malformed_new_keys_are_bad_lines_with_their_numbers(tmp_path):
    bad = [
        BLIND_ITEM,                                                                        # line 1: fine
        {**BLIND_ITEM, "id": "b2", "style": "shouting"},                                   # line 2
        {**BLIND_ITEM, "id": "b3", "voice": "robot"},                                      # line 3
        {**BLIND_ITEM, "id": "b4", "expect": {"qtype": "essay"}},                          # line 4
        {**BLIND_ITEM, "id": "b5", "expect": {**BLIND_ITEM["expect"], "facets": ["weather"]}},  # line 5
        {**BLIND_ITEM, "id": "b6", "expect": {**BLIND_ITEM["expect"], "years": ["去年"]}},  # line 6
        {**BLIND_ITEM, "id": "b7", "selected_doc": "2024-xuhui"},                          # line 7
        {**BLIND_ITEM, "id": "b8", "expect": "factoid"},                                   # line 8
        {**BLIND_ITEM, "id": "b9", "type": "gossip"},                                      # line 9
        "{\"id\": ",                                                                       # line 10
    ]
    with pytest.raises(eval_sets.EvalSetError) as caught:
        eval_sets.load_eval_set(_lines(tmp_path / "dev.jsonl", bad), known_docs=KNOWN)
    errors = caught.value.errors
    expected = {2: "unknown style 'shouting'", 3: "unknown voice 'robot'", 4: "expect.qtype 'essay'",
                5: "expect.facets must be a list", 6: "expect.years", 7: "unknown selected_doc '2024-xuhui'",
                8: "'expect' must be an object", 9: "unknown type 'gossip'", 10: "not valid JSON"}
    for line, needle in expected.items():
        assert any(e.startswith(f"dev.jsonl line {line}") and needle in e for e in errors), (line, errors)
    assert not any(e.startswith("dev.jsonl line 1 ") or e.startswith("dev.jsonl line 1:") for e in errors)


def _eval_dir(tmp_path: Path, items: list[dict], *, sidecar: str | None = None) -> tuple[Path, Path]:
    eval_dir = tmp_path / "eval"
    (eval_dir / "blind").mkdir(parents=True)
    (eval_dir / "documents").mkdir()
    (eval_dir / "documents" / "2025-shanghai-hongkou.txt").write_bytes(
        (DOCUMENTS / "2025-shanghai-hongkou.txt").read_bytes())
    (eval_dir / "documents" / "README.md").write_text("# not a plan", encoding="utf-8")
    path = _lines(eval_dir / "blind" / "dev.jsonl", items)
    if sidecar is not None:
        (eval_dir / "blind" / "dev.documents").write_text(sidecar, encoding="utf-8")
    return eval_dir, path


def test_a_set_about_documents_in_eval_documents_is_run_with_them(tmp_path):
    eval_dir, path = _eval_dir(tmp_path, [BLIND_ITEM])
    settings = load_settings(eval_dir=eval_dir)
    plan, = eval_sets.plan_sets(settings, [path], None)
    assert plan["name"] == "blind/dev" and plan["folders"] == [(eval_dir / "documents").resolve()]
    assert not plan["main"]
    assert [p.name for p in eval_sets.document_files(eval_dir / "documents")] == ["2025-shanghai-hongkou.txt"]
    shipped_only = _lines(eval_dir / "heldout.jsonl", [{**BLIND_ITEM, "doc_filter": "2024-pudong",
                                                        "selected_doc": None, "gold": [{"doc": "2024-pudong",
                                                        "quote": "8月集中组织开展以民心工程"}], "answer_points": ["8月"]}])
    plan, = eval_sets.plan_sets(settings, [shipped_only], None)
    assert plan["folders"] == []                         # nothing added: answered on the shipped corpus
    plan, = eval_sets.plan_sets(settings, [shipped_only], [eval_dir / "documents"])
    assert plan["folders"] == [(eval_dir / "documents").resolve()]     # --documents applies to every set


def test_a_sidecar_names_the_folder_and_unknown_documents_stay_errors(tmp_path):
    eval_dir, path = _eval_dir(tmp_path, [BLIND_ITEM], sidecar="# the documents of this set\n../documents\n")
    plan, = eval_sets.plan_sets(load_settings(eval_dir=eval_dir), [path], None)
    assert plan["folders"] == [(eval_dir / "documents").resolve()]
    (eval_dir / "blind" / "dev.documents").write_text("../nowhere\n", encoding="utf-8")
    with pytest.raises(eval_sets.EvalSetError, match="no such document folder"):
        eval_sets.plan_sets(load_settings(eval_dir=eval_dir), [path], None)
    (eval_dir / "blind" / "dev.documents").unlink()
    _lines(path, [{**BLIND_ITEM, "selected_doc": "2030-nowhere"}])
    with pytest.raises(eval_sets.EvalSetError, match=r"line 1 \(id b1\): unknown selected_doc '2030-nowhere'"):
        eval_sets.plan_sets(load_settings(eval_dir=eval_dir), [path], None)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_temporary_corpus_is_a_copy_and_is_removed_also_on_error(tmp_path, monkeypatch):
    import tempfile

    from assistant.app import knowledge

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    user = load_settings(corpus_dir=CORPUS, index_dir=tmp_path / "index")
    (tmp_path / "index" / "build-1").mkdir(parents=True)
    (tmp_path / "index" / "build-1" / "manifest.json").write_text("{}", encoding="utf-8")
    (tmp_path / "index" / "CURRENT").write_text("build-1", encoding="utf-8")
    before = (_tree(CORPUS), _tree(tmp_path / "index"))
    seen = {}

    def fake_add(paths, settings, **kwargs):
        seen.update(paths=[p.name for p in paths], settings=settings)
        return knowledge.AddReport()

    monkeypatch.setattr(knowledge, "add_documents", fake_add)
    with eval_sets.extended_corpus(user, [DOCUMENTS]) as work:
        assert work.settings.paths.corpus_dir.parent == work.root and work.settings.paths.index_dir.parent == work.root
        assert work.settings.paths.overrides_dir.parent == work.root
        assert sorted(p.stem for p in work.settings.paths.corpus_dir.glob("*.txt")) == sorted(DOC_IDS)
        assert (work.settings.paths.index_dir / "build-1" / "manifest.json").is_file()   # only new documents to embed
    assert "README.md" not in seen["paths"] and len(seen["paths"]) == len(list(DOCUMENTS.glob("*.txt")))
    assert not work.root.exists()

    def failing_add(paths, settings, **kwargs):
        raise RuntimeError("embedding failed")

    monkeypatch.setattr(knowledge, "add_documents", failing_add)
    with pytest.raises(RuntimeError, match="embedding failed"):
        with eval_sets.extended_corpus(user, [DOCUMENTS]):
            pass
    assert list((tmp_path / "tmp").iterdir()) == []
    assert (_tree(CORPUS), _tree(tmp_path / "index")) == before


# --- question understanding (scored against "expect" with a fake Query) ----------------------

PUDONG_ITEM = {"id": "t1", "type": "numeric", "question": "浦东新区政府开放月在几月？", "history": [],
               "doc_filter": "2024-pudong", "gold": [{"doc": "2024-pudong", "quote": "8月集中组织开展以民心工程、实事项目等"}],
               "answer_points": ["8月"], "notes": ""}
XUHUI = {"id": "t2", "type": "unanswerable", "question": "徐汇区的政府开放月在几月？", "history": [], "doc_filter": None,
         "gold": [], "answer_points": [], "notes": ""}

class _Scope:
    def __init__(self, places=(), unknown_places=(), years=(), unknown_years=()):
        self.places, self.unknown_places = list(places), list(unknown_places)
        self.years, self.unknown_years = list(years), list(unknown_years)


class _Query:
    def __init__(self, qtype="factoid", facets=(), scope=None, rewrite=""):
        self.qtype, self.facet_kinds, self.scope, self.rewrite = qtype, list(facets), scope or _Scope(), rewrite


EXPECT_ITEM = {**PUDONG_ITEM, "expect": {"qtype": "factoid", "facets": ["date"], "places": ["浦东新区"], "years": [2024],
                                  "rewrite": "2024年浦东新区政府开放月在几月？"}}


def test_understanding_scores_each_dimension():
    right = _Query("factoid", ["date"], _Scope(["浦东"], years=[2024]), "浦东新区2024年的政府开放月在几月？")
    row = eval_sets.score_understanding(EXPECT_ITEM, right)
    assert {k: row[k] for k in ("qtype", "facets", "places", "years", "rewrite")} == dict.fromkeys(
        ("qtype", "facets", "places", "years", "rewrite"), True)
    wrong = _Query("requirement", ["date", "units"], _Scope(["松江区"], years=[2023]), "松江区有哪些要求？")
    row = eval_sets.score_understanding(EXPECT_ITEM, wrong)
    assert not any(row[k] for k in ("qtype", "facets", "places", "years", "rewrite"))


def test_understanding_special_cases():
    unanswerable = {**XUHUI, "expect": {"qtype": "unanswerable", "facets": ["none"], "places": ["徐汇区"],
                                                "years": []}}
    seen = _Query("factoid", [], _Scope(unknown_places=["徐汇"]))
    row = eval_sets.score_understanding(unanswerable, seen)
    assert row["qtype"] and row["facets"] and row["places"] and row["years"] and row["rewrite"] is None
    assert eval_sets.score_understanding(unanswerable, _Query("unanswerable"))["qtype"]
    assert not eval_sets.score_understanding(unanswerable, _Query("factoid"))["qtype"]
    assert eval_sets.place_key("上海市") == "上海" and eval_sets.place_key("淞南镇") == "淞南"
    assert eval_sets.place_key("石泉路街道") == "石泉路" and eval_sets.place_key("区") == "区"
    assert eval_sets.dice("浦东新区政府开放月在几月", "浦东新区政府开放月在几月？") == 1.0
    assert eval_sets.dice("abc", "xyz") == 0.0 and eval_sets.dice("", "") == 1.0


def test_understanding_report_overall_per_type_and_skipped():
    items = [EXPECT_ITEM, {**EXPECT_ITEM, "id": "t7", "type": "typo"}, PUDONG_ITEM]      # the last has no expect

    class Fake:
        def understand(self, question, *, history=None, doc_filter=None):
            if question == "boom":
                raise RuntimeError("broken")
            return _Query("factoid", ["date"], _Scope(["浦东新区"], years=[2024]), "2024年浦东新区政府开放月在几月？")

    report = eval_sets.understanding_report(Fake(), items, lambda message: None)
    assert report["overall"]["n"] == 2 and report["overall"]["qtype"] == 1.0 and report["overall"]["rewrite"] == 1.0
    assert set(report["by_type"]) == {"numeric", "typo"}
    broken = eval_sets.understanding_report(Fake(), [{**EXPECT_ITEM, "question": "boom"}], lambda message: None)
    assert broken["overall"]["qtype"] == 0.0 and "broken" in broken["items"][0]["error"]
    skipped = eval_sets.understanding_report(object(), items, lambda message: None)
    assert "skipped" in skipped and skipped["n"] == 2
    assert eval_sets.understanding_report(Fake(), [PUDONG_ITEM], lambda message: None) is None


@pytest.mark.parametrize("name", ["dev", "test"])
def test_the_blind_sets_when_present_are_valid_against_corpus_and_documents(name):
    """Schema only: the items' contents are never looked at here (the test set is locked)."""
    path = ROOT / "eval" / "blind" / f"{name}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is not there yet")
    known = list(DOC_IDS) + [p.stem for p in eval_sets.document_files(DOCUMENTS)]
    items, _ = eval_sets.load_eval_set(path, known_docs=known)
    assert items
