"""The 专题对比 tab: per document, the clause that best covers a topic, or 未涉及.

Endpoint: /compare (topic).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.errors import AssistantError
from assistant.external_text import clean_external
from assistant.app.render import (
    COMPARE_EMPTY_TOPIC,
    COMPARE_FULL_COVERAGE,
    COMPARE_HINT,
    COMPARE_NOT_COVERED,
    COMPARE_WEAK,
    ERROR_SHORT,
    doc_label,
    empty_html,
    esc,
    highlight,
    tags_html,
    word_spans,
)
from assistant.app.web.session import Runtime
from assistant.ingest.metadata import DocumentMeta

log = logging.getLogger(__name__)


@dataclass
class CompareTab:
    topic_pick: gr.Dropdown


def compare_html(runtime: Runtime, text: Any) -> str:
    """Side by side per document: the clause that best covers the topic, or 未涉及."""
    try:
        topic = clean_external(text or "", what="对比专题", max_chars=runtime.settings.app.max_question_chars)
    except AssistantError as exc:
        return empty_html(str(exc))
    if not topic:
        return empty_html(COMPARE_EMPTY_TOPIC)
    cards: list[tuple[int, str]] = []     # (0 covered | 1 nearest only | 2 not covered, html)
    for doc_id, meta in sorted(runtime.documents.items(), key=lambda kv: doc_label(kv[1])):
        cards.append(_card(runtime, topic, doc_id, meta))
    cards.sort(key=lambda c: c[0])   # stable: by title within each group
    covered = sum(1 for rank, _ in cards if rank == 0)
    return (f'<div class="compare-topic">专题：<b>{esc(topic)}</b>　<span class="cmp-count">'
            f'{covered} / {len(cards)} 份文件涉及</span></div>'
            f'<div class="compare-grid">{"".join(html for _, html in cards)}</div>')


def _card(runtime: Runtime, topic: str, doc_id: str, meta: DocumentMeta) -> tuple[int, str]:
    result, words = runtime.search(topic, doc_id, k=1)
    hit = result.hits[0] if result.hits else None
    sub = " · ".join(f"<span>{esc(x)}</span>" for x in (meta.doc_number, meta.date) if x)
    head = (f'<div class="cmp-doc">{esc(doc_label(meta))}</div>'
            + (f'<div class="cmp-sub">{sub}</div>' if sub else ""))
    if hit is None or not result.relevant or result.coverage <= 0:
        return 2, f'<div class="cmp-card weak">{head}<div class="cmp-none">{COMPARE_NOT_COVERED}</div></div>'
    clause = hit.clause
    path = " › ".join(esc(h) for h in clause.heading_path or [])
    body = (f'<div class="cmp-path">{path}</div>'
            f'<div class="cmp-text">{highlight(clause.text, word_spans(clause.text, words))}</div>'
            + tags_html(clause.units, clause.deadline))
    if result.coverage >= COMPARE_FULL_COVERAGE:
        return 0, f'<div class="cmp-card">{head}{body}</div>'
    return 1, (f'<div class="cmp-card weak">{head}<div class="cmp-none">{COMPARE_NOT_COVERED}</div>'
               f"<details><summary>{esc(COMPARE_WEAK)}</summary>{body}</details></div>")


def build_compare_tab(runtime: Runtime) -> CompareTab:
    gr.Markdown(COMPARE_HINT)
    with gr.Row(equal_height=False, elem_id="compare-row"):
        topic_pick = gr.Dropdown(choices=runtime.topics(), value=None, label="常见专题", scale=3,
                                 elem_id="topic-pick")
        topic = gr.Textbox(label="或输入关键词", placeholder="如：政府开放活动、政策解读", scale=3, elem_id="topic",
                           max_length=runtime.settings.app.max_question_chars)
        compare_btn = gr.Button("对比", variant="primary", scale=0, min_width=120, elem_id="compare-btn")
    compare_out = gr.HTML(empty_html(COMPARE_HINT), elem_id="compare-out", js_on_load=None)

    def compare(text: Any) -> str:
        try:
            return compare_html(runtime, text)
        except Exception:
            log.exception("compare failed for %r", text[:200] if isinstance(text, str) else type(text))
            return empty_html(ERROR_SHORT)

    gr.on([compare_btn.click, topic.submit], compare, [topic], [compare_out], api_name="compare")
    topic_pick.input(lambda t: t or "", [topic_pick], [topic], api_visibility="private", queue=False).then(
        compare, [topic], [compare_out], api_visibility="private")
    return CompareTab(topic_pick=topic_pick)
