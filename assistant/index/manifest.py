"""The manifest of an index build, and verifying a build against it.

A build folder `index/build-<stamp>/` holds the clause file, the FAISS index and its id map, the BM25
files, the retrieval terms and `manifest.json`, written last: the size and sha256 of every other file, the vector count, dimension and clause count.
`CURRENT` names the live build. Reading the manifest checks its shape; `_check_files` checks the
files' sizes and checksums, `_check_structure` that the loaded pieces agree with each other and with
the manifest. Whatever fails raises IndexCorrupt (IndexOutdated: another program version's index).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import faiss

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.index.store import ClauseVectorStore

# 2: the manifest records every build file's size and sha256, the vector count and the clause count.
# 3: a clause node's metadata holds every Clause field (search_terms too), so a load rebuilds the Clause.
# 4: the clauses in a compact file of their own (clause_file.py) instead of llama-index's docstore.json,
#    FAISS in vectors.faiss, and the retriever's search keys and speller words saved (terms.json).
# 5: which clauses' search keys hold each character and character pair saved (key_grams.npz).
INDEX_FORMAT = 5
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
BUILD_NAME = re.compile(r"build-[0-9A-Za-z]+")
VECTORS_FILE = "vectors.faiss"   # faiss.write_index, by llama-index's FaissMapVectorStore.persist
ID_MAP_FILE = "id_map.json"      # written beside it by the same persist
# What a load must find in a build (clause_file.py's names, repeated here to keep this module free of
# the parser); the manifest lists these and the BM25 files.
REQUIRED_FILES = ("clauses.json", "terms.json", "key_grams.npz", VECTORS_FILE, ID_MAP_FILE)


class IndexCorrupt(AssistantError, RuntimeError):
    """The index on disk cannot be used as it is; it will be rebuilt. `problems` says what failed."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class IndexOutdated(IndexCorrupt):
    """The index was written by another version of this program (not damaged, but rebuilt too)."""


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


def _check_structure(manifest: Manifest, store: ClauseVectorStore, clause_ids: list[str],
                     dimension: int | None) -> list[str]:
    """The pieces agree with each other and with the manifest: FAISS size and dimension, the id map
    in both directions, and the clause file holds exactly the manifest's clauses, in its order."""
    problems = []
    listed = [c for d in manifest.documents.values() for c in d["clauses"]]
    clauses = set(listed)
    if len(clauses) != len(listed):
        problems.append("manifest lists a clause twice")
    stray = [c for doc_id, d in manifest.documents.items() for c in d["clauses"] if not c.startswith(doc_id + "/")]
    if stray:
        problems.append(f"manifest lists clauses under the wrong document: {stray[:3]}")
    if manifest.clause_count != len(listed):
        problems.append(f"manifest says {manifest.clause_count} clauses but lists {len(listed)}")
    faiss_index = store._faiss_index
    if faiss_index.ntotal != manifest.vector_count:
        problems.append(f"FAISS holds {faiss_index.ntotal} vectors, the manifest says {manifest.vector_count}")
    if faiss_index.d != manifest.dimension:
        problems.append(f"FAISS vectors have dimension {faiss_index.d}, the manifest says {manifest.dimension}")
    if dimension is not None and faiss_index.d != dimension:
        problems.append(f"FAISS vectors have dimension {faiss_index.d}, the embedding model makes {dimension}")
    if manifest.vector_count != len(listed):
        problems.append(f"manifest says {manifest.vector_count} vectors for {len(listed)} clauses")
    node_to_id, id_to_node = store._node_id_to_faiss_id_map, store._faiss_id_to_node_id_map
    if len(node_to_id) != len(id_to_node) or any(id_to_node.get(i) != n for n, i in node_to_id.items()):
        problems.append("id map: its two directions disagree")
    vector_ids = faiss.vector_to_array(faiss_index.id_map).tolist() if hasattr(faiss_index, "id_map") else []
    if len(set(vector_ids)) != faiss_index.ntotal:
        problems.append("FAISS vector ids are missing or repeated")
    problems += _differ("id map ids against FAISS vector ids", set(id_to_node), set(vector_ids))
    problems += _differ("id map clauses against the manifest", set(node_to_id), clauses)
    in_file = _differ("clause file clauses against the manifest", set(clause_ids), clauses)
    if not in_file and clause_ids != listed:
        # A load pairs the clauses with the BM25 rows and search keys by position.
        in_file = ["clause file lists the clauses in another order than the manifest (or one twice)"]
    return problems + in_file
