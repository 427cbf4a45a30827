"""Conversation state and follow-up rewriting.

Elliptical questions are rewritten into standalone ones before retrieval, by fixed rules:
- "那松江区呢？"         same question, another place;
- "那“一江一河一带”呢？" same place and same ask, another topic;
- "它由哪个部门负责？"    same subject, another facet;
- "具体几天？"           same subject, a more precise facet;
- "还有别的要求吗？"      the same question again, other sentences;
- no place named         the conversation's place carries over.
A question that stands alone is left as it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from assistant.query.scope import named_places
from assistant.query.facets import question_facets
from assistant.query.gazetteer import places_in
from assistant.query.normalize import normalize_question
from assistant.ingest.metadata import DocumentMeta

_PLACE_SWAP = re.compile(r"^(?:那|那么|那如果是|换成)?\s*(?P<x>[^，,。？?]{1,30}?)\s*(?:的)?(?:情况|规定|要求)?呢[？?。!！]*$")
_MORE = re.compile(r"^(?:那)?(?:还有|另外还有|此外还有|其他还有)(?:没有)?(?:别的|其他|其它|什么|哪些)?(?:要求|规定|内容|措施|举措|的)?(?:吗|呢|么)?[？?。，,]*")
_PRONOUN = re.compile(r"^(?:那)?(?:它|其|这项|该项|这个|此项|这些|这一项|这一条|这条|该条|此条|上述|那一项|那一条)")
_LEADING_THAT = re.compile(r"^(?:那么|那|就是说|请问)")
_INTERROGATIVE = re.compile(
    r"(?:是什么|有什么|有哪些|是哪|在几月|什么时候|几月|多少|多久|哪些|哪个|怎么|如何|由谁|谁负责|谁|吗|呢|要求|有没有|是否|具体|什么)")
_ADJACENT_YEAR = re.compile(r"\s*\d{4}\s*年(?:度)?")
_NEW_TOPIC = re.compile(r"^(?:换个问题|换个话题|另外问一下|另一个问题|再问一个|再问个|问个别的|另问)[^，,：:。]{0,4}[，,：:。\s]+")
_SAME_QUESTION = re.compile(r"^(?:同样的问题|同一个问题|一样的问题|同样)[，,：:\s]*(?P<x>[^，,。？?]{1,20}?)(?:是)?"
                            r"(?:怎么说|怎么规定|如何规定|是怎么规定的|的情况|又如何|呢|(?=[？?。，,]|$))[？?。，,]*(?P<rest>.*)$")
_CROSS_DOC = re.compile(r"各区|各地|各文件|所有文件|哪些文件|都要求|普遍|共同|分别")
_YES_NO_ASKS = re.compile(r"(?:有没有|是否|要不要|会不会|能不能|是不是)(?:要|有|会)?(?P<what>[^，,。？?]{2,40}?)(?:吗|呢|没有)?[？?。]*$")
_FACET_ONLY_MAX = 12
# The names of a clause's facets ("责任单位", "时间节点"): a question made of one and an interrogative asks that
# facet of the previous subject, and a subject ending in one ("…的时限要求是什么") is the subject without it.
_FACET_NAME = re.compile(r"(?:(?:责任|牵头|承办|配合|主责)(?:单位|部门)|时间节点|完成(?:时限|时间|期限)|办理时限|截止(?:时间|日期)"
                         r"|时限(?:要求)?|期限|文号|主送(?:单位)?|抄送(?:单位)?|发文(?:单位|机关)|成文日期)")
_FACET_VERB_MAX = 3    # "报给谁": a verb of up to this many characters before the interrogative
_TAIL_MAX_CHARS = 12   # an interrogative this close to the end is the question's asking part
_CONTINUATION = ("还", "另外", "此外", "其中", "具体", "同时", "再", "又")


@dataclass
class Turn:
    question: str
    rewritten: str
    doc_ids: list[str] = field(default_factory=list)
    used_sentences: list[str] = field(default_factory=list)


@dataclass
class Rewrite:
    question: str           # standalone form used for retrieval
    rule: str | None        # which rule applied (None: the question stood alone)
    avoid_sentences: set[str] = field(default_factory=set)


def _fold(text: str) -> str:
    # Not NFKC: the rewritten question is shown to the user and keeps its full-width punctuation.
    return unicodedata.normalize("NFC", text).strip()


def _place_phrase(question: str, documents: dict[str, DocumentMeta]) -> tuple[int, int] | None:
    """Span of the place a question names, district prefix included ("宝山淞南镇", "浦东新区")."""
    places = named_places(question, documents)
    if places:
        alias = places[0][0]
        start = question.find(alias)
        end = start + len(alias)
        before = [(pos, name) for pos, name in places_in(question[:start]) if pos + len(name) == start]
        if before:
            start = before[-1][0]
        for suffix in ("新区", "街道", "区", "镇"):
            if question[end:].startswith(suffix):
                end += len(suffix)
                break
        # The document's year travels with its place: "浦东2024年…" -> "浦东2024年主送单位…".
        year_after = _ADJACENT_YEAR.match(question, end)
        if year_after:
            end = year_after.end()
        year_before = re.search(r"\d{4}\s*年(?:度)?\s*$", question[:start])
        if year_before:
            start = year_before.start()
        return start, end
    named = places_in(question)
    return (named[0][0], named[0][0] + len(named[0][1])) if named else None


def _is_place(text: str, documents: dict[str, DocumentMeta]) -> bool:
    span = _place_phrase(text, documents)
    return span is not None and len(text) - (span[1] - span[0]) <= 2


def _interrogative(question: str) -> re.Match[str] | None:
    """The question's asking part: the first interrogative near its end ("…冗余信息吗？", not the
    "要求" of "虹口区要求清理…"), else the first one anywhere ("哪些单位负责…")."""
    found = list(_INTERROGATIVE.finditer(question))
    near_end = [m for m in found if len(question) - m.start() <= _TAIL_MAX_CHARS]
    return (near_end or found or [None])[0]


def _stem(question: str) -> str:
    """The subject of a question: what comes before its interrogative part; for a yes/no question
    ("浦东要点里有没有组织优秀案例评选？") what it asks about too, which comes after its "有没有"."""
    m = _interrogative(question)
    stem = question[:m.start()] if m else question
    asked = _YES_NO_ASKS.match(question[m.start():]) if m else None
    if asked:
        stem += asked.group("what")
    stem = stem.rstrip("，,的是要在")
    without_facet = re.sub(rf"的?{_FACET_NAME.pattern}$", "", stem)
    return without_facet if len(without_facet) >= 2 else stem


def _tail(question: str) -> str:
    m = _interrogative(question)
    return question[m.start():] if m else "？"


def _asks_only_a_facet(question: str) -> bool:
    """"由谁负责？", "具体几天？", "报给谁？": a short question whose words before its interrogative are too few
    to name a subject of their own; it asks a facet of the previous question's subject."""
    if question.startswith(("具体", "由", "谁", "什么时候", "几", "多少", "哪", "分别", "各自")):
        return True
    m = _interrogative(question)
    if m is not None and _FACET_NAME.fullmatch(question[:m.start()].rstrip("的是都有")):
        return True   # "责任单位是哪些？", "时间节点呢"
    return m is not None and m.start() <= _FACET_VERB_MAX and bool(question_facets(question))


def rewrite_followup(question: str, history: list[Turn], documents: dict[str, DocumentMeta]) -> Rewrite:
    """The standalone form of `question` given the earlier turns (see the module docstring)."""
    q = _fold(question)
    fresh = _NEW_TOPIC.match(q)
    if not history or fresh:
        # "换个问题，…": whatever follows stands alone; nothing carries over.
        return Rewrite(q[fresh.end():] if fresh else q, "new-topic" if fresh else None)
    same = _SAME_QUESTION.match(q)
    if same and _place_phrase(same.group("x"), documents):
        swapped = rewrite_followup(same.group("x").strip() + "呢？", history, documents)
        rest = same.group("rest").strip()
        # "同样的问题，松江区怎么说？由谁负责？": the same question there, and one more facet of it.
        return Rewrite(swapped.question.rstrip("？?") + ("，" + rest if rest else "？"), swapped.rule)
    prev = history[-1].rewritten
    prev_place = _place_phrase(prev, documents)
    place_text = prev[prev_place[0]:prev_place[1]] if prev_place else ""

    if _MORE.match(q):
        rest = _MORE.sub("", q).strip("，,。 ")
        # "还有呢？开放活动方面还有别的安排没？": what is asked now, about the previous question's subject; the
        # previous question's facet ("在几月") is not asked again.
        rewritten = f"{_stem(prev)}，{rest}" if rest else prev.rstrip("？?。")
        return Rewrite(rewritten, "more", set(history[-1].used_sentences))

    m = _PLACE_SWAP.match(q)
    if m:
        x = m.group("x").strip()
        if _is_place(x, documents):
            new_place = x[slice(*_place_phrase(x, documents))]
            if prev_place:
                return Rewrite(prev[:prev_place[0]] + new_place + prev[prev_place[1]:], "place")
            return Rewrite(new_place + prev, "place")
        if question_facets(x + "？") or question_facets(x + "是什么？"):
            # "完成时限呢？", "那抄送呢": the same subject, another facet of it.
            return Rewrite(_stem(prev) + "的" + x + "是什么？", "facet")
        # Same place, same ask, another subject: "那“一江一河一带”建设情况公开呢？"; the facets the
        # previous question asked ("责任单位和时间节点") are asked again.
        asked = [f.kind for f in question_facets(prev)]
        tail = _tail(prev)
        if [f.kind for f in question_facets(tail)] != asked:
            tail = "的" + "和".join(f.label for f in question_facets(prev)) + "是什么？"
        return Rewrite(place_text + x + tail, "topic")

    own_place = _place_phrase(q, documents)
    if _PRONOUN.match(q) or (len(q) <= _FACET_ONLY_MAX and own_place is None and _asks_only_a_facet(q)):
        body = _PRONOUN.sub("", q)
        return Rewrite(_stem(prev) + body, "facet")

    # The conversation's place carries over only to a question that leans on what came before:
    # "那…", "具体…", or one too short to stand alone. "依申请公开办理有什么要求？" after a 浦东
    # question asks about every document again.
    elliptical = _LEADING_THAT.match(q) or q.startswith(_CONTINUATION) or len(q) <= _FACET_ONLY_MAX
    if own_place is None and place_text and elliptical and not _CROSS_DOC.search(q):
        return Rewrite(place_text + _LEADING_THAT.sub("", q), "place-carried")
    return Rewrite(q, None)


def carry_place(question: str, history: list[Turn], documents: dict[str, DocumentMeta]) -> Rewrite:
    """`question` with the previous turn's place (and year) in front: a continuation that names none."""
    prev = history[-1].rewritten if history else ""
    span = _place_phrase(prev, documents)
    if not span:
        return Rewrite(question, None)
    return Rewrite(prev[span[0]:span[1]] + _LEADING_THAT.sub("", question), "topic-carried")


def leans_on_nothing(question: str) -> bool:
    """A question that asks across documents ("各区…", "哪些文件…") never inherits a place."""
    return bool(_CROSS_DOC.search(question))


@dataclass
class Conversation:
    """What a chat keeps between turns; one per user session."""

    turns: list[Turn] = field(default_factory=list)

    def rewrite(self, question: str, documents: dict[str, DocumentMeta]) -> Rewrite:
        return rewrite_followup(question, self.turns, documents)

    def record(self, question: str, rewritten: str, doc_ids: list[str], used_sentences: list[str]) -> None:
        self.turns.append(Turn(question, rewritten, list(doc_ids), list(used_sentences)))

    @classmethod
    def from_questions(cls, questions: list[str], documents: dict[str, DocumentMeta]) -> "Conversation":
        """Rebuild the state from earlier user questions (CLI --history, batch files)."""
        conversation = cls()
        for question in questions:
            rewrite = conversation.rewrite(normalize_question(question), documents)
            conversation.record(question, rewrite.question, [], [])
        return conversation
