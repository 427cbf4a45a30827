"""One way to write a file so that readers see the old file or the new one, never half of one.

Writes go to a hidden temporary file in the same folder, are flushed to disk, then renamed over
the target. Any exception (KeyboardInterrupt included) removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TEMP_MARK = ".tmp-"


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, binary: bool = False, encoding: str = "utf-8") -> Iterator[IO]:
    """Yield a file to write; on normal exit it replaces `path` atomically, on any error it is deleted."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    with atomic_writer(path, binary=isinstance(data, bytes), encoding=encoding) as handle:
        handle.write(data)


def stale_temp_files(folder: Path) -> list[Path]:
    """Temporary files a killed writer left in `folder` (kill -9 runs no cleanup)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and TEMP_MARK in p.name and p.is_file())
