"""Optional answers written by an OpenAI-compatible language model, checked against the clauses.

Used only when `llm_base_url` and `llm_model` are set, and only for questions the retriever found
relevant (`Assistant.ask` decides refusal before the model is called). The model sees the top
`MAX_CONTEXT_CLAUSES` retrieved clauses, each under a citation key [1]..[k], and is told to end
every sentence with the keys of the clauses it comes from, to use nothing else, and to answer with
exactly `messages.REFUSAL` when the clauses do not answer.

Nothing the model writes is shown unchecked. Verification, sentence by sentence:

1. Citation keys that name no clause given to the model ([9] when there were 6) are dropped.
2. A sentence left with no valid key is *repaired*: the key of the given clause that supports it
   best is attached, if that support reaches `settings.llm.llm_min_support`; otherwise the sentence is dropped.
3. Support: `support(sentence, clauses)` is the share of the sentence's character bigrams that also
   occur in the cited clauses' texts. Bigrams are taken inside runs of CJK characters, letters and
   digits, after NFKC folding, lower-casing and removing whitespace (so punctuation neither makes
   nor breaks a bigram, and "３ 个" matches "3个"). A sentence whose support is below
   `settings.llm.llm_min_support` (0.6) is removed. 0.6 keeps sentences copied from a clause or lightly
   condensed from it ("强化办件规范，保障答复质效和办理时限。" scores 1.0) and removes sentences the
   clause does not state: "浦东新区规定答复期限为3个工作日。" shares 浦东/东新/新区/答复/工作 with
   the 依申请 clause but not the rest, and scores about 0.35.
4. Numbers: a sentence that states a number (a run of digits) which none of its cited clauses
   contains is removed even when its bigram support passes — a changed deadline or count is the
   most harmful invention and can sit in an otherwise copied sentence.
5. A cited key whose own clause supports the sentence less than `settings.llm.llm_key_min_support` is dropped when
   the other keys of the sentence support it on their own (a stray extra citation).

Every removal and repair is listed in `Answer.notes`. If nothing survives, if the model answers
with the refusal sentence, or if the call fails or times out (`llm_timeout_s`, no retries), the
answer falls back to the extractive answer, with a note saying why. A model refusal falls back to
the extractive answer rather than refusing: the retrieval gate already judged the clauses relevant,
and the extractive answerer has its own checks (it says "not stated" when the asked-for detail is
missing), so a model that gives up should not hide clauses that do answer.

The result is an `Answer` with kind="llm": the surviving sentences, each followed by its
renumbered citation marks ("……。[1][2]"; one "sentence" line per line of the reply, each sentence a
quoted segment with its citation numbers), and
`citations` numbered in order of first use, each with the clause data and `spans` = the clause
sentences that overlap the answer sentences most.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlparse

from assistant.errors import AssistantError
from assistant.answer import messages
from assistant.answer.extractive import Answer, ExtractiveAnswerer
from assistant.answer.lines import AnswerLine, Segment, quoted, said
from assistant.answer.records import CitationList
from assistant.config import Settings
from assistant.retrieve.hybrid import Hit, SearchResult
from assistant.ingest.searchkey import bigrams, compact, support  # noqa: F401  (bigrams: part of this module's API)
from assistant.ingest.structure import sentences as split_sentences
from assistant.ingest.structure import Clause

# --- prompt -------------------------------------------------------------------------------------

MAX_CONTEXT_CLAUSES = 6        # retrieved clauses shown to the model, best first
MAX_CLAUSE_PROMPT_CHARS = 900  # a clause longer than this is cut in the prompt (clauses are ~360)
MAX_TOKENS = 1024
TEMPERATURE = 0.0
PLACEHOLDER_API_KEY = "not-needed"   # the OpenAI client wants a key; local servers ignore it

SYSTEM_PROMPT = (
    "你是“政务公开助手”，根据政府发布的政务公开工作要点文件回答公众的问题。\n"
    "规则：\n"
    "1. 只能使用用户消息中给出的条款作答，不得使用条款以外的任何知识，不得推测、补充或改写数字、期限、单位名称。\n"
    "2. 每个句子都必须以它所依据条款的引用编号结尾，例如“……办理时限。[1]”或“……。[1][3]”；"
    "只能使用给出的编号，不得编造编号。没有依据的句子不要写。\n"
    "3. 尽量沿用条款原文的措辞，简洁作答，不要写开场白和总结。\n"
    f"4. 如果这些条款不能回答问题，只回答这一句，不加任何其他内容：{messages.REFUSAL}"
)

CLAUSE_BLOCK = "[{n}] 《{title}》{path}\n{text}"
USER_PROMPT = (
    "问题：{question}\n"
    "{rewritten}"
    "\n条款：\n{clauses}\n\n"
    "请只依据以上条款回答问题，每句末尾标注引用编号（[1] 到 [{k}]）。"
    f"如果条款不能回答问题，只回答：{messages.REFUSAL}"
)
REWRITTEN_LINE = "（结合上文，问题理解为：{question}）\n"

# --- verification -------------------------------------------------------------------------------

SPAN_MIN_SHARE = 0.5      # a further clause sentence is a span when this share of it is used

_MARK = re.compile(r"[\[［【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]］】]")
_PIECE = re.compile(r"[^。！？!?]*[。！？!?]?(?:\s*[\[［【]\s*\d+(?:\s*[,，、]\s*\d+)*\s*[\]］】])*")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）])\s*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _fold(text: str) -> str:
    return compact(unicodedata.normalize("NFKC", text)).lower()


def missing_numbers(sentence: str, clause_texts: list[str]) -> list[str]:
    """Numbers the sentence states that none of the clause texts contains."""
    pool = " ".join(_fold(t) for t in clause_texts)
    present = set(_NUMBER.findall(pool))
    return [n for n in dict.fromkeys(_NUMBER.findall(_fold(sentence))) if n not in present]


@dataclass
class ModelSentence:
    """One sentence of the model's reply: text without marks, the keys it cited, its line."""
    text: str
    keys: list[int]
    line: int
    prefix: str = ""          # the bullet its line starts with ("-", "1.")


def parse_reply(reply: str) -> list[ModelSentence]:
    """Split the model's reply into sentences with their citation keys.

    Marks may stand before or after the sentence end ("……时限[1]。" and "……时限。[1]"), be
    full-width ("［1］", "【1】") or list several keys ("[1,3]", "[1][3]").
    """
    out: list[ModelSentence] = []
    for number, line in enumerate(reply.replace("\r", "").split("\n")):
        bullet = _BULLET.match(line)
        prefix = bullet.group(0).strip() if bullet else ""
        body = line[bullet.end():] if bullet else line
        for piece in _PIECE.findall(body):
            keys = [int(k) for group in _MARK.findall(piece) for k in re.split(r"\s*[,，、]\s*", group)]
            text = _MARK.sub("", piece).strip()
            if not compact(text):
                continue
            out.append(ModelSentence(text=text, keys=list(dict.fromkeys(keys)), line=number, prefix=prefix))
    return out


def is_refusal(reply: str) -> bool:
    return _fold(messages.REFUSAL).rstrip("。") in _fold(_MARK.sub("", reply))


def _clause_sentences(clause: Clause) -> list[str]:
    out = []
    for line in clause.text.split("\n"):
        if clause.kind == "table_row":
            line = re.sub(r"^\d+\s+", "", line)
        out.extend(s for s in split_sentences(line) if compact(s))
    return out


# --- the answerer -------------------------------------------------------------------------------

class LLMError(AssistantError, RuntimeError):
    """The model could not be asked (network, timeout, HTTP error, empty reply)."""


def validate_llm_settings(settings: Settings) -> str:
    """Check the language-model settings; return the API base URL to use (ends in /v1 if no path)."""
    base = (settings.llm.llm_base_url or "").strip()
    if not base:
        raise ValueError("llm_base_url is empty: set ASSISTANT_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1")
    parsed = urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or not parsed.hostname:
        raise ValueError(f"llm_base_url {base!r} is not an http(s) URL such as http://127.0.0.1:8000/v1")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ValueError(f"llm_base_url {base!r} has an invalid port") from exc
    if parsed.query or parsed.fragment:
        raise ValueError(f"llm_base_url {base!r} must not carry a query or fragment")
    if not (settings.llm.llm_model or "").strip():
        raise ValueError("llm_model is empty: set ASSISTANT_LLM_MODEL to the model name the server serves")
    if not settings.llm.llm_timeout_s or settings.llm.llm_timeout_s <= 0:
        raise ValueError(f"llm_timeout_s must be positive, got {settings.llm.llm_timeout_s!r}")
    base = base.rstrip("/")
    if parsed.path in ("", "/"):
        base += "/v1"   # OpenAI-compatible servers (vLLM, llama.cpp, Ollama …) serve under /v1
    return base


class LLMAnswerer:
    """Answers with an OpenAI-compatible chat model; falls back to `extractive` when it must."""

    def __init__(self, settings: Settings, extractive: ExtractiveAnswerer) -> None:
        from llama_index.llms.openai_like import OpenAILike  # only imported when the mode is on

        self.settings = settings
        self.extractive = extractive
        self.api_base = validate_llm_settings(settings)
        self.model = settings.llm.llm_model.strip()
        self.llm = OpenAILike(
            model=self.model, api_base=self.api_base, api_key=settings.llm.llm_api_key or PLACEHOLDER_API_KEY,
            is_chat_model=True, is_function_calling_model=False, timeout=float(settings.llm.llm_timeout_s),
            max_retries=0, temperature=TEMPERATURE, max_tokens=MAX_TOKENS, reuse_client=True)

    # --- prompt ----------------------------------------------------------------------------------

    @staticmethod
    def context_hits(result: SearchResult) -> list[Hit]:
        return result.hits[:MAX_CONTEXT_CLAUSES]

    def build_messages(self, question: str, result: SearchResult, rewritten: str | None = None) -> list:
        from llama_index.core.llms import ChatMessage, MessageRole

        blocks = []
        for n, hit in enumerate(self.context_hits(result), 1):
            clause = hit.clause
            text = clause.text
            if len(text) > MAX_CLAUSE_PROMPT_CHARS:
                text = text[:MAX_CLAUSE_PROMPT_CHARS] + "……"
            path = " > ".join(clause.heading_path or [])
            blocks.append(CLAUSE_BLOCK.format(n=n, title=clause.doc_title,
                                              path=f" {path}" if path else "", text=text))
        extra = REWRITTEN_LINE.format(question=rewritten) if rewritten and rewritten != question else ""
        user = USER_PROMPT.format(question=question, rewritten=extra, clauses="\n\n".join(blocks), k=len(blocks))
        return [ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM_PROMPT),
                ChatMessage(role=MessageRole.USER, content=user)]

    def complete(self, messages_: list) -> str:
        """One chat call; raises LLMError (with the reason) on any failure."""
        try:
            response = self.llm.chat(messages_)
        except Exception as exc:   # openai.APITimeoutError, APIConnectionError, APIStatusError …
            name = type(exc).__name__
            if "Timeout" in name or isinstance(exc, TimeoutError):
                raise LLMError(f"timed out after {self.settings.llm.llm_timeout_s:g} s ({name})") from exc
            raise LLMError(f"{name}: {str(exc)[:200]}") from exc
        content = response.message.content if response and response.message else None
        if not content or not content.strip():
            raise LLMError("empty reply")
        return content

    # --- answering --------------------------------------------------------------------------------

    def answer(self, question: str, result: SearchResult, *, rewritten: str | None = None,
               avoid_sentences: set[str] = frozenset()) -> Answer:
        rewritten = rewritten or question
        if not result.relevant or not result.hits:
            return self.extractive.answer(question, result, rewritten=rewritten, avoid_sentences=avoid_sentences)
        t0 = time.perf_counter()
        try:
            reply = self.complete(self.build_messages(question, result, rewritten))
        except LLMError as exc:
            return self._fallback(question, result, rewritten, avoid_sentences, f"model call failed: {exc}", t0)
        if is_refusal(reply):
            return self._fallback(question, result, rewritten, avoid_sentences,
                                  "model answered that the clauses do not answer the question", t0)
        answer, notes = self.verify(question, result, rewritten, reply)
        if answer is None:
            return self._fallback(question, result, rewritten, avoid_sentences,
                                  "no sentence of the model's reply was supported by the clauses", t0,
                                  extra=notes)
        answer.timings_ms["llm"] = (time.perf_counter() - t0) * 1000
        return answer

    def _fallback(self, question: str, result: SearchResult, rewritten: str, avoid: set[str], why: str,
                  t0: float, extra: list[str] | None = None) -> Answer:
        answer = self.extractive.answer(question, result, rewritten=rewritten, avoid_sentences=avoid)
        answer.notes.extend(extra or [])
        answer.notes.append(f"llm: {why}; extractive answer shown")
        answer.timings_ms["llm"] = (time.perf_counter() - t0) * 1000
        return answer

    def verify(self, question: str, result: SearchResult, rewritten: str,
               reply: str) -> tuple[Answer | None, list[str]]:
        """The reply's supported sentences as an Answer (kind="llm"), or None if none survives;
        and the notes on what was dropped or repaired."""
        hits = self.context_hits(result)
        texts = {n: hit.clause.text for n, hit in enumerate(hits, 1)}
        notes: list[str] = []
        kept: list[ModelSentence] = []
        min_support, key_min_support = self.settings.llm.llm_min_support, self.settings.llm.llm_key_min_support
        for s in parse_reply(reply):
            valid = [k for k in s.keys if k in texts]
            bad = [k for k in s.keys if k not in texts]
            if bad:
                notes.append(f"llm: dropped citation {messages.cite(*bad)} (no such clause) in “{s.text}”")
            if not valid:
                best_key, best = max(((k, support(s.text, [t])) for k, t in texts.items()),
                                     key=lambda kv: kv[1], default=(0, 0.0))
                if best < min_support:
                    notes.append(f"llm: removed “{s.text}”: no valid citation and no clause supports it "
                                 f"(best support {best:.2f} < {min_support})")
                    continue
                valid = [best_key]
                notes.append(f"llm: cited {messages.cite(best_key)} for “{s.text}” (support {best:.2f})")
            if len(valid) > 1:
                own = {k: support(s.text, [texts[k]]) for k in valid}
                strong = [k for k in valid if own[k] >= key_min_support]
                if strong and support(s.text, [texts[k] for k in strong]) >= min_support and len(strong) < len(valid):
                    stray = [k for k in valid if k not in strong]
                    notes.append(f"llm: dropped stray citation {messages.cite(*stray)} in “{s.text}”")
                    valid = strong
            score = support(s.text, [texts[k] for k in valid])
            if score < min_support:
                notes.append(f"llm: removed unsupported sentence “{s.text}” "
                             f"(support {score:.2f} < {min_support} by {messages.cite(*valid)})")
                continue
            numbers = missing_numbers(s.text, [texts[k] for k in valid])
            if numbers:
                notes.append(f"llm: removed “{s.text}”: number(s) {'、'.join(numbers)} not in "
                             f"{messages.cite(*valid)}")
                continue
            s.keys = valid
            kept.append(s)
        if not kept:
            return None, notes

        cites = CitationList(self.extractive.documents)
        lines: dict[int, list[Segment]] = {}
        for s in kept:
            numbers = []
            for k in s.keys:
                hit = hits[k - 1]
                n = cites.cite(hit)
                for span in self._spans(s.text, hit.clause):
                    cites.cite(hit, span)
                numbers.append(n)
            if s.line not in lines:
                lines[s.line] = [said(s.prefix + " ")] if s.prefix and s.prefix != "-" else []
            lines[s.line].append(quoted(s.text, *sorted(set(numbers))))
        prefixes = {s.line: s.prefix for s in kept}
        answer = Answer(
            question=question, rewritten_question=rewritten, refused=False,
            lines=[AnswerLine.of("sentence", *parts, bullet=prefixes[number] == "-")
                   for number, parts in sorted(lines.items())],
            scope=result.scope.doc_ids, citations=cites.items,
            retrieved=[{"clause_id": h.clause_id, "doc_id": h.doc_id, "score": round(h.score, 5),
                        "text": h.clause.text} for h in result.hits],
            timings_ms=dict(result.timings_ms), kind="llm", notes=notes)
        return answer, notes

    @staticmethod
    def _spans(sentence: str, clause: Clause) -> list[str]:
        """The clause sentences the answer sentence draws on: the most overlapping one, and any
        other of which at least SPAN_MIN_SHARE is used."""
        wanted = bigrams(sentence)
        scored = []
        for candidate in _clause_sentences(clause):
            own = bigrams(candidate)
            if own:
                shared = len(wanted & own)
                scored.append((shared, shared / len(own), candidate))
        if not scored:
            return []
        best = max(scored, key=lambda t: t[0])
        if best[0] == 0:
            return []
        return [c for shared, share, c in scored if c == best[2] or share >= SPAN_MIN_SHARE]
