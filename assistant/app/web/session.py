"""State of the web app: one `ChatSession` per browser session, one `Runtime` shared by all.

A session keeps at most settings.app.max_history_turns turns (older ones are dropped from the chat, the
sources and the follow-up context), so neither its memory nor what each turn sends back grows
without bound. The runtime counts its reloads (`version`), so every open page can tell that the
document list changed after an add or remove made in another session.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from assistant.answer.records import Citation
from assistant.config import Settings
from assistant.ingest.corpus import load_corpus
from assistant.pipeline import Assistant
from assistant.query.followup import Conversation
from assistant.app.render import common_topics
from assistant.app.web.access import AccessControl
from assistant.ingest.metadata import DocumentMeta

log = logging.getLogger(__name__)


@dataclass
class AnswerRecord:
    """One answer of a chat: what its sources panel shows and what a vote on it logs."""

    n: int                                 # 1-based, as the chat numbers answers
    msg_index: int                         # position of the answer in ChatSession.messages
    question: str
    history: list[str]                     # the earlier questions of the chat
    scope: str | None                      # the document selected when it was asked
    answer: str = ""
    rewritten_question: str | None = None
    kind: str | None = None
    refused: bool = False
    answer_scope: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    notice: bool = False                   # an error message shown in place of an answer
    vote: str | None = None


@dataclass
class ChatSession:
    """The conversation (for follow-ups), the chat messages and, per answer, what is needed to show
    its sources and to log feedback."""

    conversation: Conversation = field(default_factory=Conversation)
    messages: list[dict] = field(default_factory=list)
    answers: list[AnswerRecord] = field(default_factory=list)
    selected: int | None = None                          # index into answers

    def record_for_message(self, index: int) -> int | None:
        for i, r in enumerate(self.answers):
            if r.msg_index == index or r.msg_index == index + 1:  # a question selects its answer
                return i
        return None

    @property
    def current(self) -> AnswerRecord | None:
        if self.selected is None or not (0 <= self.selected < len(self.answers)):
            return None
        return self.answers[self.selected]

    def trim(self, max_turns: int) -> None:
        """Keep the last `max_turns` answers and the messages from the first kept one's question on."""
        drop = len(self.answers) - max_turns
        if drop <= 0:
            return
        first_kept = self.answers[drop].msg_index - 1      # its question sits just before the answer
        self.messages = self.messages[first_kept:]
        self.answers = [replace(r, msg_index=r.msg_index - first_kept) for r in self.answers[drop:]]
        self.conversation.turns = self.conversation.turns[-max_turns:]
        if self.selected is not None:
            self.selected = self.selected - drop if self.selected >= drop else None


class Runtime:
    """The loaded assistant, shared by all sessions; `reload` builds a new Assistant and swaps it in.
    Questions run concurrently up to the queue's limit (each takes the assistant it finds)."""

    def __init__(self, assistant: Assistant, settings: Settings,
                 loader: Callable[[Settings], Assistant] | None = None, *, admin: bool = False) -> None:
        self.assistant = assistant
        self.settings = settings
        self.access = AccessControl(settings)
        self.admin = admin              # whether document management exists in this app at all
        self.version = 0                # bumped by every reload: pages compare it to refresh their lists
        self._lock = threading.RLock()
        self.admin_lock = threading.Lock()
        self._loader = loader or (lambda s: Assistant.load(s, progress=False))
        self._topics: list[tuple[str, str]] | None = None

    @property
    def documents(self) -> dict[str, DocumentMeta]:
        return self.assistant.documents

    def may_manage(self, user: str | None) -> bool:
        """Document management: on in this app, and (with a login) for administrators only."""
        return self.admin and (not self.access.enabled or self.access.is_admin(user))

    def ask(self, question: str, conversation: Conversation, doc_filter: str | None):
        return self.assistant.ask(question, conversation=conversation, doc_filter=doc_filter)

    def search(self, topic: str, doc_id: str, k: int = 1):
        retriever = self.assistant.retriever
        result = retriever.search(topic, doc_filter=doc_id, k=k)
        return result, retriever.content_words(topic, result.scope)

    def topics(self) -> list[tuple[str, str]]:
        if self._topics is None:
            try:
                self._topics = common_topics(load_corpus(self.settings))
            except Exception:  # a broken corpus file must not take the app down
                log.exception("could not list common topics")
                self._topics = []
        return self._topics

    def reload(self) -> None:
        fresh = self._loader(self.settings)
        with self._lock:
            self.assistant = fresh
            self._topics = None
            self.version += 1
