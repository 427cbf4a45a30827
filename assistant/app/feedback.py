"""User feedback (👍/👎 + optional comment) on answers, appended to a JSONL log.

One line per vote::

    {"time": "2024-06-01T10:20:30+08:00", "vote": "up" | "down", "comment": "…",
     "question": "…", "rewritten_question": "…", "history": ["earlier question", …],
     "scope": "2024-pudong" | null, "answer_scope": ["2024-pudong"], "kind": "factoid",
     "answer": "…", "citations": [{"n": 1, "clause_id": "2024-pudong/3.3", "doc_id": "2024-pudong",
                                  "quote": "a sentence the answer used"}]}

`scope` is what the user picked in the scope selector (null: all documents); `answer_scope` the
documents the answer was about. The log is only ever appended to — never rewritten — so several
app workers (threads or processes) can vote at once: each append holds a `filelock` on a lock file
beside the log and writes one complete line with a single `os.write` on an `O_APPEND` descriptor,
then fsyncs. A reader never sees half a line from a finished writer.

Every string recorded goes through `clean_external` first: invisible and control characters are
removed, and a lone surrogate or an over-long comment is a `FeedbackError` with a message — never
a UnicodeEncodeError halfway through writing the line.

`feedback_to_eval_item(line)` turns a logged line into a skeleton item for eval/questions.jsonl
(id, type, question, history, doc_filter, gold, answer_points, notes); the gold quotes come
from the cited clauses and must still be checked by whoever adds the item to the eval set.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.config import field_info
from assistant.errors import AssistantError, InputRejected
from assistant.external_text import clean_external

VOTES = ("up", "down")
MAX_COMMENT_CHARS: int = field_info("max_comment_chars").default   # for callers without settings
LOCK_TIMEOUT_S = 30.0
MAX_TEXT_CHARS = 20_000          # question / answer text kept in the log
EVAL_QUOTE_MAX_CHARS = 60        # eval/questions.jsonl: quotes are 8-60 characters on one line
EVAL_QUOTE_MIN_CHARS = 8
EVAL_TYPES = ("lookup", "requirement", "cross_doc", "table", "numeric", "followup", "unanswerable", "paraphrase")


class FeedbackError(AssistantError, ValueError):
    """A vote that cannot be recorded (unknown vote); the message says why."""


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _text(value: Any, what: str, *, limit: int = MAX_TEXT_CHARS, multiline: bool = False) -> str:
    """`value` cleaned for the log and clipped to `limit` (None: ""; numbers as text)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return _clip(clean_external(value, what=what, multiline=multiline), limit)


def _optional(value: Any, what: str) -> str | None:
    return _text(value, what) or None


def _citation_entry(d: dict) -> dict:
    text = d.get("text") or ""
    spans = d.get("spans") or []
    quote = d.get("quote")
    if quote is None:
        quote = text[spans[0][0]:spans[0][1]].strip() if spans and isinstance(text, str) else ""
    n = d.get("n")
    return {"n": n if isinstance(n, int) and not isinstance(n, bool) else None,
            "clause_id": _optional(d.get("clause_id"), "引用条款 (clause_id)"),
            "doc_id": _optional(d.get("doc_id"), "引用文档 (doc_id)"),
            "quote": _text(quote, "引用原文 (quote)", multiline=True)}


def citation_entries(citations: Iterable[Any]) -> list[dict]:
    """{n, clause_id, doc_id, quote} for each citation (an answer.Citation or its dict form);
    `quote` is the first sentence of the clause the answer used (empty when none is known)."""
    try:
        return [_citation_entry(c if isinstance(c, dict) else c.to_dict()) for c in citations]
    except InputRejected as exc:
        raise FeedbackError(str(exc)) from None


def make_record(*, question: str, rewritten_question: str | None, answer: str, citations: Iterable[Any],
                vote: str, comment: str = "", scope: str | None = None, answer_scope: list[str] | None = None,
                history: list[str] | None = None, kind: str | None = None, time: str | None = None,
                max_comment_chars: int = MAX_COMMENT_CHARS) -> dict:
    """The dict written as one log line. Raises FeedbackError for an unknown vote, a comment over
    `max_comment_chars`, or text that cannot be stored (a lone surrogate, a non-text value)."""
    if vote not in VOTES:
        raise FeedbackError(f"未知的评价 {vote!r}（vote must be one of {', '.join(VOTES)}）")
    try:
        comment = clean_external(comment or "", what="评论 (comment)", max_chars=max_comment_chars, multiline=True)
        question = _text(question, "问题 (question)")
        if not isinstance(history, (list, tuple, type(None))) or not isinstance(answer_scope, (list, tuple, type(None))):
            raise InputRejected("history 和 answer_scope 必须是列表 (history and answer_scope must be lists)")
        return {
            "time": _text(time, "时间 (time)") or now_iso(),
            "vote": vote,
            "comment": comment,
            "question": question,
            "rewritten_question": _text(rewritten_question, "改写后的问题 (rewritten_question)") or question,
            "history": [_text(h, "上文问题 (history)") for h in history or []],
            "scope": _optional(scope, "范围 (scope)"),
            "answer_scope": [_text(d, "回答范围 (answer_scope)") for d in answer_scope or []],
            "kind": _optional(kind, "类型 (kind)"),
            "answer": _text(answer, "回答 (answer)", multiline=True),
            "citations": citation_entries(citations),
        }
    except InputRejected as exc:
        # FeedbackError is what the app catches around a vote; the message stays the same.
        raise FeedbackError(str(exc)) from None


def lock_path(path: Path) -> Path:
    """The lock file beside the log (hidden, so a listing of the folder shows the log alone)."""
    return path.with_name(f".{path.name}.lock")


def append_record(path: Path, record: dict) -> None:
    """Append `record` as one JSON line: file lock, one os.write on O_APPEND, fsync. Never rewrites."""
    path = Path(path)
    try:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise FeedbackError(f"反馈无法记录 (feedback cannot be recorded): {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # thread_local=False: the lock object is per call, so per-thread state would only cost.
        with FileLock(lock_path(path), timeout=LOCK_TIMEOUT_S, thread_local=False):
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                # A writer killed mid-line (disk full, power) must not glue its fragment to our line.
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                written = os.write(fd, data)
                if written != len(data):  # regular files do not short-write short of a full disk
                    raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
                os.fsync(fd)
            finally:
                os.close(fd)
    except Timeout:
        raise FeedbackError(f"反馈日志正忙，请稍后再试 (feedback log locked for over {LOCK_TIMEOUT_S:.0f} s)") from None


def record_feedback(path: Path, **fields: Any) -> dict:
    """make_record(**fields) appended to the log at `path`; returns the record."""
    record = make_record(**fields)
    append_record(path, record)
    return record


def read_feedback(path: Path) -> list[dict]:
    """Every complete, valid line of the log (a damaged line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


# --- feedback -> eval item ----------------------------------------------------------------------

def _eval_quote(quote: str) -> str:
    """A verbatim piece of one line of the quote, at most EVAL_QUOTE_MAX_CHARS characters."""
    lines = [q.strip() for q in (quote or "").splitlines() if q.strip()]
    if not lines:
        return ""
    best = max(lines, key=len)
    return best[:EVAL_QUOTE_MAX_CHARS]


def align_quote(quote: str, raw: str) -> str | None:
    """The longest piece of `quote` (at least EVAL_QUOTE_MIN_CHARS) found verbatim in the raw
    document text `raw`, so on one raw line — clause text is cleaned (PDF line breaks joined),
    so a whole sentence may not occur in the raw file. None when no piece is found."""
    quote = quote[:EVAL_QUOTE_MAX_CHARS]
    for length in range(len(quote), EVAL_QUOTE_MIN_CHARS - 1, -1):
        for start in range(len(quote) - length + 1):
            piece = quote[start:start + length]
            if piece.strip() == piece and piece in raw:
                return piece
    return None


def _eval_type(line: dict) -> str:
    if line.get("history") and line.get("rewritten_question") and line["rewritten_question"] != line.get("question"):
        return "followup"
    if not line.get("citations") or line.get("kind") == "refusal":
        return "unanswerable"
    if line.get("kind") == "cross_doc" or len({c.get("doc_id") for c in line["citations"]}) > 1:
        return "cross_doc"
    if any("/table/" in (c.get("clause_id") or "") for c in line["citations"]):
        return "table"
    return "lookup"


def feedback_to_eval_item(line: dict, *, item_id: str | None = None,
                          raw_documents: dict[str, str] | None = None) -> dict:
    """A skeleton item for eval/questions.jsonl from one logged feedback line.

    gold: one {doc, quote} per cited clause with a known quote (a sentence of the clause the
    answer used, cut to 60 characters) — for the evaluator to check against the document;
    answer_points: empty, to be written by the evaluator; type: a guess from the logged answer.
    A 👎 on a refusal becomes an "unanswerable" item with empty gold: the evaluator decides
    whether the question was in fact answerable. With `raw_documents` ({doc_id: raw file text})
    each quote is cut to its longest piece that occurs verbatim in the raw file (eval quotes must).
    """
    question = str(line.get("question") or "").strip()
    digest = hashlib.sha1(f"{line.get('time')}|{question}".encode()).hexdigest()[:8]
    kind = _eval_type(line)
    gold: list[dict] = []
    if kind != "unanswerable":
        seen = set()
        for c in line.get("citations") or []:
            quote = _eval_quote(c.get("quote") or "")
            doc = c.get("doc_id") or (c.get("clause_id") or "").split("/")[0]
            if raw_documents is not None and doc in raw_documents and quote not in raw_documents[doc]:
                quote = align_quote(quote, raw_documents[doc]) or quote
            if not doc or len(quote) < EVAL_QUOTE_MIN_CHARS or (doc, quote) in seen:
                continue
            seen.add((doc, quote))
            gold.append({"doc": doc, "quote": quote})
    history = [str(h) for h in line.get("history") or [] if str(h).strip()] if kind == "followup" else []
    comment = str(line.get("comment") or "").strip()
    notes = f"from feedback {line.get('time', '')} vote={line.get('vote', '')}"
    if line.get("rewritten_question") and line.get("rewritten_question") != question:
        notes += f"; rewritten: {line['rewritten_question']}"
    if comment:
        notes += f"; comment: {comment}"
    notes += "; gold quotes taken from the cited clauses, check before use"
    return {
        "id": item_id or f"fb-{digest}",
        "type": kind,
        "question": question,
        "history": history,
        "doc_filter": line.get("scope") or None,
        "gold": gold,
        "answer_points": [],
        "notes": notes,
    }
