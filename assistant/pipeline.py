"""The assistant as one object: index + retriever + answerer (+ optional language model).

`Assistant.load(settings)` brings the index up to date and loads the models once; `ask` runs
one question (with its conversation) through rewrite -> retrieve -> answer. The CLI, the batch
runner, the evaluation and the app all go through here, so they answer alike.
"""

from __future__ import annotations

import re
import time
import unicodedata

from assistant.answer import messages
from assistant.answer.extractive import Answer, ExtractiveAnswerer
from assistant.answer.records import merge_parts
from assistant.query.followup import Conversation
from assistant.config import Settings
from assistant.errors import InputRejected
from assistant.external_text import clean_external
from assistant.ingest.corpus import UnknownDocument
from assistant.index.store import BuildReport, ClauseIndex, ensure_index
from assistant.query.understand import Query
from assistant.retrieve.hybrid import HybridRetriever
from assistant.ingest.metadata import DocumentMeta

_MEANINGFUL = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")


class InvalidQuestion(InputRejected):
    """A question that cannot be run (empty, too long, no words); the message says why."""


def clean_question(question: str, settings: Settings) -> str:
    """The question through the external-text step (invalid and invisible characters, length); refuse
    what can't be asked."""
    try:
        text = clean_external(question if question is not None else "", what="问题",
                              max_chars=settings.app.max_question_chars)
    except InputRejected as exc:
        raise InvalidQuestion(str(exc)) from None
    if not text:
        raise InvalidQuestion(messages.EMPTY_QUESTION)
    if not _MEANINGFUL.search(unicodedata.normalize("NFKC", text)):
        raise InvalidQuestion(messages.NO_TEXT_IN_QUESTION)
    return text


class Assistant:
    def __init__(self, settings: Settings, index: ClauseIndex, report: BuildReport | None = None) -> None:
        self.settings = settings
        self.index = index
        self.build_report = report
        self.retriever = HybridRetriever(index, settings)
        self.answerer = ExtractiveAnswerer(self.retriever)
        self.llm = None
        if settings.llm.llm_base_url and settings.llm.llm_model:
            from assistant.answer.llm import LLMAnswerer  # only when configured: keeps start-up light
            self.llm = LLMAnswerer(settings, self.answerer)

    @classmethod
    def load(cls, settings: Settings, *, progress: bool = False) -> "Assistant":
        index, report = ensure_index(settings, progress=progress)
        return cls(settings, index, report)

    @property
    def documents(self) -> dict[str, DocumentMeta]:
        return self.retriever.documents

    def ask(self, question: str, *, conversation: Conversation | None = None, history: list[str] | None = None,
            doc_filter: str | None = None) -> Answer:
        """Answer one question. `conversation` is updated; `history` rebuilds one from earlier questions."""
        started = time.perf_counter()
        text = clean_question(question, self.settings)
        if doc_filter and doc_filter not in self.documents:
            raise UnknownDocument(doc_filter, sorted(self.documents))
        if conversation is None:
            conversation = self._conversation(history)
        query = self.retriever.understanding.understand(text, conversation, doc_filter)

        t0 = time.perf_counter()
        answered = [self._answer(part.original, part) for part in query.parts] or [self._answer(text, query)]
        answer = merge_parts(text, query.rewrite, [a for a, _ in answered]) if query.parts else answered[0][0]
        t2 = time.perf_counter()
        t1 = t0 + sum(seconds for _, seconds in answered)
        answer.retrieved = answer.retrieved[: self.settings.retrieval.top_k * 2]
        answer.timings_ms = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000,
                             "total": (t2 - started) * 1000}
        answer.query = query
        if query.rule:
            answer.notes.append(f"follow-up rule: {query.rule}")
        used = [c.text[a:b] for c in answer.citations for a, b in c.spans]
        conversation.record(text, query.rewrite, answer.scope or sorted({c.doc_id for c in answer.citations}), used)
        return answer

    def _answer(self, text: str, query: Query) -> tuple[Answer, float]:
        """Retrieve for one understood question and compose its answer (and the seconds retrieval took)."""
        started = time.perf_counter()
        result = self.retriever.search(query, k=self.settings.retrieval.retrieve_k)
        retrieved = time.perf_counter()
        if self.llm is not None and result.relevant:
            answer = self.llm.answer(text, result, rewritten=query.rewrite, avoid_sentences=query.avoid_sentences)
        else:
            answer = self.answerer.answer(text, result, rewritten=query.rewrite, avoid_sentences=query.avoid_sentences)
        return answer, retrieved - started

    def understand(self, question: str, *, history: list[str] | None = None,
                   doc_filter: str | None = None) -> Query:
        """How the assistant reads `question` after `history` (what `ask --explain` prints)."""
        text = clean_question(question, self.settings)
        return self.retriever.understanding.understand(text, self._conversation(history), doc_filter)

    def _conversation(self, history: list[str] | None) -> Conversation:
        """A conversation rebuilt from earlier questions (CLI --history, batch lines, eval items)."""
        return Conversation.from_questions(
            [clean_question(h, self.settings) for h in history or [] if h and h.strip()], self.documents)
