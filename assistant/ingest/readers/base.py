"""What every reader shares: the result, the limits, the rejection, reading the bytes, size checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

KINDS = ("text", "docx", "pdf", "html")


@dataclass(frozen=True)
class ReadResult:
    text: str
    kind: str  # one of KINDS
    encoding: str | None  # the text encoding used ("utf-8", "utf-8-sig", "gb18030", ...); None for docx/pdf
    sha256: str  # hex digest of the raw file bytes
    notes: tuple[str, ...] = ()  # non-fatal remarks for the user (extension mismatch, pages without text)


class DocumentRejected(AssistantError):
    """The file cannot be ingested. ``str(exc)`` names the file and says why, in plain words."""

    def __init__(self, filename: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(f"{filename}: {reason_zh}（{reason_en}）")
        self.filename = filename
        self.reason_zh = reason_zh
        self.reason_en = reason_en


@dataclass(frozen=True)
class ReaderLimits:
    """What a reader refuses before spending memory on a file (see the settings of the same names)."""
    max_bytes: int = 20_000_000
    max_unpacked_bytes: int = 60_000_000
    max_compression_ratio: float = 100.0
    max_archive_members: int = 2_000
    max_pdf_pages: int = 500
    max_text_chars: int = 5_000_000
    # Small XML parts (styles, settings) legitimately compress far past any sane ratio; only a
    # member that has already produced this much is judged by its compression ratio.
    ratio_check_after_bytes: int = 1_000_000
    # Far beyond any part name Word writes ("word/embeddings/Microsoft_Excel_Worksheet1.xlsx").
    max_member_name_chars: int = 255

    @classmethod
    def from_settings(cls, settings: Any) -> "ReaderLimits":
        return cls(max_bytes=settings.ingest.max_document_bytes, max_unpacked_bytes=settings.ingest.max_unpacked_bytes,
                   max_compression_ratio=settings.ingest.max_compression_ratio,
                   max_archive_members=settings.ingest.max_archive_members, max_pdf_pages=settings.ingest.max_pdf_pages,
                   max_text_chars=settings.ingest.max_text_chars)


def _human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} KB"
    return f"{n} B"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    name = path.name
    try:
        if not path.is_file():
            raise DocumentRejected(name, "不是普通文件或文件不存在", "not a regular file or does not exist")
        size = path.stat().st_size
        # Check the size before reading so an oversized upload is never loaded into memory.
        if size > max_bytes:
            raise _too_large(name, size, max_bytes)
        if size == 0:
            raise DocumentRejected(name, "文件为空", "the file is empty (0 bytes)")
        with path.open("rb") as fh:
            # read(n) allocates n bytes up front: ask for the stat size, not the limit.
            data = fh.read(size + 1)
            if len(data) > size:  # the file grew since stat(): read on up to the limit
                data += fh.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise DocumentRejected(name, "无法打开文件", f"cannot open the file: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # the file grew between stat() and read()
        raise _too_large(name, len(data), max_bytes)
    return data


def _check_text_length(chars: int, name: str, limits: ReaderLimits) -> None:
    if chars > limits.max_text_chars:
        raise DocumentRejected(
            name,
            f"文字内容 {chars:,} 字，超过上限 {limits.max_text_chars:,} 字",
            f"too much text: {chars:,} characters, limit {limits.max_text_chars:,}",
        )


def _too_large(name: str, size: int, max_bytes: int) -> DocumentRejected:
    return DocumentRejected(
        name,
        f"文件大小 {_human_size(size)} 超过上限 {_human_size(max_bytes)}",
        f"file too large: {size:,} bytes, limit {max_bytes:,} bytes",
    )
