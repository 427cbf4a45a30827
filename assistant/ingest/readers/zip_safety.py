"""Checks on a .docx archive (zip bombs, hostile directories) before zipfile or python-docx unpack it."""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import Iterator

from assistant.ingest.readers.base import DocumentRejected, ReaderLimits, _human_size

_ZIP_END_RECORD = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP_END_SIGNATURE = b"PK\x05\x06"
_ZIP_CENTRAL_SIGNATURE = b"PK\x01\x02"
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_ZIP_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP_MAX_COMMENT = 0xFFFF
_ZIP64_MARKER = 0xFFFFFFFF
_ZIP_ENCRYPTED_FLAG = 0x1
# Output of one inflate step: the most memory a member can take while it is checked.
_INFLATE_CHUNK = 1 << 16
# Word keeps embedded workbooks and chart data (.xlsx, themselves zips) here; python-docx keeps
# them as opaque blobs and nothing ever unpacks them, so only there is a nested archive normal.
_DOCX_EMBEDDINGS = "word/embeddings/"
# Not gzip: compressed pictures (.emz/.wmz, from WPS and converted .doc files) start like one.
_NESTED_ARCHIVE_MAGIC = (b"PK\x03\x04", b"7z\xbc\xaf\x27\x1c", b"Rar!")
_MAGIC_PREFIX = max(len(magic) for magic in _NESTED_ARCHIVE_MAGIC)


def _damaged_docx(name: str, detail: str) -> DocumentRejected:
    return DocumentRejected(name, "Word 文档已损坏，无法读取", f"damaged .docx: {detail}")


def _suspicious_docx(name: str, reason_zh: str, reason_en: str) -> DocumentRejected:
    return DocumentRejected(name, f"Word 文档{reason_zh}，疑似恶意构造的文件，不予读取", reason_en)


def _member_label(member: str) -> str:
    return ascii(member[:80])  # a hostile name may hold control characters or be endless


def _check_zip_member_count(data: bytes, name: str, limits: ReaderLimits) -> None:
    """Refuse a zip with too many members before ``zipfile`` builds an object for each one.

    zipfile reads the whole central directory up front, roughly 600 bytes of Python objects per
    46-byte entry, so a 20 MB zip of empty entries costs a few hundred MB before any check on
    the ZipFile could run. The entries are counted by their signature inside the directory the
    end record points at, which is what zipfile will read; without a plain end record (zip64,
    or none at all) the whole file is searched, which can only over-count.
    """
    start, end = 0, len(data)
    record = data.rfind(_ZIP_END_SIGNATURE, max(0, len(data) - _ZIP_END_RECORD.size - _ZIP_MAX_COMMENT))
    if record >= 0 and record + _ZIP_END_RECORD.size <= len(data):
        directory_size = _ZIP_END_RECORD.unpack_from(data, record)[5]
        if directory_size != _ZIP64_MARKER:
            start, end = max(0, record - directory_size), record
    members = data.count(_ZIP_CENTRAL_SIGNATURE, start, end)
    if members > limits.max_archive_members:
        raise _too_many_members(name, members, limits)


def _too_many_members(name: str, members: int, limits: ReaderLimits) -> DocumentRejected:
    return _suspicious_docx(
        name,
        f"内含 {members:,} 个部件，超过上限 {limits.max_archive_members:,} 个",
        f"the archive holds {members:,} members, limit {limits.max_archive_members:,}",
    )


def _inspect_docx_archive(archive: zipfile.ZipFile, data: bytes, name: str, limits: ReaderLimits) -> None:
    """Inflate every member in small chunks, counting what really comes out, before python-docx runs.

    The sizes in the zip directory are claims: a bomb declares a few KB and inflates to GB, and
    zipfile's ``read()`` inflates a whole member in one call (up to 2 GB) before it notices.
    Here nothing larger than one chunk is ever held, and the file is refused as soon as the
    running total, a member's real compression ratio, or a member's declared size is exceeded.
    """
    infos = archive.infolist()
    if len(infos) > limits.max_archive_members:
        raise _too_many_members(name, len(infos), limits)
    seen: set[str] = set()
    for info in infos:
        member = info.filename
        if len(member) > limits.max_member_name_chars:
            raise _suspicious_docx(
                name, "内有名称过长的部件",
                f"a member name is {len(member):,} characters long, limit {limits.max_member_name_chars:,}",
            )
        if member in seen:  # python-docx would read one of them; which one is the attacker's choice
            raise _suspicious_docx(name, "内有重名的部件", f"two members are named {_member_label(member)}")
        seen.add(member)
        if info.flag_bits & _ZIP_ENCRYPTED_FLAG:
            raise DocumentRejected(name, "Word 文档的内容已加密，无法读取", "the .docx has encrypted members")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # OOXML allows only these two; bzip2/lzma also inflate without any output bound in zipfile.
            raise DocumentRejected(
                name, "Word 文档使用了不支持的压缩方式，无法读取",
                f"member {_member_label(member)} uses zip compression method {info.compress_type}; "
                "a .docx uses only stored or deflated members",
            )
    unpacked = 0
    for info in infos:
        unpacked = _verify_docx_member(data, info, name, limits, unpacked)


def _verify_docx_member(data: bytes, info: zipfile.ZipInfo, name: str, limits: ReaderLimits, unpacked: int) -> int:
    """Inflate one member, checking it as it comes out; return the archive's running unpacked total."""
    member = _member_label(info.filename)
    payload = _member_payload(data, info, name)
    produced = 0
    crc = 0
    head = b""
    try:
        for chunk, consumed in _inflate_chunks(payload, info.compress_type):
            produced += len(chunk)
            unpacked += len(chunk)
            crc = zlib.crc32(chunk, crc)
            if len(head) < _MAGIC_PREFIX:
                head += chunk[: _MAGIC_PREFIX - len(head)]
            if unpacked > limits.max_unpacked_bytes:
                raise _suspicious_docx(
                    name, f"解压后超过 {_human_size(limits.max_unpacked_bytes)}",
                    f"the archive inflates past {limits.max_unpacked_bytes:,} bytes, the limit",
                )
            ratio = produced / max(consumed, 1)
            if produced > limits.ratio_check_after_bytes and ratio > limits.max_compression_ratio:
                raise _suspicious_docx(
                    name, f"内有压缩比超过 {limits.max_compression_ratio:g}:1 的部件（压缩炸弹）",
                    f"member {member} inflates more than {limits.max_compression_ratio:g} times its compressed size",
                )
            if produced > info.file_size:
                raise _suspicious_docx(
                    name, "的压缩目录与实际内容不符：部件解压后远大于声明的大小（压缩炸弹）",
                    f"member {member} declares {info.file_size:,} bytes but inflates to more",
                )
    except zlib.error as exc:
        raise _damaged_docx(name, f"member {member}: {exc}") from exc
    if produced != info.file_size or crc != info.CRC:
        raise _damaged_docx(name, f"member {member} does not match its size or checksum")
    if head.startswith(_NESTED_ARCHIVE_MAGIC) and not info.filename.startswith(_DOCX_EMBEDDINGS):
        raise _suspicious_docx(name, "内嵌了压缩包", f"member {member} is itself an archive")
    return unpacked


def _member_payload(data: bytes, info: zipfile.ZipInfo, name: str) -> memoryview:
    """The member's compressed bytes, located through its local header as zipfile does."""
    offset = info.header_offset
    if offset < 0 or offset + _ZIP_LOCAL_HEADER.size > len(data):
        raise _damaged_docx(name, f"member {_member_label(info.filename)} lies outside the file")
    fields = _ZIP_LOCAL_HEADER.unpack_from(data, offset)
    if fields[0] != _ZIP_LOCAL_SIGNATURE:
        raise _damaged_docx(name, f"member {_member_label(info.filename)} has no local header")
    name_length, extra_length = fields[9], fields[10]
    start = offset + _ZIP_LOCAL_HEADER.size + name_length + extra_length
    end = start + info.compress_size
    if end > len(data):
        raise _damaged_docx(name, f"member {_member_label(info.filename)} runs past the end of the file")
    return memoryview(data)[start:end]


def _inflate_chunks(payload: memoryview, method: int) -> Iterator[tuple[bytes, int]]:
    """Yield (at most _INFLATE_CHUNK bytes of output, compressed bytes consumed so far).

    Input goes in in chunks too: ``unconsumed_tail`` is a copy, and copying the rest of a large
    member after every output chunk would be quadratic.
    """
    if method == zipfile.ZIP_STORED:
        for start in range(0, len(payload), _INFLATE_CHUNK):
            end = min(start + _INFLATE_CHUNK, len(payload))
            yield bytes(payload[start:end]), end
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # zip members are raw deflate streams
    fed = 0
    while not inflater.eof:
        pending: bytes | memoryview
        if inflater.unconsumed_tail:
            pending = inflater.unconsumed_tail
        else:
            pending = payload[fed:fed + _INFLATE_CHUNK]
            fed += len(pending)
        out = inflater.decompress(pending, _INFLATE_CHUNK)
        if out:
            yield out, fed - len(inflater.unconsumed_tail)
        elif not pending:  # all input used, nothing more comes out, and the stream has not ended
            raise zlib.error("the compressed data ends early")
