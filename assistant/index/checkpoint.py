"""Resumable embedding: vectors saved as they are made, so a killed build starts where it stopped.

A 100k-clause build embeds for the better part of an hour and a half on two cores; before this, a kill
(or a crash, or a reboot) threw all of it away. Now the embedding step (`embed_with_checkpoint`)
writes the vectors it has made every `checkpoint_every` passages into `index/embed-checkpoint/`,
one part file per interval, and the next build takes from there every clause whose
(clause id, sha256 of the embedded text, model id) matches, and embeds only the rest.

Why it cannot corrupt an index:
- each part is written whole into a temporary file, synced and renamed (atomic_file), so a kill leaves
  either a complete part or a temporary file, which the next run deletes;
- a part is used only when it reads back whole: the zip CRC of `np.load`, a sha256 of its vectors,
  the model id and dimension, finite unit-length vectors; anything else is deleted and re-embedded;
- a vector is reused only for the same clause id, the same text to the byte and the same model, so
  a changed document, heading or model never takes a stale vector;
- the checkpoint lives outside every build folder, and the build itself is still written beside the
  live one and published by swapping CURRENT (store.py); the checkpoint is deleted once that is done.

Passages are embedded sorted by length (short to long), so each batch pads little; each vector goes
back to its own row, so the order of the result is the order given.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from assistant.atomic_file import TEMP_MARK, atomic_write
from assistant.index.build_progress import BuildProgress

CHECKPOINT_DIR = "embed-checkpoint"
PART_GLOB = "part-*.npz"
FORMAT = 1
NORM_TOLERANCE = 1e-3   # a stored vector must be unit length within this (the models normalise)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkpoint_dir(index_dir: Path) -> Path:
    return index_dir / CHECKPOINT_DIR


def discard_checkpoint(index_dir: Path) -> None:
    """Delete the checkpoint (called once the build it served is live)."""
    shutil.rmtree(checkpoint_dir(index_dir), ignore_errors=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class EmbeddingCheckpoint:
    """The part files of one model's vectors under `index_dir/embed-checkpoint/`."""

    def __init__(self, index_dir: Path, model: str, dimension: int) -> None:
        self.folder = checkpoint_dir(index_dir)
        self.model = model
        self.dimension = dimension
        self._next = 0

    def load(self) -> dict[tuple[str, str], np.ndarray]:
        """(clause id, text sha256) -> vector, from every part that reads back whole. Temporary files a
        kill left, unreadable parts and other models' parts are deleted: none could ever be used."""
        found: dict[tuple[str, str], np.ndarray] = {}
        if not self.folder.is_dir():
            return found
        for stale in self.folder.glob(f".*{TEMP_MARK}*"):
            stale.unlink(missing_ok=True)
        for part in sorted(self.folder.glob(PART_GLOB)):
            self._next = max(self._next, _part_number(part) + 1)
            try:
                ids, hashes, vectors = self._read(part)
            except Exception as exc:  # anything unreadable or inconsistent: re-embedded, never used
                _say(f"嵌入检查点 {part.name} 不可用，已删除 (checkpoint part unusable, deleted: {exc})")
                part.unlink(missing_ok=True)
                continue
            for clause_id, digest, vector in zip(ids, hashes, vectors):
                found[(clause_id, digest)] = vector
        return found

    def _read(self, part: Path) -> tuple[list[str], list[str], np.ndarray]:
        with np.load(part, allow_pickle=False) as data:
            meta = {name: str(data[name]) for name in ("model", "digest")}
            fmt = int(data["format"])
            ids = [str(x) for x in data["ids"]]
            hashes = [str(x) for x in data["hashes"]]
            vectors = np.array(data["vectors"], dtype=np.float32)
        if fmt != FORMAT:
            raise ValueError(f"format {fmt}, not {FORMAT}")
        if meta["model"] != self.model:
            raise ValueError(f"made by another model ({meta['model']})")
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dimension) or len(hashes) != len(ids):
            raise ValueError(f"shape {vectors.shape} for {len(ids)} clauses of dimension {self.dimension}")
        if hashlib.sha256(vectors.tobytes()).hexdigest() != meta["digest"]:
            raise ValueError("vectors differ from their checksum")
        norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
        if not np.all(np.isfinite(vectors)) or np.any(np.abs(norms - 1) > NORM_TOLERANCE):
            raise ValueError("vectors not finite or not unit length")
        return ids, hashes, vectors

    def save(self, keys: list[tuple[str, str]], vectors: np.ndarray) -> Path:
        """One more part, written atomically (a temporary file synced, then renamed)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, format=np.int64(FORMAT), model=np.str_(self.model),
                 digest=np.str_(hashlib.sha256(vectors.tobytes()).hexdigest()),
                 ids=np.array([k[0] for k in keys], dtype=np.str_), hashes=np.array([k[1] for k in keys], dtype=np.str_),
                 vectors=vectors)
        part = self.folder / f"part-{self._next:06d}.npz"
        self._next += 1
        atomic_write(part, buffer.getvalue())
        return part


def _part_number(part: Path) -> int:
    try:
        return int(part.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def embed_with_checkpoint(nodes: list[Any], embed_model: Any, *, index_dir: Path, model: str, dimension: int,
                          every: int, progress: bool) -> int:
    """Give every llama-index node of `nodes` its embedding (a list of floats, as llama-index keeps it):
    `embed_passages` over the text llama-index itself would embed for each node. Returns how many were
    taken from the checkpoint. The index build calls `embed_passages` directly: at 100k clauses the
    per-node float lists alone took over a gigabyte."""
    from llama_index.core.schema import MetadataMode

    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    vectors, resumed = embed_passages([node.node_id for node in nodes], texts, embed_model, index_dir=index_dir,
                                      model=model, dimension=dimension, every=every, progress=progress)
    for node, vector in zip(nodes, vectors):
        node.embedding = vector.tolist()
    return resumed


def embed_passages(ids: list[str], texts: list[str], embed_model: Any, *, index_dir: Path, model: str,
                   dimension: int, every: int, progress: bool) -> tuple[np.ndarray, int]:
    """The vector of every passage (`ids[i]`, `texts[i]`), one float32 row each in the order given: from the
    checkpoint where it holds the same clause id, text and model, otherwise embedded here. Returns the
    vectors and how many were taken from the checkpoint.

    The rest are embedded shortest first, a batch (`embed_model.embed_batch_size`) at a time, with
    progress on stderr when `progress`; every `every` passages the new vectors are saved as a part.
    """
    keys = [(clause_id, text_hash(text)) for clause_id, text in zip(ids, texts)]
    checkpoint = EmbeddingCheckpoint(index_dir, model, dimension)
    saved = checkpoint.load()
    out = np.zeros((len(ids), dimension), dtype=np.float32)
    todo: list[int] = []
    for i, key in enumerate(keys):
        if key in saved:
            out[i] = saved[key]
        else:
            todo.append(i)
    del saved
    resumed = len(ids) - len(todo)
    if resumed:
        _say(f"从嵌入检查点恢复 {resumed} 条，需嵌入 {len(todo)} 条 (resumed {resumed} passages from the "
             f"checkpoint, {len(todo)} left to embed)")
    todo.sort(key=lambda i: len(texts[i]))   # similar lengths batched together: little padding
    meter = BuildProgress(len(todo), sum(len(texts[i]) for i in todo), enabled=progress, resumed=resumed)
    batch = max(1, int(getattr(embed_model, "embed_batch_size", 32)))
    pending: list[int] = []
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        out[chunk] = np.asarray(embed_model.get_text_embedding_batch([texts[i] for i in chunk]), dtype=np.float32)
        pending += chunk
        if len(pending) >= every or start + batch >= len(todo):
            checkpoint.save([keys[i] for i in pending], out[pending])
            pending = []
        meter.advance(len(chunk), sum(len(texts[i]) for i in chunk))
    return out, resumed
