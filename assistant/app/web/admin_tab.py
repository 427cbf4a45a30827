"""The 文档管理 tab: upload -> parse preview -> confirm adds a document; remove with confirmation.

Endpoints /admin_preview (file, doc_id), /admin_add (), /admin_cancel (), /admin_remove (doc_id,
confirm). Every handler checks the caller's role itself (hiding the tab is not access control): with
a login configured only administrators may call them. An uploaded file is deleted from Gradio's
upload folder as soon as it is added, refused or cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.ingest.corpus import SUPPORTED_SUFFIXES, UnknownDocument
from assistant.errors import AssistantError
from assistant.app.render import (
    ADMIN_ADDED,
    ADMIN_BUSY,
    ADMIN_CANCELLED,
    ADMIN_CONFIRM_FIRST,
    ADMIN_DOC_COLUMNS,
    ADMIN_INTRO,
    ADMIN_NEED_FILE,
    ADMIN_NOTHING_PENDING,
    ADMIN_REFUSED,
    ADMIN_REMOVED,
    ERROR_SHORT,
    doc_choices,
    doc_label,
    document_meta_html,
    empty_html,
    esc,
)
from assistant.app.web.session import Runtime
from assistant.ingest.metadata import meta_of

log = logging.getLogger(__name__)

ADMIN_ONLY = "只有管理员可以管理文档。"
PREVIEW_EMPTY = "上传文件后在此核对解析结果。"


@dataclass
class AdminTab:
    tab: gr.Tab
    remove_pick: gr.Dropdown
    doc_list: gr.Dataframe
    changes: list[Any]            # the add and remove events; app.py refreshes every list after them


def admin_rows(runtime: Runtime) -> list[list[Any]]:
    from assistant.app.knowledge import list_documents
    try:
        rows = list_documents(runtime.settings)
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


def _discard_upload(path: Any) -> None:
    """Delete a file Gradio stored for an upload (only inside its upload folder)."""
    if not isinstance(path, str) or not path:
        return
    from gradio.utils import get_upload_folder

    target = Path(path).resolve()
    if target.is_relative_to(Path(get_upload_folder()).resolve()):
        target.unlink(missing_ok=True)


def build_admin_tab(runtime: Runtime, visible: bool) -> AdminTab:
    with gr.Tab("🗂️ 文档管理", id="admin", visible=visible) as tab:
        gr.Markdown(ADMIN_INTRO.format(suffixes="、".join(SUPPORTED_SUFFIXES)))
        pending = gr.State(None, time_to_live=runtime.settings.app.session_ttl_s)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                upload = gr.File(label="上传文件", file_types=list(SUPPORTED_SUFFIXES), type="filepath",
                                 file_count="single", elem_id="admin-upload")
                new_id = gr.Textbox(label="文档编号（可选）", placeholder="如 2025-jiading；留空则自动生成",
                                    elem_id="admin-doc-id", max_length=80)
                preview_btn = gr.Button("解析预览", elem_id="admin-preview-btn")
                with gr.Row():
                    accept_btn = gr.Button("确认加入知识库", variant="primary", elem_id="admin-accept")
                    cancel_btn = gr.Button("取消", elem_id="admin-cancel")
            with gr.Column(scale=2):
                preview_out = gr.HTML(empty_html(PREVIEW_EMPTY), elem_id="admin-preview", js_on_load=None)
        admin_status = gr.Markdown("", elem_id="admin-status")
        gr.Markdown("**删除文件**")
        with gr.Row(equal_height=False):
            remove_pick = gr.Dropdown(choices=doc_choices(runtime.documents), value=None, label="要删除的文件",
                                      scale=4, elem_id="admin-remove-pick", allow_custom_value=True)
            remove_confirm = gr.Checkbox(label="确认删除（从知识库和索引中移除）", value=False, scale=2,
                                         elem_id="admin-remove-confirm")
            remove_btn = gr.Button("删除", variant="stop", scale=1, min_width=90, elem_id="admin-remove")
        gr.Markdown("**知识库中的文件**")
        doc_list = gr.Dataframe(value=[], headers=ADMIN_DOC_COLUMNS, interactive=False, wrap=True,
                                elem_id="admin-doc-list")

    preview = _previewer(runtime)
    preview_btn.click(preview, [upload, new_id], [preview_out, pending, admin_status], api_name="admin_preview")
    upload.upload(preview, [upload, new_id], [preview_out, pending, admin_status], api_visibility="private")

    def cancel(pend: dict | None, request: gr.Request):
        if not runtime.may_manage(request.username):
            return ADMIN_ONLY, gr.skip(), gr.skip(), gr.skip()
        _discard_upload((pend or {}).get("path"))
        return ADMIN_CANCELLED, None, empty_html(PREVIEW_EMPTY), None

    cancel_btn.click(cancel, [pending], [admin_status, pending, preview_out, upload], api_name="admin_cancel")
    changes = _wire_changes(runtime, dict(
        pending=pending, upload=upload, preview_out=preview_out, admin_status=admin_status,
        accept_btn=accept_btn, remove_btn=remove_btn, remove_pick=remove_pick, remove_confirm=remove_confirm))
    return AdminTab(tab=tab, remove_pick=remove_pick, doc_list=doc_list, changes=changes)


def _wire_changes(runtime: Runtime, parts: dict[str, Any]) -> list[Any]:
    """Add and remove. They change the document lists of every page; app.py chains that refresh."""

    def add(pend: dict | None, request: gr.Request):
        from assistant.app.knowledge import add_documents
        if not runtime.may_manage(request.username):
            return [ADMIN_ONLY, gr.skip(), gr.skip(), gr.skip()]
        if not pend:
            return [ADMIN_NOTHING_PENDING, pend, gr.skip(), gr.skip()]
        if not runtime.admin_lock.acquire(blocking=False):
            return [ADMIN_BUSY, pend, gr.skip(), gr.skip()]
        try:
            report = add_documents([Path(pend["path"])], runtime.settings, doc_id=pend["doc_id"])
            _discard_upload(pend["path"])
            if not report.added:
                reason = "；".join(r.reason for r in report.refused) or "未知原因"
                return [ADMIN_REFUSED.format(reason=esc(reason)), None, gr.skip(), None]
            runtime.reload()
            added = report.added[0]
            msg = ADMIN_ADDED.format(title=esc(added.title), doc_id=esc(added.doc_id), clauses=added.clauses)
            return [msg, None, empty_html("已加入。可继续上传下一份文件。"), None]
        except AssistantError as exc:
            return [f"⚠️ {esc(exc)}", None, gr.skip(), gr.skip()]
        except Exception:
            log.exception("adding %r failed", pend)
            return [ERROR_SHORT, pend, gr.skip(), gr.skip()]
        finally:
            runtime.admin_lock.release()

    added = parts["accept_btn"].click(add, [parts["pending"]], [parts["admin_status"], parts["pending"],
                                                                parts["preview_out"], parts["upload"]],
                                      api_name="admin_add")

    def remove(doc_id: Any, confirmed: Any, request: gr.Request):
        from assistant.app.knowledge import remove_document
        if not runtime.may_manage(request.username):
            return [ADMIN_ONLY, gr.skip()]
        if not doc_id or not isinstance(doc_id, str):
            return ["请先选择要删除的文件。", gr.skip()]
        if confirmed is not True:
            return [ADMIN_CONFIRM_FIRST, gr.skip()]
        if not runtime.admin_lock.acquire(blocking=False):
            return [ADMIN_BUSY, gr.skip()]
        try:
            title = doc_label(meta_of(runtime.documents, doc_id))
            remove_document(doc_id, runtime.settings)
            runtime.reload()
            return [ADMIN_REMOVED.format(doc_id=esc(doc_id), title=esc(title)), False]
        except (AssistantError, UnknownDocument) as exc:
            return [f"⚠️ {esc(exc)}", False]
        except Exception:
            log.exception("removing %r failed", doc_id)
            return [ERROR_SHORT, False]
        finally:
            runtime.admin_lock.release()

    removed = parts["remove_btn"].click(remove, [parts["remove_pick"], parts["remove_confirm"]],
                                        [parts["admin_status"], parts["remove_confirm"]], api_name="admin_remove")
    return [added, removed]


def _previewer(runtime: Runtime):
    def preview(path: Any, doc_id: Any, request: gr.Request):
        from assistant.app.knowledge import preview_document
        if not runtime.may_manage(request.username):
            return empty_html(ADMIN_ONLY), None, ADMIN_ONLY
        if not path or not isinstance(path, str):
            return empty_html(ADMIN_NEED_FILE), None, ADMIN_NEED_FILE
        wanted = doc_id.strip() if isinstance(doc_id, str) and doc_id.strip() else None
        try:
            p = preview_document(Path(path), runtime.settings, wanted)
        except AssistantError as exc:
            return empty_html(str(exc)), None, f"⚠️ {esc(exc)}"
        except Exception:
            log.exception("preview failed for %r", path)
            return empty_html(ERROR_SHORT), None, ERROR_SHORT
        return preview_html(p), {"path": str(path), "doc_id": p.doc_id}, "请核对解析结果，无误后点击“确认加入知识库”。"
    return preview
