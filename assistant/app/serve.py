"""`assistant serve` (and `python app.py`, which only calls it): refresh the index, then serve the web app.

The flags are the settings' own (see assistant/config.py for their help and defaults); a flag
overrides the ASSISTANT_* environment variable, which overrides the default.
"""

from __future__ import annotations

import argparse
import logging
import sys

from assistant.config import Settings, add_setting_flags, flag_overrides, load_settings
from assistant.errors import AssistantError

# Settings the app takes as flags (the rest through ASSISTANT_* variables).
SERVE_FLAGS = ["host", "port", "users_file", "auth_user", "auth_password", "corpus_dir", "index_dir", "overrides_dir",
               "feedback_log", "concurrency_limit", "max_question_chars", "embed_threads", "embed_backend", "llm_base_url",
               "llm_model"]
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "jieba", "sentence_transformers", "faiss", "bm25s", "llama_index")


def add_serve_arguments(parser: argparse.ArgumentParser, setting_flags: list[str]) -> None:
    add_setting_flags(parser, setting_flags)
    admin = parser.add_mutually_exclusive_group()
    admin.add_argument("--admin", dest="admin", action="store_true", default=None,
                       help="document management without a login (single-user / trusted use)")
    admin.add_argument("--no-admin", dest="admin", action="store_false",
                       help="no document management even with a login")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--quiet", action="store_true", help="less console output")


def serving_settings(settings: Settings) -> Settings:
    # embed_threads is the CPU budget of the embedding model; questions answered at once share it
    # (two questions each asking torch for both cores ran slower than each taking one).
    return settings.replace(embed_threads=max(1, settings.model.embed_threads // settings.app.concurrency_limit))


def serve(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = serving_settings(settings)
    if bool(settings.app.auth_user) != bool(settings.app.auth_password):
        print("错误：--auth-user 与 --auth-password 需要同时设置。", file=sys.stderr)
        return 2

    from assistant.app.web.app import build_app, launch_app
    from assistant.pipeline import Assistant

    print(f"正在加载知识库与模型（文件：{settings.paths.corpus_dir}，索引：{settings.paths.index_dir}）……", flush=True)
    assistant = Assistant.load(settings, progress=not args.quiet)
    if assistant.build_report is not None:
        print(assistant.build_report.summary(), flush=True)
    print(f"已收录 {len(assistant.documents)} 份文件。", flush=True)
    demo = build_app(assistant, settings, admin=args.admin)   # an unreadable users file: AssistantError
    access = demo.runtime.access
    if args.admin and not access.enabled:
        print("提示：文档管理已开启且未设置登录，能访问本页面的人都可以增删文件。", flush=True)
    _, url, _ = launch_app(demo, settings, inbrowser=not args.no_browser, prevent_thread_lock=True, quiet=True)
    print(f"政务公开助手已启动：{url}", flush=True)
    if access.enabled:
        print(f"需要登录（账号：{settings.paths.users_file}"
              + (f"，以及管理员 {settings.app.auth_user}" if settings.app.auth_user else "") + "）。", flush=True)
    print("按 Ctrl+C 停止。", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python app.py [flags]`."""
    parser = argparse.ArgumentParser(prog="app.py", description="政务公开助手 web app")
    add_serve_arguments(parser, SERVE_FLAGS)
    args = parser.parse_args(argv)
    try:
        return serve(args, load_settings(**flag_overrides(args)))
    except AssistantError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2


def register_commands(sub: argparse._SubParsersAction, global_flags: list[str]) -> None:
    p = sub.add_parser("serve", help="refresh the index and serve the web app (what app.py does)")
    add_serve_arguments(p, [name for name in SERVE_FLAGS if name not in global_flags])
    p.set_defaults(func=serve)
