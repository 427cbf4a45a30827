"""Which sentences of a clause an answer quotes: those holding the question's words (weighted by how rare each
word is), or, for a requirement or list question, every sentence on the clause's topic.

`ExtractiveAnswerer` (extractive.py) is a `SentenceChoice`; the choice needs the retriever's word weights and
the answer settings, which it holds.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.ingest.searchkey import compact, search_key
from assistant.ingest.structure import Clause, sentences

if TYPE_CHECKING:
    from assistant.retrieve.hybrid import Hit, HybridRetriever

# "(责任单位:区府办、各部门,完成时限:全年)" on its own: the clause's units and deadline, which the
# citation shows; not a sentence of the requirement.
ONLY_UNITS = re.compile(r"^[（(][^（）()]*[）)][。；;]?$")
_RUN_IN_HEADING_CHARS = 12


class SentenceChoice:
    """Sentence choice over the clauses of one retriever (its word weights) and its settings."""

    retriever: "HybridRetriever"
    settings: Settings

    @staticmethod
    def _is_heading(sentence: str, clause: Clause) -> bool:
        label = clause.heading_path[-1] if clause.heading_path else ""
        return compact(sentence).rstrip("。") == compact(label)

    def _sentences(self, clause: Clause) -> list[str]:
        out = []
        for line in clause.text.split("\n"):
            if clause.kind == "table_row":
                line = re.sub(r"^\d+\s+", "", line)  # the row number is not part of the task
            out.extend(s for s in sentences(line) if compact(s))
        return out

    def _body_sentences(self, clause: Clause) -> list[str]:
        """The sentences an answer body may quote: a bare "(责任单位:…,完成时限:…)" is the clause's
        units and deadline, which facets read and the citation shows, not a requirement."""
        return [s for s in self._sentences(clause) if not ONLY_UNITS.match(s.strip())]

    def heading_on_topic(self, clause: Clause, words: list[str]) -> bool:
        """The clause's own heading is about the question ("加强政策留言板建设" for 留言板): then every
        sentence under it is part of what the plan requires on that topic."""
        label = search_key("".join(clause.heading_path[-1:]))
        if not label or not words:
            return False
        total = sum(self.retriever.word_weight(w) for w in words) or 1.0
        found = sum(self.retriever.word_weight(w) for w in words if search_key(w) in label)
        return found / total >= self.settings.answer.heading_topic_share

    def topic_sentences(self, clause: Clause, words: list[str], avoid: frozenset[str] = frozenset()) -> list[str]:
        """Every on-topic sentence of the clause, for a requirement or list question: all of them
        when the heading is the question's topic, else those sharing a content word with it."""
        body = [s for s in self._body_sentences(clause) if not self._is_heading(s, clause)] or self._body_sentences(clause)
        # A plan's numbered clause is one task: when it is short, each of its sentences is part of what
        # the plan requires on that task, whatever words the asker used for it.
        # Who is responsible and by when ("(责任单位:各部门、各街镇,完成时限:全年)") is part of the requirement.
        owners = [s for s in self._sentences(clause) if ONLY_UNITS.match(s.strip()) and compact(s) not in avoid]
        if self.heading_on_topic(clause, words) or len(body) <= self.settings.answer.whole_clause_sentences:
            return [s for s in body if compact(s) not in avoid] + owners
        return self.pick_sentences(clause, words, limit=len(self._body_sentences(clause)), avoid=avoid,
                                   min_share=self.settings.answer.topic_sentence_share)

    def weight_of(self, sentence: str, words: list[str]) -> float:
        """How much of the question (by inverse frequency) a sentence holds."""
        key = search_key(sentence)
        return sum(self.retriever.word_weight(w) for w in words if search_key(w) in key)

    def _best_sentence_elsewhere(self, chosen: list[Hit], hits: list[Hit], words: list[str]) -> Hit | None:
        """A near clause of the same document holding a sentence with more of the question than any chosen
        clause's ("深化哪项提升": the 总体要求 sentence "深化“六力提升”,制定本要点", under a longer clause)."""
        def best(hit: Hit) -> float:
            return max((self.weight_of(s, words) for s in self._body_sentences(hit.clause)), default=0.0)
        have = max(best(h) for h in chosen)
        others = [h for h in hits[:3] if h not in chosen and h.doc_id == chosen[0].doc_id
                  and h.clause.kind not in ("preamble", "footer")]
        better = max(others, key=best, default=None)
        return better if better is not None and best(better) > have else None

    def pick_sentences(self, clause: Clause, words: list[str], limit: int | None = None,
                       avoid: frozenset[str] = frozenset(), min_share: float | None = None) -> list[str]:
        """The clause's sentences that answer the question, in document order; none already in
        `avoid` (compact forms of sentences this conversation has given)."""
        limit = limit or self.settings.answer.max_sentences_per_clause
        min_share = self.settings.answer.sentence_min_share if min_share is None else min_share
        candidates = [s for s in self._body_sentences(clause) if not self._is_heading(s, clause)] or self._body_sentences(clause)
        fresh = [s for s in candidates if compact(s) not in avoid]
        if not fresh:
            return []
        candidates = fresh
        scores = [self.weight_of(s, words) for s in candidates]
        if not any(scores):
            return candidates[:1]
        best = max(scores)
        chosen = sorted(range(len(candidates)), key=lambda i: -scores[i])[:limit]
        chosen = [i for i in chosen if scores[i] >= best * min_share and scores[i] > 0]
        # "坚持便民服务。聚焦企业群众需求…让企业群众看得到、听得懂": a short sentence opening a line is a
        # run-in heading; what it requires follows it on that line.
        openers = {compact(next(iter(sentences(line)), "")) for line in clause.text.split("\n")}
        for i in list(chosen):
            if len(compact(candidates[i])) <= _RUN_IN_HEADING_CHARS and compact(candidates[i]) in openers:
                for j in range(i + 1, len(candidates)):
                    if compact(candidates[j]) in openers:
                        break
                    chosen.append(j)
        return [candidates[i] for i in sorted(set(chosen))]
