"""Managing the knowledge base: add, remove and list the documents in `corpus/`.

`corpus/` is the source of truth and the index follows it (`assistant.index.store.ensure_index` embeds
only what changed), so adding a document is "check it, copy it into corpus/, update the index"
and removing one is "take it out of corpus/, update the index". Each operation keeps corpus/ and
the index consistent: if the index update fails, corpus/ is put back as it was. Each holds the
index lock throughout and leaves a mark (`.<file>.adding`, or the document moved aside as
`.<file>.removing`) until the index is published, so a process killed mid-way is finished or
rolled back by the next one to take the lock (`assistant.index.store.recover`).

Public API::

    preview_document(path, settings, doc_id=None) -> Preview      # raises KnowledgeError
    add_documents(paths, settings, *, doc_id=None, progress=False) -> AddReport
    remove_document(doc_id, settings) -> BuildReport               # raises UnknownDocument
    list_documents(settings) -> list[dict]
    format_document_table(rows) -> str
    register_commands(subparsers)                                  # `add`, `remove`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.atomic_file import atomic_write
from assistant.errors import AssistantError
from assistant.config import Settings
from assistant.ingest.corpus import SUPPORTED_SUFFIXES, CorpusFile, UnknownDocument, corpus_files, parse_file
from assistant.index.store import ADDING, REMOVING, BuildReport, IndexCorrupt, ensure_index, read_manifest, writing
from assistant.ingest.metadata import apply_overrides
from assistant.ingest.readers import DocumentRejected, ReadResult, ReaderLimits, read_document
from assistant.ingest.structure import Document, StructureError, parse_document

DOC_ID_RE = re.compile(r"[A-Za-z0-9_-]+")  # used with fullmatch: "$" would let a final "\n" through
MAX_DOC_ID_CHARS = 64

# Which content kind each stored suffix stands for, and the suffix a kind is stored under when
# the original one is unsupported or contradicts the content (a .docx that was named .txt).
_SUFFIX_KINDS = {".txt": "text", ".md": "text", ".docx": "docx", ".pdf": "pdf", ".html": "html", ".htm": "html"}
_KIND_SUFFIXES = {"text": ".txt", "docx": ".docx", "pdf": ".pdf", "html": ".html"}


class KnowledgeError(AssistantError, ValueError):
    """A file cannot be added (or a change cannot be made); the message names the file and says why.

    A ValueError, so the CLI reports it as a user error (exit status 2).
    """


@dataclass
class Preview:
    """What adding `path` would do: the doc id it gets, what it parses into, and remarks."""

    path: Path
    doc_id: str
    document: Document
    read: ReadResult
    suffix: str                                  # the suffix it is stored under in corpus/
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.document.meta.title or self.document.meta.label

    @property
    def clause_count(self) -> int:
        return len(self.document.clauses)


@dataclass
class Added:
    doc_id: str
    title: str
    clauses: int
    source: Path
    stored: Path
    warnings: list[str] = field(default_factory=list)


@dataclass
class Refused:
    file: Path
    reason: str


@dataclass
class AddReport:
    added: list[Added] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    index: BuildReport | None = None             # None when nothing was added (index untouched)

    def to_dict(self) -> dict:
        return {"added": [{**asdict(a), "source": str(a.source), "stored": str(a.stored)} for a in self.added],
                "refused": [{"file": str(r.file), "reason": r.reason} for r in self.refused],
                "index": asdict(self.index) if self.index else None}


# --- checking one file -------------------------------------------------------------------------

def _fingerprint(document: Document) -> str:
    """Hash of the clause texts, whitespace ignored: equal for a .txt and its .docx export."""
    joined = "\n".join("".join(c.text.split()) for c in document.clauses)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


# Fingerprints of corpus files by (raw sha256, clause size): adding a folder would otherwise
# re-read and re-parse every corpus file (PDFs are slow to read) once per added file.
_FINGERPRINTS: dict[tuple[str, int], str | None] = {}


def _corpus_fingerprint(f: CorpusFile, settings: Settings) -> str | None:
    key = (f.sha256, settings.ingest.max_clause_chars)
    if key not in _FINGERPRINTS:
        try:
            _FINGERPRINTS[key] = _fingerprint(parse_file(f.path, f.doc_id, settings))
        except (DocumentRejected, StructureError, ValueError):
            _FINGERPRINTS[key] = None  # a broken corpus file cannot equal a parsable one
    return _FINGERPRINTS[key]


def _slug(stem: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_-]+", "-", stem)).strip("-_")[:MAX_DOC_ID_CHARS]


def _default_doc_id(path: Path, document: Document, sha256: str) -> str:
    """The file stem made safe; a stem without any Latin letter ("2024年浦东新区…") says nothing,
    so the id is then `<year>-<sha8>` (or `doc-<sha8>`) — no transliteration is attempted."""
    slug = _slug(path.stem)
    if re.search(r"[A-Za-z]", slug):
        return slug
    year = document.meta.year
    return f"{year}-{sha256[:8]}" if year else f"doc-{sha256[:8]}"


def _parse(text: str, doc_id: str, settings: Settings) -> Document:
    document = parse_document(text, doc_id, max_clause_chars=settings.ingest.max_clause_chars)
    document.meta = apply_overrides(document.meta, settings.paths.overrides_dir)  # as corpus.parse_file does
    return document


def _stored_suffix(path: Path, kind: str) -> str:
    suffix = path.suffix.lower()
    return suffix if _SUFFIX_KINDS.get(suffix) == kind else _KIND_SUFFIXES[kind]


def preview_document(path: Path, settings: Settings, doc_id: str | None = None) -> Preview:
    """Check that `path` can be added and say how; raises KnowledgeError naming the file and why."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise KnowledgeError(f"{name}: 文件不存在（file not found: {path}）")
    if doc_id is not None and not (DOC_ID_RE.fullmatch(doc_id) and len(doc_id) <= MAX_DOC_ID_CHARS):
        raise KnowledgeError(f"{name}: 文档编号 '{doc_id}' 只能包含字母、数字、- 和 _"
                             f"（doc id may only use A-Z a-z 0-9 - _, at most {MAX_DOC_ID_CHARS} characters）")
    try:
        # Size limit, format by content (not by extension), encoding: all decided by the reader.
        read = read_document(path, ReaderLimits.from_settings(settings))
    except DocumentRejected as exc:
        raise KnowledgeError(str(exc)) from exc

    existing = corpus_files(settings)
    for f in existing:
        if f.sha256 == read.sha256:
            raise KnowledgeError(f"{name}: 已存在相同内容的文档 {f.doc_id}"
                                 f"（the same file is already in the corpus as '{f.doc_id}'）")

    try:
        document = _parse(read.text, doc_id or _slug(path.stem) or "new", settings)
    except StructureError as exc:
        raise KnowledgeError(f"{name}: 无法解析文档结构，未添加 — {exc}"
                             f"（no document structure found, not added）") from exc

    # The same text in another format or encoding (a .docx export of a corpus .txt) is a duplicate too.
    fingerprint = _fingerprint(document)
    for f in existing:
        if _corpus_fingerprint(f, settings) == fingerprint:
            raise KnowledgeError(f"{name}: 已存在相同内容的文档 {f.doc_id}"
                                 f"（the same text is already in the corpus as '{f.doc_id}'）")

    warnings = list(read.notes)
    taken = {f.doc_id for f in existing}
    if doc_id is not None:
        if doc_id in taken:
            raise KnowledgeError(f"{name}: 文档编号 {doc_id} 已被另一文档使用"
                                 f"（doc id '{doc_id}' is taken by a different document; remove it first "
                                 f"or choose another id）")
        final_id = doc_id
    else:
        proposed = _default_doc_id(path, document, read.sha256)
        final_id, n = proposed, 2
        while final_id in taken:  # an existing id with different content: never overwrite it
            final_id, n = f"{proposed}-{n}", n + 1
        if final_id != path.stem:
            warnings.append(f"文档编号为 {final_id}（doc id '{final_id}', the file name "
                            f"{'is taken' if proposed in taken else 'is not a usable id'}）")
    if document.doc_id != final_id:  # clause ids carry the doc id
        document = _parse(read.text, final_id, settings)

    meta = document.meta
    missing = [label for label, value in (("年份 year", meta.year), ("地区 place", meta.place)) if not value]
    if missing:
        warnings.append(f"未能识别 {'、'.join(missing)}，可在 overrides/{final_id}.json 中补充"
                        f"（metadata not recognised; add it in an override file）")
    return Preview(path=path, doc_id=final_id, document=document, read=read,
                   suffix=_stored_suffix(path, read.kind), warnings=warnings)


# --- adding ------------------------------------------------------------------------------------

def _expand(paths: list[Path]) -> tuple[list[Path], list[Refused]]:
    """Files as given; folders become every supported file inside them (recursively, sorted)."""
    files: list[Path] = []
    refused: list[Refused] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not found:
            refused.append(Refused(path, f"{path.name}: 文件夹中没有支持的文档"
                                         f"（no supported documents in the folder: {', '.join(SUPPORTED_SUFFIXES)}）"))
        files.extend(found)
    return files, refused


def _mark(stored: Path) -> Path:
    return stored.with_name(f".{stored.name}{ADDING}")


def _store(preview: Preview, settings: Settings) -> Path:
    """Copy the original bytes into corpus/ atomically, under a mark that says the add is unfinished."""
    data = preview.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != preview.read.sha256:
        raise KnowledgeError(f"{preview.path.name}: 文件在检查后被修改（the file changed while being added）")
    settings.paths.corpus_dir.mkdir(parents=True, exist_ok=True)
    target = settings.paths.corpus_dir / f"{preview.doc_id}{preview.suffix}"
    if target.exists():  # preview made the id unique; this only catches a writer that ignores the lock
        raise KnowledgeError(f"{preview.path.name}: {target.name} 已存在（{target.name} already exists）")
    atomic_write(_mark(target), "")
    try:
        atomic_write(target, data)  # hidden temporary file first: corpus_files skips it
    except BaseException:
        _mark(target).unlink(missing_ok=True)
        raise
    return target


def add_documents(paths: list[Path], settings: Settings, *, doc_id: str | None = None,
                  progress: bool = False) -> AddReport:
    """Add files and folders to the corpus, then update the index once (only new documents are
    embedded). A refused file does not stop the others. If the index update fails, every file
    added here is removed again and KnowledgeError is raised (from the original error)."""
    files, refused = _expand(paths)
    if doc_id is not None and len(files) != 1:
        raise KnowledgeError(f"--id 只能用于单个文件（--id needs exactly one file, got {len(files)}）")
    report = AddReport(refused=refused)
    # The lock is held from the first check to the published index: another writer's files cannot slip
    # between the duplicate check and the store, and a recovery never mistakes this add for a killed one.
    with writing(settings):
        for path in files:
            try:
                # Previewed one at a time after the previous file is stored, so duplicates and id
                # clashes within one batch are caught too.
                preview = preview_document(path, settings, doc_id)
                stored = _store(preview, settings)
            except (ValueError, OSError, DocumentRejected) as exc:  # KnowledgeError is a ValueError
                report.refused.append(Refused(path, str(exc)))
                continue
            except Exception as exc:  # a reader bug on one odd file must not strand the files already stored
                report.refused.append(Refused(path, f"{path.name}: 读取失败（unexpected error: "
                                                    f"{type(exc).__name__}: {exc}）"))
                continue
            report.added.append(Added(preview.doc_id, preview.title, preview.clause_count, path, stored,
                                      preview.warnings))
        if not report.added:
            return report
        try:
            _, report.index = ensure_index(settings, progress=progress)
        except BaseException as exc:
            for added in report.added:  # nothing half-added
                added.stored.unlink(missing_ok=True)
                _mark(added.stored).unlink(missing_ok=True)
            if isinstance(exc, Exception):
                raise KnowledgeError(f"索引更新失败，已撤销添加（index update failed, nothing was added）: {exc}") from exc
            raise
        for added in report.added:
            _mark(added.stored).unlink(missing_ok=True)
    return report


# --- removing ----------------------------------------------------------------------------------

def remove_document(doc_id: str, settings: Settings) -> BuildReport:
    """Take a document out of corpus/ (with its metadata override) and drop its clauses from the
    index. The files are moved aside first and only deleted once the index without them is
    published; a remove killed before that is rolled back at the next start, one killed after it
    completed (see `assistant.index.store.recover`)."""
    with writing(settings):
        files = {f.doc_id: f for f in corpus_files(settings)}
        if doc_id not in files:
            raise UnknownDocument(doc_id, sorted(files))
        moves = [(files[doc_id].path, settings.paths.corpus_dir / f".{files[doc_id].path.name}{REMOVING}")]
        override = settings.paths.overrides_dir / f"{doc_id}.json"
        if override.is_file():
            moves.append((override, settings.paths.overrides_dir / f".{override.name}{REMOVING}"))
        moved = []
        try:
            for original, aside in moves:
                os.replace(original, aside)
                moved.append((original, aside))
            _, report = ensure_index(settings)
        except BaseException as exc:
            for original, aside in moved:
                os.replace(aside, original)
            if isinstance(exc, Exception):
                raise KnowledgeError(f"{doc_id}: 索引更新失败，文档已恢复（index update failed, the document "
                                     f"was restored）: {exc}") from exc
            raise
        for _, aside in moves:
            aside.unlink(missing_ok=True)
    return report


# --- listing -----------------------------------------------------------------------------------

def list_documents(settings: Settings) -> list[dict]:
    """Every corpus document with its metadata, format (by content), size, clause count and
    whether its current content is in the live index. A file that cannot be read or parsed is
    listed with `error` instead of failing the listing."""
    try:
        manifest = read_manifest(settings.paths.index_dir)
    except IndexCorrupt:
        manifest = None
    indexed = manifest.documents if manifest else {}
    rows = []
    for f in corpus_files(settings):
        row: dict = {"doc_id": f.doc_id, "title": None, "year": None, "place": None, "level": None,
                     "doc_number": None, "date": None, "format": None, "size": f.path.stat().st_size,
                     "clauses": None, "indexed": indexed.get(f.doc_id, {}).get("sha256") == f.sha256,
                     "file": f.path.name, "error": None}
        try:
            kind = read_document(f.path, ReaderLimits.from_settings(settings)).kind
            document = parse_file(f.path, f.doc_id, settings)
        except (DocumentRejected, StructureError, ValueError) as exc:
            row["error"] = str(exc)
        else:
            m = document.meta
            row.update(title=m.title or m.label, year=m.year, place=m.place, level=m.level, doc_number=m.doc_number,
                       date=m.date, format=kind, clauses=len(document.clauses))
        rows.append(row)
    return rows


def format_document_table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if r["error"]:
            lines.append(f"{r['doc_id']:24} 无法读取 (unreadable): {r['error']}")
            continue
        indexed = "已索引" if r["indexed"] else "未索引"
        lines.append(f"{r['doc_id']:24} {r['year'] or '':5} {r['level'] or '':3} {r['place'] or '':6} "
                     f"{r['doc_number'] or '（无文号）':16} {r['date'] or '':11} {r['format']:5} "
                     f"{r['size'] / 1000:7.1f} KB {r['clauses']:4} 条 {indexed}  {r['title']}")
    return "\n".join(lines) or "（知识库为空 / the corpus is empty）"


# --- commands ----------------------------------------------------------------------------------

def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    report = add_documents([Path(p) for p in args.paths], settings, doc_id=args.id, progress=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for a in report.added:
            print(f"已添加 (added) {a.doc_id}: {a.title}（{a.clauses} 条款 clauses）← {a.source}")
            for warning in a.warnings:
                print(f"  提示 (note): {warning}")
        for r in report.refused:
            print(f"未添加 (refused) {r.reason}")
        print(report.index.summary() if report.index else "索引未改动 (index unchanged)")
    return 2 if report.refused else 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    report = remove_document(args.doc_id, settings)
    if args.json:
        print(json.dumps({"removed": args.doc_id, "index": asdict(report)}, ensure_ascii=False, indent=2))
    else:
        print(f"已删除 (removed) {args.doc_id}\n{report.summary()}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add", help="add documents (files or folders) to the corpus and update the index")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--id", metavar="DOC_ID", help="doc id for a single file (default: from the file name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="remove a document from the corpus and the index")
    p.add_argument("doc_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_remove)
