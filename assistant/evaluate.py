"""`assistant eval`: end-to-end evaluation of the assistant on a hand-written question set.

Every question goes through the same path as `assistant batch` (`batch._answer_line` ->
`Assistant.ask`), with the question and its history only: the set's `doc_filter` is used for
scoring, never passed to the system, which must infer the scope from the question itself.

Metrics (definitions in eval/README.md; the functions below are the reference):

* retrieval (answerable items): Recall@5 = share of the item's gold quotes hit by one of the
  first 5 clauses of `answer.retrieved`; Hit@5 = at least one quote hit in the first 5 (the
  `assistant bench` definition); MRR@10 = 1 / rank of the first clause that hits any gold quote.
  A clause hits a quote by `goldmatch.quote_hits` and only when it comes from the quote's document;
* citations (answerable items): recall = share of gold quotes contained in a cited clause of the
  quote's document; precision = share of an answer's citations that come from a gold document and
  contain or overlap one of its quotes ("overlap": a common substring of at least
  `OVERLAP_MIN_SHARE` of the quote's characters, after the search-key folding of goldmatch); for
  an item without doc_filter (cross_doc) a citation of any document that contains or overlaps
  a gold quote counts, since several documents state the same requirement word for word;
  wrong-document citations: citations of another document than the one the question names
  (answerable items with a doc_filter, cross_doc excluded);
* answer points: share of `answer_points` contained in the answer text (markers [n] removed,
  NFKC, lower case, no whitespace);
* grounding: share of the answer's content sentences supported by the clauses they cite, and the
  sentences with no citation. Template lines (section labels, "根据…的文件：", the refusal
  sentences …) are not document sentences and are excluded; "答：span[n]" is judged by its span,
  a filled template ("第N项 · 责任单位：units · 时间节点：deadline[n]") by its slots' text.
  A citation mark covers the sentences of its line back to the previous mark. Extractive
  answers: the sentence (prefix removed) is contained in a cited clause after whitespace removal.
  Language-model answers (kind "llm"): at least `LLM_SUPPORT_MIN` of the sentence's character
  bigrams occur in its cited clauses;
* refusal: precision and recall of `answer.refused` on the unanswerable items, and false
  refusals (share of answerable items refused);
* latency: p50 / p95 of `timings_ms.total`.

Baselines, scored on the same items: BM25-only ranking through the same pipeline
(`fusion_alpha` = 1.0; scope, relevance gate and answerer unchanged) and the naive llama-index
pipeline of `assistant.bench` (its top chunk is the answer, cited as [1]).

Public API::

    load_eval_set(path, known_docs=None) -> (items, warnings)   # raises EvalSetError
    score_item(item, answer) -> dict                             # one answer dict, all metrics
    aggregate(records, doc=None) -> dict
    run_eval(settings, questions_path=None, out_dir=None, *, baselines=True, progress=None) -> dict
    load_thresholds(path=None) -> dict;  check_thresholds(summary, thresholds) -> list[str]
    format_summary(report) -> str
    register_commands(sub)          # adds `eval [--set FILE] [--out DIR] [--no-baselines] [--check]`
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from assistant import messages
from assistant.answer import answer_sentences
from assistant.config import PROJECT_ROOT, Settings
from assistant.goldmatch import first_hit_rank, quote_hits, quote_key, text_key
from assistant.searchkey import bigrams, compact, search_key, support  # noqa: F401  (bigrams re-exported)

RECALL_K = 5
MRR_DEPTH = 10
OVERLAP_MIN_SHARE = 0.5     # citation precision: share of a quote's characters in one common substring
LLM_SUPPORT_MIN = 0.6       # grounding of kind == "llm" sentences: share of bigrams in the cited clauses
WORST_ITEMS = 10
EXCERPT_CHARS = 300

TYPES = ("lookup", "requirement", "cross_doc", "table", "numeric", "followup", "unanswerable", "paraphrase")
KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "type": str, "question": str, "history": list, "doc_filter": (str, type(None)),
    "gold": list, "answer_points": list,
}
DEFAULT_THRESHOLDS = PROJECT_ROOT / "eval" / "thresholds.toml"
# The project's floors: eval/thresholds.toml may be raised, never set below these.
FLOORS_MIN = {"recall_at_5": 0.90, "citation_recall": 0.85, "citation_precision": 0.85, "answer_points": 0.85,
              "grounding": 0.98, "refusal_recall": 0.90}
FLOORS_MAX = {"false_refusal_rate": 0.05}

SYSTEMS = {
    "system": "system (hybrid, as configured)",
    "bm25": "baseline: BM25-only ranking, same pipeline",
    "naive": "baseline: naive llama-index (top chunk)",
}

# Rows of the summary table: (key, label, format).
SUMMARY_ROWS = [
    ("recall_at_5", "Recall@5 (gold quotes)", "{:.3f}"),
    ("hit_at_5", "Hit@5 (any gold quote)", "{:.3f}"),
    ("mrr_at_10", "MRR@10", "{:.3f}"),
    ("citation_recall", "citation recall", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("wrong_doc_citations", "wrong-document citations", "{:d}"),
    ("answer_points", "answer points", "{:.3f}"),
    ("grounding", "grounding (supported sentences)", "{:.3f}"),
    ("uncited_sentences", "sentences without citation", "{:d}"),
    ("refusal_precision", "refusal precision", "{:.3f}"),
    ("refusal_recall", "refusal recall", "{:.3f}"),
    ("false_refusal_rate", "false refusals (answerable)", "{:.3f}"),
    ("latency_p50_ms", "latency p50 (ms)", "{:.0f}"),
    ("latency_p95_ms", "latency p95 (ms)", "{:.0f}"),
]


class EvalSetError(ValueError):
    """The question set has bad lines; `errors` lists them ("FILE line N: …")."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path, self.errors = path, errors
        shown = errors[:30] + ([f"… and {len(errors) - 30} more"] if len(errors) > 30 else [])
        super().__init__(f"{path}: {len(errors)} bad line(s) in the evaluation set:\n  " + "\n  ".join(shown))


# --------------------------------------------------------------------------------------------
# The question set


def validate_item(obj: object, known_docs: Iterable[str] | None = None) -> list[str]:
    """What is wrong with one parsed line (empty when it is a valid item)."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    bad = []
    for key, kind in KEY_TYPES.items():
        if key not in obj:
            bad.append(f"missing key '{key}'")
        elif not isinstance(obj[key], kind):
            bad.append(f"'{key}' has type {type(obj[key]).__name__}")
    if "notes" in obj and not isinstance(obj["notes"], str):
        bad.append("'notes' must be a string")
    if bad:
        return bad
    if not obj["id"].strip():
        bad.append("empty 'id'")
    if not obj["question"].strip():
        bad.append("empty 'question'")
    if obj["type"] not in TYPES:
        bad.append(f"unknown type '{obj['type']}' (allowed: {', '.join(TYPES)})")
    if not all(isinstance(h, str) and h.strip() for h in obj["history"]):
        bad.append("'history' must hold non-empty strings")
    if not all(isinstance(p, str) and p.strip() for p in obj["answer_points"]):
        bad.append("'answer_points' must hold non-empty strings")
    for n, g in enumerate(obj["gold"], 1):
        if not (isinstance(g, dict) and isinstance(g.get("doc"), str) and isinstance(g.get("quote"), str)
                and g["quote"].strip()):
            bad.append(f"gold entry {n} must be {{\"doc\": str, \"quote\": non-empty str}}")
    if obj["type"] == "unanswerable" and (obj["gold"] or obj["answer_points"]):
        bad.append("an unanswerable item must have empty 'gold' and 'answer_points'")
    if obj["type"] != "unanswerable" and not (obj["gold"] and obj["answer_points"]):
        bad.append("an answerable item needs at least one gold quote and one answer point")
    if known_docs is not None:
        known = set(known_docs)
        if obj["doc_filter"] is not None and obj["doc_filter"] not in known:
            bad.append(f"unknown doc_filter '{obj['doc_filter']}'")
        for g in obj["gold"]:
            if isinstance(g, dict) and isinstance(g.get("doc"), str) and g["doc"] not in known:
                bad.append(f"unknown gold doc '{g['doc']}'")
    return bad


def load_eval_set(path: Path | str, known_docs: Iterable[str] | None = None) -> tuple[list[dict], list[str]]:
    """(items, warnings). Raises `EvalSetError` naming every bad line by its line number."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(path, [f"{path}: cannot read ({exc})"]) from exc
    known = sorted(known_docs) if known_docs is not None else None
    items, errors, warnings, first_line = [], [], [], {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name} line {number}: not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        problems = validate_item(obj, known)
        if not problems and obj["id"] in first_line:
            problems.append(f"duplicate id '{obj['id']}' (first on line {first_line[obj['id']]})")
        if problems:
            label = f" (id {obj['id']})" if isinstance(obj, dict) and isinstance(obj.get("id"), str) else ""
            errors.extend(f"{path.name} line {number}{label}: {p}" for p in problems)
            continue
        first_line[obj["id"]] = number
        item = {**obj, "notes": obj.get("notes", ""), "line": number}
        joined = compact("".join(g["quote"] for g in item["gold"]))
        for point in item["answer_points"]:
            if compact(point) not in joined:
                warnings.append(f"{item['id']}: answer point {point!r} is not in its gold quotes")
        if item["type"] == "followup" and not item["history"]:
            warnings.append(f"{item['id']}: a followup item without history")
        items.append(item)
    if errors:
        raise EvalSetError(path, errors)
    if not items:
        raise EvalSetError(path, [f"{path.name}: no items"])
    return items, warnings


def item_docs(item: dict) -> list[str]:
    """The documents an item is about: its doc_filter, else its gold documents."""
    if item.get("doc_filter"):
        return [item["doc_filter"]]
    return sorted({g["doc"] for g in item.get("gold") or []})


# --------------------------------------------------------------------------------------------
# Matching helpers


def longest_common_substring(short: str, long: str) -> int:
    """Length of the longest substring of `short` that occurs in `long`."""
    best = 0
    for i in range(len(short)):
        while i + best < len(short) and short[i:i + best + 1] in long:
            best += 1
    return best


def quote_overlap(text: str, quote: str) -> float:
    """Share of the quote's characters covered by a common substring with `text` (per TAB field).

    1.0 when the text contains the quote. Both sides folded as in goldmatch (NFKC, lower case, no
    whitespace, markdown ** removed)."""
    keys = quote_key(quote)
    total = sum(len(k) for k in keys)
    if not total:
        return 0.0
    key = text_key(text)
    return sum(longest_common_substring(k, key) for k in keys) / total


_MARK = re.compile(r"\[\d+\]")


def answer_key(answer_text: str) -> str:
    """The answer text as compared with answer points: markers out, NFKC, lower case, no spaces."""
    return search_key(_MARK.sub("", answer_text or ""))


def point_found(point: str, answer_text: str) -> bool:
    return search_key(point) in answer_key(answer_text)




bigram_support = support  # the measure the LLM mode verifies with (assistant.searchkey.support)


# --------------------------------------------------------------------------------------------
# Template lines


def _template_regex(template: str) -> str:
    parts = re.split(r"\{[a-z_]+\}", template)
    return ".+?".join(re.escape(p) for p in parts)


_TEMPLATES = [messages.REFUSAL, messages.NOT_STATED, messages.ELSEWHERE, messages.ACCORDING_TO,
              messages.PER_DOCUMENT, messages.SHARED_HEADER, messages.CORPUS_CONTAINS, messages.UNKNOWN_PLACE,
              messages.UNKNOWN_YEAR, messages.RELATED_DOCS, messages.REWRITTEN]
_TEMPLATE_LINE = re.compile("(?:" + "|".join(_template_regex(t) for t in _TEMPLATES) + ")", re.S)
_DIRECT_PREFIX = messages.DIRECT.split("{span}")[0]                        # "答："
_PREFIXES = re.compile(r"^(?:[-•*]\s*|" + re.escape(_DIRECT_PREFIX) + "|" + re.escape(messages.BASIS)
                       + r"|【[^】]{1,40}】)")
_SHARED_SUFFIX = re.compile(_template_regex(messages.SHARED_ITEM.split("{cite}", 1)[1]).replace(".+?", r"\s*\d+\s*")
                            + r"\s*$")


# Templates that wrap document text: the slots named here are template data (a row number, a facet
# label), every other slot holds text of the cited clause. Looked up by name so that a template not
# (yet) in messages is simply skipped.
_SLOT_TEMPLATES = [t for t in (getattr(messages, "ROW_FACTS", None), getattr(messages, "EXTRA_FACET", None)) if t]
_DATA_SLOTS = {"number": r"\d+", "label": r"[^\s：:，,。；;、·]{1,12}"}
_EMPTY_SLOT = {"—", "-", "–"}


def _slot_regex(template: str) -> re.Pattern:
    out = ""
    for part in re.split(r"(\{[a-z_]+\})", template.replace("{cite}", "")):
        name = part[1:-1] if part.startswith("{") and part.endswith("}") else None
        out += f"(?P<{name}>{_DATA_SLOTS.get(name, '.+?')})" if name else re.escape(part)
    return re.compile(out)


_SLOT_REGEXES = [_slot_regex(t) for t in _SLOT_TEMPLATES]


def content_of(sentence: str) -> list[str]:
    """The pieces of document text in one answer sentence, each to be found in a cited clause.

    List marks, "答：", "依据：", 【label】 and the "（N 份文件）" suffix are removed; a filled
    template (a task row's "第N项 · 责任单位：… · 时间节点：…", "具体时间：…") gives the text of
    its slots; a template sentence (labels, fixed wording) gives nothing."""
    text = sentence.strip()
    while True:
        stripped = _PREFIXES.sub("", text, count=1).strip()
        if stripped == text:
            break
        text = stripped
    text = _SHARED_SUFFIX.sub("", text).strip()
    if not compact(text) or _TEMPLATE_LINE.fullmatch(text):
        return []
    for regex in _SLOT_REGEXES:
        match = regex.fullmatch(text)
        if match:
            return [v.strip() for k, v in match.groupdict().items()
                    if k not in _DATA_SLOTS and compact(v) and v.strip() not in _EMPTY_SLOT]
    return [text]


def cited_sentences(answer_text: str) -> list[tuple[str, list[int]]]:
    """(sentence, citation numbers) per sentence; a sentence without its own mark takes the marks
    that follow it on the same line (a mark at the end of a bullet covers the bullet)."""
    out: list[tuple[str, list[int]]] = []
    for line in (answer_text or "").split("\n"):
        pieces = answer_sentences(line)
        pending: list[str] = []
        for text, numbers in pieces:
            if numbers:
                out.extend((p, list(numbers)) for p in pending)
                pending = []
                out.append((text, list(numbers)))
            else:
                pending.append(text)
        out.extend((p, []) for p in pending)
    return out


# --------------------------------------------------------------------------------------------
# Scoring one answer


def grounding_of(answer: dict) -> dict:
    """Sentence-level grounding of one answer dict (Answer.to_dict() shape)."""
    by_n = {c.get("n"): c.get("text") or "" for c in answer.get("citations") or []}
    llm = answer.get("kind") == "llm"
    rows = []
    for sentence, numbers in cited_sentences(answer.get("answer") or ""):
        pieces = content_of(sentence)
        if not pieces:
            continue
        content = " … ".join(pieces)
        if not numbers:
            rows.append({"sentence": content, "cites": [], "status": "uncited"})
            continue
        texts = [by_n[n] for n in numbers if n in by_n]
        if llm:
            score = bigram_support("".join(pieces), texts)
            ok = score >= LLM_SUPPORT_MIN
        else:
            keys = [compact(t) for t in texts]
            ok = all(any(compact(piece) in key for key in keys) for piece in pieces)
            score = 1.0 if ok else 0.0
        rows.append({"sentence": content, "cites": numbers, "status": "supported" if ok else "unsupported",
                     "support": round(score, 3)})
    return {
        "sentences": len(rows),
        "supported": sum(1 for r in rows if r["status"] == "supported"),
        "uncited": sum(1 for r in rows if r["status"] == "uncited"),
        "problems": [r for r in rows if r["status"] != "supported"],
    }


def score_item(item: dict, answer: dict) -> dict:
    """Every metric of one item. `answer` is an Answer.to_dict() (or {"error": …})."""
    error = answer.get("error")
    gold = item.get("gold") or []
    answerable = item["type"] != "unanswerable"
    retrieved = [(r.get("doc_id", ""), r.get("text", "")) for r in answer.get("retrieved") or []]
    citations = answer.get("citations") or []
    doc_filter = item.get("doc_filter")

    quotes = []
    for g in gold:
        rank = first_hit_rank(retrieved[:MRR_DEPTH], [g])
        cited = [c.get("n") for c in citations if c.get("doc_id") == g["doc"] and quote_hits(c.get("text", ""), g["quote"])]
        quotes.append({"doc": g["doc"], "quote": g["quote"], "rank": rank,
                       "at_k": rank is not None and rank <= RECALL_K, "cited": bool(cited), "cited_by": cited})

    cites = []
    for c in citations:
        # A named document: only its quotes count. No document named (cross_doc): a clause of any
        # document that states a gold quote counts — the set lists the documents found, and
        # near-identical wording in a further document is an equally good source.
        best = max((quote_overlap(c.get("text", ""), g["quote"]) for g in gold
                    if g["doc"] == c.get("doc_id") or not doc_filter), default=0.0)
        wrong = bool(answerable and doc_filter and item["type"] != "cross_doc" and c.get("doc_id") != doc_filter)
        cites.append({"n": c.get("n"), "clause_id": c.get("clause_id"), "doc_id": c.get("doc_id"),
                      "overlap": round(best, 3), "relevant": best >= OVERLAP_MIN_SHARE, "wrong_doc": wrong})

    points = [{"point": p, "found": point_found(p, answer.get("answer") or "")} for p in item.get("answer_points") or []]
    first = first_hit_rank(retrieved[:MRR_DEPTH], gold) if gold else None
    refused = bool(answer.get("refused")) and not error
    return {
        "id": item["id"], "type": item["type"], "question": item["question"], "history": item.get("history") or [],
        "doc_filter": doc_filter, "docs": item_docs(item), "answerable": answerable,
        "answer_points": item.get("answer_points") or [],
        "error": error, "kind": answer.get("kind"), "refused": refused, "answer": answer.get("answer") or "",
        "notes": answer.get("notes") or [],
        "latency_ms": (answer.get("timings_ms") or {}).get("total"),
        "quotes": quotes, "first_rank": first, "citations": cites, "points": points,
        "grounding": grounding_of(answer) if not error else {"sentences": 0, "supported": 0, "uncited": 0,
                                                             "problems": []},
    }


# --------------------------------------------------------------------------------------------
# Aggregation


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def aggregate(records: list[dict], doc: str | None = None) -> dict:
    """Summary metrics of scored items. With `doc`, quote-level metrics use that document's
    quotes only (a cross-document item counts once per gold document)."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]

    def quotes(r: dict) -> list[dict]:
        return [q for q in r["quotes"] if doc is None or q["doc"] == doc]

    with_quotes = [r for r in answerable if quotes(r)]
    recall = [sum(q["at_k"] for q in quotes(r)) / len(quotes(r)) for r in with_quotes]
    ranks = [min((q["rank"] for q in quotes(r) if q["rank"] is not None), default=None) for r in with_quotes]
    cited = [sum(q["cited"] for q in quotes(r)) / len(quotes(r)) for r in with_quotes]
    precision = [sum(c["relevant"] for c in r["citations"]) / len(r["citations"]) for r in answerable if r["citations"]]
    wrong_scope = [r for r in answerable if r["doc_filter"] and r["type"] != "cross_doc"]
    wrong = sum(c["wrong_doc"] for r in wrong_scope for c in r["citations"])
    wrong_total = sum(len(r["citations"]) for r in wrong_scope)
    points = [sum(p["found"] for p in r["points"]) / len(r["points"]) for r in answerable if r["points"]]
    sentences = sum(r["grounding"]["sentences"] for r in records)
    supported = sum(r["grounding"]["supported"] for r in records)
    uncited = sum(r["grounding"]["uncited"] for r in records)
    refused = [r for r in records if r["refused"]]
    true_refusals = sum(1 for r in unanswerable if r["refused"])
    latencies = [r["latency_ms"] for r in records if isinstance(r["latency_ms"], (int, float))]
    correct_refusal = [r["refused"] == (not r["answerable"]) for r in records]
    return {
        "n": len(records), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "errors": sum(1 for r in records if r["error"]),
        "recall_at_5": _mean(recall),
        "hit_at_5": _mean([1.0 if r is not None and r <= RECALL_K else 0.0 for r in ranks]),
        "mrr_at_10": _mean([1.0 / r if r is not None and r <= MRR_DEPTH else 0.0 for r in ranks]),
        "citation_recall": _mean(cited),
        "citation_precision": _mean(precision),
        "wrong_doc_citations": wrong,
        "wrong_doc_share": wrong / wrong_total if wrong_total else None,
        "wrong_doc_items": sum(1 for r in wrong_scope if any(c["wrong_doc"] for c in r["citations"])),
        "answer_points": _mean(points),
        "sentences": sentences,
        "grounding": supported / sentences if sentences else None,
        "uncited_sentences": uncited,
        "uncited_share": uncited / sentences if sentences else None,
        "refusal_precision": (true_refusals / len(refused)) if refused else (None if not unanswerable else 0.0),
        "refusal_recall": true_refusals / len(unanswerable) if unanswerable else None,
        "false_refusal_rate": (sum(1 for r in answerable if r["refused"]) / len(answerable)) if answerable else None,
        "refusal_accuracy": _mean([1.0 if ok else 0.0 for ok in correct_refusal]),
        "latency_p50_ms": _percentile(latencies, 50),
        "latency_p95_ms": _percentile(latencies, 95),
    }


def breakdown(records: list[dict]) -> dict:
    """{"overall", "by_type", "by_document"} of one system's scored items."""
    by_type = {t: aggregate([r for r in records if r["type"] == t]) for t in TYPES
               if any(r["type"] == t for r in records)}
    extra = sorted({r["type"] for r in records} - set(TYPES))
    by_type.update({t: aggregate([r for r in records if r["type"] == t]) for t in extra})
    docs = sorted({d for r in records for d in r["docs"]})
    by_doc = {d: aggregate([r for r in records if d in r["docs"]], doc=d) for d in docs}
    none = [r for r in records if not r["docs"]]
    if none:
        by_doc["(no document)"] = aggregate(none)
    return {"overall": aggregate(records), "by_type": by_type, "by_document": by_doc}


# --------------------------------------------------------------------------------------------
# Why an item went wrong


def item_quality(r: dict) -> float:
    """1.0 for a perfect item; used to pick the worst items."""
    if r["error"]:
        return 0.0
    if not r["answerable"]:
        return 1.0 if r["refused"] else 0.0
    if r["refused"]:
        return 0.0
    g = r["grounding"]
    parts = [
        sum(p["found"] for p in r["points"]) / len(r["points"]) if r["points"] else 1.0,
        sum(q["cited"] for q in r["quotes"]) / len(r["quotes"]) if r["quotes"] else 1.0,
        sum(c["relevant"] for c in r["citations"]) / len(r["citations"]) if r["citations"] else 0.0,
        sum(q["at_k"] for q in r["quotes"]) / len(r["quotes"]) if r["quotes"] else 1.0,
        g["supported"] / g["sentences"] if g["sentences"] else 0.0,
    ]
    return sum(parts) / len(parts) - 0.1 * any(c["wrong_doc"] for c in r["citations"])


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def reasons(r: dict) -> list[str]:
    """Plain-language reasons an item lost points."""
    out = []
    if r["error"]:
        return [f"error: {r['error']}"]
    if not r["answerable"]:
        if not r["refused"]:
            out.append(f"answered (kind {r['kind']}) a question the documents cannot answer")
        return out
    if r["refused"]:
        first = next((line for line in r["answer"].split("\n") if line.strip()), "")
        out.append(f"refused an answerable question (kind {r['kind']}): «{_short(first, 80)}»")
    missing = [p["point"] for p in r["points"] if not p["found"]]
    if missing:
        out.append("missing answer points: " + "；".join(missing))
    for q in r["quotes"]:
        if not q["at_k"]:
            where = f"rank {q['rank']}" if q["rank"] else f"not in the top {MRR_DEPTH}"
            out.append(f"gold quote not retrieved in the top {RECALL_K} ({where}): {q['doc']} «{_short(q['quote'], 40)}»")
    for q in r["quotes"]:
        if not q["cited"]:
            out.append(f"gold quote not cited: {q['doc']} «{_short(q['quote'], 40)}»")
    for c in r["citations"]:
        if c["wrong_doc"]:
            out.append(f"citation [{c['n']}] is from {c['doc_id']}, the question is about {r['doc_filter']}")
        elif not c["relevant"]:
            out.append(f"citation [{c['n']}] ({c['clause_id']}) contains no gold quote (overlap {c['overlap']:.2f})")
    for p in r["grounding"]["problems"]:
        if p["status"] == "uncited":
            out.append(f"sentence without citation: «{_short(p['sentence'], 60)}»")
        else:
            out.append(f"sentence not supported by its citation {p['cites']}: «{_short(p['sentence'], 60)}»")
    if not r["citations"]:
        out.append("no citations")
    return out


def worst_items(records: list[dict], limit: int = WORST_ITEMS) -> list[dict]:
    scored = sorted(((item_quality(r), i, r) for i, r in enumerate(records)), key=lambda x: (x[0], x[1]))
    out = []
    for quality, _, r in scored:
        why = reasons(r)
        if quality >= 1.0 and not why:
            continue
        out.append({"id": r["id"], "type": r["type"], "question": r["question"], "history": r["history"],
                    "docs": r["docs"], "expected": r["answer_points"] or ["(refusal)"],
                    "got": _short(r["answer"], EXCERPT_CHARS), "kind": r["kind"], "refused": r["refused"],
                    "quality": round(quality, 3), "why": why})
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------------------------
# Running the systems


def _strip_scoring_fields(item: dict) -> str:
    """The batch input line for an item: id, question, history — never doc_filter or gold."""
    return json.dumps({"id": item["id"], "question": item["question"], "history": item.get("history") or []},
                      ensure_ascii=False)


def answer_with(assistant, items: list[dict], say: Callable[[str], None], label: str) -> list[dict]:
    """Answers through the batch path (`batch._answer_line`), one dict per item."""
    from assistant.batch import _answer_line

    out = []
    for n, item in enumerate(items, 1):
        if n % 20 == 0 or n == len(items):
            say(f"{label}: {n}/{len(items)}")
        out.append(_answer_line(_strip_scoring_fields(item), item.get("line", n), assistant))
    return out


def naive_answers(settings: Settings, items: list[dict], say: Callable[[str], None]) -> tuple[list[dict], dict]:
    """The naive llama-index pipeline of `assistant.bench`: its top chunk is the answer ([1])."""
    from assistant.bench import RANK_DEPTH, build_naive_index

    t0 = time.perf_counter()
    index = build_naive_index(settings)
    info = {"chunks": len(index.docstore.docs), "build_s": round(time.perf_counter() - t0, 2),
            "splitter": "SentenceSplitter() defaults", "top_k": RANK_DEPTH}
    retriever = index.as_retriever(similarity_top_k=RANK_DEPTH)
    out = []
    for n, item in enumerate(items, 1):
        if n % 20 == 0 or n == len(items):
            say(f"naive llama-index: {n}/{len(items)}")
        t = time.perf_counter()
        nodes = retriever.retrieve(item["question"])
        ms = (time.perf_counter() - t) * 1000
        retrieved = [{"clause_id": node.node.node_id, "doc_id": node.node.metadata.get("doc_id", ""),
                      "score": round(float(node.score or 0.0), 5), "text": node.node.get_content()} for node in nodes]
        if not retrieved:
            out.append({"answer": messages.REFUSAL, "refused": True, "citations": [], "retrieved": [],
                        "timings_ms": {"total": ms}, "kind": "naive"})
            continue
        top = retrieved[0]
        body = " ".join(line.strip() for line in top["text"].splitlines() if line.strip())
        out.append({"answer": body + messages.cite(1), "refused": False, "kind": "naive",
                    "citations": [{"n": 1, "clause_id": top["clause_id"], "doc_id": top["doc_id"], "text": top["text"]}],
                    "retrieved": retrieved, "timings_ms": {"total": ms}})
    return out, info


def bm25_ranking(answer: dict) -> dict:
    """The BM25 baseline's ranking: clauses only the dense leg brought in (fused score 0 when
    fusion_alpha is 1.0) are dropped, as `assistant bench` does."""
    if "retrieved" not in answer:
        return answer
    return {**answer, "retrieved": [r for r in answer["retrieved"] if (r.get("score") or 0) > 0]}


def unreachable_quotes(items: list[dict], clauses: dict[str, dict]) -> list[str]:
    """Gold quotes that no clause of their document contains: retrieval and citation recall can
    never reach them (a quote across two clauses, a quote the parser dropped)."""
    by_doc: dict[str, list[str]] = {}
    for clause in clauses.values():
        by_doc.setdefault(clause["doc_id"], []).append(clause["text"])
    out = []
    for item in items:
        for g in item["gold"]:
            if not any(quote_hits(text, g["quote"]) for text in by_doc.get(g["doc"], [])):
                out.append(f"{item['id']}: no clause of {g['doc']} contains «{g['quote']}»")
    return out


def _public_settings(settings: Settings) -> dict:
    hidden = {"llm_api_key", "auth_password"}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(settings).items() if k not in hidden}


def run_eval(settings: Settings, questions_path: Path | str | None = None, out_dir: Path | str | None = None, *,
             baselines: bool = True, progress: Callable[[str], None] | None = None) -> dict:
    """Answer every item, score, compare with the baselines; write report.json, report.md and
    chart.png (plus answers.jsonl) to `out_dir`; return the report."""
    from assistant.corpus import corpus_files
    from assistant.pipeline import Assistant

    say = progress or (lambda message: None)
    path = Path(questions_path) if questions_path else settings.eval_dir / "questions.jsonl"
    out = Path(out_dir) if out_dir else settings.eval_dir / "reports" / "latest"
    known = [f.doc_id for f in corpus_files(settings)]
    items, warnings = load_eval_set(path, known_docs=known or None)

    started = time.perf_counter()
    say("loading the assistant (index, models) …")
    assistant = Assistant.load(settings)
    warnings += unreachable_quotes(items, assistant.index.clauses)
    answers = {"system": answer_with(assistant, items, say, "system")}
    info: dict = {}
    if baselines:
        bm25 = Assistant(settings.replace(fusion="weighted", fusion_alpha=1.0), assistant.index)
        answers["bm25"] = [bm25_ranking(a) for a in answer_with(bm25, items, say, "BM25-only")]
        say("building the naive llama-index baseline …")
        answers["naive"], info["naive"] = naive_answers(settings, items, say)

    records = {name: [score_item(item, a) for item, a in zip(items, ans)] for name, ans in answers.items()}
    report = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "questions": {"path": str(path), "items": len(items),
                      "types": {t: sum(1 for i in items if i["type"] == t) for t in sorted({i["type"] for i in items})}},
        "settings": _public_settings(settings),
        "index": {"clauses": len(assistant.index.clauses), "documents": len(assistant.index.documents)},
        "definitions": {"recall_k": RECALL_K, "mrr_depth": MRR_DEPTH, "overlap_min_share": OVERLAP_MIN_SHARE,
                        "llm_support_min": LLM_SUPPORT_MIN},
        "systems": {name: {"label": SYSTEMS[name], **breakdown(rs)} for name, rs in records.items()},
        "baseline_info": info,
        "warnings": warnings,
        "worst": worst_items(records["system"]),
        "items": {name: rs for name, rs in records.items()},
    }
    thresholds = load_thresholds() if DEFAULT_THRESHOLDS.is_file() else None
    if thresholds is not None:
        failures = check_thresholds(report["systems"]["system"]["overall"], thresholds)
        report["gate"] = {"thresholds": str(DEFAULT_THRESHOLDS), "passed": not failures, "failures": failures}
    report["seconds"] = round(time.perf_counter() - started, 1)

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "answers.jsonl", "w", encoding="utf-8") as fh:
        for item, a in zip(items, answers["system"]):
            fh.write(json.dumps({"id": item["id"], **a}, ensure_ascii=False) + "\n")
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    chart = write_chart(report, out / "chart.png")
    report["files"] = {"json": str(out / "report.json"), "markdown": str(out / "report.md"),
                       "chart": str(chart) if chart else None, "answers": str(out / "answers.jsonl")}
    (out / "report.md").write_text(format_markdown(report), encoding="utf-8")
    return report


# --------------------------------------------------------------------------------------------
# Regression gate


def load_thresholds(path: Path | str | None = None) -> dict:
    """{"min": {metric: value}, "max": {metric: value}} from eval/thresholds.toml."""
    with open(Path(path) if path else DEFAULT_THRESHOLDS, "rb") as fh:
        data = tomllib.load(fh)
    return {"min": dict(data.get("min", {})), "max": dict(data.get("max", {}))}


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    """One message per metric outside its threshold (empty when all pass)."""
    failures = []
    for key, limit in thresholds.get("min", {}).items():
        value = summary.get(key)
        if value is None or value < limit:
            failures.append(f"{key} = {_fmt(value)} is below the threshold {limit}")
    for key, limit in thresholds.get("max", {}).items():
        value = summary.get(key)
        if value is None or value > limit:
            failures.append(f"{key} = {_fmt(value)} is above the threshold {limit}")
    return failures


# --------------------------------------------------------------------------------------------
# Output


def _fmt(value: object, pattern: str = "{:.3f}") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and "d" in pattern:
        return str(round(value))
    if isinstance(value, int) and "d" not in pattern:
        return str(value)
    return pattern.format(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)  # noqa: E731
                                    for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(header), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows])


def _threshold_text(key: str, thresholds: dict | None) -> str:
    if not thresholds:
        return ""
    if key in thresholds.get("min", {}):
        return f">= {thresholds['min'][key]}"
    if key in thresholds.get("max", {}):
        return f"<= {thresholds['max'][key]}"
    return ""


def summary_rows(report: dict, thresholds: dict | None = None) -> tuple[list[str], list[list[str]]]:
    names = list(report["systems"])
    header = ["metric"] + names + (["gate"] if thresholds else [])
    rows = []
    for key, label, pattern in SUMMARY_ROWS:
        row = [label] + [_fmt(report["systems"][n]["overall"].get(key), pattern) for n in names]
        if thresholds:
            row.append(_threshold_text(key, thresholds))
        rows.append(row)
    return header, rows


def format_summary(report: dict) -> str:
    q = report["questions"]
    thresholds = load_thresholds() if DEFAULT_THRESHOLDS.is_file() else None
    overall = report["systems"]["system"]["overall"]
    lines = [f"评测 (evaluation): {q['items']} items ({overall['answerable']} answerable, "
             f"{overall['unanswerable']} unanswerable) from {q['path']}"]
    lines += [f"  {name}: {s['label']}" for name, s in report["systems"].items()]
    lines.append("")
    lines += _table(*summary_rows(report, thresholds))
    gate = report.get("gate")
    if gate:
        lines.append("")
        lines.append("gate: PASSED" if gate["passed"] else "gate: FAILED\n  " + "\n  ".join(gate["failures"]))
    if overall["errors"]:
        lines.append(f"{overall['errors']} item(s) could not be run (see report.md)")
    if report.get("warnings"):
        lines.append(f"{len(report['warnings'])} warning(s) about the set (see report.md)")
    worst = report.get("worst") or []
    if worst:
        lines.append("")
        lines.append("worst items:")
        for w in worst:
            lines.append(f"  {w['id']} ({w['type']}, quality {w['quality']:.2f}): {w['question']}")
            lines.extend(f"      - {why}" for why in w["why"][:4])
    return "\n".join(lines)


_TYPE_COLUMNS = [("n", "n", "{:d}"), ("recall_at_5", "R@5", "{:.2f}"), ("mrr_at_10", "MRR@10", "{:.2f}"),
                 ("citation_recall", "cit. recall", "{:.2f}"), ("citation_precision", "cit. precision", "{:.2f}"),
                 ("wrong_doc_citations", "wrong-doc cit.", "{:d}"), ("answer_points", "points", "{:.2f}"),
                 ("grounding", "grounding", "{:.3f}"), ("uncited_sentences", "uncited", "{:d}"),
                 ("refusal_recall", "refusal recall", "{:.2f}"), ("false_refusal_rate", "false refusals", "{:.2f}"),
                 ("latency_p50_ms", "p50 ms", "{:.0f}")]


def _group_table(groups: dict[str, dict]) -> list[str]:
    header = ["group"] + [label for _, label, _ in _TYPE_COLUMNS]
    rows = [[name] + [_fmt(m.get(key), pattern) for key, _, pattern in _TYPE_COLUMNS] for name, m in groups.items()]
    return _md_table(header, rows)


def format_markdown(report: dict) -> str:
    q = report["questions"]
    s = report["settings"]
    thresholds = load_thresholds() if DEFAULT_THRESHOLDS.is_file() else None
    lines = ["# 政务公开助手 — evaluation report", "",
             f"- set: `{q['path']}` — {q['items']} items ("
             + ", ".join(f"{t} {n}" for t, n in q["types"].items()) + ")",
             f"- created {report['created']}, {report['seconds']} s; index {report['index']['clauses']} clauses in "
             f"{report['index']['documents']} documents; embedder `{s.get('embed_model')}`, fusion {s.get('fusion')} "
             f"(alpha {s.get('fusion_alpha')}), top_k {s.get('top_k')}"
             + (f", language model `{s.get('llm_model')}`" if s.get("llm_model") else ", extractive answers"),
             "- metric definitions: eval/README.md. Every system answers the question and its history only; "
             "`doc_filter` is used for scoring.", ""]
    lines += [f"- **{name}**: {sys_['label']}" for name, sys_ in report["systems"].items()]
    if report.get("baseline_info", {}).get("naive"):
        n = report["baseline_info"]["naive"]
        lines.append(f"- naive baseline: {n['chunks']} chunks ({n['splitter']}), top {n['top_k']}, "
                     f"built in {n['build_s']} s; its answer is the top chunk, cited as [1], and it never refuses")
    lines += ["", "## Summary", ""]
    lines += _md_table(*summary_rows(report, thresholds))
    gate = report.get("gate")
    if gate:
        lines += ["", f"**Regression gate** (`{Path(gate['thresholds']).name}`): "
                  + ("passed." if gate["passed"] else "FAILED:")]
        lines += [f"- {f}" for f in gate["failures"]]
    if len(report["systems"]) > 1:
        lines += ["", "## Per type, all systems (Recall@5 / citation precision / answer points / refusal accuracy)", ""]
        names = list(report["systems"])
        header = ["type"] + names
        rows = []
        for t in report["systems"]["system"]["by_type"]:
            row = [t]
            for name in names:
                m = report["systems"][name]["by_type"][t]
                row.append(" / ".join(_fmt(m.get(k), "{:.2f}") for k in
                                      ("recall_at_5", "citation_precision", "answer_points", "refusal_accuracy")))
            rows.append(row)
        lines += _md_table(header, rows)
    system = report["systems"]["system"]
    lines += ["", "## Per type (system)", ""] + _group_table(system["by_type"])
    lines += ["", "## Per document (system)", "",
              "An item counts for its doc_filter, or for each gold document (cross_doc); for a cross_doc item "
              "R@5, MRR and citation recall use that document's quotes only.", ""]
    lines += _group_table(system["by_document"])
    worst = report.get("worst") or []
    lines += ["", f"## The {len(worst)} worst items (system)", ""]
    if not worst:
        lines.append("Every item scored perfectly.")
    for w in worst:
        lines.append(f"### {w['id']} — {w['type']} — quality {w['quality']:.2f}")
        lines.append("")
        if w["history"]:
            lines.append("- history: " + " → ".join(w["history"]))
        lines.append(f"- question: {w['question']}")
        lines.append(f"- documents: {', '.join(w['docs']) or '—'}")
        lines.append(f"- expected: {'；'.join(w['expected'])}")
        lines.append(f"- got ({w['kind']}{', refused' if w['refused'] else ''}): "
                     + w["got"].replace("\n", " ⏎ "))
        lines.append("- why:")
        lines += [f"  - {why}" for why in w["why"]]
        lines.append("")
    errors = [r for r in report["items"]["system"] if r["error"]]
    if errors:
        lines += ["## Items that could not be run", ""] + [f"- {r['id']}: {r['error']}" for r in errors] + [""]
    if report.get("warnings"):
        lines += ["## Warnings about the set", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    if report.get("files", {}).get("chart"):
        lines += ["## Chart", "", "![per-type scores](chart.png)", ""]
    return "\n".join(lines)


CHART_METRICS = [("recall_at_5", "Recall@5"), ("citation_recall", "Citation recall"),
                 ("citation_precision", "Citation precision"), ("answer_points", "Answer points"),
                 ("grounding", "Grounding"), ("refusal_accuracy", "Refusal correct")]


def write_chart(report: dict, path: Path) -> Path | None:
    """Grouped bars: per type for the system, and overall for every system (English labels, so
    no CJK font is needed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    import numpy as np

    system = report["systems"]["system"]
    types = list(system["by_type"])
    names = list(report["systems"])
    fig, axes = plt.subplots(2, 1, figsize=(13, 9), gridspec_kw={"height_ratios": [3, 2]})
    width = 0.8 / len(CHART_METRICS)
    x = np.arange(len(types))
    for j, (key, label) in enumerate(CHART_METRICS):
        values = [system["by_type"][t].get(key) for t in types]
        axes[0].bar(x + (j - (len(CHART_METRICS) - 1) / 2) * width, [v if v is not None else 0 for v in values],
                    width, label=label)
    axes[0].set_xticks(x, [f"{t}\n(n={system['by_type'][t]['n']})" for t in types])
    axes[0].set_ylim(0, 1.05)
    axes[0].set_ylabel("score")
    axes[0].set_title("System, per question type")
    axes[0].legend(ncol=len(CHART_METRICS), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.32))
    axes[0].grid(axis="y", alpha=0.3)
    x = np.arange(len(CHART_METRICS))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        overall = report["systems"][name]["overall"]
        values = [overall.get(k) for k, _ in CHART_METRICS]
        axes[1].bar(x + (j - (len(names) - 1) / 2) * width, [v if v is not None else 0 for v in values], width,
                    label={"system": "system", "bm25": "BM25-only baseline",
                           "naive": "naive llama-index baseline"}.get(name, name))
    axes[1].set_xticks(x, [label for _, label in CHART_METRICS])
    axes[1].set_ylim(0, 1.05)
    axes[1].set_ylabel("score")
    axes[1].set_title("Overall, system vs baselines")
    axes[1].legend(fontsize=8, ncol=len(names), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    axes[1].grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------
# CLI


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    questions = Path(args.set_file) if args.set_file else None
    if questions is not None and not questions.is_file():
        raise ValueError(f"no such question file: {questions}")
    report = run_eval(settings, questions, args.out, baselines=not args.no_baselines,
                      progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(format_summary(report))
    files = report["files"]
    print(f"\nreport: {files['markdown']}\n        {files['json']}" + (f"\n        {files['chart']}" if files["chart"] else ""))
    if args.check and not report.get("gate", {}).get("passed", True):
        return 1
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate answers on a question set (retrieval, citations, answer points, "
                                    "grounding, refusals, latency) against two baselines")
    p.add_argument("--set", dest="set_file", metavar="FILE", help="questions JSONL (default: eval/questions.jsonl)")
    p.add_argument("--out", metavar="DIR", help="report folder (default: eval/reports/latest/)")
    p.add_argument("--no-baselines", action="store_true", help="skip the BM25-only and naive llama-index baselines")
    p.add_argument("--check", action="store_true", help="exit 1 when a metric misses eval/thresholds.toml")
    p.set_defaults(func=cmd_eval)
