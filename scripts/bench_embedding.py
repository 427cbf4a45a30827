"""Embedding speed of the two backends (embed_backend torch / onnx) on this machine.

    .venv/bin/python scripts/bench_embedding.py [--backends torch,onnx] [--rounds 1] [--json]

Each backend runs in its own child process (torch's thread count is per process), one after the
other, with the bundled model:
- queries: one question at a time through `get_query_embedding` (what an answer does), one thread
  (what each of the app's two queue workers gets); the eval questions (questions.jsonl,
  heldout.jsonl and the blind dev split), after 20 warm-up questions; median / p95 wall time and
  mean CPU time per question (CPU time is what other work on the same cores does not inflate);
- passages: every clause of the corpus as the index build embeds it (`get_text_embedding_batch`,
  embed_batch_size, embed_threads threads); passages per second, wall and CPU.
The 1-minute load average is printed at the start and end of each child.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WARMUP = 20


def _questions() -> list[str]:
    seen: dict[str, None] = {}
    for name in ("questions.jsonl", "heldout.jsonl", "blind/dev.jsonl"):
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(json.loads(line)["question"], None)
    return list(seen)


def _passages(settings) -> list[str]:
    from assistant.ingest.corpus import corpus_files, parse_file

    return [c.index_text for f in corpus_files(settings) for c in parse_file(f.path, f.doc_id, settings).clauses]


def _child(backend: str) -> dict:
    from assistant.config import load_settings
    from assistant.index.embedding import get_embed_model

    load_start = os.getloadavg()[0]
    result: dict = {"backend": backend, "load_avg_start": round(load_start, 2)}

    model = get_embed_model(load_settings(embed_backend=backend, embed_threads=1))
    result["class"] = type(model).__name__
    questions = _questions()
    for q in questions[:WARMUP]:
        model.get_query_embedding(q)
    walls, cpu0 = [], time.process_time()
    for q in questions:
        t = time.perf_counter()
        model.get_query_embedding(q)
        walls.append((time.perf_counter() - t) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / len(questions)
    walls.sort()
    result["queries"] = {"n": len(questions), "median_ms": round(statistics.median(walls), 2),
                         "p95_ms": round(walls[int(0.95 * (len(walls) - 1))], 2), "cpu_ms": round(cpu, 2),
                         "mean_chars": round(statistics.mean(map(len, questions)), 1)}

    settings = load_settings(embed_backend=backend)   # the build's threads and batch size
    model = get_embed_model(settings)
    passages = _passages(settings)
    model.get_text_embedding_batch(passages[:settings.model.embed_batch_size])   # warm-up
    t, c = time.perf_counter(), time.process_time()
    model.get_text_embedding_batch(passages)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    result["passages"] = {"n": len(passages), "threads": settings.model.embed_threads, "batch": settings.model.embed_batch_size,
                          "per_s": round(len(passages) / wall, 1), "cpu_s_per_100": round(100 * cpu / len(passages), 2)}
    result["load_avg_end"] = round(os.getloadavg()[0], 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="torch,onnx")
    parser.add_argument("--rounds", type=int, default=1, help="times each backend is run (alternating)")
    parser.add_argument("--json", action="store_true", help="one object per child run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return 0
    for _ in range(args.rounds):
        for backend in args.backends.split(","):
            out = subprocess.run([sys.executable, __file__, "--child", backend], capture_output=True, text=True,
                                 check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            if args.json:
                print(json.dumps(r))
                continue
            q, p = r["queries"], r["passages"]
            print(f"{backend:5} ({r['class']}): query (1 thread, {q['n']} questions) median {q['median_ms']} ms, "
                  f"p95 {q['p95_ms']} ms, CPU {q['cpu_ms']} ms; passages ({p['n']}, {p['threads']} threads, batch "
                  f"{p['batch']}) {p['per_s']}/s, CPU {p['cpu_s_per_100']} s per 100; load "
                  f"{r['load_avg_start']} -> {r['load_avg_end']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
