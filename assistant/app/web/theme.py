"""How the app looks: the Gradio theme and the page's CSS (Gradio 6 takes both at launch)."""

from __future__ import annotations

import gradio as gr

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
