"""`assistant batch IN.jsonl OUT.jsonl`: one answer object per input line, in input order.

Output line N always answers input line N: a bad line — not UTF-8, not JSON, not an object, a
question or history or doc_filter of the wrong type, invalid characters, too long, an unknown
document — gets {"error": "line N: ..."} (with the line's "id" when it has one) in its place and
the rest complete. Even an unexpected failure on one line (a bug) only costs that line.

The output is written through `atomic_writer`: readers see the old file or the whole new one,
and no temporary file stays behind on an exception, Ctrl-C or SIGTERM. Only kill -9 can leave
one; the next run into the same output removes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from assistant.atomic_file import TEMP_MARK, atomic_writer, stale_temp_files
from assistant.errors import AssistantError
from assistant.external_text import clean_external
from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"
_ABSENT = object()


class BatchError(AssistantError):
    """The batch as a whole cannot run (input missing or unreadable, output not writable)."""


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would echo an id no JSON reader can parse.
    raise ValueError(f"{name} is not a JSON value")


def _parse(raw: bytes, max_bytes: int) -> dict:
    """The line as a JSON object, or ValueError whose message is the error (without "line N: ")."""
    if len(raw) > max_bytes:
        raise ValueError(f"line too long ({len(raw)} bytes, at most {max_bytes})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ValueError("empty line")
    try:
        item = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # NaN/Infinity, an integer with too many digits
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object with a string 'question', got {_json_type(item)}")
    return item


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _history(item: dict, assistant: Assistant) -> list[str]:
    history = item.get("history")
    if history is None:
        return []
    if not isinstance(history, list):
        raise ValueError(f"'history' must be a list of strings, got {_json_type(history)}")
    limit = assistant.settings.app.max_history_turns
    if len(history) > limit:
        raise ValueError(f"'history' has {len(history)} questions, at most {limit}")
    cleaned = []
    for n, earlier in enumerate(history, 1):
        if not isinstance(earlier, str):
            raise ValueError(f"'history' must be a list of strings (item {n} is {_json_type(earlier)})")
        cleaned.append(clean_external(earlier, what=f"上文第 {n} 个问题 (history item {n})",
                                      max_chars=assistant.settings.app.max_question_chars))
    return [h for h in cleaned if h]


def _doc_filter(item: dict) -> str | None:
    value = item.get("doc_filter")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"'doc_filter' must be a document id (a string), got {_json_type(value)}")
    return clean_external(value, what="文档编号 (doc_filter)", max_chars=200) or None


def _answer_item(item: dict, assistant: Assistant) -> dict:
    question = item.get("question", _ABSENT)
    if question is _ABSENT:
        raise ValueError("expected an object with a string 'question' (no 'question' key)")
    if not isinstance(question, str):
        raise ValueError(f"'question' must be a string, got {_json_type(question)}")
    answer = assistant.ask(question, history=_history(item, assistant), doc_filter=_doc_filter(item))
    return answer.to_dict()


def _answer_line(raw: bytes, number: int, assistant: Assistant) -> dict:
    item: dict = {}
    try:
        item = _parse(raw, assistant.settings.app.max_request_bytes)
        result = _answer_item(item, assistant)
    except (AssistantError, ValueError) as exc:
        result = {"error": f"line {number}: {exc}"}
    except Exception as exc:  # a bug must cost this line only, not the whole file
        log.exception("batch line %d failed unexpectedly", number)
        result = {"error": f"line {number}: internal error ({type(exc).__name__}); see the log"}
    if "id" in item:
        result["id"] = item["id"]
    return result


def _json_line(result: dict) -> str:
    line = json.dumps(result, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        # An echoed id with a lone surrogate: as \\u escapes it is still the JSON the input had.
        line = json.dumps(result, ensure_ascii=True)
    return line + "\n"


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines as bytes, split at "\\n" only (a JSON string may hold U+2028 or U+0085),
    without the line end and the first line's byte-order mark."""
    for number, raw in enumerate(handle, 1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        yield raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit while the batch runs, so the temporary output is removed as on Ctrl-C.

    Only the main thread may set signal handlers; elsewhere the default stays."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def open_input(path: str | Path) -> BinaryIO:
    """The input file opened for reading, or BatchError saying why it cannot be."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise BatchError(f"找不到输入文件 (input file not found): {path}") from None
    except IsADirectoryError:
        raise BatchError(f"输入是一个文件夹，不是文件 (input is a folder): {path}") from None
    except OSError as exc:
        raise BatchError(f"无法读取输入文件 (cannot read input) {path}: {exc.strerror or exc}") from None


def remove_stale_output(target: Path) -> list[Path]:
    """Remove temporary files an earlier, killed run into `target` left beside it; return them."""
    prefix = f".{target.name}{TEMP_MARK}"
    removed = []
    for stale in stale_temp_files(target.parent):
        # Also matches `.OUT.tmp-PID`, what runs before atomic_writer left. Only this output's: another
        # file's temporary may belong to a writer that is still running.
        if stale.name.startswith(prefix):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    if removed:
        log.warning("removed %d temporary file(s) left by an interrupted batch: %s", len(removed),
                    ", ".join(p.name for p in removed))
    return removed


def run_batch(input_path: str | Path, output_path: str | Path, assistant: Assistant) -> dict[str, int]:
    """Answer every line of `input_path` into `output_path`; {"answered": n, "errors": m}."""
    target = Path(output_path)
    counts = {"answered": 0, "errors": 0}
    with open_input(input_path) as source, _sigterm_as_exit():
        remove_stale_output(target)
        try:
            with atomic_writer(target) as out:
                for number, raw in enumerate(_lines(source), 1):
                    result = _answer_line(raw, number, assistant)
                    counts["errors" if "error" in result else "answered"] += 1
                    out.write(_json_line(result))
        except OSError as exc:  # reading the input or writing the output; a line's own errors are caught above
            raise BatchError(f"批处理失败 (batch failed): {exc}") from exc
    return counts
