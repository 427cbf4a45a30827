"""The lines of an answer, typed: each line has a kind and its pieces (`Segment`s), text quoted
from the cited clauses with the citation numbers that support it, or fixed wording of our own
(messages.py). The plain text (`Answer.answer`), the app's Markdown and the evaluation's grounding
checks are all read from the lines; nothing parses rendered text back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer import messages
from assistant.ingest.searchkey import compact

# The kinds of line:
#   direct      "答：{span}[n]"                    basis      "依据：{sentence}[n]"
#   fact        "{label}：{span}[n]", a task row's "第N项 · 责任单位：… · 时间节点：…[n]"
#   sentence    sentences of one clause ("- …[n]" when a bullet)
#   document    "【title】" (a section per document)  part    "【question】" (one part of a multi-part question)
#   heading     "根据X的文件：", the closest-clause and "elsewhere" lead-ins, "共同要求…："
#   shared      "- {sentence}[1][2]（2 份文件）"     not_stated  "X的文件中没有写明Y。"
#   refusal     the refusal sentence and what the corpus holds
LINE_KINDS = ("direct", "basis", "fact", "sentence", "document", "part", "heading", "shared", "not_stated",
              "refusal")
_SENTENCE = re.compile(r"[^。！？]*[。！？]?")


@dataclass(frozen=True)
class Segment:
    """A piece of a line: `quote` text is taken from the clauses it `cites`; other text is our own
    wording. `mark`: its citation marks are printed after it (a sentence of a bullet that ends with
    punctuation shares the bullet's closing mark)."""
    text: str
    cites: tuple[int, ...] = ()
    quote: bool = False
    mark: bool = True

    def render(self) -> str:
        return self.text + (messages.cite(*self.cites) if self.mark else "")


def said(text: str) -> Segment:
    """Our own wording (a template's fixed words, a label)."""
    return Segment(text)


def quoted(text: str, *cites: int, mark: bool = True) -> Segment:
    """Words of the cited clause(s)."""
    return Segment(text, tuple(cites), quote=True, mark=mark)


@dataclass(frozen=True)
class AnswerLine:
    kind: str
    segments: tuple[Segment, ...]
    bullet: bool = False      # shown as a list item ("- " in the plain text)

    @classmethod
    def of(cls, kind: str, *segments: Segment, bullet: bool = False) -> "AnswerLine":
        assert kind in LINE_KINDS, kind
        return cls(kind, tuple(segments), bullet)

    @property
    def body(self) -> str:
        """The line's plain text after the bullet, with its citation marks."""
        return "".join(s.render() for s in self.segments)

    def render(self) -> str:
        """The line as plain text, citation marks included."""
        return ("- " if self.bullet else "") + self.body

    @property
    def text(self) -> str:
        """The line's words without citation marks (and without the bullet)."""
        return "".join(s.text for s in self.segments)

    @property
    def cites(self) -> list[int]:
        return list(dict.fromkeys(n for s in self.segments for n in s.cites))

    def renumbered(self, numbers: dict[int, int]) -> "AnswerLine":
        """The line with each citation under its merged number (a number not in `numbers` stays)."""
        return AnswerLine(self.kind, tuple(Segment(s.text, tuple(numbers.get(n, n) for n in s.cites), s.quote, s.mark)
                                           for s in self.segments), self.bullet)

    def claims(self) -> list[tuple[list[str], list[int]]]:
        """(quoted pieces, citation numbers) per sentence of the line, for grounding checks. A
        sentence ends at 。！？ in quoted text or at printed marks; our own wording is left out, so a
        line of fixed wording claims nothing."""
        out: list[tuple[list[str], list[int]]] = []
        pieces: list[str] = []
        numbers: list[int] = []

        def close() -> None:
            if pieces:
                out.append((list(pieces), list(dict.fromkeys(numbers))))
            pieces.clear()
            numbers.clear()

        glue = False   # the previous quote ran on unpunctuated and unmarked: this one continues its text
        for segment in self.segments:
            if not segment.quote:
                glue = False
                if segment.mark and segment.cites:
                    close()
                continue
            for piece in _SENTENCE.findall(segment.text):
                if compact(piece):
                    if glue and pieces:
                        pieces[-1] += piece.strip()
                    else:
                        pieces.append(piece.strip())
                    numbers.extend(segment.cites)
                glue = False
                if piece[-1:] in ("。", "！", "？"):
                    close()
            if segment.mark and segment.cites:
                close()
            glue = bool(pieces) and not segment.mark
        close()
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "cites": self.cites,
                "claims": [{"quotes": p, "cites": n} for p, n in self.claims()]}


# --- the lines of the templates ----------------------------------------------------------------

def section(kind: str, label: str) -> AnswerLine:
    """A "【label】" line: a document's section ("document") or one part of a question ("part");
    the label is the middle segment."""
    template = messages.PER_DOCUMENT if kind == "document" else messages.PART.replace("{part}", "{label}")
    before, after = template.split("{label}")
    return AnswerLine.of(kind, said(before), said(label), said(after))


def title_section(title: str, n: int) -> AnswerLine:
    """A document's "【title】" line with the title quoted from the document: in a which-documents answer the
    document is the answer, so its name is cited like any other."""
    before, after = messages.PER_DOCUMENT.split("{label}")
    return AnswerLine.of("document", said(before), quoted(re.sub(r"\s*\n\s*", "", title), n), said(after))


def direct_line(span: str, n: int) -> AnswerLine:
    """"答：{span}[n]"."""
    return AnswerLine.of("direct", said(messages.DIRECT.split("{span}")[0]), quoted(span, n))


def fact_line(label: str, span: str, n: int) -> AnswerLine:
    """"{label}：{span}[n]": a further facet of the question, or one fact of a document."""
    return AnswerLine.of("fact", said(messages.EXTRA_FACET.split("{span}")[0].format(label=label)), quoted(span, n))


def row_line(number: str, units: str | None, deadline: str | None, n: int) -> AnswerLine:
    """A task-table row's units and deadline; "—" for what the row leaves empty."""
    before, rest = messages.ROW_FACTS.split("{units}")
    middle, _ = rest.split("{deadline}")
    return AnswerLine.of("fact", said(before.format(number=number)),
                         quoted(units, n, mark=False) if units else said("—"), said(middle),
                         quoted(deadline, n) if deadline else Segment("—", (n,)))


def not_stated_line(label: str, facet: str) -> AnswerLine:
    return AnswerLine.of("not_stated", said(messages.NOT_STATED.format(label=label, facet=facet)))


def shared_line(sentence: str, numbers: list[int], count: int, *, direct: bool = False) -> AnswerLine:
    """A requirement (or, `direct`, a direct answer) that `count` documents share."""
    lead = [said(messages.DIRECT.split("{span}")[0])] if direct else []
    after = messages.SHARED_ITEM.split("{cite}")[1].format(count=count)
    return AnswerLine.of("shared", *lead, quoted(sentence, *numbers), said(after), bullet=True)


def render_lines(lines: list[AnswerLine]) -> str:
    return "\n".join(line.render() for line in lines)
