"""`assistant bench scale`: build, restart and search an index of N synthetic clauses, FAISS and Milvus.

    assistant bench scale --sizes 1000,10000,100000 --backend faiss,milvus [--json]

The corpus: the clauses of corpus/ and eval/documents/ (parsed by the project's parser) are the sources.
Synthetic document j copies source document j mod S clause by clause, with its place names swapped for a
made-up place of the same level ("云安镇", "松宁区" …: title, issuer, aliases and every clause text), and
half of its clauses (seeded) get one sentence of another random source clause appended (recombined);
documents are added until N clauses. The questions are those of eval/questions.jsonl and heldout.jsonl,
each pointed at a synthetic copy of its document, place names swapped the same way.

The vectors: sizes up to --real-embed-max (default 1,000) are embedded by the configured model inside the
build. Larger sizes get synthetic vectors: normalise(v(a) + l*v(b) + 0.35*g), v(a) the real vector of the
clause's source clause, v(b) that of the clause whose sentence was appended (l uniform in [0, 0.3), 0 when
none), g Gaussian noise of unit expected length (the recipe of scripts/ann_recall.py). The real source
vectors are embedded once and cached under cache_dir; the embedding rate (embed_per_s) is then measured by
a real embedding run over --embed-sample source passages (batch as configured), not by the build.

What is measured, each step in a process of its own:
- build: the path below `ensure_index` (no corpus files to read): `embed_passages`, `_vectors` (flat or HNSW
  by `ann_min_clauses`), `_write_build` (FAISS, clauses, BM25, terms, key grams, manifest, the CURRENT swap)
  and `load_index`; build_s from embedding to the loaded index, rss_build_mb the process's peak RSS. For
  milvus another process then syncs that build into a new Milvus Lite file (`open_milvus`: every row
  inserted, the clause tokens by jieba); its build_s is the two together, its rss_build_mb the larger peak;
- restart: a fresh process from spawn until `load_index` + `Assistant` has answered one question;
- search: `HybridRetriever.search` over the swapped questions, query vectors uncached, after 3 warm-up
  searches: p50/p95; rss_serving_mb is that process's RSS after them;
- disk: the index folder (and Milvus Lite's file); recall_at_20: where the index is HNSW, the share of
  exact (flat) top-20 it returns for the questions' vectors; null for flat FAISS and for Milvus (FLAT).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import PROJECT_ROOT, Settings

KEYS = ("size", "backend", "build_s", "embed_per_s", "restart_s", "search_p50_ms", "search_p95_ms",
        "rss_serving_mb", "rss_build_mb", "disk_mb", "recall_at_20")
NOISE, BLEND, SEED, K = 0.35, 0.3, 20261202, 20
_A = "云霞虹岚泉溪湖岭峰川松柏枫桐梅兰竹菊金银玉翠青碧紫丹朝晨星月"
_B = "安宁丰泰和顺兴隆华盛康乐平昌源林庄桥港湾塘汇桑榆畔洲滨屿苑坪"
_SUFFIX = re.compile(r"(街道|镇|乡|新区|区|县|市|省|厅|局)$")
_SENTENCE = re.compile(r"[^。；！？]{8,}[。；！？]?")


# --- the synthetic corpus ------------------------------------------------------------------------

def _sources(settings: Settings) -> list[Any]:
    """Parsed documents of corpus/ and eval/documents/, in a fixed order."""
    from assistant.ingest.corpus import corpus_files, parse_file

    docs = []
    for folder in (settings.paths.corpus_dir, PROJECT_ROOT / "eval" / "documents"):
        local = settings.replace(corpus_dir=folder)
        docs += [parse_file(f.path, f.doc_id, local) for f in corpus_files(local)]
    return [d for d in docs if d.clauses and d.meta.place]   # not eval/documents/README.md


def _place_names(count: int, taken: set[str]) -> list[str]:
    rng = random.Random(SEED)
    bases = [a + b for a in _A for b in _B]
    rng.shuffle(bases)
    if count > len(bases):
        extra = [a + b + c for a in _A for b in _B for c in _A]
        rng.shuffle(extra)
        bases += extra
    return [b for b in bases if b not in taken][:count]


def _names(meta: Any) -> list[str]:
    """The names a source document's texts use for its place, longest first."""
    names = {meta.place, *(meta.aliases or [])} - {None, ""}
    return sorted((n for n in names if len(n) >= 2), key=len, reverse=True)


def _swap(text: str, names: list[str], place: str, base: str) -> str:
    for name in names:
        text = text.replace(name, place if _SUFFIX.search(name) else base)
    return text


def _synthetic_meta(meta: Any, doc_id: str, base: str) -> tuple[Any, str]:
    suffix = _SUFFIX.search(meta.place or "")
    place = base + (suffix.group(1) if suffix else "区")
    names = _names(meta)

    def sw(value: str | None) -> str | None:
        return _swap(value, names, place, base) if value else value

    district = place if meta.district == meta.place else meta.district
    new = dataclasses.replace(meta, doc_id=doc_id, title=sw(meta.title), issuer=sw(meta.issuer), source=sw(meta.source),
                              place=place, district=district, aliases=[place, base])
    return new, place


def synthetic_corpus(sources: list[Any], size: int) -> tuple[list[Any], dict[str, Any], list[tuple[int, int]], dict]:
    """(clauses, documents, recipe, swaps): `size` clauses; recipe[i] = (source clause a, appended source
    clause b or -1) as flat positions over the sources' clauses; swaps[source doc id] = [(doc id, names, place, base)]."""
    from assistant.ingest.structure import Clause

    flat = [c for d in sources for c in d.clauses]
    offsets = np.cumsum([0] + [len(d.clauses) for d in sources])
    rng = random.Random(SEED)
    taken = {n for d in sources for n in _names(d.meta)}
    bases = _place_names(size // 5 + len(sources) + 1, taken)
    clauses: list[Clause] = []
    documents: dict[str, Any] = {}
    recipe: list[tuple[int, int]] = []
    swaps: dict[str, list] = {}
    j = 0
    while len(clauses) < size:
        src = sources[j % len(sources)]
        doc_id = f"s{j:05d}-{src.meta.doc_id}"
        meta, place = _synthetic_meta(src.meta, doc_id, bases[j])
        names = _names(src.meta)
        documents[doc_id] = meta
        swaps.setdefault(src.meta.doc_id, []).append((doc_id, names, place, bases[j]))
        for n, clause in enumerate(src.clauses[:size - len(clauses)]):
            a, b = int(offsets[j % len(sources)]) + n, -1
            text = _swap(clause.text, names, place, bases[j])
            if rng.random() < 0.5:
                b = rng.randrange(len(flat))
                sentences = _SENTENCE.findall(flat[b].text) or [flat[b].text]
                text += _swap(rng.choice(sentences), _names(_doc_of(sources, offsets, b).meta), place, bases[j])
            clauses.append(dataclasses.replace(
                clause, id=doc_id + clause.id[len(clause.doc_id):], doc_id=doc_id, text=text,
                doc_title=meta.title or "", heading_path=tuple(_swap(h, names, place, bases[j]) for h in clause.heading_path),
                search_terms=_swap(clause.search_terms, names, place, bases[j]),
                units=[_swap(u, names, place, bases[j]) for u in clause.units]))
            recipe.append((a, b))
        j += 1
    return clauses, documents, recipe, swaps


def _doc_of(sources: list[Any], offsets: np.ndarray, position: int) -> Any:
    return sources[int(np.searchsorted(offsets, position, side="right")) - 1]


def swapped_questions(swaps: dict[str, list]) -> list[dict]:
    """The questions of questions.jsonl and heldout.jsonl that stand alone, each pointed at a synthetic copy
    of its document (seeded choice), its place names swapped."""
    rng = random.Random(SEED)
    out = []
    for name in ("questions.jsonl", "heldout.jsonl"):
        for line in (PROJECT_ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else None
            if not item or item.get("history"):
                continue
            question, doc_filter = item["question"], item.get("doc_filter")
            docs = {g["doc"] for g in item.get("gold", [])} | ({doc_filter} if doc_filter else set())
            for source in sorted(docs):
                if swaps.get(source):
                    doc_id, names, place, base = rng.choice(swaps[source])
                    question = _swap(question, names, place, base)
                    doc_filter = doc_id if doc_filter == source else doc_filter
            out.append({"question": question, "doc_filter": doc_filter if doc_filter in
                        {d for v in swaps.values() for d, *_ in v} else None})
    return out


# --- vectors --------------------------------------------------------------------------------------

def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def source_vectors(settings: Settings, texts: list[str]) -> np.ndarray:
    """Real vectors of the source clauses' indexed texts, embedded once per model and text set (cached)."""
    from assistant.index.embedding import get_embed_model, model_id

    key = hashlib.sha256(("\n\x00".join([model_id(settings), *texts])).encode()).hexdigest()[:16]
    cache = Path(settings.paths.cache_dir) / "bench-scale" / f"sources-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    vectors = np.asarray(get_embed_model(settings).get_text_embedding_batch(texts), dtype=np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def synthetic_vectors(real: np.ndarray, recipe: list[tuple[int, int]]) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    a = real[[r[0] for r in recipe]]
    b = real[[max(r[1], 0) for r in recipe]] * np.array([[r[1] >= 0] for r in recipe], dtype=np.float32)
    blend = rng.uniform(0, BLEND, size=(len(recipe), 1))
    noise = rng.normal(scale=1 / np.sqrt(real.shape[1]), size=a.shape)
    return _normalised(a + blend * b + NOISE * noise)


class SyntheticEmbedding:
    """What `embed_passages` asks of a model, answering each passage with its synthetic vector."""

    def __init__(self, vectors: dict[str, np.ndarray], batch: int) -> None:
        self.vectors, self.embed_batch_size = vectors, batch

    def get_text_embedding_batch(self, texts: list[str]) -> list[np.ndarray]:
        return [self.vectors[t] for t in texts]


def embed_rate(settings: Settings, texts: list[str]) -> float:
    """Passages per second of the configured model over `texts` (a real run, model loaded before)."""
    from assistant.index.embedding import get_embed_model

    model = get_embed_model(settings)
    model.get_text_embedding_batch(texts[:4])
    started = time.perf_counter()
    model.get_text_embedding_batch(texts)
    return len(texts) / (time.perf_counter() - started)


# --- the worker processes -----------------------------------------------------------------------

def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _disk_mb(*paths: Path) -> float:
    files = [f for path in paths for f in ([path] if path.is_file() else path.rglob("*") if path.exists() else [])]
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def build_worker(work: Path, size: int, real_embed_max: int, sample: int, milvus: bool) -> dict:
    """Make the corpus and build its index in `work`; returns the figures (also the questions, to a file)."""
    from assistant.config import load_settings
    from assistant.index import store
    from assistant.index.checkpoint import discard_checkpoint, embed_passages
    from assistant.index.embedding import embedding_dimension, get_embed_model, model_id

    settings = load_settings().replace(index_dir=work / "index")
    sources = _sources(settings)
    clauses, documents, recipe, swaps = synthetic_corpus(sources, size)
    (work / "questions.json").write_text(json.dumps(swapped_questions(swaps), ensure_ascii=False), encoding="utf-8")
    source_texts = [c.index_text for d in sources for c in d.clauses]
    model = get_embed_model(settings)
    texts = [c.index_text for c in clauses]   # what the build embeds (store.embed_clauses)
    synthetic = size > real_embed_max
    embedder: Any = model
    if synthetic:
        vectors = synthetic_vectors(source_vectors(settings, source_texts), recipe)
        embedder = SyntheticEmbedding(dict(zip(texts, vectors)), 32)
        del vectors
    by_doc: dict[str, list[str]] = {}
    for c in clauses:
        by_doc.setdefault(c.doc_id, []).append(c.id)
    manifest_docs = {d: {"sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(), "clauses": ids,
                         "meta": documents[d].to_dict()} for d, ids in by_doc.items()}
    dimension = embedding_dimension(model)
    started = time.perf_counter()
    embedded, resumed = embed_passages([c.id for c in clauses], texts, embedder, index_dir=settings.paths.index_dir,
                                 model=model_id(settings), dimension=dimension,
                                 every=settings.index.checkpoint_every, progress=False)
    embed_s = time.perf_counter() - started
    del embedder, texts
    vstore = store._vectors(None, [c.id for c in clauses], embedded, [], dimension, settings)
    del embedded
    build = settings.paths.index_dir / "build-bench"
    settings.paths.index_dir.mkdir(parents=True, exist_ok=True)
    store._write_build(settings, build, vstore, {c.id: c for c in clauses}, manifest_docs,
                       wanted_model=model_id(settings), embed_model=model, started=started)
    discard_checkpoint(settings.paths.index_dir)
    counts = {"sources": len(source_texts), "documents": len(documents)}
    del vstore, clauses, documents, manifest_docs, by_doc, sources   # on disk now: as store._ensure, not kept
    index = store.load_index(settings)
    out = {"build_s": time.perf_counter() - started, "rss_build_mb": _peak_mb(), "disk_mb": _disk_mb(work / "index"),
           "synthetic_vectors": synthetic, **counts,
           "resumed": resumed, "embed_per_s": (size - resumed) / embed_s if not synthetic else
           embed_rate(settings, sorted(source_texts, key=len)[::max(1, len(source_texts) // sample)][:sample])}
    if milvus:
        out.update(_milvus_sync(index, settings, work))
    return out


def sync_worker(work: Path) -> dict:
    """Load the built index and write all of it into a new Milvus Lite file (what a first start on Milvus does)."""
    from assistant.config import load_settings
    from assistant.index.store import load_index

    settings = load_settings().replace(index_dir=work / "index")
    return _milvus_sync(load_index(settings), settings, work)


def _milvus_sync(index: Any, settings: Settings, work: Path) -> dict:
    from assistant.index.backend import open_milvus
    from assistant.index.lexical import tokenizer_for

    local = settings.replace(vector_store="milvus", milvus_uri=str(work / "milvus.db"))
    started = time.perf_counter()
    milvus = open_milvus(index, local, tokenizer_for(index.documents.values()))
    sync_s = time.perf_counter() - started
    milvus.close()
    return {"milvus_sync_s": sync_s, "milvus_rss_build_mb": _peak_mb(), "milvus_disk_mb": _disk_mb(work / "milvus.db")}


def serve_worker(work: Path, backend: str, spawned: float) -> dict:
    """Load the index and answer one question (restart_s from `spawned`, the parent's clock at spawn), then
    time the searches."""
    from assistant.config import load_settings
    from assistant.index import ann
    from assistant.index.store import load_index
    from assistant.pipeline import Assistant

    settings = load_settings().replace(index_dir=work / "index", vector_store=backend,
                                       milvus_uri=str(work / "milvus.db") if backend == "milvus" else None)
    questions = json.loads((work / "questions.json").read_text(encoding="utf-8"))
    assistant = Assistant(settings, load_index(settings))
    assistant.ask(questions[0]["question"])
    restart_s = time.time() - spawned
    retriever = assistant.retriever
    for q in ("政务公开工作要点有哪些主要任务？", "政府信息公开申请怎么办理？", "政策解读有什么要求？"):
        retriever.search(q)
    times = []
    for q in questions:
        retriever._query_vectors.clear()  # measure the embedding, not the cache
        started = time.perf_counter()
        retriever.search(q["question"], doc_filter=q["doc_filter"])
        times.append((time.perf_counter() - started) * 1000)
    out = {"restart_s": restart_s, "search_p50_ms": float(np.percentile(times, 50)),
           "search_p95_ms": float(np.percentile(times, 95)), "rss_serving_mb": _rss_mb(), "recall_at_20": None,
           "searches": len(times)}
    faiss_index = retriever.index.vector_store._faiss_index
    if backend == "faiss" and ann.is_approximate(faiss_index):
        out["recall_at_20"] = _recall(faiss_index, np.stack([retriever.query_vector(q["question"]) for q in questions]))
    return out


def _recall(faiss_index: Any, queries: np.ndarray) -> float:
    import faiss

    from assistant.index import ann

    ids, vectors = ann._contents(faiss_index)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, ids)
    _, exact = flat.search(queries, K)
    _, found = faiss_index.search(queries, K)
    return ann.recall_at_k(exact, found)


def _worker(argv: list[str]) -> int:
    kind, work = argv[0], Path(argv[1])
    if kind == "build":
        result = build_worker(work, int(argv[2]), int(argv[3]), int(argv[4]), argv[5] == "1")
    elif kind == "sync":
        result = sync_worker(work)
    else:
        result = serve_worker(work, argv[2], float(argv[3]))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# --- the parent -------------------------------------------------------------------------------------

def _run(args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "assistant.eval.bench_scale", *args], capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"bench scale worker {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def run_scale_bench(sizes: list[int], backends: list[str], *, real_embed_max: int = 1000, embed_sample: int = 128,
                    work_dir: Path | None = None, keep: bool = False, resume: bool = False, progress: Any = None,
                    on_row: Any = None) -> list[dict]:
    """One row per size and backend (keys KEYS, plus a few notes), each also given to `on_row` when made.
    `resume` keeps what a killed run left in `work_dir` (its embedding checkpoint): the build embeds the rest."""
    keep = keep or resume
    rows = []
    env = dict(os.environ)
    base = Path(work_dir or tempfile.mkdtemp(prefix="bench-scale-"))
    for size in sizes:
        work = base / f"n{size}"
        if not resume:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        try:
            built = _run(["build", str(work), str(size), str(real_embed_max), str(embed_sample), "0"], env)
            if progress:
                progress(f"n={size}: built in {built['build_s']:.1f} s")
            for backend in backends:
                if backend == "milvus":   # a process of its own, after FAISS's figures are in
                    synced = _run(["sync", str(work)], env)
                    built.update(synced, milvus_rss_build_mb=max(built["rss_build_mb"], synced["milvus_rss_build_mb"]))
                served = _run(["serve", str(work), backend, repr(time.time())], env)
                rows.append(_row(size, backend, built, served))
                if on_row:
                    on_row(rows[-1])
                if progress:
                    progress(f"n={size} {backend}: restart {served['restart_s']:.1f} s, search p95 "
                             f"{served['search_p95_ms']:.1f} ms")
        finally:
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
    if not keep and work_dir is None:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def _row(size: int, backend: str, built: dict, served: dict) -> dict:
    milvus = backend == "milvus"
    row = {"size": size, "backend": backend,
           "build_s": built["build_s"] + (built["milvus_sync_s"] if milvus else 0.0),
           "embed_per_s": built["embed_per_s"], "restart_s": served["restart_s"],
           "search_p50_ms": served["search_p50_ms"], "search_p95_ms": served["search_p95_ms"],
           "rss_serving_mb": served["rss_serving_mb"],
           "rss_build_mb": built["milvus_rss_build_mb"] if milvus else built["rss_build_mb"],
           "disk_mb": built["disk_mb"] + (built["milvus_disk_mb"] if milvus else 0.0),
           "recall_at_20": served["recall_at_20"]}
    row = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
    row["_notes"] = {"synthetic_vectors": built["synthetic_vectors"], "documents": built["documents"],
                     "searches": served["searches"], "milvus_sync_s": built.get("milvus_sync_s"),
                     "resumed": built.get("resumed", 0)}
    return row


def describe(rows: list[dict], real_embed_max: int) -> str:
    head = ("texts: the clauses of corpus/ and eval/documents/ copied document by document, place names swapped for "
            "made-up places, half of them with a sentence of another clause appended; questions: questions.jsonl + "
            f"heldout.jsonl pointed at synthetic copies. vectors: embedded by the model up to {real_embed_max:,} "
            "clauses; above, normalise(v(a) + l*v(b) + 0.35*g) from the real vectors of the source clauses, and "
            "embed/s from a real run over a sample of source passages. build: store._vectors + _write_build + "
            "load_index (the path under ensure_index); milvus build = the same + the first sync into Milvus Lite.")
    cols = ("size", "backend", "build s", "embed/s", "restart s", "p50 ms", "p95 ms", "RSS serve MB",
            "RSS build MB", "disk MB", "recall@20")
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for r in rows:
        notes = r["_notes"]
        vals = [f"{r['size']:,}", r["backend"] + (" (synthetic vectors)" if notes["synthetic_vectors"] else "")
                + (f" ({notes['resumed']:,} vectors from the checkpoint)" if notes.get("resumed") else ""),
                f"{r['build_s']:.1f}", f"{r['embed_per_s']:.1f}", f"{r['restart_s']:.1f}", f"{r['search_p50_ms']:.1f}",
                f"{r['search_p95_ms']:.1f}", f"{r['rss_serving_mb']:,.0f}", f"{r['rss_build_mb']:,.0f}",
                f"{r['disk_mb']:,.1f}", "-" if r["recall_at_20"] is None else f"{r['recall_at_20']:.3f}"]
        lines.append("| " + " | ".join(vals) + " |")
    load = os.getloadavg()
    lines.append(f"\n{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    return "\n".join(lines)


def cmd_bench_scale(args: argparse.Namespace, settings: Settings) -> int:
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    backends = [b for b in args.backend.split(",") if b]
    if not sizes or any(n <= 0 for n in sizes) or not backends or set(backends) - {"faiss", "milvus"}:
        print("--sizes takes positive numbers, --backend faiss and/or milvus", file=sys.stderr)
        return 2
    if args.resume and not args.work_dir:
        print("--resume needs the --work-dir of the run it continues", file=sys.stderr)
        return 2
    say = None if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    rows = run_scale_bench(sizes, backends, real_embed_max=args.real_embed_max, embed_sample=args.embed_sample,
                           work_dir=Path(args.work_dir) if args.work_dir else None, keep=args.keep,
                           resume=args.resume, progress=say,
                           on_row=(lambda row: print(json.dumps({k: row[k] for k in KEYS}), flush=True))
                           if args.json else None)
    if not args.json:
        print(describe(rows, args.real_embed_max))
    return 0


def register(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("scale", help="N synthetic clauses: build, restart, search p50/p95, RSS, disk, recall@20")
    p.add_argument("--sizes", default="1000,10000,100000", help="clause counts (default 1000,10000,100000)")
    p.add_argument("--backend", default="faiss,milvus", help="faiss, milvus or both (default both)")
    p.add_argument("--real-embed-max", type=int, default=1000,
                   help="largest size embedded by the model; above it vectors are synthesised (default 1000)")
    p.add_argument("--embed-sample", type=int, default=128, help="passages of the real embedding-rate run (default 128)")
    p.add_argument("--work-dir", help="where the indexes are built (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the built indexes")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run in --work-dir from its embedding checkpoint (implies --keep)")
    p.add_argument("--json", action="store_true", help="one JSON object per size and backend: " + ", ".join(KEYS))
    p.set_defaults(func=cmd_bench_scale)


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
