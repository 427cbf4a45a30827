"""The clause index: llama-index VectorStoreIndex over a FAISS inner-product store, under index/.

Layout of `index/`:
    CURRENT               the name of the live build (replaced atomically)
    build-<stamp>/        docstore.json, index_store.json, default__vector_store.json (FAISS),
                          id_map.json, manifest.json
A build is written beside the live one and becomes live only when CURRENT is swapped, so a crash
mid-build leaves the previous index intact. A missing, partial or inconsistent build is detected on
load and rebuilt with a message.

The stock FAISS stores lack what incremental updates need: `FaissVectorStore` cannot delete, and
`FaissMapVectorStore` deletes by node id only (its `delete(ref_doc_id)` is a no-op for documents)
and reuses ids after a delete (`ntotal` shrinks, so a new vector can take a live id).
`ClauseVectorStore` fixes both: ids grow monotonically, and deleting a document removes every
node whose id is `<doc_id>/…` (clause ids are structural, see structure.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.faiss import FaissMapVectorStore

from assistant.errors import AssistantError
from assistant.config import Settings
from assistant.corpus import corpus_files, parse_file
from assistant.embedding import embedding_dimension, get_embed_model, model_id
from assistant.structure import PARSER_VERSION, Clause, Document

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
CLAUSE_FIELDS = ("id", "doc_id", "kind", "heading_path", "text", "start", "end", "units", "deadline",
                 "doc_title", "part")


class IndexCorrupt(AssistantError, RuntimeError):
    """The index on disk cannot be used as it is; it will be rebuilt."""


class ClauseVectorStore(FaissMapVectorStore):
    """FaissMapVectorStore with document deletes and ids that are never reused."""

    def add(self, nodes: list[BaseNode], **add_kwargs: Any) -> list[str]:
        next_id = max(self._faiss_id_to_node_id_map, default=-1) + 1
        for node in nodes:
            if node.id_ in self._node_id_to_faiss_id_map:  # re-adding replaces
                self.delete_nodes([node.id_])
            vector = np.asarray(node.get_embedding(), dtype="float32")[np.newaxis, :]
            self._faiss_index.add_with_ids(vector, np.array([next_id], dtype=np.int64))
            self._node_id_to_faiss_id_map[node.id_] = next_id
            self._faiss_id_to_node_id_map[next_id] = node.id_
            next_id += 1
        return [node.id_ for node in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        prefix = ref_doc_id + "/"
        self.delete_nodes([n for n in self._node_id_to_faiss_id_map if n.startswith(prefix)])

    @property
    def size(self) -> int:
        return int(self._faiss_index.ntotal)

    @classmethod
    def empty(cls, dimension: int) -> "ClauseVectorStore":
        # Inner product on normalised vectors is cosine similarity.
        return cls(faiss_index=faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))


@dataclass
class Manifest:
    embed_model: str
    dimension: int
    parser_version: str
    documents: dict[str, dict]          # doc_id -> {"sha256", "clauses": [ids], "meta": {...}}
    built_at: str
    build_seconds: float
    index_format: int = INDEX_FORMAT

    @property
    def clause_count(self) -> int:
        return sum(len(d["clauses"]) for d in self.documents.values())

    def to_dict(self) -> dict:
        return asdict(self)


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
        return "\n".join(lines)


@dataclass
class ClauseIndex:
    """A loaded index: the llama-index VectorStoreIndex, its manifest, and the clauses by id."""

    path: Path
    manifest: Manifest
    vector_index: VectorStoreIndex
    clauses: dict[str, dict]            # clause id -> clause fields (see CLAUSE_FIELDS)

    @property
    def documents(self) -> dict[str, dict]:
        return {doc_id: d["meta"] for doc_id, d in self.manifest.documents.items()}

    @property
    def vector_store(self) -> ClauseVectorStore:
        return self.vector_index.vector_store  # type: ignore[return-value]


def clause_node(clause: Clause) -> TextNode:
    """One clause as a llama-index node: the indexed text carries title and heading path."""
    metadata = {name: getattr(clause, name) for name in CLAUSE_FIELDS}
    metadata["heading_path"] = list(clause.heading_path)
    node = TextNode(id_=clause.id, text=clause.index_text, metadata=metadata,
                    excluded_embed_metadata_keys=list(metadata), excluded_llm_metadata_keys=list(metadata))
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=clause.doc_id)
    return node


# --- reading -----------------------------------------------------------------------------------

def _live_build(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def read_manifest(index_dir: Path) -> Manifest | None:
    build = _live_build(index_dir)
    if build is None:
        return None
    try:
        return Manifest(**json.loads((build / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(f"manifest unreadable ({exc})") from exc


def load_index(settings: Settings) -> ClauseIndex:
    """Load the live index; raises IndexCorrupt if it is missing pieces or inconsistent."""
    build = _live_build(settings.index_dir)
    if build is None:
        raise IndexCorrupt("no index built yet")
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    try:
        store = ClauseVectorStore.from_persist_dir(str(build))
        storage = StorageContext.from_defaults(persist_dir=str(build), vector_store=store)
        vector_index = load_index_from_storage(storage, embed_model=get_embed_model(settings))
    except IndexCorrupt:
        raise
    except Exception as exc:  # any unreadable piece (truncated JSON, bad FAISS file …)
        raise IndexCorrupt(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    clauses = {}
    for doc in manifest.documents.values():
        for clause_id in doc["clauses"]:
            node = storage.docstore.get_node(clause_id, raise_error=False)
            if node is None:
                raise IndexCorrupt(f"clause {clause_id} missing from the docstore")
            clauses[clause_id] = {**node.metadata, "index_text": node.get_content()}
    if store.size != len(clauses):
        raise IndexCorrupt(f"{store.size} vectors for {len(clauses)} clauses")
    return ClauseIndex(path=build, manifest=manifest, vector_index=vector_index, clauses=clauses)


# --- building ----------------------------------------------------------------------------------

@contextmanager
def _build_lock(index_dir: Path):
    """One builder at a time (the app and the CLI may start together)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(index_dir: Path, build: Path) -> None:
    pointer_tmp = index_dir / f".{CURRENT}.tmp"
    pointer_tmp.write_text(build.name, encoding="utf-8")
    with open(pointer_tmp) as handle:
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)
    for old in index_dir.glob("build-*"):
        if old != build:
            shutil.rmtree(old, ignore_errors=True)


def ensure_index(settings: Settings, *, rebuild: bool = False, progress: bool = False) -> tuple[ClauseIndex, BuildReport]:
    """Bring `index/` in line with `corpus/` and return it loaded, with what was done."""
    with _build_lock(settings.index_dir):
        return _ensure(settings, rebuild=rebuild, progress=progress)


def _ensure(settings: Settings, *, rebuild: bool, progress: bool) -> tuple[ClauseIndex, BuildReport]:
    started = time.perf_counter()
    report = BuildReport()
    files = corpus_files(settings)
    embed_model = get_embed_model(settings)
    wanted_model = model_id(settings)

    current: ClauseIndex | None = None
    if rebuild:
        report.full_rebuild_reason = "requested (--rebuild)"
    else:
        try:
            current = load_index(settings)
        except IndexCorrupt as exc:
            if _live_build(settings.index_dir) is not None:
                log.warning("索引损坏，正在重建 (index is corrupt, rebuilding): %s", exc)
                print(f"索引损坏，正在重建 (index is corrupt, rebuilding): {exc}")
            report.full_rebuild_reason = str(exc)
    if current is not None:
        m = current.manifest
        if m.embed_model != wanted_model:
            report.full_rebuild_reason = f"embedding model changed ({m.embed_model} -> {wanted_model})"
        elif m.parser_version != PARSER_VERSION or m.index_format != INDEX_FORMAT:
            report.full_rebuild_reason = f"parser version changed ({m.parser_version} -> {PARSER_VERSION})"
        if report.full_rebuild_reason:
            current = None

    old_docs = current.manifest.documents if current else {}
    new_hashes = {f.doc_id: f.sha256 for f in files}
    report.removed = sorted(set(old_docs) - set(new_hashes))
    for f in files:
        if f.doc_id not in old_docs:
            report.added.append(f.doc_id)
        elif old_docs[f.doc_id]["sha256"] != f.sha256:
            report.updated.append(f.doc_id)
        else:
            report.kept.append(f.doc_id)
    report.clauses_kept = sum(len(old_docs[d]["clauses"]) for d in report.kept)
    if current is not None and not report.changed:
        report.seconds = time.perf_counter() - started
        return current, report

    parsed: dict[str, Document] = {f.doc_id: parse_file(f.path, f.doc_id, settings) for f in files
                                   if f.doc_id in report.added or f.doc_id in report.updated}
    new_nodes = [clause_node(c) for d in parsed.values() for c in d.clauses]
    report.clauses_embedded = len(new_nodes)
    report.clauses_removed = sum(len(old_docs[d]["clauses"]) for d in report.removed + report.updated)

    build = settings.index_dir / f"build-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}"
    if current is None:
        store = ClauseVectorStore.empty(embedding_dimension(embed_model))
        storage = StorageContext.from_defaults(vector_store=store)
        vector_index = VectorStoreIndex(new_nodes, storage_context=storage, embed_model=embed_model,
                                        show_progress=progress)
    else:
        vector_index = current.vector_index
        for doc_id in report.removed + report.updated:
            vector_index.delete_ref_doc(doc_id, delete_from_docstore=True)
        vector_index.insert_nodes(new_nodes, show_progress=progress)

    documents = {doc_id: old_docs[doc_id] for doc_id in report.kept}
    for doc_id, doc in parsed.items():
        documents[doc_id] = {"sha256": new_hashes[doc_id], "clauses": [c.id for c in doc.clauses],
                             "meta": doc.meta.to_dict()}
    manifest = Manifest(
        embed_model=wanted_model, dimension=embedding_dimension(embed_model), parser_version=PARSER_VERSION,
        documents=dict(sorted(documents.items())), built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 2),
    )
    try:
        vector_index.storage_context.persist(persist_dir=str(build))
        (build / MANIFEST).write_text(json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        _publish(settings.index_dir, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)  # the live index is untouched
        raise
    report.seconds = time.perf_counter() - started
    return load_index(settings), report
