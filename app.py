"""政务公开助手 — the web app.

    python app.py                                  # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080 --auth-user staff --auth-password '…'

Settings come from assistant/config.py (defaults, then ASSISTANT_* environment variables); the
flags below override them. The index is built or refreshed at start (with a progress bar), then
the app is served. The 文档管理 (admin) tab is shown when a login is configured, or with --admin.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python app.py` from anywhere

from assistant.config import load_settings  # noqa: E402

# flag -> Settings field; each flag is None unless given, so settings/env defaults stay.
SETTING_FLAGS = {
    "host": ("--host", str, "address to bind (default 127.0.0.1; 0.0.0.0 serves the whole intranet)"),
    "port": ("--port", int, "port (default 7860)"),
    "auth_user": ("--auth-user", str, "login user name (login is off unless user and password are set)"),
    "auth_password": ("--auth-password", str, "login password"),
    "users_file": ("--users-file", str, "reader/admin accounts made with `assistant users add` (default users.json)"),
    "corpus_dir": ("--corpus-dir", str, "folder with the documents (default corpus/)"),
    "index_dir": ("--index-dir", str, "folder of the search index (default index/)"),
    "overrides_dir": ("--overrides-dir", str, "metadata override files (default corpus/overrides/)"),
    "feedback_log": ("--feedback-log", str, "where 👍/👎 feedback is appended (default feedback/feedback.jsonl)"),
    "concurrency_limit": ("--concurrency-limit", int, "questions answered at once (default 2)"),
    "max_question_chars": ("--max-question-chars", int, "longest accepted question (default 500)"),
    "embed_threads": ("--embed-threads", int, "CPU threads for the embedding model, shared by the questions answered at once"),
    "llm_base_url": ("--llm-base-url", str, "optional OpenAI-compatible endpoint for generated answers"),
    "llm_model": ("--llm-model", str, "model name at --llm-base-url"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="政务公开助手 web app")
    for name, (flag, kind, text) in SETTING_FLAGS.items():
        parser.add_argument(flag, dest=name, type=kind, default=None, help=text)
    admin = parser.add_mutually_exclusive_group()
    admin.add_argument("--admin", dest="admin", action="store_true", default=None,
                       help="show the 文档管理 tab even without a login (single-user / trusted use)")
    admin.add_argument("--no-admin", dest="admin", action="store_false",
                       help="hide the 文档管理 tab even with a login")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--quiet", action="store_true", help="less console output")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "urllib3", "jieba", "sentence_transformers", "faiss", "bm25s",
                  "llama_index"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    overrides = {name: getattr(args, name) for name in SETTING_FLAGS if getattr(args, name) is not None}
    settings = load_settings(**overrides)
    # embed_threads is the CPU budget of the embedding model; questions answered at once share it
    # (two questions each asking torch for both cores ran slower than each taking one).
    settings = settings.replace(embed_threads=max(1, settings.embed_threads // max(1, settings.concurrency_limit)))
    if bool(settings.auth_user) != bool(settings.auth_password):
        print("错误：--auth-user 与 --auth-password 需要同时设置。", file=sys.stderr)
        return 2

    from assistant.errors import AssistantError
    from assistant.pipeline import Assistant
    from assistant.app.web.app import build_app, launch_app

    print(f"正在加载知识库与模型（文件：{settings.corpus_dir}，索引：{settings.index_dir}）……", flush=True)
    assistant = Assistant.load(settings, progress=not args.quiet)
    if assistant.build_report is not None:
        print(assistant.build_report.summary(), flush=True)
    print(f"已收录 {len(assistant.documents)} 份文件。", flush=True)

    try:
        demo = build_app(assistant, settings, admin=args.admin)
    except AssistantError as exc:   # e.g. an unreadable users file
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    access = demo.runtime.access
    if args.admin and not access.enabled:
        print("提示：文档管理已开启且未设置登录，能访问本页面的人都可以增删文件。", flush=True)
    _, url, _ = launch_app(demo, settings, inbrowser=not args.no_browser, prevent_thread_lock=True, quiet=True)
    print(f"政务公开助手已启动：{url}", flush=True)
    if access.enabled:
        print(f"需要登录（账号：{settings.users_file}"
              + (f"，以及管理员 {settings.auth_user}" if settings.auth_user else "") + "）。", flush=True)
    print("按 Ctrl+C 停止。", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
