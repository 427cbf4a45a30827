"""The web app (Gradio 6): 问答 (chat with cited sources), 文件浏览, 专题对比, 文档管理 (administrators).

`build_app(assistant, settings)` returns the Blocks; `launch_app(demo, settings)` enables the queue,
installs the request guard and starts the server (Gradio 6 takes theme/css at launch).

Named API endpoints (callable with gradio_client, e.g. ``Client(url).predict(q, "全部文件",
api_name="/ask")``); session state (the conversation, each answer's sources) is kept per client:

- /ask (question, scope) -> (chat messages, sources html, question box, status)   streamed
- /new_chat () -> (chat messages, sources html, question box, status, comment)
- /show_sources (answer_no) -> (sources html, feedback status)     1-based answer number
- /vote_up, /vote_down (comment) -> (feedback status, comment box)  on the selected answer
- /document (doc_id) -> (meta html, outline html, task table)
- /compare (topic) -> compare html
- /admin_preview (file, doc_id), /admin_add (), /admin_cancel (), /admin_remove (doc_id, confirm)
  only when document management is on (a login configured, or `admin=True`); with a login, only
  administrators may call them.

Every page refreshes its document lists on load, after its own add/remove, and every
settings.app.list_refresh_s seconds when another session changed them. Everything from the corpus or
the user is escaped before it is put into HTML or Markdown.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import gradio as gr
from starlette.middleware import Middleware

from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.app.render import ALL_DOCS, APP_TITLE, doc_choices, header_html, scope_choices
from assistant.app.web.admin_tab import admin_rows, build_admin_tab
from assistant.app.web.chat_tab import build_chat_tab
from assistant.app.web.compare_tab import build_compare_tab
from assistant.app.web.documents_tab import build_documents_tab
from assistant.app.web.guard import RequestGuard, SessionReaper
from assistant.app.web.session import Runtime
from assistant.app.web.theme import CSS, THEME

log = logging.getLogger(__name__)


def build_app(assistant: Assistant, settings: Settings, *, admin: bool | None = None,
              loader: Callable[[Settings], Assistant] | None = None) -> gr.Blocks:
    """The Blocks for `assistant`. Document management exists when `admin` is True, or (admin None)
    when a login is configured; with a login it is shown to administrators only."""
    runtime = Runtime(assistant, settings, loader)
    runtime.admin = runtime.access.enabled if admin is None else admin

    with gr.Blocks(title=APP_TITLE, analytics_enabled=False,
                   delete_cache=(settings.app.session_ttl_s, settings.app.session_ttl_s)) as demo:
        header = gr.HTML(header_html(runtime.documents), elem_id="app-header", js_on_load=None)
        shown_version = gr.State(-1)   # the runtime.version this page's lists show
        with gr.Tabs():
            with gr.Tab("💬 智能问答", id="chat"):
                chat = build_chat_tab(runtime)
            with gr.Tab("📄 文件浏览", id="documents"):
                documents = build_documents_tab(runtime)
            with gr.Tab("⚖️ 专题对比", id="compare"):
                compare = build_compare_tab(runtime)
            manage = build_admin_tab(runtime, visible=not runtime.access.enabled) if runtime.admin else None

        outputs = [shown_version, header, chat.scope, documents.doc_pick, compare.topic_pick]
        if manage is not None:
            outputs += [manage.remove_pick, manage.doc_list, manage.tab]
        sync = _list_sync(runtime, with_admin=manage is not None)
        inputs = [shown_version, chat.scope, documents.doc_pick]
        demo.load(sync, inputs, outputs, api_visibility="private", queue=False)
        gr.Timer(settings.app.list_refresh_s).tick(sync, inputs, outputs, api_visibility="private", queue=False,
                                               show_progress="hidden")
        for change in manage.changes if manage is not None else []:
            change.then(sync, inputs, outputs, api_visibility="private", queue=False)

    demo.runtime = runtime  # for tests and app.py
    return demo


def _list_sync(runtime: Runtime, *, with_admin: bool):
    """The handler that brings one page's document lists up to date (a no-op when they are)."""

    def sync(shown: Any, scope_value: Any, doc_value: Any, request: gr.Request) -> list:
        version = runtime.version
        count = 5 + (3 if with_admin else 0)
        if shown == version:
            return [gr.skip()] * count
        docs = runtime.documents
        first = next(iter(doc_choices(docs)), (None, None))[1]
        updates = [
            version,
            header_html(docs),
            gr.update(choices=scope_choices(docs), value=scope_value if scope_value in docs else ALL_DOCS),
            gr.update(choices=doc_choices(docs), value=doc_value if doc_value in docs else first),
            gr.update(choices=runtime.topics()),
        ]
        if with_admin:
            manages = runtime.may_manage(request.username if request else None)
            updates += [gr.update(choices=doc_choices(docs), value=None), admin_rows(runtime) if manages else [],
                        gr.Tab(visible=manages)]
        return updates

    return sync


def launch_app(demo: gr.Blocks, settings: Settings, *, port: int | None = None, inbrowser: bool = False,
               prevent_thread_lock: bool = False, quiet: bool = False):
    """Queue (settings.app.concurrency_limit workers) and serve on settings.app.host, behind the request
    guard; login when accounts are configured; idle sessions are forgotten."""
    runtime: Runtime = demo.runtime
    demo.queue(default_concurrency_limit=settings.app.concurrency_limit)
    access = runtime.access
    guard = Middleware(RequestGuard, settings=settings, access=access, uploads=runtime.admin)
    result = demo.launch(
        server_name=settings.app.host, server_port=port or settings.app.port,
        auth=access.check if access.enabled else None,
        auth_message=f"{APP_TITLE}：请使用单位分配的账号登录。" if access.enabled else None,
        inbrowser=inbrowser, prevent_thread_lock=True, quiet=quiet, show_error=False,
        theme=THEME, css=CSS, footer_links=["api"], max_file_size=settings.ingest.max_document_bytes,
        state_session_capacity=settings.app.max_sessions, app_kwargs={"middleware": [guard]},
        ssr_mode=False, mcp_server=False, pwa=False)
    demo.session_reaper = SessionReaper(demo.server_app, settings.app.session_ttl_s).start()
    if not prevent_thread_lock:
        demo.block_thread()
    return result
