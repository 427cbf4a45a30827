"""The web app (Gradio 6): 问答 (chat with cited sources), 文件浏览, 专题对比, 文档管理 (admin).

`build_app(assistant, settings)` returns the Blocks; `launch_app(demo, settings)` enables the
queue and starts the server (Gradio 6 takes theme/css at launch, not in `gr.Blocks`).

Named API endpoints (callable with gradio_client, e.g. ``Client(url).predict(q, "全部文件",
api_name="/ask")``); session state (the conversation, each answer's sources) is kept per client:

- /ask (question, scope) -> (chat messages, sources html, question box, status)   streamed
- /new_chat () -> (chat messages, sources html, question box, status, comment)
- /show_sources (answer_no) -> (sources html, feedback status)     1-based answer number
- /vote_up, /vote_down (comment) -> (feedback status, comment box)  on the selected answer
- /document (doc_id) -> (meta html, outline html, task table)
- /compare (topic) -> compare html
- /admin_preview (file, doc_id), /admin_add (), /admin_cancel (), /admin_remove (doc_id, confirm)
  only when the admin tab is enabled (auth configured, or `admin=True`).

Everything from the corpus or the user is escaped before it is put into HTML or Markdown.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from assistant import messages
from assistant.chat import Conversation
from assistant.config import Settings
from assistant.corpus import SUPPORTED_SUFFIXES, UnknownDocument, load_corpus, load_document
from assistant.feedback import FeedbackError, record_feedback
from assistant.pipeline import Assistant, InvalidQuestion, clean_question

log = logging.getLogger(__name__)

# --- wording -----------------------------------------------------------------------------------

APP_TITLE = "政务公开助手"
APP_TAGLINE = "依据已收录的政务公开工作要点文件回答问题 · 答案摘自原文并逐句标注出处 · 全程离线"
ALL_DOCS = "全部文件"
EXAMPLE_QUESTIONS = [
    "依申请公开办理有什么要求?",
    "政府开放月在几月?",
    "松江区政策留言板建设由哪些单位负责?",
    "浦东新区的“四类推送法”是哪四类？",
    "白鹤镇政府开放日活动的主题是什么？",
]
CHAT_PLACEHOLDER = (
    "### 您好，我是政务公开助手\n"
    "可以问我已收录文件中的具体要求、责任单位和时间节点，例如“政府开放月在几月？”。"
    "每句回答都摘自原文，并用 [1]、[2] 标注出处；右侧显示原文条款。"
)
QUESTION_PLACEHOLDER = "请输入问题，回车发送"
THINKING = "正在检索相关条款…"
SOURCES_EMPTY = "提问后，这里显示回答所引用的原文条款。点击对话中较早的回答，可查看该回答的来源。"
SOURCES_LOADING = "正在查找来源…"
SOURCES_NONE = "这条回答没有引用原文：现有文件中没有找到能回答这个问题的内容。"
SOURCES_HEADER = "第 {n} 条回答的来源"
SOURCES_COUNT = "（{count} 处原文）"
SOURCES_QUESTION = "问：{question}"
REWRITTEN_NOTE = messages.REWRITTEN          # "（按上文理解为：{question}）"
ERROR_REPLY = "抱歉，处理这个问题时出了错（已记录），请稍后再试或换个问法。"
ERROR_SHORT = "操作失败（已记录），请稍后再试。"
SCOPE_GONE = "所选文件已不在知识库中，已按全部文件回答。"
FEEDBACK_PROMPT = "这条回答有帮助吗？"
FEEDBACK_COMMENT_PLACEHOLDER = "补充说明（可选）：哪里不对、缺了什么……"
FEEDBACK_THANKS = "已记录您对第 {n} 条回答的评价（{vote}），谢谢！"
FEEDBACK_AGAIN = "第 {n} 条回答已记录过同样的评价。"
FEEDBACK_NOTHING = "请先提问，再对回答进行评价。"
FEEDBACK_NOT_ANSWER = "这条消息不是回答，无需评价。"
VOTE_LABELS = {"up": "👍 有帮助", "down": "👎 没帮助"}
TRUNCATED_QUESTION = "…（共 {length} 字）"
DOC_NONE = "请选择文件。"
DOC_NO_TABLE = "本文件没有任务分解表。"
TABLE_HEADERS = ["序号", "类别/指标", "任务", "责任单位", "时间节点"]
COMPARE_HINT = "选择一个常见专题，或输入关键词，逐份文件对比最相关的条款。"
COMPARE_NOT_COVERED = "未涉及"
COMPARE_WEAK = "未明确涉及 · 最接近的条款"
COMPARE_EMPTY_TOPIC = "请输入或选择一个对比专题。"
ADMIN_INTRO = ("上传新的工作要点文件（支持 {suffixes}），先核对解析出的标题、文号和提纲，确认后才加入知识库；"
               "加入或删除后会自动重建索引并重新加载，问答立即使用新的文件。")
ADMIN_NEED_FILE = "请先选择要上传的文件。"
ADMIN_NOTHING_PENDING = "没有待确认的文件，请先上传。"
ADMIN_ADDED = "已加入知识库：{title}（编号 {doc_id}，{clauses} 条款）。索引已更新，问答已使用新文件。"
ADMIN_REFUSED = "未能加入：{reason}"
ADMIN_CANCELLED = "已取消，未做任何改动。"
ADMIN_CONFIRM_FIRST = "请先勾选“确认删除”。"
ADMIN_REMOVED = "已删除 {doc_id}（{title}）。索引已更新。"
ADMIN_BUSY = "另一项文档管理操作正在进行，请稍后再试。"

STREAM_DELAY_S = 0.03            # pause between streamed chunks of an answer
MAX_ECHO_CHARS = 600             # a longer question is echoed in the chat cut to this length
ADMIN_DOC_COLUMNS = ["编号", "标题", "年份", "地区", "文号", "日期", "条款数", "已索引"]
COMPARE_FULL_COVERAGE = 0.5      # share of the topic's words a clause must contain to count as covering it

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_MD_LINE_START = re.compile(r"^(\s*)(\d+)([.)])")

THEME = gr.themes.Soft(
    primary_hue=gr.themes.colors.blue,
    secondary_hue=gr.themes.colors.sky,
    neutral_hue=gr.themes.colors.slate,
    font=["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"],
    font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"],
).set(
    body_background_fill="#f4f6fa",
    block_radius="12px",
)

CSS = """
.gradio-container { max-width: 1360px !important; margin: 0 auto !important; }
#app-header { margin-bottom: 4px; }
.app-header { display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 18px 22px; border-radius: 14px; color: #fff;
  background: linear-gradient(120deg, #1e3a8a 0%, #1d4ed8 60%, #2563eb 100%); }
.app-header .brand { display: flex; align-items: center; gap: 14px; }
.app-header .logo { width: 46px; height: 46px; border-radius: 12px; background: #b91c1c; color: #fff;
  display: flex; align-items: center; justify-content: center; font-size: 26px; font-weight: 700;
  box-shadow: 0 2px 6px rgba(0,0,0,.25); }
.app-header h1 { margin: 0; font-size: 24px; font-weight: 700; letter-spacing: 2px; color: #fff; }
.app-header p { margin: 4px 0 0; font-size: 13.5px; opacity: .9; color: #e0e7ff; }
.app-header .doc-count { text-align: right; font-size: 13px; color: #e0e7ff; white-space: nowrap; }
.app-header .doc-count b { font-size: 26px; color: #fff; margin-right: 4px; }
#chatbot { font-size: 15px; line-height: 1.75; }
#chatbot .rewritten { color: #64748b; font-size: 13px; }
#chatbot sup.cite, .cite { color: #1d4ed8; font-weight: 600; font-size: 12px; margin-left: 1px; }
#status-line { min-height: 0; }
#status-line p { color: #b45309; margin: 2px 4px; font-size: 14px; }
.examples-row { flex-wrap: wrap !important; gap: 8px !important; }
.examples-row button { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important;
  font-size: 13px !important; font-weight: 400 !important; padding: 4px 12px !important; border-radius: 999px !important; }
#sources { max-height: 600px !important; overflow-y: auto !important; padding-right: 6px !important; }
.src-header { font-weight: 700; font-size: 15px; color: #1e293b; margin: 2px 0 2px; }
.src-header .src-count { font-weight: 400; color: #64748b; font-size: 13px; margin-left: 4px; }
.src-question { color: #475569; font-size: 13px; margin-bottom: 10px; }
.src-empty { color: #64748b; font-size: 14px; padding: 18px 12px; border: 1px dashed #cbd5e1;
  border-radius: 10px; background: #f8fafc; line-height: 1.7; }
.src-card { border: 1px solid #e2e8f0; border-left: 4px solid #2563eb; border-radius: 10px;
  padding: 10px 12px; margin-bottom: 10px; background: #fff; box-shadow: 0 1px 2px rgba(15,23,42,.05); }
.src-card .src-top { display: flex; gap: 8px; align-items: baseline; }
.src-card .src-n { color: #1d4ed8; font-weight: 700; }
.src-card .src-title { font-weight: 600; color: #0f172a; }
.src-card .src-meta { color: #64748b; font-size: 12.5px; margin: 2px 0 4px; }
.src-card .src-path { color: #334155; font-size: 13px; margin-bottom: 6px; }
.src-card .src-text { font-size: 14px; line-height: 1.75; color: #1f2937; }
mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.tags { margin-top: 6px; display: flex; flex-wrap: wrap; gap: 6px; }
.tag { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 999px;
  background: #eff6ff; color: #1e40af; border: 1px solid #dbeafe; }
.tag.deadline { background: #fef3c7; color: #92400e; border-color: #fde68a; }
#feedback-box { margin-top: 8px; padding: 10px 12px; border: 1px solid #e2e8f0; border-radius: 12px;
  background: #fff; gap: 8px; }
#feedback-box .fb-prompt { font-weight: 600; color: #1e293b; font-size: 14px; padding-top: 4px; }
#feedback-comment { border: none !important; box-shadow: none !important; }
#feedback-status p { color: #15803d; font-size: 13px; margin: 2px 4px; }
.doc-meta { border: 1px solid #e2e8f0; border-radius: 12px; padding: 12px 16px; background: #fff; }
.doc-meta h3 { margin: 0 0 8px; font-size: 18px; color: #0f172a; }
.doc-meta table { border-collapse: collapse; font-size: 14px; }
.doc-meta table, .doc-meta tr, .doc-meta td { border: none !important; background: transparent !important; }
.doc-meta td { padding: 3px 14px 3px 0 !important; vertical-align: top; }
.doc-meta td:first-child { color: #64748b; white-space: nowrap; }
.outline details { border: 1px solid #e2e8f0; border-radius: 10px; margin: 6px 0; background: #fff; }
.outline details details { margin: 6px 0 6px 10px; background: #f8fafc; }
.outline summary { cursor: pointer; padding: 8px 12px; font-weight: 600; color: #1e293b; }
.outline details details summary { font-weight: 500; }
.outline .clause { padding: 6px 14px 10px; font-size: 14px; line-height: 1.75; color: #1f2937; }
.outline .clause + .clause { border-top: 1px dashed #e2e8f0; }
#compare-row { align-items: flex-end !important; }
.compare-topic { font-size: 15px; color: #334155; margin: 4px 0 10px; }
.compare-topic .cmp-count { color: #64748b; font-size: 13px; }
.compare-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 12px; }
.cmp-card { border: 1px solid #e2e8f0; border-top: 4px solid #2563eb; border-radius: 10px; padding: 10px 12px;
  background: #fff; font-size: 14px; line-height: 1.7; }
.cmp-card.weak { border-top-color: #cbd5e1; background: #f8fafc; }
.cmp-card .cmp-doc { font-weight: 700; color: #0f172a; }
.cmp-card .cmp-sub { color: #64748b; font-size: 12px; margin-bottom: 6px; }
.cmp-card .cmp-sub span { white-space: nowrap; }
.cmp-card .cmp-path { color: #334155; font-size: 13px; margin-bottom: 4px; font-weight: 500; }
.cmp-card .cmp-none { color: #94a3b8; font-size: 20px; font-weight: 700; letter-spacing: 2px; padding: 14px 0 6px; }
.cmp-card details summary { cursor: pointer; color: #64748b; font-size: 13px; }
.admin-preview { border: 1px solid #e2e8f0; border-radius: 12px; padding: 12px 16px; background: #fff; }
.admin-preview .warn { color: #b45309; font-size: 13px; }
.admin-preview ol { margin: 6px 0 0 18px; padding: 0; font-size: 14px; }
footer { opacity: .6; }
"""


# --- escaping ----------------------------------------------------------------------------------

def esc(text: Any) -> str:
    """Text for HTML (element content and quoted attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def strip_control(text: str) -> str:
    return _CONTROL.sub("", text or "")


def md_escape(text: str) -> str:
    """Plain text for the chatbot's Markdown: shows as typed, never as markup or HTML."""
    text = html.escape(strip_control(text).replace("\r", ""), quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    lines = []
    for line in text.split("\n"):
        line = _MD_LINE_START.sub(r"\1\2\\\3", line)       # "1. x" is not a list
        if line.lstrip().startswith(("-", "+", ">", "=")):  # nor a bullet, quote or heading rule
            line = "\\" + line.lstrip()
        lines.append(line)
    return "\n".join(lines)


def md_inline(text: str) -> str:
    """md_escape with the [n] citation markers kept as markers (styled)."""
    out, pos = [], 0
    for m in _MARKER.finditer(text):
        out.append(md_escape(text[pos:m.start()]))
        out.append(f'<sup class="cite">[{m.group(1)}]</sup>')
        pos = m.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def html_with_breaks(text: str) -> str:
    return esc(text).replace("\n", "<br>")


def highlight(text: str, spans: list) -> str:
    """HTML of `text` with the character ranges in `spans` wrapped in <mark>."""
    ranges = sorted((max(0, int(a)), min(len(text), int(b))) for a, b in spans or [] if int(b) > int(a))
    merged: list[list[int]] = []
    for a, b in ranges:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out.append(html_with_breaks(text[pos:a]))
        out.append(f"<mark>{html_with_breaks(text[a:b])}</mark>")
        pos = b
    out.append(html_with_breaks(text[pos:]))
    return "".join(out)


def word_spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    spans = []
    for w in words:
        if len(w) < 2:
            continue
        for m in re.finditer(re.escape(w), text):
            spans.append((m.start(), m.end()))
    return spans


# --- rendering ---------------------------------------------------------------------------------

def answer_markdown(text: str) -> str:
    """The answer text as chatbot Markdown: section labels and "答：" bold, bullets as a list,
    [n] markers styled; everything else shown literally."""
    blocks: list[str] = []
    bullets: list[str] = []

    def flush() -> None:
        if bullets:
            blocks.append("\n".join(bullets))
            bullets.clear()

    for raw in (text or "").split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("- "):
            bullets.append("- " + md_inline(line[2:].strip()))
            continue
        flush()
        m = re.fullmatch(r"【(.+)】", line)
        if m:
            blocks.append(f"**【{md_inline(m.group(1))}】**")
        elif line.startswith(("答：", "依据：")):
            label, rest = line.split("：", 1)
            blocks.append(f"**{label}**：{md_inline(rest)}")  # "**答：**8" would not close in CommonMark
        elif line.endswith(("：", ":")) and len(line) <= 40:
            blocks.append(f"**{md_inline(line)}**")
        else:
            blocks.append(md_inline(line))
    flush()
    return "\n\n".join(blocks)


def rewritten_markdown(question: str, rewritten: str) -> str:
    if not rewritten or rewritten.strip() == question.strip():
        return ""
    return f'<span class="rewritten">{md_escape(REWRITTEN_NOTE.format(question=rewritten))}</span>\n\n'


def stream_chunks(markdown: str) -> list[str]:
    """Pieces of the answer to stream: one sentence (or line) at a time; concatenated they give
    the whole text back. Cuts fall only after "。" or a newline, never inside markup."""
    pieces = re.findall(r"[^。\n]*(?:。|\n+|$)", markdown)
    return [p for p in pieces if p]


def user_markdown(question: str) -> str:
    shown = strip_control(question).strip()
    if len(shown) > MAX_ECHO_CHARS:
        shown = shown[:MAX_ECHO_CHARS] + TRUNCATED_QUESTION.format(length=len(shown))
    return md_escape(shown)


def tags_html(units: list[str] | None, deadline: str | None) -> str:
    tags = []
    if units:
        tags.append(f'<span class="tag">责任单位：{esc("、".join(units))}</span>')
    if deadline:
        tags.append(f'<span class="tag deadline">时间节点：{esc(deadline)}</span>')
    return f'<div class="tags">{"".join(tags)}</div>' if tags else ""


def empty_html(text: str) -> str:
    return f'<div class="src-empty">{esc(text)}</div>'


def sources_html(record: dict | None) -> str:
    """The sources panel for one answer record (see ChatSession.answers)."""
    if not record:
        return empty_html(SOURCES_EMPTY)
    count = len(record.get("citations") or [])
    head = (f'<div class="src-header">{esc(SOURCES_HEADER.format(n=record["n"]))}'
            + (f'<span class="src-count">{esc(SOURCES_COUNT.format(count=count))}</span>' if count else "")
            + "</div>"
            f'<div class="src-question">{esc(SOURCES_QUESTION.format(question=_short(record["question"], 120)))}</div>')
    if record.get("notice"):
        return head + empty_html(record.get("answer") or SOURCES_NONE)
    if not record.get("citations"):
        return head + empty_html(SOURCES_NONE)
    cards = []
    for c in record["citations"]:
        meta = " · ".join(esc(x) for x in (c.get("doc_number"), c.get("doc_date")) if x)
        path = " › ".join(esc(h) for h in c.get("heading_path") or [])
        cards.append(
            f'<div class="src-card" id="src-{esc(c["n"])}">'
            f'<div class="src-top"><span class="src-n">[{esc(c["n"])}]</span>'
            f'<span class="src-title">{esc(c.get("doc_title"))}</span></div>'
            + (f'<div class="src-meta">{meta}</div>' if meta else "")
            + (f'<div class="src-path">{path}</div>' if path else "")
            + f'<div class="src-text">{highlight(c.get("text") or "", c.get("spans") or [])}</div>'
            + tags_html(c.get("units"), c.get("deadline"))
            + "</div>")
    return head + "".join(cards)


def _short(text: str, limit: int) -> str:
    text = strip_control(text or "").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def header_html(documents: dict[str, dict]) -> str:
    return (
        '<div class="app-header"><div class="brand"><div class="logo">政</div><div>'
        f"<h1>{esc(APP_TITLE)}</h1><p>{esc(APP_TAGLINE)}</p></div></div>"
        f'<div class="doc-count"><b>{len(documents)}</b>份文件已收录</div></div>')


def doc_label(meta: dict) -> str:
    return meta.get("title") or meta.get("doc_id") or ""


def doc_choices(documents: dict[str, dict]) -> list[tuple[str, str]]:
    return [(doc_label(m), d) for d, m in sorted(documents.items(), key=lambda kv: doc_label(kv[1]))]


def scope_choices(documents: dict[str, dict]) -> list[tuple[str, str]]:
    return [(ALL_DOCS, ALL_DOCS)] + doc_choices(documents)


# --- document tab ------------------------------------------------------------------------------

def document_meta_html(meta: Any, extra: list[tuple[str, Any]] | None = None) -> str:
    m = meta.to_dict() if hasattr(meta, "to_dict") else dict(meta)
    level = " · ".join(x for x in (m.get("district") if m.get("district") != m.get("place") else None,
                                    m.get("place"), m.get("level")) if x)
    rows = [("发文机关", m.get("issuer")), ("文号", m.get("doc_number") or "（无文号）"), ("成文日期", m.get("date")),
            ("发布日期", m.get("published")), ("地区 / 层级", level), ("年份", m.get("year")), ("文档编号", m.get("doc_id"))]
    rows += extra or []
    cells = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows if v)
    return f'<div class="doc-meta"><h3>{esc(m.get("title"))}</h3><table>{cells}</table></div>'


def _clause_html(clause: Any, label: str | None = None) -> str:
    text = clause.text
    if label and text.startswith(label):  # the heading is already the summary line
        rest = text[len(label):].lstrip("。.．:： \n")
        text = rest or text
    return f'<div class="clause">{html_with_breaks(text)}{tags_html(clause.units, clause.deadline)}</div>'


def outline_html(document: Any) -> str:
    """The document as nested <details>: each heading opens to its clauses and sub-headings."""
    by_id = {c.id: c for c in document.clauses}
    in_outline: set[str] = set()

    def node_html(node: Any, depth: int) -> str:
        own = []
        for cid in node.clause_ids:
            if cid in by_id:
                in_outline.add(cid)
                own.append(_clause_html(by_id[cid], node.label))
        children = "".join(node_html(ch, depth + 1) for ch in node.children)
        return f"<details><summary>{esc(node.label)}</summary>{''.join(own)}{children}</details>"

    body = "".join(node_html(n, 0) for n in document.outline)

    def loose(kind: str) -> str:
        clauses = [c for c in document.clauses if c.kind == kind and c.id not in in_outline]
        if not clauses:
            return ""
        title = clauses[0].heading_path[0] if clauses[0].heading_path else kind
        inner = "".join(_clause_html(c) for c in clauses)
        return f"<details><summary>{esc(title)}</summary>{inner}</details>"

    return ('<div class="outline">' + loose("preamble") + loose("intro") + body + loose("closing")
            + "</div>")


def table_rows(document: Any) -> list[list[str]]:
    rows = []
    for table in document.tables:
        for r in table.rows:
            rows.append([str(r.number), " / ".join(r.categories or []), r.task,
                         r.units_text or "、".join(r.units or []), r.deadline or ""])
    return rows


# --- compare tab -------------------------------------------------------------------------------

def common_topics(documents: list[Any]) -> list[tuple[str, str]]:
    """Headings below the top level whose titles occur in two or more documents, most shared
    first: [(label, title)] with the label "title（n 份文件）"."""
    counts: dict[str, set[str]] = {}
    order: dict[str, int] = {}

    def walk(nodes: list[Any], depth: int, doc_id: str) -> None:
        for n in nodes:
            title = (n.title or "").strip().rstrip("。")
            if depth == 1 and 2 <= len(title) <= 30 and "…" not in title:
                counts.setdefault(title, set()).add(doc_id)
                order.setdefault(title, len(order))
            walk(n.children, depth + 1, doc_id)

    for d in documents:
        walk(d.outline, 0, d.doc_id)
    shared = [t for t, docs in counts.items() if len(docs) >= 2]
    shared.sort(key=lambda t: (-len(counts[t]), order[t]))
    return [(f"{t}（{len(counts[t])} 份文件）", t) for t in shared]


# --- state -------------------------------------------------------------------------------------

@dataclass
class ChatSession:
    """One browser session: the conversation (for follow-ups), the chat messages and, per
    answer, what is needed to show its sources and to log feedback."""

    conversation: Conversation = field(default_factory=Conversation)
    messages: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)   # in order; record["n"] is 1-based
    selected: int | None = None                          # index into answers

    def record_for_message(self, index: int) -> int | None:
        for i, r in enumerate(self.answers):
            if r["msg_index"] == index or r["msg_index"] == index + 1:  # a question selects its answer
                return i
        return None

    @property
    def current(self) -> dict | None:
        if self.selected is None or not (0 <= self.selected < len(self.answers)):
            return None
        return self.answers[self.selected]


class Runtime:
    """The loaded assistant, shared by all sessions; `reload` builds a new Assistant and swaps it
    in. Questions run concurrently up to the queue's limit (each takes the assistant it finds)."""

    def __init__(self, assistant: Assistant, settings: Settings,
                 loader: Callable[[Settings], Assistant] | None = None) -> None:
        self.assistant = assistant
        self.settings = settings
        self._lock = threading.RLock()
        self.admin_lock = threading.Lock()
        self._loader = loader or (lambda s: Assistant.load(s, progress=False))
        self._topics: list[tuple[str, str]] | None = None

    @property
    def documents(self) -> dict[str, dict]:
        return self.assistant.documents

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


# --- the app -----------------------------------------------------------------------------------

def build_app(assistant: Assistant, settings: Settings, *, admin: bool | None = None,
              loader: Callable[[Settings], Assistant] | None = None) -> gr.Blocks:
    """The Blocks for `assistant`. The 文档管理 tab is shown when `admin` is True, or (admin None)
    when a login is configured (settings.auth_user and auth_password)."""
    runtime = Runtime(assistant, settings, loader)
    if admin is None:
        admin = bool(settings.auth_user and settings.auth_password)
    documents = runtime.documents
    first_doc = next(iter(doc_choices(documents)), (None, None))[1]

    with gr.Blocks(title=APP_TITLE, analytics_enabled=False) as demo:
        header = gr.HTML(header_html(documents), elem_id="app-header", js_on_load=None)
        session = gr.State(None)

        with gr.Tabs():
            # ---------------------------------------------------------------- 问答
            with gr.Tab("💬 智能问答", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7, min_width=420):
                        chatbot = gr.Chatbot(
                            value=[], elem_id="chatbot", show_label=False, height=560, layout="bubble",
                            placeholder=CHAT_PLACEHOLDER, latex_delimiters=[], feedback_options=None,
                            buttons=["copy", "copy_all"], sanitize_html=True, allow_tags=False,
                            group_consecutive_messages=False)
                        with gr.Row(equal_height=True, elem_id="input-row"):
                            scope = gr.Dropdown(choices=scope_choices(documents), value=ALL_DOCS, show_label=False,
                                                container=False, scale=2, min_width=170, elem_id="scope",
                                                interactive=True)
                            question = gr.Textbox(placeholder=QUESTION_PLACEHOLDER, show_label=False, lines=1,
                                                  max_lines=4, scale=8, elem_id="question", autofocus=True,
                                                  container=False)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=72, elem_id="send-btn")
                            new_chat = gr.Button("新对话", scale=1, min_width=84, elem_id="new-chat")
                        status = gr.Markdown("", elem_id="status-line")
                        gr.Markdown("**示例问题**（点击即问）")
                        with gr.Row(elem_classes="examples-row"):
                            example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLE_QUESTIONS]
                    with gr.Column(scale=5, min_width=340):
                        sources = gr.HTML(empty_html(SOURCES_EMPTY), elem_id="sources", js_on_load=None)
                        with gr.Column(elem_id="feedback-box"):
                            with gr.Row(equal_height=True):
                                gr.HTML(f'<div class="fb-prompt">{esc(FEEDBACK_PROMPT)}</div>', js_on_load=None)
                                vote_up = gr.Button(VOTE_LABELS["up"], size="sm", scale=0, min_width=96,
                                                    elem_id="vote-up")
                                vote_down = gr.Button(VOTE_LABELS["down"], size="sm", scale=0, min_width=96,
                                                      elem_id="vote-down")
                            comment = gr.Textbox(placeholder=FEEDBACK_COMMENT_PLACEHOLDER, show_label=False,
                                                 lines=1, max_lines=3, elem_id="feedback-comment", container=False)
                        feedback_status = gr.Markdown("", elem_id="feedback-status")
                        # API-only: show the sources of answer N (1-based).
                        answer_no = gr.Number(value=1, precision=0, visible=False)
                        show_sources_btn = gr.Button(visible=False)

            # ---------------------------------------------------------------- 文件浏览
            with gr.Tab("📄 文件浏览", id="documents"):
                doc_pick = gr.Dropdown(choices=doc_choices(documents), value=first_doc, label="选择文件",
                                       elem_id="doc-pick")
                meta0, outline0, table0 = _document_view(first_doc, settings)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=280):
                        doc_meta = gr.HTML(meta0, elem_id="doc-meta", js_on_load=None)
                    with gr.Column(scale=5):
                        gr.Markdown("**文件提纲**（点击标题展开条款，含责任单位与时间节点）")
                        doc_outline = gr.HTML(outline0, elem_id="doc-outline", js_on_load=None)
                doc_table_title = gr.Markdown(_table_title(table0))
                doc_table = gr.Dataframe(value=table0, visible=bool(table0), headers=TABLE_HEADERS, interactive=False,
                                         wrap=True, column_widths=["6%", "22%", "44%", "18%", "10%"], max_height=520,
                                         elem_id="doc-table", show_search="search")

            # ---------------------------------------------------------------- 对比
            with gr.Tab("⚖️ 专题对比", id="compare"):
                gr.Markdown(COMPARE_HINT)
                with gr.Row(equal_height=False, elem_id="compare-row"):
                    topic_pick = gr.Dropdown(choices=runtime.topics(), value=None, label="常见专题", scale=3,
                                             elem_id="topic-pick")
                    topic = gr.Textbox(label="或输入关键词", placeholder="如：政府开放活动、政策解读", scale=3,
                                       elem_id="topic")
                    compare_btn = gr.Button("对比", variant="primary", scale=0, min_width=120, elem_id="compare-btn")
                compare_out = gr.HTML(empty_html(COMPARE_HINT), elem_id="compare-out", js_on_load=None)

            # ---------------------------------------------------------------- 文档管理
            admin_parts: dict[str, Any] = {}
            if admin:
                with gr.Tab("🗂️ 文档管理", id="admin"):
                    gr.Markdown(ADMIN_INTRO.format(suffixes="、".join(SUPPORTED_SUFFIXES)))
                    pending = gr.State(None)
                    with gr.Row(equal_height=False):
                        with gr.Column(scale=1):
                            upload = gr.File(label="上传文件", file_types=list(SUPPORTED_SUFFIXES), type="filepath",
                                             elem_id="admin-upload")
                            new_id = gr.Textbox(label="文档编号（可选）", placeholder="如 2025-jiading；留空则自动生成",
                                                elem_id="admin-doc-id")
                            preview_btn = gr.Button("解析预览", elem_id="admin-preview-btn")
                            with gr.Row():
                                accept_btn = gr.Button("确认加入知识库", variant="primary", elem_id="admin-accept")
                                cancel_btn = gr.Button("取消", elem_id="admin-cancel")
                        with gr.Column(scale=2):
                            preview_out = gr.HTML(empty_html("上传文件后在此核对解析结果。"), elem_id="admin-preview",
                                                  js_on_load=None)
                    admin_status = gr.Markdown("", elem_id="admin-status")
                    gr.Markdown("**删除文件**")
                    with gr.Row(equal_height=False):
                        remove_pick = gr.Dropdown(choices=doc_choices(documents), value=None, label="要删除的文件",
                                                  scale=4, elem_id="admin-remove-pick")
                        remove_confirm = gr.Checkbox(label="确认删除（从知识库和索引中移除）", value=False, scale=2,
                                                     elem_id="admin-remove-confirm")
                        remove_btn = gr.Button("删除", variant="stop", scale=1, min_width=90, elem_id="admin-remove")
                    gr.Markdown("**知识库中的文件**")
                    doc_list = gr.Dataframe(value=_admin_rows(settings), headers=ADMIN_DOC_COLUMNS,
                                            interactive=False, wrap=True, elem_id="admin-doc-list")
                    admin_parts = dict(pending=pending, upload=upload, new_id=new_id, preview_out=preview_out,
                                       admin_status=admin_status, remove_pick=remove_pick,
                                       remove_confirm=remove_confirm, doc_list=doc_list)

        # ==================================================================== handlers: chat
        chat_outputs = [chatbot, sources, question, status, session]

        def ask(text: str, scope_value: str, state: ChatSession | None):
            state = state if isinstance(state, ChatSession) else ChatSession()
            try:
                yield from _ask(text, scope_value, state)
            except Exception:
                log.exception("chat handler failed for %r", (text or "")[:200] if isinstance(text, str) else text)
                state.messages = [{"role": m["role"], "content": md_escape(ERROR_REPLY)}
                                  if m.get("content") == f"*{THINKING}*" else m for m in state.messages]
                yield state.messages, sources_html(state.current), "", "", state

        def _ask(text: str, scope_value: str, state: ChatSession):
            text = text if isinstance(text, str) else ""
            current = sources_html(state.current)
            try:
                # Validation first: an invalid question leaves the chat alone and keeps the text.
                cleaned = clean_question(text, runtime.settings)
            except InvalidQuestion as exc:
                yield state.messages, current, text, f"⚠️ {exc}", state
                return
            doc_filter = None if scope_value in (None, "", ALL_DOCS) else str(scope_value)
            note = ""
            if doc_filter and doc_filter not in runtime.documents:
                doc_filter, note = None, f"⚠️ {SCOPE_GONE}"
            history = [r["question"] for r in state.answers if not r.get("notice")]
            state.messages = state.messages + [{"role": "user", "content": user_markdown(text)},
                                               {"role": "assistant", "content": f"*{THINKING}*"}]
            msg_index = len(state.messages) - 1
            yield state.messages, empty_html(SOURCES_LOADING), "", note, state
            record: dict = {"n": len(state.answers) + 1, "msg_index": msg_index, "question": cleaned,
                            "history": history, "scope": doc_filter}
            try:
                answer = runtime.ask(text, state.conversation, doc_filter)
            except InvalidQuestion as exc:  # checked above; kept for safety
                body = md_escape(str(exc))
                record.update(notice=True, answer=str(exc), citations=[])
            except Exception:
                log.exception("ask failed for %r", text[:200])
                body = md_escape(ERROR_REPLY)
                record.update(notice=True, answer=ERROR_REPLY, citations=[])
            else:
                body = rewritten_markdown(cleaned, answer.rewritten_question) + answer_markdown(answer.answer)
                record.update(answer=answer.answer, rewritten_question=answer.rewritten_question, kind=answer.kind,
                              refused=answer.refused, answer_scope=list(answer.scope or []),
                              citations=[c.to_dict() for c in answer.citations])
            state.answers = state.answers + [record]
            state.selected = len(state.answers) - 1
            # Stream the answer a sentence at a time; its sources appear with the last piece, so a
            # filled sources panel also tells that the answer is complete.
            waiting = empty_html(SOURCES_LOADING)
            shown = ""
            for piece in stream_chunks(body)[:-1]:
                shown += piece
                state.messages[msg_index] = {"role": "assistant", "content": shown}
                yield state.messages, waiting, "", note, state
                time.sleep(STREAM_DELAY_S)
            state.messages[msg_index] = {"role": "assistant", "content": body}
            yield state.messages, sources_html(record), "", note, state

        gr.on([question.submit, send.click], ask, [question, scope, session], chat_outputs, api_name="ask",
              show_progress="minimal")

        for button, q in zip(example_buttons, EXAMPLE_QUESTIONS):
            button.click(lambda q=q: q, None, question, api_visibility="private", queue=False).then(
                ask, [question, scope, session], chat_outputs, api_visibility="private", show_progress="minimal")

        def clear_chat(state: ChatSession | None):
            return [], empty_html(SOURCES_EMPTY), "", "", "", "", ChatSession()

        new_chat.click(clear_chat, [session], [chatbot, sources, question, status, comment, feedback_status, session],
                       api_name="new_chat")
        chatbot.clear(clear_chat, [session], [chatbot, sources, question, status, comment, feedback_status, session],
                      api_visibility="private")

        def on_select(state: ChatSession | None, evt: gr.SelectData):
            if not isinstance(state, ChatSession):
                return gr.skip(), gr.skip(), state
            index = evt.index
            if isinstance(index, (list, tuple)):
                index = index[0] if index else None
            try:
                found = state.record_for_message(int(index))
            except (TypeError, ValueError):
                found = None
            if found is None:
                return gr.skip(), gr.skip(), state
            state.selected = found
            return sources_html(state.current), "", state

        chatbot.select(on_select, [session], [sources, feedback_status, session], api_visibility="private",
                       queue=False)

        def show_sources(n: float | None, state: ChatSession | None):
            if not isinstance(state, ChatSession) or not state.answers:
                return empty_html(SOURCES_EMPTY), "", state
            try:
                i = int(n) - 1
            except (TypeError, ValueError):
                i = len(state.answers) - 1
            if not 0 <= i < len(state.answers):
                return empty_html(SOURCES_EMPTY), "", state
            state.selected = i
            return sources_html(state.current), "", state

        show_sources_btn.click(show_sources, [answer_no, session], [sources, feedback_status, session],
                               api_name="show_sources")

        def vote(kind: str, text: str, state: ChatSession | None):
            try:
                record = state.current if isinstance(state, ChatSession) else None
                if record is None:
                    return FEEDBACK_NOTHING, text, state
                if record.get("notice"):
                    return FEEDBACK_NOT_ANSWER, text, state
                text = strip_control(text or "").strip()
                if record.get("vote") == kind and not text:
                    return FEEDBACK_AGAIN.format(n=record["n"]), "", state
                record_feedback(
                    runtime.settings.feedback_log, question=record["question"],
                    rewritten_question=record.get("rewritten_question"), answer=record.get("answer", ""),
                    citations=record.get("citations", []), vote=kind, comment=text, scope=record.get("scope"),
                    answer_scope=record.get("answer_scope"), history=record.get("history"), kind=record.get("kind"))
                record["vote"] = kind
                return FEEDBACK_THANKS.format(n=record["n"], vote=VOTE_LABELS[kind]), "", state
            except (FeedbackError, OSError):
                log.exception("could not record feedback")
                return ERROR_SHORT, text, state

        vote_up.click(lambda t, s: vote("up", t, s), [comment, session], [feedback_status, comment, session],
                      api_name="vote_up")
        vote_down.click(lambda t, s: vote("down", t, s), [comment, session], [feedback_status, comment, session],
                        api_name="vote_down")

        # ==================================================================== handlers: documents
        def show_document(doc_id: str | None):
            try:
                meta_html, outline, rows = _document_view(doc_id, runtime.settings)
            except Exception:
                log.exception("could not show document %r", doc_id)
                meta_html, outline, rows = empty_html(ERROR_SHORT), "", []
            return meta_html, outline, _table_title(rows), gr.update(value=rows, visible=bool(rows))

        doc_pick.change(show_document, [doc_pick], [doc_meta, doc_outline, doc_table_title, doc_table],
                        api_name="document")

        # ==================================================================== handlers: compare
        def compare(text: str):
            try:
                return compare_html(runtime, text)
            except Exception:
                log.exception("compare failed for %r", (text or "")[:200])
                return empty_html(ERROR_SHORT)

        gr.on([compare_btn.click, topic.submit], compare, [topic], [compare_out], api_name="compare")
        topic_pick.input(lambda t: t or "", [topic_pick], [topic], api_visibility="private", queue=False).then(
            compare, [topic], [compare_out], api_visibility="private")

        # ==================================================================== handlers: admin
        if admin:
            a = admin_parts
            refresh_outputs = [header, scope, doc_pick, topic_pick, a["remove_pick"], a["doc_list"]]

            def refreshed() -> list:
                docs = runtime.documents
                return [header_html(docs), gr.update(choices=scope_choices(docs)),
                        gr.update(choices=doc_choices(docs)), gr.update(choices=runtime.topics()),
                        gr.update(choices=doc_choices(docs), value=None), _admin_rows(runtime.settings)]

            def admin_preview(path: str | None, doc_id: str | None):
                from assistant.knowledge import KnowledgeError, preview_document
                if not path:
                    return empty_html(ADMIN_NEED_FILE), None, ADMIN_NEED_FILE
                try:
                    p = preview_document(Path(path), runtime.settings, (doc_id or "").strip() or None)
                except KnowledgeError as exc:
                    return empty_html(str(exc)), None, f"⚠️ {esc(exc)}"
                except Exception:
                    log.exception("preview failed for %r", path)
                    return empty_html(ERROR_SHORT), None, ERROR_SHORT
                return preview_html(p), {"path": str(path), "doc_id": p.doc_id}, "请核对解析结果，无误后点击“确认加入知识库”。"

            preview_btn.click(admin_preview, [a["upload"], a["new_id"]],
                              [a["preview_out"], a["pending"], a["admin_status"]], api_name="admin_preview")
            a["upload"].upload(admin_preview, [a["upload"], a["new_id"]],
                               [a["preview_out"], a["pending"], a["admin_status"]], api_visibility="private")

            def admin_add(pend: dict | None):
                from assistant.knowledge import KnowledgeError, add_documents
                no_change = [gr.skip()] * len(refresh_outputs)
                if not pend:
                    return [ADMIN_NOTHING_PENDING, pend, gr.skip(), gr.skip()] + no_change
                if not runtime.admin_lock.acquire(blocking=False):
                    return [ADMIN_BUSY, pend, gr.skip(), gr.skip()] + no_change
                try:
                    report = add_documents([Path(pend["path"])], runtime.settings, doc_id=pend["doc_id"])
                    if not report.added:
                        reason = "；".join(r.reason for r in report.refused) or "未知原因"
                        return [ADMIN_REFUSED.format(reason=esc(reason)), None, gr.skip(), None] + no_change
                    runtime.reload()
                    added = report.added[0]
                    msg = ADMIN_ADDED.format(title=esc(added.title), doc_id=esc(added.doc_id), clauses=added.clauses)
                    return [msg, None, empty_html("已加入。可继续上传下一份文件。"), None] + refreshed()
                except KnowledgeError as exc:
                    return [f"⚠️ {esc(exc)}", None, gr.skip(), gr.skip()] + no_change
                except Exception:
                    log.exception("adding %r failed", pend)
                    return [ERROR_SHORT, pend, gr.skip(), gr.skip()] + no_change
                finally:
                    runtime.admin_lock.release()

            accept_btn.click(admin_add, [a["pending"]],
                             [a["admin_status"], a["pending"], a["preview_out"], a["upload"]] + refresh_outputs,
                             api_name="admin_add")
            cancel_btn.click(lambda: (ADMIN_CANCELLED, None, empty_html("上传文件后在此核对解析结果。"), None), None,
                             [a["admin_status"], a["pending"], a["preview_out"], a["upload"]], api_name="admin_cancel")

            def admin_remove(doc_id: str | None, confirmed: bool):
                from assistant.knowledge import KnowledgeError, remove_document
                no_change = [gr.skip()] * len(refresh_outputs)
                if not doc_id:
                    return ["请先选择要删除的文件。", gr.skip()] + no_change
                if not confirmed:
                    return [ADMIN_CONFIRM_FIRST, gr.skip()] + no_change
                if not runtime.admin_lock.acquire(blocking=False):
                    return [ADMIN_BUSY, gr.skip()] + no_change
                try:
                    title = doc_label(runtime.documents.get(doc_id, {})) or doc_id
                    remove_document(doc_id, runtime.settings)
                    runtime.reload()
                    return [ADMIN_REMOVED.format(doc_id=esc(doc_id), title=esc(title)), False] + refreshed()
                except (KnowledgeError, UnknownDocument) as exc:
                    return [f"⚠️ {esc(exc)}", False] + no_change
                except Exception:
                    log.exception("removing %r failed", doc_id)
                    return [ERROR_SHORT, False] + no_change
                finally:
                    runtime.admin_lock.release()

            remove_btn.click(admin_remove, [a["remove_pick"], a["remove_confirm"]],
                             [a["admin_status"], a["remove_confirm"]] + refresh_outputs, api_name="admin_remove")

    demo.runtime = runtime  # for tests and app.py
    return demo


def _document_view(doc_id: str | None, settings: Settings) -> tuple[str, str, Any]:
    if not doc_id:
        return empty_html(DOC_NONE), "", []
    try:
        document = load_document(doc_id, settings)
    except UnknownDocument:
        return empty_html(f"未找到文件 {doc_id}。"), "", []
    rows = table_rows(document)
    return document_meta_html(document.meta), outline_html(document), rows


def _table_title(rows: list) -> str:
    return f"**任务分解表**（共 {len(rows)} 项，可搜索）" if rows else f"**任务分解表**：{DOC_NO_TABLE}"


def _admin_rows(settings: Settings) -> list[list[Any]]:
    from assistant.knowledge import list_documents
    try:
        rows = list_documents(settings)
    except Exception:
        log.exception("could not list documents")
        return []
    return [[r["doc_id"], r["title"] or f"（无法读取：{r['error']}）", r["year"] or "", r["place"] or "",
             r["doc_number"] or "", r["date"] or "", r["clauses"] if r["clauses"] is not None else "",
             "是" if r["indexed"] else "否"] for r in rows]


def preview_html(preview: Any) -> str:
    """What an uploaded file parses into: metadata, clause count, warnings and the outline."""
    meta = preview.document.meta
    warnings = "".join(f'<div class="warn">⚠️ {esc(w)}</div>' for w in preview.warnings)
    heads = "".join(f"<li>{esc(n.label)}（{len(n.children)} 项）</li>" for n in preview.document.outline)
    tables = sum(len(t.rows) for t in preview.document.tables)
    extra = [("文档编号", preview.doc_id), ("条款数", preview.clause_count), ("任务表行数", tables or None),
             ("格式", getattr(preview.read, "kind", None))]
    meta_box = document_meta_html(meta.to_dict() | {"doc_id": None}, extra)
    return ('<div class="admin-preview">' + meta_box + warnings
            + (f"<div><b>提纲</b><ol>{heads}</ol></div>" if heads else "") + "</div>")


def compare_html(runtime: Runtime, text: str | None) -> str:
    """Side by side per document: the clause that best covers the topic, or 未涉及."""
    topic = strip_control(text or "").strip()
    if not topic:
        return empty_html(COMPARE_EMPTY_TOPIC)
    if len(topic) > runtime.settings.max_question_chars:
        return empty_html(messages.QUESTION_TOO_LONG.format(length=len(topic),
                                                             limit=runtime.settings.max_question_chars))
    cards: list[tuple[int, str]] = []     # (0 covered | 1 nearest only | 2 not covered, html)
    for doc_id, meta in sorted(runtime.documents.items(), key=lambda kv: doc_label(kv[1])):
        result, words = runtime.search(topic, doc_id, k=1)
        hit = result.hits[0] if result.hits else None
        sub = " · ".join(f"<span>{esc(x)}</span>" for x in (meta.get("doc_number"), meta.get("date")) if x)
        head = (f'<div class="cmp-doc">{esc(doc_label(meta))}</div>'
                + (f'<div class="cmp-sub">{sub}</div>' if sub else ""))
        if hit is None or not result.relevant or result.coverage <= 0:
            none = f'<div class="cmp-none">{COMPARE_NOT_COVERED}</div>'
            cards.append((2, f'<div class="cmp-card weak">{head}{none}</div>'))
            continue
        clause = hit.clause
        path = " › ".join(esc(h) for h in clause.get("heading_path") or [])
        body = (f'<div class="cmp-path">{path}</div>'
                f'<div class="cmp-text">{highlight(clause["text"], word_spans(clause["text"], words))}</div>'
                + tags_html(clause.get("units"), clause.get("deadline")))
        if result.coverage >= COMPARE_FULL_COVERAGE:
            cards.append((0, f'<div class="cmp-card">{head}{body}</div>'))
        else:
            cards.append((1, f'<div class="cmp-card weak">{head}<div class="cmp-none">{COMPARE_NOT_COVERED}</div>'
                             f"<details><summary>{esc(COMPARE_WEAK)}</summary>{body}</details></div>"))
    cards.sort(key=lambda c: c[0])   # stable: by title within each group
    covered = sum(1 for rank, _ in cards if rank == 0)
    return (f'<div class="compare-topic">专题：<b>{esc(topic)}</b>　<span class="cmp-count">'
            f'{covered} / {len(cards)} 份文件涉及</span></div>'
            f'<div class="compare-grid">{"".join(html for _, html in cards)}</div>')


def launch_app(demo: gr.Blocks, settings: Settings, *, port: int | None = None, inbrowser: bool = False,
               prevent_thread_lock: bool = False, quiet: bool = False):
    """Queue (settings.concurrency_limit workers) and serve on settings.host; login when configured."""
    demo.queue(default_concurrency_limit=settings.concurrency_limit)
    auth = (settings.auth_user, settings.auth_password) if settings.auth_user and settings.auth_password else None
    return demo.launch(
        server_name=settings.host, server_port=port or settings.port, auth=auth,
        auth_message=f"{APP_TITLE}：请使用单位分配的账号登录。" if auth else None,
        inbrowser=inbrowser, prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False,
        theme=THEME, css=CSS, footer_links=["api"], max_file_size=settings.max_document_bytes,
        ssr_mode=False, mcp_server=False, pwa=False)
