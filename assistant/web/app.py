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

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from assistant import messages
from assistant.query.followup import Conversation
from assistant.config import Settings
from assistant.corpus import SUPPORTED_SUFFIXES, UnknownDocument, load_corpus, load_document
from assistant.feedback import FeedbackError, record_feedback
from assistant.pipeline import Assistant, InvalidQuestion, clean_question
from assistant.render import (  # noqa: F401  (re-exported: tests and scripts use them from here)
    APP_TITLE,
    APP_TAGLINE,
    ALL_DOCS,
    EXAMPLE_QUESTIONS,
    CHAT_PLACEHOLDER,
    QUESTION_PLACEHOLDER,
    THINKING,
    SOURCES_EMPTY,
    SOURCES_LOADING,
    SOURCES_NONE,
    SOURCES_HEADER,
    SOURCES_COUNT,
    SOURCES_QUESTION,
    REWRITTEN_NOTE,
    ERROR_REPLY,
    ERROR_SHORT,
    SCOPE_GONE,
    FEEDBACK_PROMPT,
    FEEDBACK_COMMENT_PLACEHOLDER,
    FEEDBACK_THANKS,
    FEEDBACK_AGAIN,
    FEEDBACK_NOTHING,
    FEEDBACK_NOT_ANSWER,
    VOTE_LABELS,
    TRUNCATED_QUESTION,
    DOC_NONE,
    DOC_NO_TABLE,
    TABLE_HEADERS,
    COMPARE_HINT,
    COMPARE_NOT_COVERED,
    COMPARE_WEAK,
    COMPARE_EMPTY_TOPIC,
    ADMIN_INTRO,
    ADMIN_NEED_FILE,
    ADMIN_NOTHING_PENDING,
    ADMIN_ADDED,
    ADMIN_REFUSED,
    ADMIN_CANCELLED,
    ADMIN_CONFIRM_FIRST,
    ADMIN_REMOVED,
    ADMIN_BUSY,
    STREAM_DELAY_S,
    MAX_ECHO_CHARS,
    ADMIN_DOC_COLUMNS,
    COMPARE_FULL_COVERAGE,
    _CONTROL,
    _MARKER,
    _MD_SPECIAL,
    _MD_LINE_START,
    esc,
    strip_control,
    md_escape,
    md_inline,
    html_with_breaks,
    highlight,
    word_spans,
    answer_markdown,
    rewritten_markdown,
    stream_chunks,
    user_markdown,
    tags_html,
    empty_html,
    sources_html,
    _short,
    header_html,
    doc_label,
    doc_choices,
    scope_choices,
    document_meta_html,
    _clause_html,
    outline_html,
    table_rows,
    common_topics,
)

log = logging.getLogger(__name__)

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
