"""The `assistant` command.

Each subcommand is a small function; settings come from `load_settings` with the global flags
as overrides. Errors a user can cause (unknown doc id, unreadable file) print one message and
exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable

from assistant.answer import messages
from assistant.app.render import context_rewrite
from assistant.config import Settings, add_setting_flags, flag_overrides, load_settings, setting_sources
from assistant.errors import AssistantError, InputRejected
from assistant.external_text import clean_external
from assistant.ingest.corpus import load_corpus, load_document
from assistant.ingest.structure import Document, HeadingNode

# AssistantError is the base of every error written for users; ValueError covers bad flag values.
USER_ERRORS: tuple[type[BaseException], ...] = (AssistantError, ValueError)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _meta_line(doc: Document) -> str:
    m = doc.meta
    bits = [b for b in (m.doc_number, m.date, f"发布 {m.published}" if m.published else "", m.issuer,
                        f"{m.level}级 · {m.place}" if m.level else "") if b]
    return f"{m.title or m.label}  ({m.doc_id})\n  " + " · ".join(bits)


def outline_data(doc: Document) -> dict:
    kinds = lambda kind: [c.id for c in doc.clauses if c.kind == kind]  # noqa: E731
    return {
        "doc_id": doc.doc_id,
        "meta": doc.meta.to_dict(),
        "preamble": kinds("preamble"),
        "intro": kinds("intro"),
        "sections": [node.to_dict() for node in doc.outline],
        "closing": kinds("closing"),
        "tables": [{"caption": t.caption, "rows": len(t.rows),
                    "clause_ids": [c.id for c in doc.clauses if c.kind == "table_row"]} for t in doc.tables],
        "footer": kinds("footer"),
        "clause_count": len(doc.clauses),
    }


def _count_clauses(node: HeadingNode) -> int:
    return len(node.clause_ids) + sum(_count_clauses(c) for c in node.children)


def _ids(ids: list[str]) -> str:
    if not ids:
        return ""
    if len(ids) == 1:
        return f"[{ids[0]}]"
    return f"[{ids[0]} … #{len(ids)}]"


def format_outline(doc: Document) -> str:
    lines = [_meta_line(doc)]
    for kind, label in (("preamble", "发文通知"), ("intro", "总体要求")):
        ids = [c.id for c in doc.clauses if c.kind == kind]
        if ids:
            lines.append(f"{label}  {_ids(ids)}")

    def walk(node: HeadingNode, depth: int) -> None:
        suffix = f"  ({len(node.children)} 项，{_count_clauses(node)} 条款)" if node.children else ""
        lines.append(f"{'  ' * depth}{node.label}{suffix}  {_ids(node.clause_ids)}".rstrip())
        for child in node.children:
            walk(child, depth + 1)

    for node in doc.outline:
        walk(node, 0)
    closing = [c.id for c in doc.clauses if c.kind == "closing"]
    if closing:
        lines.append(f"结语  {_ids(closing)}")
    for table in doc.tables:
        rows = [c.id for c in doc.clauses if c.kind == "table_row"]
        lines.append(f"任务分解表：{table.caption}  ({len(table.rows)} 行)  [{rows[0]} … {rows[-1]}]")
    footer = [c.id for c in doc.clauses if c.kind == "footer"]
    if footer:
        lines.append(f"版记  {_ids(footer)}")
    return "\n".join(lines)


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    docs = load_corpus(settings)
    if args.json:
        _print_json([{**d.meta.to_dict(), "clauses": len(d.clauses)} for d in docs])
        return 0
    for d in docs:
        m = d.meta
        print(f"{m.doc_id:24} {m.year or '':5} {m.level or '':3} {m.place or '':6} "
              f"{m.doc_number or '（无文号）':16} {m.date or '':11} {len(d.clauses):3} 条  {m.title or m.label}")
    return 0


def cmd_outline(args: argparse.Namespace, settings: Settings) -> int:
    doc = load_document(args.doc_id, settings)
    if args.json:
        _print_json(outline_data(doc))
    else:
        print(format_outline(doc))
    return 0


def cmd_clauses(args: argparse.Namespace, settings: Settings) -> int:
    doc = load_document(args.doc_id, settings)
    if args.json:
        _print_json([c.to_dict() for c in doc.clauses])
    else:
        for c in doc.clauses:
            print(f"[{c.id}] {' > '.join(c.heading_path)}\n{c.text}\n")
    return 0


# Settings every subcommand takes as flags (the rest through ASSISTANT_* variables).
GLOBAL_FLAGS = ["corpus_dir", "index_dir", "embed_model", "embed_backend", "cache_dir"]
SECRET_SETTINGS = {"auth_password", "llm_api_key", "milvus_token"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="政务公开助手 (offline, cited answers)")
    add_setting_flags(parser, GLOBAL_FLAGS)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("config", help="the effective settings and where each came from")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("docs", help="list the documents with their metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("outline", help="a document's heading tree with clause ids")
    p.add_argument("doc_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outline)

    p = sub.add_parser("clauses", help="every clause of a document with all fields")
    p.add_argument("doc_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clauses)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


def cmd_index_build(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.index.store import ensure_index

    index, report = ensure_index(settings, rebuild=args.rebuild, progress=True)
    print(report.summary())
    print(f"索引位置 (index): {index.path}")
    return 0


def cmd_index_status(args: argparse.Namespace, settings: Settings) -> int:
    """The live index verified as loading verifies it; exit 1 when it would be rebuilt or is missing."""
    from assistant.index.store import check_index

    health = check_index(settings)
    if args.json:
        _print_json(health.to_dict())
        return 0 if health.healthy else 1
    manifest = health.manifest
    if health.healthy:
        print(f"索引完好 (index healthy): {health.build}")
    elif manifest is None and health.build is None:
        print("尚未建立索引 (no index yet). 运行 `assistant index build`。")
    else:
        print(f"索引不可用，下次启动或 `assistant index build` 将重建 (index unusable, it is rebuilt at the next "
              f"start): {health.build}")
        for problem in health.problems:
            print(f"  问题 problem: {problem}")
    for note in health.notes:
        print(f"  注意 note: {note}")
    if health.busy:
        print("  正在构建索引 (a build is running in another process)")
    for item in health.pending_recovery:
        print(f"  待恢复 pending (done at the next start): {item}")
    if manifest is not None:
        print(f"embedding model : {manifest.embed_model} (dim {manifest.dimension})")
        print(f"parser version  : {manifest.parser_version}")
        print(f"built at        : {manifest.built_at} ({manifest.build_seconds} s)")
        print(f"clauses         : {manifest.clause_count}; vectors {manifest.vector_count}")
        for doc_id, doc in manifest.documents.items():
            print(f"  {doc_id:24} {len(doc['clauses']):4} clauses  sha256 {doc['sha256'][:12]}  "
                  f"{doc['meta'].get('title')}")
    return 0 if health.healthy else 1


def _load_assistant(settings: Settings, *, progress: bool = True):
    from assistant.pipeline import Assistant

    return Assistant.load(settings, progress=progress)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _load_assistant(settings)
    result = assistant.retriever.search(args.question, doc_filter=args.doc, k=args.k)
    if args.json:
        _print_json({"question": args.question, "relevant": result.relevant, "reason": result.reason,
                     "scope": result.scope.to_dict(), "hits": [h.to_dict() for h in result.hits],
                     "timings_ms": {k: round(v, 1) for k, v in result.timings_ms.items()}})
        return 0
    print(f"范围 scope: {', '.join(result.scope.doc_ids) or '全部文档'}; 相关 relevant: {result.relevant} ({result.reason})")
    for rank, hit in enumerate(result.hits, 1):
        print(f"{rank:2}. [{hit.clause_id}] fused {hit.score:.3f} | bm25 {hit.bm25:.2f} (#{hit.bm25_rank or '-'}) "
              f"| dense {hit.dense:.3f} (#{hit.dense_rank or '-'})")
        print(f"    {' > '.join(hit.clause.heading_path)}")
        print(f"    {hit.clause.text[:160].replace(chr(10), ' ')}")
    return 0


def format_answer(answer) -> str:
    lines = []
    rewritten = context_rewrite(answer)
    if rewritten is not None:
        lines.append(messages.REWRITTEN.format(question=rewritten))
    lines.append(answer.answer)
    if answer.citations:
        lines.append("\n来源 (sources):")
        for c in answer.citations:
            extra = " · ".join(x for x in (f"责任单位：{'、'.join(c.units)}" if c.units else "",
                                           f"时间节点：{c.deadline}" if c.deadline else "") if x)
            lines.append(f"[{c.n}] {c.doc_title}（{c.doc_number or '无文号'}） {' > '.join(c.heading_path)}"
                         + (f"\n    {extra}" if extra else "") + f"\n    [{c.clause_id}]")
    return "\n".join(lines)


def format_query(query) -> str:
    """How the question was understood (`ask --explain`)."""
    scope = query.scope
    lacks = "、".join(scope.unknown_places + [f"{y}年" for y in scope.unknown_years])
    lines = [
        "理解 (how the question was read):",
        f"  规范化 normalised: {query.text}",
        f"  独立问题 standalone: {query.rewrite}" + (f"  [follow-up rule: {query.rule}]" if query.rule else ""),
        f"  类型 type: {query.qtype}; 所问 facets: {'、'.join(f.label for f in query.facets) or '—'}",
        f"  范围 scope: {', '.join(scope.doc_ids) or '全部文档 (all documents)'}"
        + (" (selected)" if scope.explicit else "")
        + (f"; 地点 places: {'、'.join(scope.places)}" if scope.places else "")
        + (f"; 年份 years: {'、'.join(map(str, scope.years))}" if scope.years else "")
        + (f"; 知识库没有 not in the corpus: {lacks}" if lacks else ""),
        f"  关键词 content words: {'、'.join(query.content_words) or '—'}",
    ]
    if query.expansions:
        lines.append(f"  同义扩展 thesaurus: {'、'.join(query.expansions)}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    # With --json, stdout carries the JSON alone: rebuild and recovery messages go to stderr, and no
    # progress bar is drawn.
    assistant = _load_assistant(settings, progress=not args.json)
    answer = assistant.ask(args.question, history=args.history, doc_filter=args.doc)
    if args.json:
        _print_json(answer.to_dict())
        return 0
    if args.explain and answer.query is not None:
        print(format_query(answer.query) + "\n")
    print(format_answer(answer))
    return 0


def cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.app.batch import open_input, run_batch

    open_input(args.input).close()  # a missing input is a message before the model loads, not after
    counts = run_batch(args.input, args.output, _load_assistant(settings))
    print(f"{counts['answered']} answered, {counts['errors']} errors -> {args.output}")
    return 0


def _register_pipeline(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="build or inspect the index")
    isub = index.add_subparsers(dest="index_command", required=True)
    p = isub.add_parser("build", help="bring the index up to date with corpus/")
    p.add_argument("--rebuild", action="store_true", help="rebuild everything")
    p.set_defaults(func=cmd_index_build)
    p = isub.add_parser("status", help="verify the index and print its manifest (exit 1 when it is not usable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_index_status)

    p = sub.add_parser("search", help="ranked clauses for a question")
    p.add_argument("question")
    p.add_argument("--doc", help="restrict to one document id")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="a cited answer")
    p.add_argument("question")
    p.add_argument("--doc", help="restrict to one document id")
    p.add_argument("--history", nargs="*", default=[], help="earlier questions of the conversation, oldest first")
    p.add_argument("--json", action="store_true", help="the answer as JSON (its 'query' key holds the understanding)")
    p.add_argument("--explain", action="store_true", help="print how the question was understood before the answer")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("batch", help="answer every line of a JSONL file")
    p.add_argument("input")
    p.add_argument("output")
    p.set_defaults(func=cmd_batch)


def _register_knowledge(sub: argparse._SubParsersAction) -> None:
    from assistant.app.knowledge import register_commands
    from assistant.app.web.access import register_commands as register_access

    register_commands(sub)
    register_access(sub)


def _register_serve(sub: argparse._SubParsersAction) -> None:
    from assistant.app.serve import register_commands

    register_commands(sub, GLOBAL_FLAGS)


def _register_eval(sub: argparse._SubParsersAction) -> None:
    from assistant.eval.bench import register_commands as register_bench
    from assistant.eval.evaluate import register_commands as register_eval

    register_eval(sub)
    register_bench(sub)


# Later pipeline steps add their subcommands here without touching the above.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_register_pipeline, _register_knowledge,
                                                                       _register_serve, _register_eval]


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(**flag_overrides(args))


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    """The effective settings and where each value came from (flag, environment or default)."""
    sources = setting_sources(flag_overrides(args))
    sections = settings.model_dump(mode="json")
    if args.json:
        _print_json({name: {"value": value, "source": sources[name], "section": section}
                     for section, values in sections.items() for name, value in values.items()})
        return 0
    width = max(len(name) for values in sections.values() for name in values)
    for section, values in sections.items():
        print(f"[{section}]  {Settings.model_fields[section].description}")
        for name, value in values.items():
            shown = "********" if name in SECRET_SETTINGS and value else value
            print(f"  {name:<{width}}  {shown!s:<40}  {sources[name]}")
    return 0


# Attributes holding a document id a user typed (outline/clauses/remove, --doc, add --id).
_DOC_ID_ARGS = {"doc_id": "文档编号 (doc id)", "doc": "文档编号 (--doc)", "id": "文档编号 (--id)"}
MAX_DOC_ID_ARG_CHARS = 200


def clean_arguments(args: argparse.Namespace, settings: Settings) -> None:
    """Every text argument through the external-text step before any model loads, so invalid UTF-8,
    lone surrogates, control/bidi characters and huge values end in a message, not a traceback.
    File paths are left as they are: a file name need not be UTF-8."""
    if isinstance(getattr(args, "question", None), str):
        # The pipeline's clean_question runs again at ask time; importing it here would load torch
        # before a bad argument could be refused.
        args.question = clean_external(args.question, what="问题", max_chars=settings.app.max_question_chars)
        if not args.question:
            raise InputRejected(messages.EMPTY_QUESTION)
    history = getattr(args, "history", None)
    if isinstance(history, list):
        if len(history) > settings.app.max_history_turns:
            raise InputRejected(f"--history 最多 {settings.app.max_history_turns} 个问题（给了 {len(history)} 个）")
        cleaned = [clean_external(h, what=f"上文第 {n} 个问题 (--history)", max_chars=settings.app.max_question_chars)
                   for n, h in enumerate(history, 1)]
        args.history = [h for h in cleaned if h]
    for name, what in _DOC_ID_ARGS.items():
        value = getattr(args, name, None)
        if isinstance(value, str):
            text = clean_external(value, what=what, max_chars=MAX_DOC_ID_ARG_CHARS)
            setattr(args, name, text if name == "doc_id" else text or None)


def _tolerant_stdout() -> None:
    # A document's text may hold a character the terminal's encoding lacks: print "?" rather than die.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    _tolerant_stdout()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        clean_arguments(args, settings)
        return args.func(args, settings)
    except USER_ERRORS as exc:
        print(f"错误 (error): {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `assistant outline X | head`: the reader has gone; stop quietly like other Unix tools
        # (stdout to /dev/null, so the flush at exit does not fail once more).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
