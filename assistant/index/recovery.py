"""One writer at a time over corpus/ and index/, and finishing what a killed writer left.

Whoever takes the lock first finishes what a killed process left (`recover`): an interrupted remove
is rolled back or completed, an interrupted add finished, temporary files and abandoned builds
deleted; each is reported on stderr.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from assistant.atomic_file import stale_temp_files
from assistant.config import Settings
from assistant.index.manifest import IndexCorrupt, _checked_live_build, read_manifest
from assistant.ingest.corpus import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

LOCK = ".lock"
# Marks a kill -9 leaves behind in corpus/ (and overrides/): `.<file>.removing` is a document moved
# aside by a remove that has not finished, `.<file>.adding` a document an add had not yet indexed.
REMOVING = ".removing"
ADDING = ".adding"

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
    with _build_lock(settings.paths.index_dir) as outermost:
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
    if not settings.paths.corpus_dir.is_dir():
        return False
    return any(p.stem == doc_id and p.suffix.lower() in SUPPORTED_SUFFIXES and not p.name.startswith(".")
               and p.is_file() for p in settings.paths.corpus_dir.iterdir())


def _recovery_plan(settings: Settings) -> list[_Action]:
    """What a killed add, remove or build left, and how to finish it (nothing is changed here)."""
    actions: list[_Action] = []
    try:
        manifest = read_manifest(settings.paths.index_dir)
    except IndexCorrupt:
        manifest = None
    indexed = set(manifest.documents) if manifest else None

    # A remove moves the document (then its override) aside, publishes an index without it, then deletes
    # what it moved. Published = done: the aside goes. Otherwise — or when it cannot be told, because the
    # index is missing or unreadable — the document is put back: nothing the user did not see removed is lost.
    docs = _hidden_mark(settings.paths.corpus_dir, REMOVING)
    overrides = _hidden_mark(settings.paths.overrides_dir, REMOVING)
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
    for mark in _hidden_mark(settings.paths.corpus_dir, ADDING):
        target = _original(mark, ADDING)
        doc_id = Path(target.name).stem
        if target.exists():
            text = (f"添加 {doc_id} 时中断，文件已保存，现完成索引 (interrupted add of {doc_id}: the stored "
                    f"{target.name} is kept and indexed)")
        else:
            text = f"添加 {doc_id} 时中断，未保存任何文件 (interrupted add of {doc_id}: nothing had been stored)"
        actions.append(_Action(text, lambda mark=mark: mark.unlink(missing_ok=True)))

    for folder in dict.fromkeys((settings.paths.corpus_dir, settings.paths.overrides_dir, settings.paths.index_dir)):
        # `.tmp-` from atomic_writer; `.<name>.tmp` from the writers before it (`.CURRENT.tmp`, stored files).
        for tmp in sorted(set(stale_temp_files(folder)) | set(_hidden_mark(folder, ".tmp"))):
            actions.append(_Action(f"删除中断写入的临时文件 (deleting the temporary file a killed write left: {tmp})",
                                   lambda tmp=tmp: tmp.unlink(missing_ok=True)))

    try:
        live = _checked_live_build(settings.paths.index_dir)
    except IndexCorrupt:
        live = None
    if settings.paths.index_dir.is_dir():
        for build in sorted(settings.paths.index_dir.glob("build-*")):
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
