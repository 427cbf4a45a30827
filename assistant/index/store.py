"""The clause index: the clauses, their vectors in a FAISS inner-product store, and BM25, under index/.

Layout of `index/`:
    CURRENT               the name of the live build (replaced atomically)
    .lock                 held by whoever changes corpus/ or index/ (one at a time)
    build-<stamp>/        clauses.json (every Clause, clause_file.py), vectors.faiss + id_map.json (FAISS,
                          persisted by llama-index's FaissMapVectorStore), bm25.* (lexical.py), terms.json
                          (search keys and speller words), key_grams.npz (which clauses' keys hold each
                          character and character pair, key_grams.py), and manifest.json (written last: the size and
                          sha256 of every other file, the vector count, dimension and clause count)
A build is written beside the live one and becomes live only when CURRENT is swapped, so a crash
mid-build leaves the previous index intact. Loading verifies the live build against its manifest
(checksums, FAISS size and dimension, id map and clause file against the manifest); a missing, partial
or inconsistent build raises IndexCorrupt and is rebuilt with a message on stderr.

llama-index does the embedding (its embedding models) and the FAISS store's persistence and search
API; it no longer holds the clauses. Its docstore kept every clause as a JSON node (377 MB at 100k
clauses, most of a 61 s restart and of a 4.7 GB build peak, the vectors as Python float lists on the
nodes while building), so a build now writes the typed clauses to a compact file and the vectors go
from one float32 matrix straight into FAISS. `ClauseIndex.vector_index` still gives a llama-index
VectorStoreIndex over the loaded build for whoever wants its retrievers (made on first use).

Whoever takes the lock first finishes what a killed process left (`recover`): an interrupted remove
is rolled back or completed, an interrupted add finished, temporary files and abandoned builds
deleted; each is reported on stderr.

The manifest and the verification of a build against it live in manifest.py, the lock and crash
recovery in recovery.py; their public names are importable from here too.

The stock FAISS stores lack what incremental updates need: `FaissVectorStore` cannot delete, and
`FaissMapVectorStore` deletes by node id only (its `delete(ref_doc_id)` is a no-op for documents)
and reuses ids after a delete (`ntotal` shrinks, so a new vector can take a live id).
`ClauseVectorStore` fixes both: ids grow monotonically, and deleting a document removes every
node whose id is `<doc_id>/…` (clause ids are structural, see structure.py).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from filelock import Timeout
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.data_structs import IndexDict
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.faiss import FaissMapVectorStore

from assistant.atomic_file import atomic_write
from assistant.config import Settings
from assistant.ingest.corpus import corpus_files, parse_file
from assistant.index import ann
from assistant.index.checkpoint import discard_checkpoint, embed_passages
from assistant.index.key_grams import GRAMS_FILE, KeyGrams
from assistant.index.clause_file import (CLAUSE_FIELDS, CLAUSES_FILE, TERMS_FILE, RetrievalTerms, read_clauses,
                                         read_terms, retrieval_terms, write_clauses, write_terms)
from assistant.index.embedding import embedding_dimension, get_embed_model, model_id
from assistant.index.lexical import build_lexical, has_lexical, load_lexical, save_lexical, tokenizer_for
from assistant.index.manifest import (BUILD_NAME, CURRENT, INDEX_FORMAT, MANIFEST, REQUIRED_FILES, VECTORS_FILE,
                                      IndexCorrupt, IndexOutdated, Manifest, _check_files, _check_structure,
                                      _checked_live_build, _digest, _live_build, read_manifest)
from assistant.index.recovery import ADDING, LOCK, REMOVING, _lock_for, _recovery_plan, _say, recover, writing
from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.structure import PARSER_VERSION, Clause, Document

__all__ = [
    # defined here
    "CLAUSE_FIELDS", "BuildReport", "ClauseIndex", "ClauseVectorStore", "IndexHealth", "check_index", "clause_node",
    "ensure_index", "load_index",
    # from manifest.py and recovery.py, importable from here as before
    "ADDING", "BUILD_NAME", "CURRENT", "INDEX_FORMAT", "LOCK", "MANIFEST", "REMOVING", "REQUIRED_FILES",
    "IndexCorrupt", "IndexOutdated", "Manifest", "read_manifest", "recover", "writing",
]


class ClauseVectorStore(FaissMapVectorStore):
    """FaissMapVectorStore with document deletes and ids that are never reused."""

    def add(self, nodes: list[BaseNode], **add_kwargs: Any) -> list[str]:
        """llama-index's way in (nodes carrying their embeddings); the build uses `add_vectors`."""
        ids = [node.id_ for node in nodes]
        vectors = np.asarray([node.get_embedding() for node in nodes], dtype="float32")
        self.add_vectors(ids, vectors.reshape(len(ids), self._faiss_index.d))
        return ids

    def add_vectors(self, clause_ids: list[str], vectors: np.ndarray) -> None:
        """`vectors[i]` under `clause_ids[i]`, in one FAISS call; a clause stored already is replaced."""
        present = [c for c in clause_ids if c in self._node_id_to_faiss_id_map]
        if present:
            self.delete_nodes(present)
        next_id = max(self._faiss_id_to_node_id_map, default=-1) + 1
        faiss_ids = np.arange(next_id, next_id + len(clause_ids), dtype=np.int64)
        if len(clause_ids):
            self._faiss_index.add_with_ids(np.ascontiguousarray(vectors, dtype="float32"), faiss_ids)
        for clause_id, faiss_id in zip(clause_ids, faiss_ids.tolist()):
            self._node_id_to_faiss_id_map[clause_id] = faiss_id
            self._faiss_id_to_node_id_map[faiss_id] = clause_id

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        ann.use_flat(self)  # an HNSW graph cannot delete; the build makes it again afterwards (ann.fit_index)
        prefix = ref_doc_id + "/"
        self.delete_nodes([n for n in self._node_id_to_faiss_id_map if n.startswith(prefix)])

    @property
    def size(self) -> int:
        return int(self._faiss_index.ntotal)

    def nearest(self, vector: np.ndarray, k: int, node_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """The `k` nodes (of `node_ids` when given) with the highest inner product to `vector`, best first.
        Asks FAISS for those k only; `-vector` gives the lowest."""
        params = None
        if node_ids is not None:
            wanted = np.array([self._node_id_to_faiss_id_map[n] for n in node_ids if n in self._node_id_to_faiss_id_map],
                              dtype=np.int64)
            if not len(wanted):
                return []
            if ann.is_approximate(self._faiss_index):  # a graph search misses most of a small chosen set
                return [(self._faiss_id_to_node_id_map[i], s) for i, s in
                        ann.nearest_among(self._faiss_index, vector, k, wanted)]
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(wanted))
            k = min(k, len(wanted))
        k = min(k, self.size)
        if k <= 0:
            return []
        scores, ids = self._faiss_index.search(np.asarray(vector, dtype="float32")[np.newaxis, :], k, params=params)
        return [(self._faiss_id_to_node_id_map[int(i)], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def similarity(self, vector: np.ndarray, node_ids: list[str]) -> list[float]:
        """Inner product of `vector` with each stored node of `node_ids` (read back from FAISS)."""
        faiss_ids = np.array([self._node_id_to_faiss_id_map[n] for n in node_ids], dtype=np.int64)
        stored = self._faiss_index.reconstruct_batch(faiss_ids) if len(faiss_ids) else np.zeros((0, len(vector)))
        return [float(x) for x in stored @ np.asarray(vector, dtype="float32")]

    @classmethod
    def empty(cls, dimension: int) -> "ClauseVectorStore":
        # Inner product on normalised vectors is cosine similarity.
        return cls(faiss_index=faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))



@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    clauses_embedded: int = 0
    clauses_removed: int = 0
    clauses_kept: int = 0
    seconds: float = 0.0
    full_rebuild_reason: str | None = None
    clauses_resumed: int = 0           # of clauses_embedded, taken from a killed build's checkpoint
    recovered: list[str] = field(default_factory=list)   # what an interrupted earlier run left, and what was done

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.full_rebuild_reason)

    def summary(self) -> str:
        if not self.changed:
            return f"索引已是最新 (index up to date): {len(self.kept)} 个文档, {self.clauses_kept} 条款"
        lines = []
        if self.full_rebuild_reason:
            lines.append(f"全量重建 (full rebuild): {self.full_rebuild_reason}")
        lines.append(f"新增文档 added: {', '.join(self.added) or '-'}; 更新 updated: {', '.join(self.updated) or '-'}; "
                     f"删除 removed: {', '.join(self.removed) or '-'}; 保留 kept: {len(self.kept)}")
        lines.append(f"条款 clauses: 嵌入 embedded {self.clauses_embedded}, 删除 removed {self.clauses_removed}, "
                     f"保留 kept {self.clauses_kept}; 用时 {self.seconds:.1f} s")
        if self.clauses_resumed:
            lines.append(f"其中 {self.clauses_resumed} 条取自中断构建的检查点 (of those, {self.clauses_resumed} "
                         f"came from the checkpoint of an interrupted build)")
        return "\n".join(lines)


@dataclass
class ClauseIndex:
    """A loaded index: its manifest, the clauses by id, the FAISS store, the BM25 index and the retrieval
    terms, and the embedding model that made the vectors' queries."""

    path: Path
    manifest: Manifest
    vector_store: ClauseVectorStore
    embed_model: Any
    clauses: dict[str, Clause]          # clause id -> clause, documents sorted, clauses in order
    documents: dict[str, DocumentMeta]  # doc id -> its metadata
    bm25: Any = None                    # the saved lexical index (bm25s.BM25), in the order of `clauses`
    terms: RetrievalTerms | None = None  # search keys (order of `clauses`) and speller words, saved by the build
    grams: KeyGrams | None = None        # which clauses' keys hold each character and pair, saved by the build

    @cached_property
    def vector_index(self) -> VectorStoreIndex:
        """A llama-index VectorStoreIndex over this build (its retrievers, query engines …), made on first
        use: its docstore of one node per clause is what the build no longer keeps on disk or in memory."""
        nodes = [clause_node(c) for c in self.clauses.values()]
        storage = StorageContext.from_defaults(vector_store=self.vector_store)
        storage.docstore.add_documents(nodes)
        struct = IndexDict()
        for node in nodes:
            struct.add_node(node, text_id=node.node_id)   # FAISS answers with clause ids (the id map)
        storage.index_store.add_index_struct(struct)
        return VectorStoreIndex(index_struct=struct, storage_context=storage, embed_model=self.embed_model)


def clause_node(clause: Clause) -> TextNode:
    """One clause as a llama-index node: the indexed text carries title and heading path."""
    metadata = {name: getattr(clause, name) for name in CLAUSE_FIELDS}
    metadata["heading_path"] = list(clause.heading_path)
    node = TextNode(id_=clause.id, text=clause.index_text, metadata=metadata,
                    excluded_embed_metadata_keys=list(metadata), excluded_llm_metadata_keys=list(metadata))
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=clause.doc_id)
    return node


@dataclass
class _Build:
    """The pieces of a verified build, as read from its files."""
    path: Path
    manifest: Manifest
    store: ClauseVectorStore
    clauses: list[Clause]
    terms: RetrievalTerms
    grams: KeyGrams


def _open_build(build: Path, manifest: Manifest, dimension: int | None) -> _Build:
    """Read a build whose files passed their checksums, and check that its pieces agree."""
    try:
        store = ClauseVectorStore.from_persist_path(str(build / VECTORS_FILE))
        clauses = read_clauses(build / CLAUSES_FILE)
    except Exception as exc:  # any unreadable piece (truncated JSON, bad FAISS file, a row not ours …)
        raise IndexCorrupt(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    problems = _check_structure(manifest, store, [c.id for c in clauses], dimension)
    if problems:
        raise IndexCorrupt("; ".join(problems), problems)
    try:   # one search key per clause: checked once the clauses are known to be the manifest's
        terms = read_terms(build / TERMS_FILE, len(clauses))
        grams = KeyGrams.load(build / GRAMS_FILE, terms.keys)
    except Exception as exc:
        raise IndexCorrupt(f"retrieval terms unusable ({type(exc).__name__}: {exc})") from exc
    return _Build(build, manifest, store, clauses, terms, grams)


def _verified(settings: Settings, dimension: int | None) -> _Build:
    build = _checked_live_build(settings.paths.index_dir)
    if build is None:
        raise IndexCorrupt("no index built yet")
    manifest = read_manifest(settings.paths.index_dir)
    assert manifest is not None
    # Checksums first: nothing is parsed (FAISS reads sizes from the file) until the bytes are the built ones.
    problems = _check_files(build, manifest)
    if problems:
        raise IndexCorrupt("; ".join(problems), problems)
    return _open_build(build, manifest, dimension)


def load_index(settings: Settings) -> ClauseIndex:
    """Load the live index after verifying it; raises IndexCorrupt saying what is wrong."""
    embed_model = get_embed_model(settings)
    found = _verified(settings, embedding_dimension(embed_model))
    manifest = found.manifest
    clauses = {clause.id: clause for clause in found.clauses}
    documents = {doc_id: DocumentMeta.from_dict(d["meta"]) for doc_id, d in manifest.documents.items()}
    if not has_lexical(set(manifest.files)):   # every build of this format saves one
        raise IndexCorrupt("the build has no BM25 index")
    try:
        bm25 = load_lexical(found.path, list(clauses))
    except Exception as exc:  # checksums passed, so this is a build that disagrees with itself
        raise IndexCorrupt(f"BM25 index unusable ({type(exc).__name__}: {exc})") from exc
    return ClauseIndex(path=found.path, manifest=manifest, vector_store=found.store, embed_model=embed_model,
                       clauses=clauses, documents=documents, bm25=bm25, terms=found.terms,
                       grams=found.grams)


@dataclass
class IndexHealth:
    """What `index status` reports: the live build's verification and what a next start would recover."""

    healthy: bool
    problems: list[str]
    build: Path | None = None
    manifest: Manifest | None = None
    notes: list[str] = field(default_factory=list)            # true but harmless (another model: rebuilt)
    pending_recovery: list[str] = field(default_factory=list)  # left by a killed run; done at the next start
    busy: bool = False                                         # another process holds the lock

    def to_dict(self) -> dict:
        return {**(self.manifest.to_dict() if self.manifest else {}), "healthy": self.healthy,
                "problems": self.problems, "build": str(self.build) if self.build else None, "notes": self.notes,
                "pending_recovery": self.pending_recovery, "busy": self.busy}


def check_index(settings: Settings) -> IndexHealth:
    """Verify the live index as loading does, without loading the embedding model (whose dimension is
    checked at load) and without changing anything: what a killed run left is listed, not cleared."""
    lock = _lock_for(settings.paths.index_dir) if settings.paths.index_dir.is_dir() else None
    busy = False
    if lock is not None:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            busy = True  # a build is running: its folder is not abandoned, and CURRENT may move under us
    try:
        for _attempt in range(2):
            before = _live_build(settings.paths.index_dir)
            health = _health(settings)
            if health.healthy or not busy or _live_build(settings.paths.index_dir) == before:
                break  # a failure while a build swapped CURRENT is checked once more
        health.busy = busy
        health.pending_recovery = [] if busy else [a.describe for a in _recovery_plan(settings)]
        return health
    finally:
        if lock is not None and not busy:
            lock.release()


def _health(settings: Settings) -> IndexHealth:
    try:
        found = _verified(settings, None)
    except IndexCorrupt as exc:
        manifest = None
        try:
            manifest = read_manifest(settings.paths.index_dir)
        except IndexCorrupt:
            pass
        return IndexHealth(False, exc.problems, _live_build(settings.paths.index_dir), manifest)
    manifest = found.manifest
    notes = []
    if manifest.embed_model != model_id(settings):
        notes.append(f"built with embedding model {manifest.embed_model}, configured is {model_id(settings)}: "
                     f"the next start rebuilds the index")
    if manifest.parser_version != PARSER_VERSION:
        notes.append("built by another parser version: the next start rebuilds the index")
    return IndexHealth(True, [], found.path, manifest, notes)


# --- building ----------------------------------------------------------------------------------

def _publish(index_dir: Path, build: Path) -> None:
    atomic_write(index_dir / CURRENT, build.name)
    for old in index_dir.glob("build-*"):
        if old != build:
            shutil.rmtree(old, ignore_errors=True)


def ensure_index(settings: Settings, *, rebuild: bool = False, progress: bool = False) -> tuple[ClauseIndex, BuildReport]:
    """Bring `index/` in line with `corpus/` and return it loaded, with what was done."""
    with writing(settings) as recovered:
        index, report = _ensure(settings, rebuild=rebuild, progress=progress)
    report.recovered = recovered
    return index, report


def _ensure(settings: Settings, *, rebuild: bool, progress: bool) -> tuple[ClauseIndex, BuildReport]:
    started = time.perf_counter()
    report = BuildReport()
    files = corpus_files(settings)
    embed_model = get_embed_model(settings)
    wanted_model = model_id(settings)

    current = _current_index(settings, report, rebuild=rebuild, wanted_model=wanted_model)
    old_docs = current.manifest.documents if current else {}
    new_hashes = {f.doc_id: f.sha256 for f in files}
    _compare(report, old_docs, new_hashes, files)
    if current is not None and not report.changed:
        report.seconds = time.perf_counter() - started
        return current, report

    parsed: dict[str, Document] = {f.doc_id: parse_file(f.path, f.doc_id, settings) for f in files
                                   if f.doc_id in report.added or f.doc_id in report.updated}
    new_clauses = [c for d in parsed.values() for c in d.clauses]
    report.clauses_embedded = len(new_clauses)
    report.clauses_removed = sum(len(old_docs[d]["clauses"]) for d in report.removed + report.updated)

    build = settings.paths.index_dir / f"build-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}"
    vectors, report.clauses_resumed = embed_clauses(new_clauses, embed_model, settings, progress=progress)
    store = _vectors(current, [c.id for c in new_clauses], vectors, report.removed + report.updated,
                     embedding_dimension(embed_model), settings)
    del vectors   # in FAISS now

    documents = {doc_id: old_docs[doc_id] for doc_id in report.kept}
    for doc_id, doc in parsed.items():
        documents[doc_id] = {"sha256": new_hashes[doc_id], "clauses": [c.id for c in doc.clauses],
                             "meta": doc.meta.to_dict()}
    known = dict(current.clauses) if current else {}
    known.update((c.id, c) for c in new_clauses)
    _write_build(settings, build, store, known, documents, wanted_model=wanted_model, embed_model=embed_model,
                 started=started)
    discard_checkpoint(settings.paths.index_dir)  # the build it served is live
    # The old index, the parsed documents and the written store are all on disk now: let them go before
    # the new build is loaded, or both copies would be alive at once (the peak of a large build).
    del current, parsed, new_clauses, known, store, documents
    report.seconds = time.perf_counter() - started
    return load_index(settings), report


def embed_clauses(clauses: list[Clause], embed_model: Any, settings: Settings, *,
                  progress: bool) -> tuple[np.ndarray, int]:
    """The vectors of `clauses` (float32, one row each, in order) and how many came from a killed build's
    checkpoint. Vectors are saved as they are made (checkpoint.py), so a killed build resumes from them."""
    # The indexed text is what llama-index embeds for `clause_node(c)` (every metadata key is excluded
    # from embedding), so checkpoints written by node-based builds still match.
    return embed_passages([c.id for c in clauses], [c.index_text for c in clauses], embed_model,
                          index_dir=settings.paths.index_dir, model=model_id(settings),
                          dimension=embedding_dimension(embed_model), every=settings.index.checkpoint_every,
                          progress=progress)


def _current_index(settings: Settings, report: BuildReport, *, rebuild: bool, wanted_model: str) -> ClauseIndex | None:
    """The live index, when it can be updated in place; otherwise None, with `report.full_rebuild_reason` set."""
    current: ClauseIndex | None = None
    if rebuild:
        report.full_rebuild_reason = "requested (--rebuild)"
    else:
        try:
            current = load_index(settings)
        except IndexCorrupt as exc:
            # stderr: stdout may be the JSON a caller parses (`ask --json`).
            if _live_build(settings.paths.index_dir) is not None and not isinstance(exc, IndexOutdated):
                _say(f"索引损坏，正在重建 (index is corrupt, rebuilding): {exc}")
            report.full_rebuild_reason = str(exc)
    if current is not None:
        m = current.manifest
        if m.embed_model != wanted_model:
            report.full_rebuild_reason = f"embedding model changed ({m.embed_model} -> {wanted_model})"
        elif m.parser_version != PARSER_VERSION:
            report.full_rebuild_reason = f"parser version changed ({m.parser_version} -> {PARSER_VERSION})"
        if report.full_rebuild_reason:
            current = None
    return current


def _compare(report: BuildReport, old_docs: dict[str, dict], new_hashes: dict[str, str], files: list) -> None:
    """Sort the corpus files into added, updated and kept documents, and the indexed ones gone into removed."""
    report.removed = sorted(set(old_docs) - set(new_hashes))
    for f in files:
        if f.doc_id not in old_docs:
            report.added.append(f.doc_id)
        elif old_docs[f.doc_id]["sha256"] != f.sha256:
            report.updated.append(f.doc_id)
        else:
            report.kept.append(f.doc_id)
    report.clauses_kept = sum(len(old_docs[d]["clauses"]) for d in report.kept)


def _vectors(current: ClauseIndex | None, clause_ids: list[str], vectors: np.ndarray, dropped: list[str],
             dimension: int, settings: Settings) -> ClauseVectorStore:
    """A new FAISS store of `vectors` (of `clause_ids`), or the current one with the `dropped` documents
    deleted and these added; flat or HNSW as its size calls for (ann.py)."""
    store = current.vector_store if current is not None else ClauseVectorStore.empty(dimension)
    for doc_id in dropped:
        store.delete(doc_id)
    store.add_vectors(clause_ids, vectors)
    ann.fit_index(store, settings)
    return store


def _write_build(settings: Settings, build: Path, store: ClauseVectorStore, clauses: dict[str, Clause],
                 documents: dict[str, dict], *, wanted_model: str, embed_model: Any, started: float) -> None:
    """Persist the index into the new `build` folder with its manifest, and make it the live build.
    `clauses` holds at least every clause `documents` lists; they are written in load order."""
    build.mkdir(parents=True)   # a new name (a timestamp): never an existing build, which the cleanup would remove
    try:
        # The build folder is invisible until CURRENT names it, so its files are written in place;
        # each is then hashed and synced, and the manifest that vouches for them comes last.
        store.persist(str(build / VECTORS_FILE))
        ordered = [clauses[clause_id] for _, doc in sorted(documents.items()) for clause_id in doc["clauses"]]
        write_clauses(build / CLAUSES_FILE, ordered)
        # The tokenizer knows every document's place names; BM25 and the speller's words both use it.
        tokenizer = tokenizer_for([DocumentMeta.from_dict(doc["meta"]) for _, doc in sorted(documents.items())])
        save_lexical(build_lexical([c.index_text for c in ordered], tokenizer), [c.id for c in ordered], build)
        terms = retrieval_terms(ordered, tokenizer)
        write_terms(build / TERMS_FILE, terms)
        KeyGrams.from_keys(terms.keys).save(build / GRAMS_FILE)
        del ordered, tokenizer, terms
        digests = {p.name: _digest(p, sync=True) for p in sorted(build.iterdir()) if p.is_file()}
        manifest = Manifest(
            embed_model=wanted_model, dimension=embedding_dimension(embed_model), parser_version=PARSER_VERSION,
            documents=dict(sorted(documents.items())),
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 2),
            files={name: {"size": size, "sha256": sha} for name, (size, sha) in digests.items()},
            vector_count=store.size, clause_count=sum(len(d["clauses"]) for d in documents.values()),
        )
        atomic_write(build / MANIFEST, json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1))
        _publish(settings.paths.index_dir, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)  # the live index is untouched
        raise
