"""The answer as a record: its typed lines (assistant.answer.lines), its citations, numbered in
order of first use, and the helpers that assemble them (shared by the extractive answerer, the
language-model mode and the evaluation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from assistant.answer import messages
from assistant.answer.lines import AnswerLine, Segment, quoted, render_lines, said, section
from assistant.query.understand import Query
from assistant.retrieve.hybrid import Hit
from assistant.ingest.searchkey import bigrams
from assistant.ingest.metadata import DocumentMeta, meta_of


@dataclass
class Citation:
    n: int
    clause_id: str
    doc_id: str
    doc_title: str
    heading_path: list[str]
    units: list[str]
    deadline: str | None
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)   # sentences used, offsets into text
    doc_number: str | None = None
    doc_date: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    question: str
    rewritten_question: str
    lines: list[AnswerLine]
    refused: bool
    scope: list[str]
    citations: list[Citation]
    retrieved: list[dict]
    timings_ms: dict[str, float]
    direct: str | None = None
    kind: str = "extractive"   # extractive | factoid | cross_doc | not_stated | refusal | closest | llm
    notes: list[str] = field(default_factory=list)
    query: Query | None = None   # how the question was understood

    @property
    def answer(self) -> str:
        """The answer as plain text: its lines, citation marks included."""
        return render_lines(self.lines)

    def to_dict(self) -> dict:
        return {
            "question": self.question, "rewritten_question": self.rewritten_question, "answer": self.answer,
            "lines": [line.to_dict() for line in self.lines],
            "refused": self.refused, "scope": self.scope,
            "citations": [c.to_dict() for c in self.citations], "retrieved": self.retrieved,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "direct": self.direct, "kind": self.kind, "notes": self.notes,
            "query": self.query.to_dict() if self.query else None,
        }


def similarity(a: str, b: str) -> float:
    x, y = bigrams(a), bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


class CitationList:
    """Numbers citations in order of first use; one number per clause."""

    def __init__(self, documents: dict[str, DocumentMeta]) -> None:
        self.documents = documents
        self.items: list[Citation] = []

    def cite(self, hit: Hit, sentence: str | None = None) -> int:
        clause = hit.clause
        existing = next((c for c in self.items if c.clause_id == hit.clause_id), None)
        if existing is None:
            meta = meta_of(self.documents, hit.doc_id)
            existing = Citation(
                n=len(self.items) + 1, clause_id=hit.clause_id, doc_id=hit.doc_id, doc_title=clause.doc_title,
                heading_path=list(clause.heading_path), units=list(clause.units or []),
                deadline=clause.deadline, text=clause.text, doc_number=meta.doc_number,
                doc_date=meta.date)
            self.items.append(existing)
        if sentence:
            start = clause.text.find(sentence)
            if start >= 0 and (start, start + len(sentence)) not in existing.spans:
                existing.spans.append((start, start + len(sentence)))
                existing.spans.sort()
        return existing.n


def join_cited(sentences_: list[str], n: int) -> list[Segment]:
    """Sentences of one clause as one bullet's segments; a sentence without closing punctuation
    keeps its own mark so it never runs into the next one."""
    last = len(sentences_) - 1
    return [quoted(s, n, mark=i == last or s[-1:] not in "。！？；;") for i, s in enumerate(sentences_)]


def merge_parts(question: str, rewritten: str, parts: list[Answer]) -> Answer:
    """One answer for a multi-part question: each part's answer under its own label, citations
    renumbered into one list (a clause cited by two parts keeps one number)."""
    if all(a.refused for a in parts):
        return parts[0]
    citations: list[Citation] = []
    by_clause: dict[str, Citation] = {}
    lines: list[AnswerLine] = []
    retrieved: dict[str, dict] = {}
    for part in parts:
        numbers: dict[int, int] = {}
        for c in part.citations:
            kept = by_clause.get(c.clause_id)
            if kept is None:
                kept = Citation(**{**c.to_dict(), "n": len(citations) + 1, "spans": list(c.spans)})
                citations.append(kept)
                by_clause[c.clause_id] = kept
            else:
                kept.spans = sorted(set(kept.spans) | set(c.spans))
            numbers[c.n] = kept.n
        lines.append(section("part", part.question.rstrip("？?")))
        if part.kind == "refusal":
            lines.append(AnswerLine.of("refusal", said(messages.REFUSAL)))
        else:
            lines.extend(line.renumbered(numbers) for line in part.lines)
        for hit in part.retrieved:
            retrieved.setdefault(hit["clause_id"], hit)
    first = parts[0]
    return Answer(question=question, rewritten_question=rewritten, lines=lines, refused=False,
                  scope=sorted({d for a in parts for d in a.scope}), citations=citations,
                  retrieved=list(retrieved.values()), timings_ms=dict(first.timings_ms), kind="multi_part",
                  notes=[n for a in parts for n in a.notes])
