"""Exact (FAISS flat) against approximate (HNSW) dense search as the index grows: search time and recall@20.

    .venv/bin/python scripts/ann_recall.py [--sizes 1000,10000,50000,100000] [--queries 500] [--threads 1] [--json]

What it measures, per size N:
- flat: `IndexFlatIP` top-20 of one question at a time (as the dense leg asks), p50/p95 ms;
- hnsw: `IndexHNSWFlat` with the configured hnsw_m / hnsw_ef_construction / hnsw_ef_search (and the
  efSearch values of --ef), build seconds, p50/p95 ms, and recall@20: the mean share of flat's top 20
  that HNSW returns too;
- the index kind a build of that size would choose (`ann_min_clauses`).

Where the vectors come from (the corpus has 193 clauses, so larger sizes are synthetic): every clause of
the shipped corpus, every sentence of those clauses (as passages: more real points to build from) and
every question of eval/questions.jsonl and heldout.jsonl are embedded with the configured model (real
vectors, real queries). A synthetic clause vector is normalise(a + l*b + s*g): a and b two random real
clause or sentence vectors, l uniform in [0, 0.3) (a blend, so the set is a continuum and not
193 tight clusters), g a Gaussian vector of unit expected length and s = 0.35. The script prints the mean
cosine of a real vector to its nearest other real one and of a synthetic vector to its nearest real
one, to show how alike the two are. The real clause vectors are always included.
Queries are the real question vectors; with --queries larger than their number, noisy copies
(s = 0.35) of them make up the rest.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOISE = 0.35
BLEND = 0.3
K = 20


def _real_vectors(settings) -> tuple[np.ndarray, np.ndarray]:
    """(clause vectors, question vectors) of the shipped corpus and eval questions, from the real model."""
    from llama_index.core.schema import MetadataMode

    from assistant.index.embedding import get_embed_model
    from assistant.index.store import clause_node
    from assistant.ingest.corpus import corpus_files, parse_file

    model = get_embed_model(settings)
    nodes = [clause_node(c) for f in corpus_files(settings) for c in parse_file(f.path, f.doc_id, settings).clauses]
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    sentences = [s for n in nodes for s in re.findall(r"[^。；！？]{8,}[。；！？]?", n.text)]
    clauses = np.asarray(model.get_text_embedding_batch(list(dict.fromkeys(texts + sentences))), dtype=np.float32)
    questions = []
    for name in ("questions.jsonl", "heldout.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    queries = np.asarray([model.get_query_embedding(q) for q in dict.fromkeys(questions)], dtype=np.float32)
    return clauses, queries


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _noise(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.normal(scale=1 / np.sqrt(d), size=(n, d))


def synthetic(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= len(real):
        return real[:n]
    a = real[rng.integers(len(real), size=n - len(real))]
    b = real[rng.integers(len(real), size=n - len(real))]
    mixed = a + rng.uniform(0, BLEND, size=(len(a), 1)) * b + NOISE * _noise(rng, len(a), real.shape[1])
    return np.concatenate([real, _normalised(mixed)])


def _timed_search(index, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    ids, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q[np.newaxis, :], K)
        times.append((time.perf_counter() - started) * 1000)
        ids.append(found[0])
    return np.asarray(ids), times


def _pcts(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def measure(vectors: np.ndarray, queries: np.ndarray, settings, efs: list[int]) -> dict:
    import faiss

    from assistant.index.ann import recall_at_k, wants_approximate

    d = vectors.shape[1]
    flat = faiss.IndexFlatIP(d)
    flat.add(vectors)
    _timed_search(flat, queries[:20])                      # warm-up
    exact, flat_times = _timed_search(flat, queries)
    graph = faiss.IndexHNSWFlat(d, settings.index.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = settings.index.hnsw_ef_construction
    started = time.perf_counter()
    graph.add(vectors)
    build_s = time.perf_counter() - started
    row = {"size": len(vectors), "chosen": "hnsw" if wants_approximate(len(vectors), settings) else "flat",
           "flat_p50_ms": _pcts(flat_times)[0], "flat_p95_ms": _pcts(flat_times)[1], "hnsw_m": settings.index.hnsw_m,
           "hnsw_ef_construction": settings.index.hnsw_ef_construction, "hnsw_build_s": build_s, "hnsw": []}
    for ef in sorted(set(efs + [settings.index.hnsw_ef_search])):
        graph.hnsw.efSearch = ef
        _timed_search(graph, queries[:20])
        found, times = _timed_search(graph, queries)
        p50, p95 = _pcts(times)
        row["hnsw"].append({"ef_search": ef, "p50_ms": p50, "p95_ms": p95, "recall_at_20": recall_at_k(exact, found)})
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000,20000,50000,100000")
    parser.add_argument("--queries", type=int, default=0, help="queries per size (default: the real questions)")
    parser.add_argument("--ef", default="64,256,512", help="efSearch values measured beside hnsw_ef_search")
    parser.add_argument("--threads", type=int, default=0, help="FAISS threads (default: FAISS's own choice)")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import faiss

    from assistant.config import load_settings

    settings = load_settings()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    clauses, queries = _real_vectors(settings)
    if args.queries > len(queries):
        extra = queries[rng.integers(len(queries), size=args.queries - len(queries))]
        queries = np.concatenate([queries, _normalised(extra + NOISE * _noise(rng, len(extra), queries.shape[1]))])
    print(f"{len(clauses)} real clause and sentence vectors, {len(queries)} queries, FAISS threads {faiss.omp_get_max_threads()}, "
          f"ann_min_clauses {settings.index.ann_min_clauses}", file=sys.stderr)
    real_nn = np.sort(clauses @ clauses.T, axis=1)[:, -2].mean()   # [-1] is the vector itself
    sample = synthetic(clauses, len(clauses) + 2000, rng)[len(clauses):]
    print(f"mean cosine of a real vector to its nearest other real one {real_nn:.3f}; of a synthetic vector to its nearest real "
          f"one {(sample @ clauses.T).max(axis=1).mean():.3f}", file=sys.stderr)
    efs = [int(x) for x in args.ef.split(",") if x]
    for size in (int(x) for x in args.sizes.split(",")):
        row = measure(synthetic(clauses, size, rng), queries, settings, efs)
        if args.json:
            print(json.dumps(row), flush=True)
            continue
        hnsw = "; ".join(f"ef {h['ef_search']}: {h['p50_ms']:.2f}/{h['p95_ms']:.2f} ms recall@20 "
                         f"{h['recall_at_20']:.3f}" for h in row["hnsw"])
        print(f"N={size:>7} chosen {row['chosen']:<4} flat p50/p95 {row['flat_p50_ms']:.2f}/{row['flat_p95_ms']:.2f} "
              f"ms | hnsw M={row['hnsw_m']} build {row['hnsw_build_s']:.1f} s; {hnsw}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
