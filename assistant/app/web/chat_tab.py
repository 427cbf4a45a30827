"""The 智能问答 tab: chat with cited sources, the sources panel and 👍/👎 feedback.

Endpoints: /ask (question, scope) streamed, /new_chat, /show_sources (answer_no), /vote_up and
/vote_down (comment). A question is validated before anything is stored or echoed; an invalid one
leaves the chat and the question box alone (the box is not sent back, so a huge text is not echoed).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.errors import AssistantError
from assistant.external_text import clean_external, has_lone_surrogate
from assistant.app.feedback import record_feedback
from assistant.pipeline import InvalidQuestion, clean_question
from assistant.app.render import (
    ALL_DOCS,
    CHAT_PLACEHOLDER,
    ERROR_REPLY,
    ERROR_SHORT,
    EXAMPLE_QUESTIONS,
    FEEDBACK_AGAIN,
    FEEDBACK_COMMENT_PLACEHOLDER,
    FEEDBACK_NOT_ANSWER,
    FEEDBACK_NOTHING,
    FEEDBACK_PROMPT,
    FEEDBACK_THANKS,
    QUESTION_PLACEHOLDER,
    SCOPE_GONE,
    SOURCES_EMPTY,
    SOURCES_LOADING,
    VOTE_LABELS,
    answer_markdown,
    empty_html,
    esc,
    md_escape,
    rewritten_markdown,
    scope_choices,
    sources_html,
    stream_chunks,
    user_markdown,
)
from assistant.app.web.session import AnswerRecord, ChatSession, Runtime

log = logging.getLogger(__name__)


@dataclass
class ChatTab:
    scope: gr.Dropdown
    chatbot: gr.Chatbot
    session: gr.State


def _session(state: Any) -> ChatSession:
    return state if isinstance(state, ChatSession) else ChatSession()


def build_chat_tab(runtime: Runtime) -> ChatTab:
    """Lay out the tab inside the current Blocks and wire its handlers."""
    settings = runtime.settings
    session = gr.State(None, time_to_live=settings.app.session_ttl_s)
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=420):
            chatbot = gr.Chatbot(
                value=[], elem_id="chatbot", show_label=False, height=560, layout="bubble",
                placeholder=CHAT_PLACEHOLDER, latex_delimiters=[], feedback_options=None,
                buttons=["copy", "copy_all"], sanitize_html=True, allow_tags=False,
                group_consecutive_messages=False)
            with gr.Row(equal_height=True, elem_id="input-row"):
                scope = gr.Dropdown(choices=scope_choices(runtime.documents), value=ALL_DOCS, show_label=False,
                                    container=False, scale=2, min_width=170, elem_id="scope", interactive=True,
                                    allow_custom_value=True)
                question = gr.Textbox(placeholder=QUESTION_PLACEHOLDER, show_label=False, lines=1, max_lines=4,
                                      scale=8, elem_id="question", autofocus=True, container=False,
                                      max_length=settings.app.max_question_chars)
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
                    vote_up = gr.Button(VOTE_LABELS["up"], size="sm", scale=0, min_width=96, elem_id="vote-up")
                    vote_down = gr.Button(VOTE_LABELS["down"], size="sm", scale=0, min_width=96, elem_id="vote-down")
                comment = gr.Textbox(placeholder=FEEDBACK_COMMENT_PLACEHOLDER, show_label=False, lines=1,
                                     max_lines=3, elem_id="feedback-comment", container=False,
                                     max_length=settings.app.max_comment_chars)
            feedback_status = gr.Markdown("", elem_id="feedback-status")
            # API-only: show the sources of answer N (1-based).
            answer_no = gr.Number(value=1, precision=0, visible=False)
            show_sources_btn = gr.Button(visible=False)

    outputs = [chatbot, sources, question, status, session]
    ask = _asker(runtime)
    gr.on([question.submit, send.click], ask, [question, scope, session], outputs, api_name="ask",
          show_progress="minimal")
    for button, q in zip(example_buttons, EXAMPLE_QUESTIONS, strict=True):
        button.click(lambda q=q: q, None, question, api_visibility="private", queue=False).then(
            ask, [question, scope, session], outputs, api_visibility="private", show_progress="minimal")

    cleared = [chatbot, sources, question, status, comment, feedback_status, session]
    new_chat.click(_clear_chat, [session], cleared, api_name="new_chat")
    chatbot.clear(_clear_chat, [session], cleared, api_visibility="private")
    chatbot.select(_on_select, [session], [sources, feedback_status, session], api_visibility="private",
                   queue=False)
    show_sources_btn.click(_show_sources, [answer_no, session], [sources, feedback_status, session],
                           api_name="show_sources")
    vote = _voter(runtime)
    vote_up.click(lambda t, s: vote("up", t, s), [comment, session], [feedback_status, comment, session],
                  api_name="vote_up")
    vote_down.click(lambda t, s: vote("down", t, s), [comment, session], [feedback_status, comment, session],
                    api_name="vote_down")
    return ChatTab(scope=scope, chatbot=chatbot, session=session)


def _asker(runtime: Runtime):
    """The /ask handler: one answer per call. With settings.app.stream_delay_s > 0 (a typing effect) the
    finished answer is replayed a sentence at a time; off by default, because each pause holds one
    of the queue's workers while the answer is already complete."""

    def ask(text: Any, scope_value: Any, state: ChatSession | None):
        state = _session(state)
        try:
            return _ask(runtime, text, scope_value, state)
        except Exception:
            log.exception("chat handler failed for %r", text[:200] if isinstance(text, str) else type(text))
            return state.messages, sources_html(state.current), "", md_escape(ERROR_SHORT), state

    def ask_typing(text: Any, scope_value: Any, state: ChatSession | None):
        state = _session(state)
        answered = len(state.answers)
        outputs = ask(text, scope_value, state)
        if len(state.answers) > answered:
            body, shown = state.messages[-1]["content"], ""
            for piece in stream_chunks(body)[:-1]:
                shown += piece
                yield (state.messages[:-1] + [{"role": "assistant", "content": shown}],
                       empty_html(SOURCES_LOADING), "", outputs[3], state)
                time.sleep(runtime.settings.app.stream_delay_s)
        yield outputs

    return ask_typing if runtime.settings.app.stream_delay_s > 0 else ask


def _ask(runtime: Runtime, text: Any, scope_value: Any, state: ChatSession) -> tuple:
    settings = runtime.settings
    try:
        # Validation first: an invalid question leaves the chat alone and the box as the user has it.
        cleaned = clean_question(text, settings)
    except InvalidQuestion as exc:
        # A browser cannot type past the box's max_length, so a longer text came from a script:
        # it is not sent back (a 60 MB question was once echoed in full).
        # Nor is a text with a lone surrogate: it cannot be encoded, and the event stream would die.
        box = text if isinstance(text, str) and len(text) <= settings.app.max_question_chars \
            and not has_lone_surrogate(text) else ""
        return state.messages, sources_html(state.current), box, f"⚠️ {esc(exc)}", state
    doc_filter = None if scope_value in (None, "", ALL_DOCS) or not isinstance(scope_value, str) else scope_value
    note = ""
    if doc_filter and doc_filter not in runtime.documents:
        doc_filter, note = None, f"⚠️ {SCOPE_GONE}"
    record = AnswerRecord(n=len(state.answers) + 1, msg_index=len(state.messages) + 1, question=cleaned,
                          history=[r.question for r in state.answers if not r.notice], scope=doc_filter)
    try:
        answer = runtime.ask(cleaned, state.conversation, doc_filter)
    except AssistantError as exc:
        body = md_escape(str(exc))
        record.notice, record.answer = True, str(exc)
    except Exception:
        log.exception("ask failed for %r", cleaned[:200])
        body = md_escape(ERROR_REPLY)
        record.notice, record.answer = True, ERROR_REPLY
    else:
        body = rewritten_markdown(answer) + answer_markdown(answer.lines)
        record.answer, record.rewritten_question, record.kind = answer.answer, answer.rewritten_question, answer.kind
        record.refused, record.answer_scope = answer.refused, list(answer.scope or [])
        record.citations = list(answer.citations)
    state.messages = state.messages + [{"role": "user", "content": user_markdown(cleaned)},
                                       {"role": "assistant", "content": body}]
    state.answers = state.answers + [record]
    state.selected = len(state.answers) - 1
    state.trim(settings.app.max_history_turns)
    # The sources appear with the complete answer, so a filled sources panel also tells it is complete.
    return state.messages, sources_html(state.current), "", note, state


def _clear_chat(state: ChatSession | None):
    return [], empty_html(SOURCES_EMPTY), "", "", "", "", ChatSession()


def _on_select(state: ChatSession | None, evt: gr.SelectData):
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


def _show_sources(n: float | None, state: ChatSession | None):
    if not isinstance(state, ChatSession) or not state.answers:
        return empty_html(SOURCES_EMPTY), "", state
    try:
        i = int(n) - 1
    except (TypeError, ValueError, OverflowError):
        i = len(state.answers) - 1
    if not 0 <= i < len(state.answers):
        return empty_html(SOURCES_EMPTY), "", state
    state.selected = i
    return sources_html(state.current), "", state


def _voter(runtime: Runtime):
    def vote(kind: str, text: Any, state: ChatSession | None):
        record = state.current if isinstance(state, ChatSession) else None
        if record is None:
            return FEEDBACK_NOTHING, gr.skip(), state
        if record.notice:
            return FEEDBACK_NOT_ANSWER, gr.skip(), state
        try:
            comment = clean_external(text or "", what="补充说明", max_chars=runtime.settings.app.max_comment_chars,
                                     multiline=True)
        except AssistantError as exc:
            return f"⚠️ {esc(exc)}", gr.skip(), state
        if record.vote == kind and not comment:
            return FEEDBACK_AGAIN.format(n=record.n), "", state
        try:
            record_feedback(
                runtime.settings.paths.feedback_log, question=record.question,
                rewritten_question=record.rewritten_question, answer=record.answer,
                citations=record.citations, vote=kind, comment=comment, scope=record.scope,
                answer_scope=record.answer_scope, history=record.history, kind=record.kind)
        except AssistantError as exc:
            return f"⚠️ {esc(exc)}", gr.skip(), state
        except Exception:
            log.exception("could not record feedback")
            return ERROR_SHORT, gr.skip(), state
        record.vote = kind
        return FEEDBACK_THANKS.format(n=record.n, vote=VOTE_LABELS[kind]), "", state
    return vote
