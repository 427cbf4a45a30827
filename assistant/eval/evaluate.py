"""`assistant eval`: end-to-end evaluation of the assistant on hand-written question sets.

Every question goes through the path of `assistant batch` (`batch._answer_line` -> `Assistant.ask`)
with its question, history and UI document selector (`selected_doc`); the item's `doc_filter` is for
scoring only. Sets about documents the shipped corpus lacks are answered on a temporary copy of
corpus/ with them added (`eval_sets.extended_corpus`), built once per run. Baselines: BM25-only
ranking through the same pipeline, and the naive llama-index pipeline of `assistant.eval.bench`.
Metric definitions: eval/README.md (the functions below are the reference). Sets and their
documents: `assistant.eval.sets`; tables, gate, worst items and files: `assistant.eval.report`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable, Collection
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from assistant.answer import messages
from assistant.answer.lines import AnswerLine, quoted, said
from assistant.config import Settings
# Re-exported: callers and tests know these as evaluate.X from before the split.
from assistant.eval.gate import (DEFAULT_THRESHOLDS, FLOORS_MAX, FLOORS_MIN,  # noqa: F401
                                 check_thresholds, load_thresholds, set_gate)
from assistant.eval.report import (SUMMARY_ROWS, format_markdown, format_run_markdown, format_run_summary,  # noqa: F401
                                   format_summary, item_quality, reasons,
                                   worst_items, write_chart, write_reports)
from assistant.eval.sets import (TYPES, EvalSetError, batch_line, corpus_info, is_answerable,  # noqa: F401
                                 item_docs, load_eval_set, longest_common_substring, open_corpus, plan_sets,
                                 quote_overlap, understanding_report, unreachable_quotes, validate_item)
from assistant.eval.goldmatch import first_hit_rank, quote_hits
from assistant.ingest.searchkey import bigrams, compact, search_key, support  # noqa: F401  (bigrams re-exported)

RECALL_K = 5
MRR_DEPTH = 10
OVERLAP_MIN_SHARE = 0.5     # citation precision: share of a quote's characters in one common substring
LLM_SUPPORT_MIN = 0.6       # grounding of kind == "llm" sentences: share of bigrams in the cited clauses

SYSTEMS = {"system": "system (hybrid, as configured)", "bm25": "baseline: BM25-only ranking, same pipeline",
           "naive": "baseline: naive llama-index (top chunk)"}
_strip_scoring_fields = batch_line   # the old name, kept for callers


# --------------------------------------------------------------------------------------------
# Matching helpers


_MARK = re.compile(r"\[\d+\]")


def answer_key(answer_text: str) -> str:
    """The answer text as compared with answer points: markers out, NFKC, lower case, no spaces."""
    return search_key(_MARK.sub("", answer_text or ""))


def point_found(point: str, answer_text: str) -> bool:
    return search_key(point) in answer_key(answer_text)


bigram_support = support  # the measure the LLM mode verifies with (assistant.ingest.searchkey.support)


def claims_of(answer: dict) -> list[tuple[list[str], list[int]]]:
    """(quoted pieces, citation numbers) per sentence of an answer dict, from its typed lines
    (`AnswerLine.claims`: our own wording is left out, so a template line claims nothing)."""
    return [(claim["quotes"], list(claim["cites"])) for line in answer.get("lines") or []
            for claim in line.get("claims") or []]


# --------------------------------------------------------------------------------------------
# Scoring one answer


def grounding_of(answer: dict) -> dict:
    """Sentence-level grounding of one answer dict (Answer.to_dict() shape)."""
    # A citation shows its clause's text under its heading path; a heading quoted from the path (a
    # document's parts) is as grounded as its text.
    by_n = {c.get("n"): "\n".join([c.get("text") or "", *(h.rstrip("…") for h in c.get("heading_path") or [])])
            for c in answer.get("citations") or []}
    llm = answer.get("kind") == "llm"
    rows = []
    for pieces, numbers in claims_of(answer):
        pieces = [p for p in pieces if compact(p)]
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
    answerable = is_answerable(item)
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
        "doc_filter": doc_filter, "selected_doc": item.get("selected_doc"), "docs": item_docs(item),
        "style": item.get("style"), "voice": item.get("voice"), "answerable": answerable,
        "answer_points": item.get("answer_points") or [],
        "error": error, "kind": answer.get("kind"), "refused": refused, "answer": answer.get("answer") or "",
        "answer_chars": None if error else len(answer.get("answer") or ""),
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


def declines_and_length(records: list[dict]) -> dict:
    """False declines split by kind: a refusal ("the documents do not cover this") and a "没有写明"
    (kind not_stated: "the named document does not give this detail") on an answerable item are
    different failures with different fixes; and the length of the answers in characters."""
    answerable = [r for r in records if r["answerable"] and not r["error"]]
    refusals = sum(1 for r in answerable if r["kind"] == "refusal")
    not_stated = sum(1 for r in answerable if r["kind"] == "not_stated")
    lengths = [r["answer_chars"] for r in records if isinstance(r.get("answer_chars"), int)]
    share = (lambda n: n / len(answerable)) if answerable else (lambda n: None)
    return {"false_refusals": refusals, "false_refusal_share": share(refusals),
            "false_not_stated": not_stated, "false_not_stated_share": share(not_stated),
            "false_declines": refusals + not_stated, "false_decline_share": share(refusals + not_stated),
            "answer_chars_mean": _mean(lengths), "answer_chars_p95": _percentile(lengths, 95)}


def aggregate(records: list[dict], doc: str | Collection[str] | None = None) -> dict:
    """Summary metrics of scored items. With `doc` (one id or several), quote-level metrics use the
    quotes of that document (those documents) only: a cross-document item counts once per group."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    docs = {doc} if isinstance(doc, str) else set(doc) if doc is not None else None

    def quotes(r: dict) -> list[dict]:
        return [q for q in r["quotes"] if docs is None or q["doc"] in docs]

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
    } | declines_and_length(records)


def breakdown(records: list[dict], new_docs: Collection[str] = ()) -> dict:
    """{"overall", "by_type", "by_document", "by_origin"} of one system's scored items. By origin:
    "shipped" (documents of corpus/) and "new" (documents the run added, `new_docs`); an item counts
    in each group its documents fall in, with quote-level metrics on that group's quotes."""
    types = [t for t in TYPES if any(r["type"] == t for r in records)] + sorted({r["type"] for r in records} - set(TYPES))
    by_type = {t: aggregate([r for r in records if r["type"] == t]) for t in types}
    docs = sorted({d for r in records for d in r["docs"]})
    by_doc = {d: aggregate([r for r in records if d in r["docs"]], doc=d) for d in docs}
    none = [r for r in records if not r["docs"]]
    new = set(new_docs)
    origins = {"shipped": set(docs) - new, "new": set(docs) & new}
    by_origin = {name: aggregate([r for r in records if set(r["docs"]) & group], doc=group)
                 for name, group in origins.items() if group}
    if none:
        by_doc["(no document)"] = by_origin["(no document)"] = aggregate(none)
    return {"overall": aggregate(records), "by_type": by_type, "by_document": by_doc, "by_origin": by_origin}


# --------------------------------------------------------------------------------------------
# Running the systems


def answer_with(assistant, items: list[dict], say: Callable[[str], None], label: str) -> list[dict]:
    """Answers through the batch path (`batch._answer_line`), one dict per item; like batch, a crash
    on one question is that item's error, not the end of the run."""
    from assistant.app.batch import _answer_line

    out = []
    for n, item in enumerate(items, 1):
        if n % 20 == 0 or n == len(items):
            say(f"{label}: {n}/{len(items)}")
        out.append(_answer_line(batch_line(item).encode("utf-8"), item.get("line", n), assistant))
    return out


def naive_answers(settings: Settings, items: list[dict], say: Callable[[str], None],
                  built: dict) -> tuple[list[dict], dict]:
    """The naive llama-index pipeline of `assistant.eval.bench`: its top chunk is the answer ([1]).
    `built` caches the index per corpus, so several sets of one run embed its chunks once."""
    from assistant.eval.bench import RANK_DEPTH, build_naive_index

    if "index" not in built:
        t0 = time.perf_counter()
        built["index"] = build_naive_index(settings)
        built["info"] = {"chunks": len(built["index"].docstore.docs), "build_s": round(time.perf_counter() - t0, 2),
                         "splitter": "SentenceSplitter() defaults", "top_k": RANK_DEPTH}
    retriever = built["index"].as_retriever(similarity_top_k=RANK_DEPTH)
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
            out.append({"answer": messages.REFUSAL, "lines": [AnswerLine.of("refusal", said(messages.REFUSAL)).to_dict()],
                        "refused": True, "citations": [], "retrieved": [],
                        "timings_ms": {"total": ms}, "kind": "naive"})
            continue
        top = retrieved[0]
        body = " ".join(line.strip() for line in top["text"].splitlines() if line.strip())
        line = AnswerLine.of("sentence", quoted(body, 1))
        out.append({"answer": line.render(), "lines": [line.to_dict()], "refused": False, "kind": "naive",
                    "citations": [{"n": 1, "clause_id": top["clause_id"], "doc_id": top["doc_id"], "text": top["text"]}],
                    "retrieved": retrieved, "timings_ms": {"total": ms}})
    return out, built["info"]


def bm25_ranking(answer: dict) -> dict:
    """The BM25 baseline's ranking: clauses only the dense leg brought in (fused score 0 when
    fusion_alpha is 1.0) are dropped, as `assistant bench` does."""
    if "retrieved" not in answer:
        return answer
    return {**answer, "retrieved": [r for r in answer["retrieved"] if (r.get("score") or 0) > 0]}


def score_set(plan: dict, corpus: dict, *, baselines: bool, say: Callable[[str], None]) -> tuple[dict, list[dict]]:
    """One set answered by the system (and the baselines) on its corpus: (set report, system answers)."""
    assistant, items = corpus["assistant"], plan["items"]
    say(f"set {plan['name']}: {len(items)} items")
    warnings = plan["warnings"] + unreachable_quotes(items, assistant.index.clauses)
    warnings += [f"{plan['name']}: document not added: {reason}" for reason in corpus["refused"]]
    answers = {"system": answer_with(assistant, items, say, f"{plan['name']} system")}
    info: dict = {}                      # what the naive baseline was built from
    if baselines:
        bm25 = type(assistant)(corpus["settings"].replace(fusion="weighted", fusion_alpha=1.0), assistant.index)
        answers["bm25"] = [bm25_ranking(a) for a in answer_with(bm25, items, say, f"{plan['name']} BM25-only")]
        say("naive llama-index baseline …")
        answers["naive"], info["naive"] = naive_answers(corpus["settings"], items, say, corpus["naive"])
    records = {name: [score_item(item, a) for item, a in zip(items, ans)] for name, ans in answers.items()}
    report = {
        "name": plan["name"],
        "questions": {"path": str(plan["path"]), "items": len(items),
                      "types": {t: sum(1 for i in items if i["type"] == t) for t in sorted({i["type"] for i in items})}},
        **corpus_info(corpus),                                  # "settings", "corpus", "index"
        "definitions": {"recall_k": RECALL_K, "mrr_depth": MRR_DEPTH, "overlap_min_share": OVERLAP_MIN_SHARE,
                        "llm_support_min": LLM_SUPPORT_MIN},
        "systems": {name: {"label": SYSTEMS[name], **breakdown(rs, corpus["new_docs"])} for name, rs in records.items()},
        "baseline_info": info, "warnings": warnings, "worst": worst_items(records["system"]),
        "understanding": understanding_report(assistant, items, say),
        "items": records,
    }
    gate = set_gate(plan["name"], plan["main"], report["systems"]["system"]["overall"])
    if gate:
        report["gate"] = gate
    return report, answers["system"]


def run_evals(settings: Settings, set_paths: list[Path | str] | None = None, out_dir: Path | str | None = None, *,
              documents: list[Path | str] | None = None, baselines: bool = True,
              progress: Callable[[str], None] | None = None) -> dict:
    """Score each set (default: the sets of eval/ that exist) and write report.json, report.md and per
    set answers and chart to `out_dir`; return the run report ({"sets": {name: set report}, …}).
    Sets that need the same extra documents share one temporary corpus, built once."""
    say = progress or (lambda message: None)
    plans = plan_sets(settings, set_paths, documents)
    out = Path(out_dir) if out_dir else settings.paths.eval_dir / "reports" / "latest"
    started = time.perf_counter()
    run: dict = {"created": datetime.now().astimezone().isoformat(timespec="seconds"), "sets": {}}
    answers: dict[str, list[dict]] = {}
    with ExitStack() as stack:           # closing it removes every temporary corpus, also on error
        corpora: dict[tuple, dict] = {}
        for plan in plans:
            key = tuple(plan["folders"])
            if key not in corpora:
                corpora[key] = open_corpus(settings, plan["folders"], stack, say)
            t0 = time.perf_counter()
            report, answers[plan["name"]] = score_set(plan, corpora[key], baselines=baselines, say=say)
            report["created"], report["seconds"] = run["created"], round(time.perf_counter() - t0, 1)
            run["sets"][plan["name"]] = report
    run["seconds"] = round(time.perf_counter() - started, 1)
    run["passed"] = all(r.get("gate", {}).get("passed", True) for r in run["sets"].values())
    write_reports(run, out, answers)
    return run


def run_eval(settings: Settings, questions_path: Path | str | None = None, out_dir: Path | str | None = None, *,
             baselines: bool = True, progress: Callable[[str], None] | None = None) -> dict:
    """One set (default eval/questions.jsonl): its set report, with the run's files."""
    path = Path(questions_path) if questions_path else settings.paths.eval_dir / "questions.jsonl"
    run = run_evals(settings, [path], out_dir, baselines=baselines, progress=progress)
    report = next(iter(run["sets"].values()))
    return {**report, "files": {**run["files"], **report["files"]}}


# --------------------------------------------------------------------------------------------
# CLI


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    run = run_evals(settings, args.set_files, args.out, documents=args.documents, baselines=not args.no_baselines,
                    progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(format_run_summary(run))
    print(f"\nreport: {run['files']['markdown']}\n        {run['files']['json']}")
    return 1 if args.check and not run["passed"] else 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate answers on question sets (retrieval, citations, answer points, "
                                    "grounding, refusals, understanding, latency) against two baselines")
    p.add_argument("--set", dest="set_files", action="append", metavar="FILE",
                   help="questions JSONL, repeatable (default: eval/questions.jsonl, eval/heldout.jsonl, "
                        "eval/blind/dev.jsonl … dev4.jsonl, eval/blind/test.jsonl, those that exist)")
    p.add_argument("--documents", action="append", metavar="DIR",
                   help="add this folder's documents to a temporary copy of the corpus for every set, repeatable "
                        "(default: per set, its <set>.documents sidecar, or eval/documents when its items name "
                        "documents there)")
    p.add_argument("--out", metavar="DIR", help="report folder (default: eval/reports/latest/)")
    p.add_argument("--no-baselines", action="store_true", help="skip the BM25-only and naive llama-index baselines")
    p.add_argument("--check", action="store_true", help="exit 1 when a gated set misses eval/thresholds.toml")
    p.set_defaults(func=cmd_eval)
