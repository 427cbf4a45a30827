"""Questions about a document's structure, answered from its parsed outline rather than from any one
clause: "这份要点分了几个部分，分别是什么？" (its top-level headings) and "任务分解表一共列了多少项任务？"
(its task table's last row number).

Every heading quoted is verbatim in the document and shown in its citation's heading path; the
number of tasks is quoted from the row that carries it.
"""

from __future__ import annotations

import re
from typing import Callable

from assistant.answer import messages
from assistant.answer.lines import AnswerLine, Segment, quoted, said, section
from assistant.answer.records import CitationList
from assistant.retrieve.hybrid import Hit
from assistant.ingest.metadata import DocumentMeta
from assistant.ingest.structure import Clause
from assistant.ingest.metadata import meta_of

_ROW_NUMBER = re.compile(r"^\s*(\d{1,4})\s")


def top_headings(clauses: list[Clause]) -> list[tuple[str, Clause]]:
    """(heading, its first clause) for each top-level heading of the body, in document order."""
    seen: dict[str, Clause] = {}
    for clause in clauses:
        if clause.kind == "item" and clause.heading_path:
            seen.setdefault(clause.heading_path[0], clause)
    return list(seen.items())


def outline_lines(title: str, clauses: list[Clause], cites: CitationList,
                  hit_for: Callable[[str], Hit]) -> list[AnswerLine]:
    """The body's parts, each cited to its first clause; [] when the body has no numbered parts."""
    parts = top_headings(clauses)
    if len(parts) < 2:
        return []
    lines = [AnswerLine.of("heading", said(messages.OUTLINE.format(title=title, count=len(parts))))]
    for heading, clause in parts:
        lines.append(AnswerLine.of("sentence", quoted(heading, cites.cite(hit_for(clause.id))), bullet=True))
    return lines


def task_count_lines(clauses: list[Clause], cites: CitationList, hit_for: Callable[[str], Hit]) -> list[AnswerLine]:
    """How many tasks the document's task table lists, read from its last row; [] without a table."""
    rows = [c for c in clauses if c.kind == "table_row" and _ROW_NUMBER.match(c.text)]
    if not rows:
        return []
    last = rows[-1]
    number = _ROW_NUMBER.match(last.text).group(1)
    n = cites.cite(hit_for(last.id))
    first_line = _ROW_NUMBER.sub("", last.text.split("\n")[0]).strip()
    before, after = messages.TASK_COUNT.split("{count}")
    return [AnswerLine.of("direct", said(before), quoted(number, n, mark=False), Segment(after, (n,))),
            AnswerLine.of("basis", said(messages.BASIS), quoted(first_line, n))]


def structure_lines(doc_ids: list[str], documents: dict[str, DocumentMeta], clauses_of: Callable[[str], list[Clause]],
                    hit_for: Callable[[str], Hit], cites: CitationList, *, task_count: bool) -> list[AnswerLine]:
    """Each document's parts (or, `task_count`, its number of tasks); a section per document when several
    are named ("浦东 松江 任务分解表 各多少条")."""
    lines: list[AnswerLine] = []
    for doc_id in doc_ids:
        clauses = clauses_of(doc_id)
        title = meta_of(documents, doc_id).title or doc_id
        found = task_count_lines(clauses, cites, hit_for) if task_count else outline_lines(title, clauses, cites, hit_for)
        if found and len(doc_ids) > 1:
            lines.append(section("document", title))
        lines.extend(found)
    return lines
