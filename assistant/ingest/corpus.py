"""Find the documents in `corpus/`, read them (any supported format) and parse them.

Doc ids are file stems (`2024-pudong`). Parsed documents are cached per process by content
hash, so the CLI, the index and the app share one parse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError
from assistant.config import Settings
from assistant.ingest.metadata import apply_overrides
from assistant.ingest.readers import DocumentRejected, ReaderLimits, read_document
from assistant.ingest.structure import Document, StructureError, parse_document

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")


class UnknownDocument(AssistantError, KeyError):
    def __init__(self, doc_id: str, known: list[str]) -> None:
        super().__init__(doc_id)
        self.doc_id, self.known = doc_id, known

    def __str__(self) -> str:
        return f"未知文档 (unknown document) '{self.doc_id}'. 可用 (known): {', '.join(self.known) or '无'}"


@dataclass(frozen=True)
class CorpusFile:
    doc_id: str
    path: Path
    sha256: str


_PARSED: dict[tuple[str, str, str, int], Document] = {}


def corpus_files(settings: Settings) -> list[CorpusFile]:
    """The documents in the corpus folder, sorted by doc id; one file per id."""
    files: dict[str, CorpusFile] = {}
    if not settings.paths.corpus_dir.is_dir():
        return []
    for path in sorted(settings.paths.corpus_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith("."):
            if path.stem in files:
                raise DocumentRejected(f"{path.name}: 与 {files[path.stem].path.name} 的文档编号重复 "
                                       f"(two files share the doc id '{path.stem}')")
            files[path.stem] = CorpusFile(path.stem, path, _content_hash(path, settings.paths.overrides_dir))
    return [files[k] for k in sorted(files)]


def _override_bytes(doc_id: str, overrides_dir: Path) -> bytes:
    path = overrides_dir / f"{doc_id}.json"
    return path.read_bytes() if path.is_file() else b""


def _content_hash(path: Path, overrides_dir: Path) -> str:
    """The document's bytes and its override file's: editing either re-parses the document."""
    digest = hashlib.sha256(path.read_bytes())
    override = _override_bytes(path.stem, overrides_dir)
    if override:
        digest.update(b"\0override\0" + override)
    return digest.hexdigest()


def parse_file(path: Path, doc_id: str, settings: Settings) -> Document:
    """Read and parse one file; errors name the file."""
    read = read_document(path, ReaderLimits.from_settings(settings))
    override = hashlib.sha256(_override_bytes(doc_id, settings.paths.overrides_dir)).hexdigest()
    key = (doc_id, read.sha256, override, settings.ingest.max_clause_chars)
    if key not in _PARSED:
        try:
            document = parse_document(read.text, doc_id, max_clause_chars=settings.ingest.max_clause_chars)
        except StructureError as exc:
            raise StructureError(f"{path.name}: {exc}") from exc
        document.meta = apply_overrides(document.meta, settings.paths.overrides_dir)
        _PARSED[key] = document
    return _PARSED[key]


def load_corpus(settings: Settings) -> list[Document]:
    return [parse_file(f.path, f.doc_id, settings) for f in corpus_files(settings)]


def load_document(doc_id: str, settings: Settings) -> Document:
    files = {f.doc_id: f for f in corpus_files(settings)}
    if doc_id not in files:
        raise UnknownDocument(doc_id, sorted(files))
    return parse_file(files[doc_id].path, doc_id, settings)
