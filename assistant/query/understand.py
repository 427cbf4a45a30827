"""(question, conversation, selected document) -> `Query`, computed once per question."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.query.followup import Conversation, Rewrite, Turn, carry_place, leans_on_nothing, rewrite_followup
from assistant.query.facets import Facet, question_facets, without_story
from assistant.query.gazetteer import parents, places_in
from assistant.query.kinds import question_type
from assistant.query.normalize import normalize_question
from assistant.query.thesaurus import expansions
from assistant.query.homophones import TermSpeller, correct_place_homophones
from assistant.query.scope import Scope, resolve_scope
from assistant.index.segmentation import ChineseTokenizer
from assistant.ingest.metadata import DocumentMeta


@dataclass
class Query:
    original: str                      # as typed
    text: str                          # normalised (simplified, widths, spaces, misspellings)
    rewrite: str                       # standalone form (follow-ups completed from the conversation)
    rule: str | None                   # the follow-up rule that produced `rewrite` (None: stood alone)
    selected_doc: str | None           # chosen in the UI / --doc
    scope: Scope
    qtype: str                         # see assistant.query.kinds.QTYPES
    facets: list[Facet] = field(default_factory=list)
    content_words: list[str] = field(default_factory=list)
    search_tokens: list[str] = field(default_factory=list)  # what the lexical leg searches for
    expansions: list[str] = field(default_factory=list)   # thesaurus terms searched besides the words
    story_tokens: list[str] = field(default_factory=list)  # words of the asker's own story, searched at a discount
    avoid_sentences: set[str] = field(default_factory=set)  # already given in this conversation
    parts: list["Query"] = field(default_factory=list)     # the questions of a multi-part question, each understood

    @property
    def facet_kinds(self) -> list[str]:
        return [f.kind for f in self.facets]

    @property
    def facet(self) -> Facet | None:
        return self.facets[0] if self.facets else None

    def to_dict(self) -> dict:
        return {"original": self.original, "text": self.text, "rewrite": self.rewrite, "rule": self.rule,
                "selected_doc": self.selected_doc, "scope": self.scope.to_dict(), "qtype": self.qtype,
                "facets": [{"kind": f.kind, "label": f.label, "unit": f.unit} for f in self.facets],
                "content_words": self.content_words, "search_tokens": self.search_tokens, "expansions": self.expansions,
                "story_tokens": self.story_tokens,
                "parts": [p.rewrite for p in self.parts]}


_NAME_SEPARATOR = "\x00"   # in no place name or token
_MAX_REMEMBERED_TOKENS = 1 << 16


def _occurring(text: str, names: frozenset[str], longest: int) -> list[str]:
    """The `names` that occur in `text`, found by looking up each span of `text` up to the longest name (a few
    hundred lookups) rather than searching `text` for each of thousands of names."""
    spans = {text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + longest) + 1)}
    return sorted(spans & names)


_PIECE_END = re.compile(r"(?<=[？?])")
_MIN_PIECE_CHARS = 4
# What makes a piece without a question mark a question ("…？那浦东呢"); without any, a closing piece is
# the asker's story ("…啥时候搞啊？想带娃去参观一下"), not a second question.
_ASKS = re.compile(r"什么|啥|哪|谁|几|多少|多久|怎么|怎样|如何|咋|吗|呢|是否|要不要|有没有|会不会|能不能|可不可以|是不是")


def question_parts(question: str) -> list[str]:
    """The separate questions of "A？B？" (each with an interrogative and words of its own)."""
    pieces = [p.strip(" ，,。") for p in _PIECE_END.split(question)]
    if pieces and not _ASKS.search(pieces[-1]):
        pieces.pop()
    pieces = [p for p in pieces if len(re.findall(r"[\u3400-\u9fff]", p)) >= _MIN_PIECE_CHARS]
    return pieces if len(pieces) >= 2 else []


class QueryUnderstanding:
    """Holds what reading a question needs: the corpus's documents and the tokenizer."""

    def __init__(self, documents: dict[str, DocumentMeta], tokenizer: ChineseTokenizer,
                 home_of: Callable[[str], list[str]] | None = None, carry_min_hits: int = 3,
                 speller: TermSpeller | None = None) -> None:
        self.documents = documents
        self.tokenizer = tokenizer
        # home_of(question) -> the documents of the question's best clauses (from the retriever): a
        # follow-up without any marker continues the conversation's document when that is where its
        # topic lives.
        self.home_of = home_of
        self.carry_min_hits = carry_min_hits
        self.speller = speller   # reads a misheard term as the corpus's own word
        # The corpus's place names, gathered once: every question is read against all of them (thousands in a
        # city's corpus), and gathering them per question cost more than the reading. The documents of a loaded
        # index do not change while it serves.
        self._aliases = [a for meta in documents.values() for a in meta.aliases or []]
        self._alias_set = frozenset(self._aliases)
        self._alias_max = max(map(len, self._aliases), default=0)
        # A token is part of some name iff it occurs in the names joined by a character no token holds.
        self._joined_aliases = _NAME_SEPARATOR.join(self._aliases)
        # token -> whether some alias holds it: a search of the joined names is ~50 us at 6,600 documents, and a
        # question asks it for each token twice or more (search tokens, story tokens, content words, parts).
        self._in_some_alias: dict[str, bool] = {}
        # Load the gazetteer and the converter now, not on the first user's question.
        places_in("上海市淞南镇")   # the division data, towns included
        normalize_question("開")

    def understand(self, question: str, conversation: Conversation | None = None,
                   selected_doc: str | None = None) -> Query:
        text = correct_place_homophones(normalize_question(question), self.documents, self._alias_set)
        if self.speller is not None:
            # Only the names that occur in the text protect anything (the speller guards their spans).
            names = _occurring(text, self._alias_set, self._alias_max)
            text = self.speller.correct(text, names + [name for _, name in places_in(text)])
        rewrite = conversation.rewrite(text, self.documents) if conversation else Rewrite(text, None)
        if rewrite.rule is None and conversation and conversation.turns:
            rewrite = self._carry_by_topic(rewrite, conversation.turns)
        scope = resolve_scope(rewrite.question, self.documents, selected_doc)
        query = self._read(question, text, rewrite, scope, selected_doc)
        query.parts = self._parts(query)
        return query

    def _parts(self, whole: Query) -> list[Query]:
        """The questions of "A？B？" when B stands on its own ("保密审查坚持什么原则？碰到疑难复杂的申请
        又该怎么办？"). A piece that leans on the one before — another facet of the same thing
        ("…什么时候开始？由谁牵头？", "…怎么规定的？要推送到哪个平台？") — is not split off: the whole
        question, with all its facets, answers it; unless a leaning piece asks what or which rather than a
        facet ("…几月份？去了都有些啥环节？"), when every piece is asked on its own."""
        turns: list[Turn] = []
        parts: list[Query] = []
        leaning, leaning_facets_only = False, True
        for piece in question_parts(whole.rewrite):
            rewrite = rewrite_followup(piece, turns, self.documents) if turns else Rewrite(piece, None)
            if not self.content_words(rewrite.question, whole.scope):
                return []
            if rewrite.rule not in (None, "new-topic"):
                leaning = True
                # A leaning piece that asks what or which ("…几月份？去了都有些啥环节？") is not a facet the
                # whole question's answer can carry: it is asked on its own, read in the light of the one before.
                leaning_facets_only = leaning_facets_only and bool(question_facets(piece))
            parts.append(self._part(rewrite.question, whole))
            turns.append(Turn(piece, rewrite.question))
        return [] if leaning and leaning_facets_only else parts

    def _carry_by_topic(self, rewrite: Rewrite, turns: list[Turn]) -> Rewrite:
        """"转成主动公开以后放在哪个栏目发布？" after a 崇明 question: no marker, but the chat is about 崇明, so
        崇明 carries over. With carry_min_hits 0 (the default: every blind writer expected a chat to stay with
        its document) it always does; above 0, only when that many of the question's best clauses are the
        previous document's. A question asking across documents ("各区…", "哪些文件…") never inherits one."""
        if self.home_of is None or leans_on_nothing(rewrite.question):
            return rewrite
        own = resolve_scope(rewrite.question, self.documents)
        if own.doc_ids or own.unknown_places:
            return rewrite
        previous = resolve_scope(turns[-1].rewritten, self.documents).doc_ids
        if len(previous) != 1:
            return rewrite
        if self.carry_min_hits == 0:  # a chat continues its document until the user names another
            return carry_place(rewrite.question, turns, self.documents)
        homes = self.home_of(rewrite.question)
        if homes and homes[0] == previous[0] and homes.count(previous[0]) >= self.carry_min_hits:
            return carry_place(rewrite.question, turns, self.documents)
        return rewrite

    def _read(self, original: str, text: str, rewrite: Rewrite, scope: Scope, selected_doc: str | None) -> Query:
        facets = question_facets(rewrite.question)
        # "我是淞南镇新来的工作人员，领导让我写解读稿，…解读内容要聚焦哪些东西？": the story says who asks, the
        # rest what is asked; the story's words still search, at the thesaurus terms' discount.
        asked = without_story(rewrite.question)
        tokens = self.search_tokens(asked, scope)
        # Most questions carry no story: the whole question is then not segmented a second time.
        story = [] if asked == rewrite.question else \
            [t for t in self.search_tokens(rewrite.question, scope) if t not in tokens]
        return Query(original=original, text=text, rewrite=rewrite.question, rule=rewrite.rule,
                     selected_doc=selected_doc, scope=scope, qtype=question_type(rewrite.question, facets),
                     facets=facets, content_words=self.content_words(asked, scope),
                     search_tokens=tokens, expansions=expansions(rewrite.question),
                     story_tokens=story,
                     avoid_sentences=set(rewrite.avoid_sentences))

    def _part(self, piece: str, whole: Query) -> Query:
        """One question of a multi-part question; it keeps the whole question's place and documents."""
        scope = resolve_scope(piece, self.documents, whole.selected_doc)
        if not scope.places and not scope.doc_ids and not scope.unknown_places:
            scope = whole.scope
        return self._read(piece, piece, Rewrite(piece, whole.rule), scope, whole.selected_doc)

    def search_tokens(self, question: str, scope: Scope) -> list[str]:
        """The question's tokens for the lexical leg. Once the scope has narrowed the documents, the words
        that named them ("山东省教育厅", "松江区") tell its clauses apart no more; left in, they rank the
        notice and the 落款, which repeat them, above the clause that answers."""
        tokens = self.tokenizer.tokens(question)
        if not scope.doc_ids:
            return tokens
        kept = [t for t in tokens if not self._in_names(t, scope)]
        return kept or tokens

    def _in_names(self, token: str, scope: Scope) -> bool:
        """Whether `token` is part of a name: the scope's places, their parents (天津 of 天津和平区: it only says
        which 和平区, and its name in a clause, "对天津工作…", answers nothing) or any document's alias."""
        scoped = scope.places + scope.unknown_places + [parent for place in scope.places for parent in parents(place)]
        if any(token in name for name in scoped):
            return True
        if not token or _NAME_SEPARATOR in token:   # the joined names would answer these wrongly
            return any(token in name for name in self._aliases)
        known = self._in_some_alias.get(token)
        if known is None:
            if len(self._in_some_alias) >= _MAX_REMEMBERED_TOKENS:
                self._in_some_alias.clear()
            known = self._in_some_alias[token] = token in self._joined_aliases
        return known

    def content_words(self, question: str, scope: Scope) -> list[str]:
        """The question's words that must be found in an answer (places and years excluded)."""
        words = []
        for token in dict.fromkeys(self.tokenizer.tokens(question)):
            if self._in_names(token, scope) or token.isdigit() or token.endswith("年"):
                continue
            words.append(token)
        # Keep the longest forms: "依申请公开" covers "申请", "公开", "依申请".
        return [w for w in words if not any(w != o and w in o for o in words)]
