"""The clause index: llama-index VectorStoreIndex over a FAISS inner-product store, under index/.

Layout of `index/`:
    CURRENT               the name of the live build (replaced atomically)
    .lock                 held by whoever changes corpus/ or index/ (one at a time)
    build-<stamp>/        docstore.json, index_store.json, default__vector_store.json (FAISS),
                          id_map.json, …, and manifest.json (written last: the size and sha256 of every
                          other file, the vector count, dimension and clause count)
A build is written beside the live one and becomes live only when CURRENT is swapped, so a crash
mid-build leaves the previous index intact. Loading verifies the live build against its manifest
(checksums, FAISS size and dimension, id map against docstore); a missing, partial or inconsistent
build raises IndexCorrupt and is rebuilt with a message on stderr.

Whoever takes the lock first finishes what a killed process left (`recover`): an interrupted remove
is rolled back or completed, an interrupted add finished, temporary files and abandoned builds
deleted; each is reported on stderr.

The stock FAISS stores lack what incremental updates need: `FaissVectorStore` cannot delete, and
`FaissMapVectorStore` deletes by node id only (its `delete(ref_doc_id)` is a no-op for documents)
and reuses ids after a delete (`ntotal` shrinks, so a new vector can take a live id).
`ClauseVectorStore` fixes both: ids grow monotonically, and deleting a document removes every
node whose id is `<doc_id>/…` (clause ids are structural, see structure.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from filelock import FileLock, Timeout
from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.vector_stores.faiss import FaissMapVectorStore

from assistant.atomic_file import atomic_write, stale_temp_files
from assistant.errors import AssistantError
from assistant.config import Settings
from assistant.ingest.corpus import SUPPORTED_SUFFIXES, corpus_files, parse_file
from assistant.index.embedding import embedding_dimension, get_embed_model, model_id
from assistant.ingest.structure import PARSER_VERSION, Clause, Document

log = logging.getLogger(__name__)

# 2: the manifest records every build file's size and sha256, the vector count and the clause count.
INDEX_FORMAT = 2
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
LOCK = ".lock"
BUILD_NAME = re.compile(r"build-[0-9A-Za-z]+")
# What llama-index must find in a build; the manifest lists these and whatever else persist wrote.
REQUIRED_FILES = ("docstore.json", "index_store.json", "default__vector_store.json", "id_map.json")
# Marks a kill -9 leaves behind in corpus/ (and overrides/): `.<file>.removing` is a document moved
# aside by a remove that has not finished, `.<file>.adding` a document an add had not yet indexed.
REMOVING = ".removing"
ADDING = ".adding"
CLAUSE_FIELDS = ("id", "doc_id", "kind", "heading_path", "text", "start", "end", "units", "deadline",
                 "doc_title", "part")


class IndexCorrupt(AssistantError, RuntimeError):
    """The index on disk cannot be used as it is; it will be rebuilt. `problems` says what failed."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class IndexOutdated(IndexCorrupt):
    """The index was written by another version of this program (not damaged, but rebuilt too)."""


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
    files: dict[str, dict] = field(default_factory=dict)   # file name -> {"size", "sha256"}
    vector_count: int = 0
    clause_count: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "Manifest":
        """Check the shape of a manifest read from disk; raises IndexCorrupt naming what is wrong."""
        if not isinstance(data, dict):
            raise IndexCorrupt("manifest is not a JSON object")
        fmt = data.get("index_format")
        if fmt != INDEX_FORMAT:
            raise IndexOutdated(f"index format {fmt!r} is not this program's ({INDEX_FORMAT})")
        kinds = {"embed_model": str, "dimension": int, "parser_version": str, "documents": dict, "built_at": str,
                 "build_seconds": (int, float), "index_format": int, "files": dict, "vector_count": int,
                 "clause_count": int}
        problems = [f"manifest field {name!r} missing or of the wrong type" for name, kind in kinds.items()
                    if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool)]
        problems += [f"manifest has an unknown field {name!r}" for name in data if name not in kinds]
        for doc_id, doc in data.get("documents", {}).items() if isinstance(data.get("documents"), dict) else ():
            if not (isinstance(doc, dict) and isinstance(doc.get("sha256"), str) and isinstance(doc.get("meta"), dict)
                    and isinstance(doc.get("clauses"), list) and all(isinstance(c, str) for c in doc["clauses"])):
                problems.append(f"manifest entry of document {doc_id!r} is malformed")
        for name, entry in data.get("files", {}).items() if isinstance(data.get("files"), dict) else ():
            if not (isinstance(entry, dict) and isinstance(entry.get("size"), int)
                    and isinstance(entry.get("sha256"), str)):
                problems.append(f"manifest entry of file {name!r} is malformed")
        if problems:
            raise IndexCorrupt("; ".join(problems), problems)
        return cls(**data)


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


# --- reading and verifying ---------------------------------------------------------------------

def _live_build(index_dir: Path) -> Path | None:
    """The folder CURRENT names (not checked: see `_checked_live_build`); None when there is no CURRENT."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    return index_dir / name


def _checked_live_build(index_dir: Path) -> Path | None:
    build = _live_build(index_dir)
    if build is None:
        return None
    # A hand-edited pointer must not send the loader (or the cleanup) outside index/.
    if not BUILD_NAME.fullmatch(build.name) or build.parent != index_dir:
        raise IndexCorrupt(f"{CURRENT} does not name a build folder ({build.name[:60]!r})")
    if not build.is_dir():
        raise IndexCorrupt(f"{CURRENT} names {build.name}, which does not exist")
    return build


def read_manifest(index_dir: Path) -> Manifest | None:
    """The live build's manifest, its shape checked (not the files it describes); None before the
    first build. Raises IndexCorrupt (IndexOutdated for another program version's index)."""
    build = _checked_live_build(index_dir)
    if build is None:
        return None
    try:
        data = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"manifest unreadable ({type(exc).__name__}: {exc})") from exc
    return Manifest.from_dict(data)


def _digest(path: Path, *, sync: bool = False) -> tuple[int, str]:
    """Size and sha256 of a file; `sync` also flushes it to disk (a build is hashed once, when written)."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
            size += len(chunk)
        if sync:
            os.fsync(handle.fileno())
    return size, sha.hexdigest()


def _check_files(build: Path, manifest: Manifest) -> list[str]:
    problems = [f"manifest does not list {name}" for name in REQUIRED_FILES if name not in manifest.files]
    for name, entry in sorted(manifest.files.items()):
        path = build / name
        if "/" in name or "\\" in name or name in (".", "..", MANIFEST):
            problems.append(f"manifest lists an invalid file name {name[:60]!r}")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        else:
            size, sha = _digest(path)
            if size != entry["size"]:
                problems.append(f"{name} has {size} bytes, the manifest says {entry['size']} (truncated or rewritten)")
            elif sha != entry["sha256"]:
                problems.append(f"{name} does not match its checksum (changed after the build)")
    return problems


def _differ(what: str, have: set, want: set, limit: int = 3) -> list[str]:
    if have == want:
        return []
    missing, extra = sorted(map(str, want - have)), sorted(map(str, have - want))
    return [f"{what}: {len(missing)} missing {missing[:limit]}, {len(extra)} unexpected {extra[:limit]}"]


def _check_structure(manifest: Manifest, store: ClauseVectorStore, storage: StorageContext,
                     dimension: int | None) -> list[str]:
    """The pieces agree with each other and with the manifest: FAISS size and dimension, the id map
    in both directions, the docstore and the index struct all hold exactly the manifest's clauses."""
    problems = []
    clause_ids = [c for d in manifest.documents.values() for c in d["clauses"]]
    clauses = set(clause_ids)
    if len(clauses) != len(clause_ids):
        problems.append("manifest lists a clause twice")
    stray = [c for doc_id, d in manifest.documents.items() for c in d["clauses"] if not c.startswith(doc_id + "/")]
    if stray:
        problems.append(f"manifest lists clauses under the wrong document: {stray[:3]}")
    if manifest.clause_count != len(clause_ids):
        problems.append(f"manifest says {manifest.clause_count} clauses but lists {len(clause_ids)}")
    faiss_index = store._faiss_index
    if faiss_index.ntotal != manifest.vector_count:
        problems.append(f"FAISS holds {faiss_index.ntotal} vectors, the manifest says {manifest.vector_count}")
    if faiss_index.d != manifest.dimension:
        problems.append(f"FAISS vectors have dimension {faiss_index.d}, the manifest says {manifest.dimension}")
    if dimension is not None and faiss_index.d != dimension:
        problems.append(f"FAISS vectors have dimension {faiss_index.d}, the embedding model makes {dimension}")
    if manifest.vector_count != len(clause_ids):
        problems.append(f"manifest says {manifest.vector_count} vectors for {len(clause_ids)} clauses")
    node_to_id, id_to_node = store._node_id_to_faiss_id_map, store._faiss_id_to_node_id_map
    if len(node_to_id) != len(id_to_node) or any(id_to_node.get(i) != n for n, i in node_to_id.items()):
        problems.append("id map: its two directions disagree")
    vector_ids = faiss.vector_to_array(faiss_index.id_map).tolist() if hasattr(faiss_index, "id_map") else []
    if len(set(vector_ids)) != faiss_index.ntotal:
        problems.append("FAISS vector ids are missing or repeated")
    problems += _differ("id map ids against FAISS vector ids", set(id_to_node), set(vector_ids))
    problems += _differ("id map clauses against the manifest", set(node_to_id), clauses)
    problems += _differ("docstore clauses against the manifest", set(storage.docstore.docs), clauses)
    structs = storage.index_store.index_structs()
    if len(structs) != 1:
        problems.append(f"index store holds {len(structs)} indexes, not 1")
    else:
        nodes = getattr(structs[0], "nodes_dict", {})
        problems += _differ("index store clauses against the manifest", set(nodes.values()), clauses)
    return problems


def _open_build(build: Path, manifest: Manifest, dimension: int | None) -> tuple[ClauseVectorStore, StorageContext]:
    """Read a build whose files passed their checksums, and check that its pieces agree."""
    try:
        store = ClauseVectorStore.from_persist_dir(str(build))
        storage = StorageContext.from_defaults(persist_dir=str(build), vector_store=store)
    except Exception as exc:  # any unreadable piece (truncated JSON, bad FAISS file …)
        raise IndexCorrupt(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    problems = _check_structure(manifest, store, storage, dimension)
    if problems:
        raise IndexCorrupt("; ".join(problems), problems)
    return store, storage


def _verified(settings: Settings, dimension: int | None) -> tuple[Path, Manifest, ClauseVectorStore, StorageContext]:
    build = _checked_live_build(settings.index_dir)
    if build is None:
        raise IndexCorrupt("no index built yet")
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    # Checksums first: nothing is parsed (FAISS reads sizes from the file) until the bytes are the built ones.
    problems = _check_files(build, manifest)
    if problems:
        raise IndexCorrupt("; ".join(problems), problems)
    store, storage = _open_build(build, manifest, dimension)
    return build, manifest, store, storage


def load_index(settings: Settings) -> ClauseIndex:
    """Load the live index after verifying it; raises IndexCorrupt saying what is wrong."""
    embed_model = get_embed_model(settings)
    build, manifest, _, storage = _verified(settings, embedding_dimension(embed_model))
    try:
        vector_index = load_index_from_storage(storage, embed_model=embed_model)
    except Exception as exc:  # whatever llama-index raises on a struct it cannot use
        raise IndexCorrupt(f"index files unreadable ({type(exc).__name__}: {exc})") from exc
    clauses = {}
    for doc in manifest.documents.values():
        for clause_id in doc["clauses"]:
            node = storage.docstore.get_node(clause_id)
            clauses[clause_id] = {**node.metadata, "index_text": node.get_content()}
    return ClauseIndex(path=build, manifest=manifest, vector_index=vector_index, clauses=clauses)


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
    lock = _lock_for(settings.index_dir) if settings.index_dir.is_dir() else None
    busy = False
    if lock is not None:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            busy = True  # a build is running: its folder is not abandoned, and CURRENT may move under us
    try:
        for attempt in range(2):
            before = _live_build(settings.index_dir)
            health = _health(settings)
            if health.healthy or not busy or _live_build(settings.index_dir) == before:
                break  # a failure while a build swapped CURRENT is checked once more
        health.busy = busy
        health.pending_recovery = [] if busy else [a.describe for a in _recovery_plan(settings)]
        return health
    finally:
        if lock is not None and not busy:
            lock.release()


def _health(settings: Settings) -> IndexHealth:
    try:
        build, manifest, _, _ = _verified(settings, None)
    except IndexCorrupt as exc:
        manifest = None
        try:
            manifest = read_manifest(settings.index_dir)
        except IndexCorrupt:
            pass
        return IndexHealth(False, exc.problems, _live_build(settings.index_dir), manifest)
    notes = []
    if manifest.embed_model != model_id(settings):
        notes.append(f"built with embedding model {manifest.embed_model}, configured is {model_id(settings)}: "
                     f"the next start rebuilds the index")
    if manifest.parser_version != PARSER_VERSION:
        notes.append("built by another parser version: the next start rebuilds the index")
    return IndexHealth(True, [], build, manifest, notes)


# --- one writer at a time, and what a killed writer left ---------------------------------------

_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()
_HELD = threading.local()   # index folder -> how deeply this thread holds its lock


def _lock_for(index_dir: Path) -> FileLock:
    index_dir.mkdir(parents=True, exist_ok=True)
    key = index_dir.resolve()
    with _LOCKS_GUARD:
        if key not in _LOCKS:
            # One object per folder, so a holder may take it again (remove -> ensure_index); the lock
            # file stays, since unlinking a lock file lets two processes lock two different files.
            _LOCKS[key] = FileLock(key / LOCK, preserve_lock_file=True)
        return _LOCKS[key]


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[bool]:
    """Hold index_dir's lock; yields True when this is the outermost hold in this thread."""
    lock = _lock_for(index_dir)
    key = index_dir.resolve()
    depths = _HELD.__dict__.setdefault("depths", {})
    with lock:
        depth = depths.get(key, 0)
        depths[key] = depth + 1
        try:
            yield depth == 0
        finally:
            depths[key] = depth


@contextmanager
def writing(settings: Settings) -> Iterator[list[str]]:
    """Hold the lock over corpus/ and index/ for a change; on the outermost hold, first finish what a
    killed earlier run left (reported on stderr; the messages are yielded)."""
    with _build_lock(settings.index_dir) as outermost:
        yield recover(settings) if outermost else []


@dataclass
class _Action:
    describe: str
    apply: Any   # () -> None


def _say(message: str) -> None:
    log.info(message)
    print(message, file=sys.stderr, flush=True)


def _hidden_mark(folder: Path, mark: str) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(mark) and p.is_file())


def _original(mark_path: Path, mark: str) -> Path:
    return mark_path.with_name(mark_path.name[1:-len(mark)])


def _in_corpus(doc_id: str, settings: Settings) -> bool:
    if not settings.corpus_dir.is_dir():
        return False
    return any(p.stem == doc_id and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
               and p.is_file() for p in settings.corpus_dir.iterdir())


def _recovery_plan(settings: Settings) -> list[_Action]:
    """What a killed add, remove or build left, and how to finish it (nothing is changed here)."""
    actions: list[_Action] = []
    try:
        manifest = read_manifest(settings.index_dir)
    except IndexCorrupt:
        manifest = None
    indexed = set(manifest.documents) if manifest else None

    # A remove moves the document (then its override) aside, publishes an index without it, then deletes
    # what it moved. Published = done: the aside goes. Otherwise — or when it cannot be told, because the
    # index is missing or unreadable — the document is put back: nothing the user did not see removed is lost.
    docs = _hidden_mark(settings.corpus_dir, REMOVING)
    overrides = _hidden_mark(settings.overrides_dir, REMOVING)
    restored: set[str] = set()
    for aside in docs + overrides:   # documents first: an override follows what became of its document
        target = _original(aside, REMOVING)
        doc_id = Path(target.name).stem
        what = "文档 document" if aside in docs else "元数据覆盖文件 override"
        if target.exists():
            restore = False
            text = (f"删除 {doc_id} 时中断，{what} {target.name} 已在原处，清除残留副本 (interrupted remove of "
                    f"{doc_id}: {target.name} is in place again, the copy moved aside is deleted)")
        else:
            if aside in docs:
                restore = indexed is None or doc_id in indexed
            else:
                restore = doc_id in restored or _in_corpus(doc_id, settings)
            if restore:
                text = (f"删除 {doc_id} 时中断，删除未生效，已恢复{what} {target.name} (interrupted remove of "
                        f"{doc_id} had not reached the index: {target.name} is restored)")
            else:
                text = (f"删除 {doc_id} 时中断，删除已生效，清除残留{what} {target.name} (interrupted remove of "
                        f"{doc_id} had reached the index: the {target.name} moved aside is deleted)")
        if restore:
            restored.add(doc_id)
            actions.append(_Action(text, lambda aside=aside, target=target: os.replace(aside, target)))
        else:
            actions.append(_Action(text, lambda aside=aside: aside.unlink(missing_ok=True)))

    # An add stores the file (atomically) under a mark, indexes it, then drops the mark. A stored file is
    # complete, so the add is finished by the build that follows; without the file nothing was added.
    for mark in _hidden_mark(settings.corpus_dir, ADDING):
        target = _original(mark, ADDING)
        doc_id = Path(target.name).stem
        if target.exists():
            text = (f"添加 {doc_id} 时中断，文件已保存，现完成索引 (interrupted add of {doc_id}: the stored "
                    f"{target.name} is kept and indexed)")
        else:
            text = f"添加 {doc_id} 时中断，未保存任何文件 (interrupted add of {doc_id}: nothing had been stored)"
        actions.append(_Action(text, lambda mark=mark: mark.unlink(missing_ok=True)))

    for folder in dict.fromkeys((settings.corpus_dir, settings.overrides_dir, settings.index_dir)):
        # `.tmp-` from atomic_writer; `.<name>.tmp` from the writers before it (`.CURRENT.tmp`, stored files).
        for tmp in sorted(set(stale_temp_files(folder)) | set(_hidden_mark(folder, ".tmp"))):
            actions.append(_Action(f"删除中断写入的临时文件 (deleting the temporary file a killed write left: {tmp})",
                                   lambda tmp=tmp: tmp.unlink(missing_ok=True)))

    try:
        live = _checked_live_build(settings.index_dir)
    except IndexCorrupt:
        live = None
    if settings.index_dir.is_dir():
        for build in sorted(settings.index_dir.glob("build-*")):
            if build != live:
                actions.append(_Action(f"删除未完成或已废弃的索引构建 (deleting the abandoned build {build.name})",
                                       lambda build=build: shutil.rmtree(build) if build.is_dir() else build.unlink()))
    return actions


def recover(settings: Settings) -> list[str]:
    """Finish what a killed process left in corpus/ and index/; call with the lock held. Each thing done
    is reported on stderr and returned."""
    done = []
    for action in _recovery_plan(settings):
        try:
            action.apply()
        except OSError as exc:
            _say(f"{action.describe} — 失败 (failed): {exc}")
            continue
        _say(action.describe)
        done.append(action.describe)
    return done


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

    current: ClauseIndex | None = None
    if rebuild:
        report.full_rebuild_reason = "requested (--rebuild)"
    else:
        try:
            current = load_index(settings)
        except IndexCorrupt as exc:
            # stderr: stdout may be the JSON a caller parses (`ask --json`).
            if _live_build(settings.index_dir) is not None and not isinstance(exc, IndexOutdated):
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
        store = current.vector_store
        for doc_id in report.removed + report.updated:
            vector_index.delete_ref_doc(doc_id, delete_from_docstore=True)
        vector_index.insert_nodes(new_nodes, show_progress=progress)

    documents = {doc_id: old_docs[doc_id] for doc_id in report.kept}
    for doc_id, doc in parsed.items():
        documents[doc_id] = {"sha256": new_hashes[doc_id], "clauses": [c.id for c in doc.clauses],
                             "meta": doc.meta.to_dict()}
    try:
        # The build folder is invisible until CURRENT names it, so llama-index may write its files in
        # place; each is then hashed and synced, and the manifest that vouches for them comes last.
        vector_index.storage_context.persist(persist_dir=str(build))
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
        _publish(settings.index_dir, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)  # the live index is untouched
        raise
    report.seconds = time.perf_counter() - started
    return load_index(settings), report
