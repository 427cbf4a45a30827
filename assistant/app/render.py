"""What the app shows, as text: the wording, and answers, sources, outlines and comparisons
rendered as escaped Markdown/HTML. Pure functions of their inputs, so they are tested without a
browser; assistant/ui.py wires them into the Gradio Blocks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.answer import messages
from assistant.answer.lines import AnswerLine
from assistant.ingest.metadata import DocumentMeta

if TYPE_CHECKING:   # the session module imports this one
    from assistant.app.web.session import AnswerRecord

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

MAX_ECHO_CHARS = 600             # a longer question is echoed in the chat cut to this length
ADMIN_DOC_COLUMNS = ["编号", "标题", "年份", "地区", "文号", "日期", "条款数", "已索引"]
HEADING_MAX_CHARS = 40           # a lead-in line ("根据…的文件：") up to this length is shown bold
COMPARE_FULL_COVERAGE = 0.5      # share of the topic's words a clause must contain to count as covering it

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")
_MD_LINE_START = re.compile(r"^(\s*)(\d+)([.)])")

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

def answer_markdown(lines: Sequence[AnswerLine]) -> str:
    """An answer's lines as chatbot Markdown: section labels, "答："/"依据：" and short lead-in
    lines bold, bullets as a list, [n] markers styled; every text shown literally."""
    blocks: list[str] = []
    bullets: list[str] = []

    def flush() -> None:
        if bullets:
            blocks.append("\n".join(bullets))
            bullets.clear()

    for line in lines:
        if not line.render().strip():
            continue
        if line.bullet:
            bullets.append("- " + md_inline(line.body.strip()))
            continue
        flush()
        blocks.append(_line_markdown(line))
    flush()
    return "\n\n".join(blocks)


def _line_markdown(line: AnswerLine) -> str:
    """One line that is not a bullet."""
    if line.kind in ("document", "part"):
        before, label, after = (s.text for s in line.segments)
        return f"**{before}{md_inline(label)}{after}**"
    if line.kind in ("direct", "basis"):
        lead, rest = line.segments[0].text, "".join(s.render() for s in line.segments[1:])
        # "**答：**8" would not render bold in CommonMark
        return f"**{lead.rstrip('：')}**：{md_inline(rest)}"
    body = line.body.strip()
    if line.kind == "heading" and len(body) <= HEADING_MAX_CHARS:
        return f"**{md_inline(body)}**"
    return md_inline(body)


def context_rewrite(answer) -> str | None:
    """The standalone question a follow-up was read as, to show the user ("（按上文理解为：…）"); None when
    the question stood alone (normalising its punctuation or spelling is not a reading "by context")."""
    rewritten = answer.rewritten_question
    query = getattr(answer, "query", None)
    if not rewritten or rewritten.strip() == answer.question.strip() or (query is not None and query.rule is None):
        return None
    return rewritten


def rewritten_markdown(answer) -> str:
    rewritten = context_rewrite(answer)
    if rewritten is None:
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


def sources_html(record: AnswerRecord | None) -> str:
    """The sources panel for one answer of a chat."""
    if not record:
        return empty_html(SOURCES_EMPTY)
    count = len(record.citations)
    head = (f'<div class="src-header">{esc(SOURCES_HEADER.format(n=record.n))}'
            + (f'<span class="src-count">{esc(SOURCES_COUNT.format(count=count))}</span>' if count else "")
            + "</div>"
            f'<div class="src-question">{esc(SOURCES_QUESTION.format(question=_short(record.question, 120)))}</div>')
    if record.notice:
        return head + empty_html(record.answer or SOURCES_NONE)
    if not record.citations:
        return head + empty_html(SOURCES_NONE)
    cards = []
    for c in record.citations:
        meta = " · ".join(esc(x) for x in (c.doc_number, c.doc_date) if x)
        path = " › ".join(esc(h) for h in c.heading_path)
        cards.append(
            f'<div class="src-card" id="src-{esc(c.n)}">'
            f'<div class="src-top"><span class="src-n">[{esc(c.n)}]</span>'
            f'<span class="src-title">{esc(c.doc_title)}</span></div>'
            + (f'<div class="src-meta">{meta}</div>' if meta else "")
            + (f'<div class="src-path">{path}</div>' if path else "")
            + f'<div class="src-text">{highlight(c.text, c.spans)}</div>'
            + tags_html(c.units, c.deadline)
            + "</div>")
    return head + "".join(cards)


def _short(text: str, limit: int) -> str:
    text = strip_control(text or "").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def header_html(documents: dict[str, DocumentMeta]) -> str:
    return (
        '<div class="app-header"><div class="brand"><div class="logo">政</div><div>'
        f"<h1>{esc(APP_TITLE)}</h1><p>{esc(APP_TAGLINE)}</p></div></div>"
        f'<div class="doc-count"><b>{len(documents)}</b>份文件已收录</div></div>')


def doc_label(meta: DocumentMeta) -> str:
    return meta.title or meta.doc_id or ""


def doc_choices(documents: dict[str, DocumentMeta]) -> list[tuple[str, str]]:
    return [(doc_label(m), d) for d, m in sorted(documents.items(), key=lambda kv: doc_label(kv[1]))]


def scope_choices(documents: dict[str, DocumentMeta]) -> list[tuple[str, str]]:
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
    return f'<div class="doc-meta"><h3>{esc(m.get("title") or m.get("doc_id"))}</h3><table>{cells}</table></div>'


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
