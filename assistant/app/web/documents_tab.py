"""The 文件浏览 tab: one document's metadata, its outline (clauses with units and deadlines) and task table.

Endpoint: /document (doc_id). The choice list is refreshed by app.py after any add or remove.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.ingest.corpus import UnknownDocument, load_document
from assistant.app.render import (
    DOC_NO_TABLE,
    DOC_NONE,
    ERROR_SHORT,
    TABLE_HEADERS,
    doc_choices,
    document_meta_html,
    empty_html,
    esc,
    outline_html,
    table_rows,
)
from assistant.app.web.session import Runtime

log = logging.getLogger(__name__)


@dataclass
class DocumentsTab:
    doc_pick: gr.Dropdown


def document_view(doc_id: str | None, settings: Settings) -> tuple[str, str, list[list[str]]]:
    """(metadata html, outline html, task-table rows) of one document."""
    if not doc_id:
        return empty_html(DOC_NONE), "", []
    try:
        document = load_document(doc_id, settings)
    except UnknownDocument:
        return empty_html(f"未找到文件 {esc(doc_id)}。"), "", []
    return document_meta_html(document.meta), outline_html(document), table_rows(document)


def table_title(rows: list) -> str:
    return f"**任务分解表**（共 {len(rows)} 项，可搜索）" if rows else f"**任务分解表**：{DOC_NO_TABLE}"


def build_documents_tab(runtime: Runtime) -> DocumentsTab:
    # The first document is shown on page load (app.py), not baked into the page: every session
    # keeps a copy of the page's initial values, and an outline is tens of kilobytes.
    doc_pick = gr.Dropdown(choices=doc_choices(runtime.documents), value=None, label="选择文件", elem_id="doc-pick",
                           allow_custom_value=True)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            doc_meta = gr.HTML(empty_html(DOC_NONE), elem_id="doc-meta", js_on_load=None)
        with gr.Column(scale=5):
            gr.Markdown("**文件提纲**（点击标题展开条款，含责任单位与时间节点）")
            doc_outline = gr.HTML("", elem_id="doc-outline", js_on_load=None)
    doc_table_title = gr.Markdown(table_title([]))
    doc_table = gr.Dataframe(value=[], visible=False, headers=TABLE_HEADERS, interactive=False, wrap=True,
                             column_widths=["6%", "22%", "44%", "18%", "10%"], max_height=520,
                             elem_id="doc-table", show_search="search")

    def show_document(doc_id: Any):
        try:
            meta_html, outline, rows = document_view(doc_id if isinstance(doc_id, str) else None, runtime.settings)
        except Exception:
            log.exception("could not show document %r", doc_id)
            meta_html, outline, rows = empty_html(ERROR_SHORT), "", []
        return meta_html, outline, table_title(rows), gr.update(value=rows, visible=bool(rows))

    doc_pick.change(show_document, [doc_pick], [doc_meta, doc_outline, doc_table_title, doc_table],
                    api_name="document")
    return DocumentsTab(doc_pick=doc_pick)
