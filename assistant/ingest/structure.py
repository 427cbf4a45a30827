"""Clean text -> Document: metadata, preamble, heading tree, clauses, task tables, footer.

The unit of citation is a `Clause`: the smallest numbered item with its text (or one task-table
row). Its id is derived from the structure (`2024-pudong/4.2`, `2024-songjiang/table/45`), so it
survives rebuilds. Long clauses are split at sentence ends into `…#1`, `…#2`.

Not every document has "一、" headings: a task-division document's body is its table (its category
columns become the outline), a document numbered from "（一）" or "1." starts its outline there, and
one with no numbering at all has one clause per paragraph (`…/p1`). Text cut off at the end of a
page is kept: a heading on the very last line is also a clause.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.errors import AssistantError
from assistant.ingest.infobar import is_infobar_line
from assistant.ingest.metadata import DocumentMeta, extract_metadata, is_title_line, notice_end
from assistant.ingest.normalize import CleanText, normalize
from assistant.ingest.numbering import Marker, match_marker
from assistant.ingest.searchkey import compact
from assistant.ingest.tables import (TableRow, deadline_in_parentheses, find_table_header, is_table_caption, parse_table,
                                     units_in_parentheses)

def parser_version(package_dir: Path | None = None, lexicon_dir: Path | None = None,
                   index_dir: Path | None = None) -> str:
    """Changes whenever anything that shapes clauses or metadata changes (every module of the ingest
    package, every data file of the lexicon), so an index built by older code is rebuilt."""
    from assistant.config import LEXICON_DIR

    here = package_dir or Path(__file__).resolve().parent
    lexicon = lexicon_dir or LEXICON_DIR
    digest = hashlib.sha256()
    # The index step saves what the tokenizer and the search keys made of each clause (BM25, speller words, keys).
    index = index_dir or Path(__file__).resolve().parent.parent / "index"
    saved_by_build = [index / name for name in ("segmentation.py", "lexical.py", "clause_file.py")]
    for path in sorted(here.rglob("*.py")) + saved_by_build + sorted(p for p in lexicon.rglob("*") if p.is_file()):
        digest.update(path.name.encode("utf-8"))
        digest.update(path.read_bytes())
    return f"3-{digest.hexdigest()[:10]}"


PARSER_VERSION = parser_version()

_FOOTER_START = re.compile(r"^(?:抄送|抄报)\s*[:：]|^[（(]?\s*共印\s*\d+\s*份\s*[)）]?$")
_CLOSING = re.compile(r"^(?:区政府各部门|各单位|各部门|各相关单位|各街镇|各镇|各委办局|各科室|各村)[^。]{0,12}要")
_SENTENCE = re.compile(r"[^。！？!?]*(?:[。！？!?][”’」）)]?|$)")
_ATTACHMENT = re.compile(r"^附件\s*\d*\s*[:：]")
MAX_RUN_IN_HEADING = 30


class StructureError(AssistantError, ValueError):
    """A document whose structure cannot be parsed; the message names the document."""


@dataclass
class Clause:
    id: str
    doc_id: str
    kind: str                              # preamble | intro | item | closing | table_row | footer
    heading_path: tuple[str, ...]          # labels from the top heading down to this clause
    text: str                              # what is shown and cited
    start: int                             # offsets into the document's clean text
    end: int
    units: list[str] = field(default_factory=list)
    deadline: str | None = None
    doc_title: str = ""
    part: int = 0                          # 1, 2 … when a long clause was split; 0 otherwise
    search_terms: str = ""                 # indexed, never shown: what users call this part
    row: int = 0                           # a task-table row's 序号; 0 for other clauses

    @property
    def index_text(self) -> str:
        """What gets indexed: document title and heading path in front of the clause."""
        units = f"\n责任单位：{'、'.join(self.units)}" if self.units and self.kind != "table_row" else ""
        terms = f"\n{self.search_terms}" if self.search_terms else ""
        return "\n".join([self.doc_title, " > ".join(self.heading_path), self.text]) + units + terms

    def to_dict(self) -> dict:
        data = asdict(self)
        data["heading_path"] = list(self.heading_path)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Clause":
        """The clause a `to_dict` (or a stored node's metadata) describes."""
        return cls(**{**data, "heading_path": tuple(data.get("heading_path") or ())})


@dataclass
class HeadingNode:
    key: str                     # "1.2.3"
    rank: int
    number: int
    marker: str
    title: str
    label: str                   # marker + title, as shown in heading paths
    children: list["HeadingNode"] = field(default_factory=list)
    clause_ids: list[str] = field(default_factory=list)
    paragraphs: list[tuple[int, int]] = field(default_factory=list)  # own text spans

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "title": self.title, "rank": self.rank,
                "clause_ids": self.clause_ids, "children": [c.to_dict() for c in self.children]}


@dataclass
class Table:
    caption: str
    rows: list[TableRow]


@dataclass
class Document:
    meta: DocumentMeta
    clean: CleanText
    outline: list[HeadingNode]
    clauses: list[Clause]
    tables: list[Table]
    parts: list[tuple[str, str]]  # (kind, text) in document order; together they are the clean text

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id

    def clause(self, clause_id: str) -> Clause | None:
        return next((c for c in self.clauses if c.id == clause_id), None)


@dataclass
class _Line:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append(_Line(line, pos))
        pos += len(line) + 1
    return out


def _first_sentence(text: str) -> str | None:
    m = re.match(r"^([^。；;！？!?]{1,%d})[。；;！？!?]" % MAX_RUN_IN_HEADING, text)
    return m.group(1) if m else None


def _is_standalone(marker: Marker) -> bool:
    return not re.search(r"[。；;！？!?]", marker.rest)


def _shorten(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def sentences(text: str) -> list[str]:
    """Split at sentence ends, keeping the punctuation (and a closing quote) with the sentence."""
    return [s for s in _SENTENCE.findall(text) if s]


class _OutlineBuilder:
    """Builds the heading tree from body lines, accepting a marker only in its expected sequence."""

    def __init__(self, top_rank: int = 1) -> None:
        self.top_rank = top_rank             # 1 for "一、"; a document without them starts at "（一）" or "1."
        self.roots: list[HeadingNode] = []
        self.stack: list[HeadingNode] = []
        self.heading_lines: list[_Line] = []
        self.last: dict[int, int] = {}       # the number last opened at each rank

    def _siblings(self, rank: int) -> list[HeadingNode]:
        parents = [n for n in self.stack if n.rank < rank]
        return parents[-1].children if parents else self.roots

    def accepts(self, marker: Marker) -> bool:
        if not self.stack and marker.rank != self.top_rank:
            return False
        siblings = self._siblings(marker.rank)
        same_rank = [s for s in siblings if s.rank == marker.rank]
        if same_rank:
            return marker.number == same_rank[-1].number + 1
        # A first item is 1, or continues the count of the section before ("二、" then "（三）").
        continued = marker.rank > self.top_rank and marker.number == self.last.get(marker.rank, -1) + 1
        return marker.number == 1 or continued

    def open(self, marker: Marker, line: _Line, cut: bool = False) -> None:
        """Open a heading node. A heading on the last line of the body (`cut`) is where the text was
        cut off: it is kept as the node's own text, so the cut text is still a clause."""
        while self.stack and self.stack[-1].rank >= marker.rank:
            self.stack.pop()
        siblings = self._siblings(marker.rank)
        parent_key = self.stack[-1].key if self.stack else ""
        key = f"{parent_key}.{len(siblings) + 1}" if parent_key else str(len(siblings) + 1)
        run_in = _first_sentence(marker.rest)
        if _is_standalone(marker):
            title = marker.rest.strip()
        elif run_in:
            title = run_in
        else:
            title = _shorten(marker.rest)
        node = HeadingNode(key=key, rank=marker.rank, number=marker.number, marker=marker.text.strip(),
                           title=title, label=marker.text.strip() + title)
        siblings.append(node)
        self.stack.append(node)
        self.last[marker.rank] = marker.number
        if _is_standalone(marker) and not cut:
            self.heading_lines.append(line)
        else:
            node.paragraphs.append((line.start, line.end))

    def add_paragraph(self, line: _Line) -> None:
        self.stack[-1].paragraphs.append((line.start, line.end))


def _walk(nodes: list[HeadingNode], path: tuple[HeadingNode, ...] = ()):
    for node in nodes:
        yield node, path + (node,)
        yield from _walk(node.children, path + (node,))


def _split_clause(text: str, limit: int) -> list[str]:
    """Split a long clause at sentence ends; a task never loses the units that close it."""
    if len(text) <= limit:
        return [text]
    groups: list[str] = []
    has_units = bool(units_in_parentheses(text))
    for sentence in sentences(text):
        if groups and has_units and not units_in_parentheses(groups[-1]):
            groups[-1] += sentence      # keep a task's sentences together until its units
        else:
            groups.append(sentence)
    chunks: list[str] = []
    for group in groups:
        if chunks and len(chunks[-1]) + len(group) <= limit:
            chunks[-1] += group
        else:
            chunks.append(group)
    return chunks


def _span_clauses(doc_id: str, base_id: str, kind: str, path: tuple[str, ...], text: str, start: int,
                  title: str, limit: int) -> list[Clause]:
    pieces = _split_clause(text, limit)
    clauses, offset = [], start
    for i, piece in enumerate(pieces, 1):
        clause_id = f"{doc_id}/{base_id}" + (f"#{i}" if len(pieces) > 1 else "")
        clauses.append(Clause(
            id=clause_id, doc_id=doc_id, kind=kind, heading_path=path, text=piece, start=offset,
            end=offset + len(piece), units=units_in_parentheses(piece), deadline=deadline_in_parentheses(piece),
            doc_title=title,
            part=i if len(pieces) > 1 else 0,
        ))
        offset += len(piece)
    return clauses


@dataclass
class _Regions:
    """Where the parts of a document start, as line indexes into the clean text."""

    title: int | None        # the document's own title line ("2024年…工作要点")
    preamble_end: int        # the notice and info bar end here (at the title when there is one)
    intro: int               # first line of the introduction ("总体要求")
    first_heading: int       # "一、"; the first paragraph when there is no heading; the table if it is the body
    body_end: int            # first line after the numbered body
    table_from: int          # caption of the task table (== body_end when there is none)
    table_header: int | None
    header_lines: int        # a header written one cell per line spans several
    footer: int              # 抄送 / 印发 lines (len(lines) when none)
    headed: bool             # False: neither a numbered heading nor a task table; paragraphs are the clauses
    top_rank: int = 1        # the rank of the outermost headings (1 = "一、")


def _first_footer(texts: list[str], start: int) -> int:
    return next((i for i in range(start, len(texts)) if _FOOTER_START.search(texts[i])), len(texts))


def _first_heading(texts: list[str]) -> tuple[int | None, int]:
    """(line, rank) of the first "一、"; without any, of the first item numbered 1 ("（一）", "1.")."""
    firsts = [(i, m.rank) for i, text in enumerate(texts)
              if (m := match_marker(text)) and m.number == 1 and m.rank <= 4 and not is_infobar_line(text)]
    return next(((i, r) for i, r in firsts if r == 1), firsts[0] if firsts else (None, 1))


def _regions(texts: list[str]) -> _Regions:
    heading, top_rank = _first_heading(texts)
    table = find_table_header(texts)
    table_body = table is not None and (heading is None or table[0] < heading)  # a task-division document
    if not table_body:
        table = find_table_header(texts, heading) if heading is not None else None
    header, header_lines = table if table else (None, 1)
    headed = heading is not None or table_body
    limit = header if table_body else heading if headed else len(texts)
    title = next((i for i in range(limit - 1, -1, -1) if is_title_line(texts[i])), None)
    prose = notice_end(texts[:limit])
    intro = max(prose, title + 1) if title is not None else prose
    body_from = heading if headed and not table_body else intro
    footer = _first_footer(texts, body_from)
    table_from = header if header is not None else footer
    if header is not None:
        while table_from > (intro if table_body else body_from) and (
                is_table_caption(texts[table_from - 1]) or _ATTACHMENT.match(texts[table_from - 1])):
            table_from -= 1
        footer = _first_footer(texts, header + header_lines)
    body_from = table_from if table_body else body_from
    return _Regions(title=title, preamble_end=title if title is not None else prose, intro=intro,
                    first_heading=body_from, body_end=min(table_from, footer), table_from=table_from,
                    table_header=header, header_lines=header_lines, footer=footer, headed=headed, top_rank=top_rank)


def parse_document(raw_text: str, doc_id: str, *, max_clause_chars: int = 360) -> Document:
    """Parse one document's raw text. Raises StructureError naming the document if it cannot."""
    if not raw_text.strip():
        raise StructureError(f"{doc_id}: 文档为空 (empty document)")
    if "\x00" in raw_text:
        raise StructureError(f"{doc_id}: 不是文本文件 (binary content)")
    clean = normalize(raw_text)
    lines = _lines(clean.text)
    texts = [line.text for line in lines]
    at = _regions(texts)
    if not at.headed and at.footer - at.first_heading < 2:
        raise StructureError(f"{doc_id}: 找不到“一、”开头的一级标题，且只有一段文字，无法解析结构 "
                             f"(no top-level heading '一、' and a single paragraph: nothing to outline)")
    after_title = lines[at.title + 1:at.intro] if at.title is not None else []   # an info bar below the title
    intro = lines[at.intro:at.first_heading] if at.headed else []
    meta = extract_metadata(doc_id, texts[:at.preamble_end] + [ln.text for ln in after_title],
                            texts[at.title] if at.title is not None else None, published=clean.published,
                            source=clean.source, intro=[ln.text for ln in intro], text=clean.text)
    clauses: list[Clause] = []
    parts: list[tuple[str, str]] = [("preamble", t) for t in texts[:at.preamble_end]]

    def add_block(kind: str, base_id: str, path: tuple[str, ...], span: list[_Line]) -> None:
        if span:
            text = clean.text[span[0].start:span[-1].end]
            clauses.extend(_span_clauses(doc_id, base_id, kind, path, text, span[0].start,
                                         meta.title or meta.label, max_clause_chars))

    # Notice, info bar and introduction.
    add_block("preamble", "preamble", ("发文通知",), lines[:at.preamble_end])
    if at.title is not None:
        parts.append(("title", texts[at.title]))
        parts.extend(("preamble", line.text) for line in after_title)
        add_block("preamble", "infobar", ("发布信息",), after_title)
    parts.extend(("intro", line.text) for line in intro)
    add_block("intro", "intro", ("总体要求",), intro)

    # The numbered body: heading tree, one clause block per node with text of its own.
    builder = _OutlineBuilder(at.top_rank)
    body = lines[at.first_heading:at.body_end]
    for i, line in enumerate(body if at.headed else []):
        marker = match_marker(line.text)
        if marker and builder.accepts(marker):
            builder.open(marker, line, cut=i == len(body) - 1)
        else:
            builder.add_paragraph(line)
    closing = _closing_paragraphs(builder, lines)
    for node, path in _walk(builder.roots):
        spans = set(node.paragraphs)
        before = len(clauses)
        add_block("item", node.key, tuple(n.label for n in path), [ln for ln in lines if (ln.start, ln.end) in spans])
        node.clause_ids = [c.id for c in clauses[before:]]
    for n, line in enumerate(body if not at.headed else [], 1):  # no heading at all: one clause a paragraph
        add_block("item", f"p{n}", ("正文", f"第{n}段"), [line])
    body_parts = [(line.start, "heading", line.text) for line in builder.heading_lines]
    body_parts += [(c.start, "clause", c.text) for c in clauses if c.kind == "item"]
    parts.extend((kind, text) for _, kind, text in sorted(body_parts))
    if closing:
        add_block("closing", "closing", ("结语",), closing)
        parts.append(("closing", clean.text[closing[0].start:closing[-1].end]))

    # The task table and the footer.
    tables, outline = [], builder.roots
    if at.table_header is not None:
        table, rows = _parse_task_table(doc_id, meta, lines, at, builder.roots)
        tables.append(table)
        clauses.extend(rows)
        parts.extend(("table", t) for t in texts[at.table_from:at.table_header + at.header_lines])
        parts.extend(("table_row", "".join(row.own_cells)) for row in table.rows)
        _link_deadlines(clauses, table.rows)
        outline = outline or _table_outline(rows, table.rows)
    footer = [line for line in lines[at.footer:] if line.text]
    add_block("footer", "footer", ("版记",), footer)
    parts.extend(("footer", line.text) for line in footer)

    _add_search_terms(clauses, meta)
    if not any(c.kind in ("item", "table_row") for c in clauses):
        raise StructureError(f"{doc_id}: 没有解析出任何条款 (no clauses parsed)")
    return Document(meta=meta, clean=clean, outline=outline, clauses=clauses, tables=tables, parts=parts)


def _table_outline(clauses: list[Clause], rows: list[TableRow]) -> list[HeadingNode]:
    """A document whose body is its task table: the category columns are its headings."""
    roots: list[HeadingNode] = []
    nodes: dict[tuple[str, ...], HeadingNode] = {}
    for clause, row in zip(clauses, rows):
        parent = None
        for depth in range(1, len(row.categories) + 1):
            path = tuple(row.categories[:depth])
            if path not in nodes:
                siblings = parent.children if parent else roots
                marker = match_marker(path[-1])
                mark = marker.text.strip() if marker else ""
                title = (marker.rest if marker else path[-1]).strip().rstrip("。")
                key = f"{parent.key}.{len(siblings) + 1}" if parent else str(len(siblings) + 1)
                nodes[path] = HeadingNode(key=key, rank=depth, number=len(siblings) + 1, marker=mark,
                                          title=title, label=mark + title)
                siblings.append(nodes[path])
            parent = nodes[path]
        if parent:
            parent.clause_ids.append(clause.id)
    return roots


def _parse_task_table(doc_id: str, meta: DocumentMeta, lines: list[_Line], at: _Regions,
                      outline: list[HeadingNode]) -> tuple[Table, list[Clause]]:
    """The task table below the body (or as the body): its rows, each also a clause citable on its own."""
    texts = [line.text for line in lines]
    title = meta.title or meta.label
    captions = [t for t in texts[at.table_from:at.table_header] if is_table_caption(t)]
    fallback = title if at.table_from == at.first_heading and meta.title else "任务分解表"
    caption = re.sub(r"^附件\s*\d*\s*[:：]\s*", "", captions[-1] if captions else fallback)
    rows = parse_table(texts[at.table_header:at.footer], _heading_titles(outline), at.header_lines)
    clauses = []
    for row in rows:
        first, last = (lines[at.table_header + i] for i in row.lines)
        clauses.append(_row_clause(doc_id, caption, row, title, first.start, last.end))
    return Table(caption=caption, rows=rows), clauses


def _add_search_terms(clauses: list[Clause], meta: DocumentMeta) -> None:
    """Users ask for the notice's parts by names the text never uses ("文号", "落款", "主送")."""
    for clause in clauses:
        if clause.kind == "preamble":
            clause.search_terms = (f"发文字号 文号 {meta.doc_number or '无文号'} 成文日期 落款日期 印发日期 {meta.date or ''} "
                                   f"发文机关 {meta.issuer or ''} 主送机关 主送单位 印发通知")
        elif clause.kind == "footer":
            clause.search_terms = "版记 抄送 印发机关 印发日期 印数"
        elif clause.kind == "closing":
            clause.search_terms = "组织实施 任务分解 报送"


def _closing_paragraphs(builder: _OutlineBuilder, lines: list[_Line]) -> list[_Line]:
    """Trailing paragraphs of the last item that address all units ('各单位要…') close the document."""
    last = None
    for node, _ in _walk(builder.roots):
        if node.paragraphs:
            last = node
    if last is None or len(last.paragraphs) < 2:
        return []
    by_start = {line.start: line for line in lines}
    for i, (start, _) in enumerate(last.paragraphs[1:], 1):
        if _CLOSING.match(by_start[start].text):
            closing = [by_start[s] for s, _ in last.paragraphs[i:]]
            last.paragraphs = last.paragraphs[:i]
            return closing
    return []


def _heading_titles(roots: list[HeadingNode]) -> dict[int, set[str]]:
    titles: dict[int, set[str]] = {}
    for node, path in _walk(roots):
        titles.setdefault(len(path), set()).add(node.title)
    return titles


def _row_clause(doc_id: str, caption: str, row: TableRow, title: str, start: int, end: int) -> Clause:
    # The row reads as the table does: 序号 and task, then 责任单位 and 时间节点.
    tail = " ".join(x for x in (row.units_text, row.deadline or "") if x)
    text = f"{row.number} {row.task}" + (f"\n{tail}" if tail else "")
    return Clause(
        id=f"{doc_id}/table/{row.number}", doc_id=doc_id, kind="table_row",
        heading_path=(caption, *row.categories, f"第{row.number}项"), text=text,
        start=start, end=end, units=row.units, deadline=row.deadline, doc_title=title, row=row.number,
    )


def _link_deadlines(clauses: list[Clause], rows: list[TableRow]) -> None:
    """A body clause whose task is a table row gets that row's deadline (the body never states it)."""
    items = [c for c in clauses if c.kind == "item"]
    for row in rows:
        probe = compact(row.task)[:16]
        if len(probe) < 8 or not row.deadline:
            continue
        for clause in items:
            if probe in compact(clause.text):
                deadlines = [d for d in (clause.deadline or "").split("、") if d]
                if row.deadline not in deadlines:
                    deadlines.append(row.deadline)
                clause.deadline = "、".join(deadlines)
