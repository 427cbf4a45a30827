"""`assistant batch IN.jsonl OUT.jsonl`: one answer object per input line, in input order.

Output line N always answers input line N: a bad line gets {"error": "..."} in its place and
the rest complete. The output is written beside and renamed into place when done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.corpus import UnknownDocument
from assistant.pipeline import Assistant, InvalidQuestion


def _answer_line(raw: str, number: int, assistant: Assistant) -> dict:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {"error": f"line {number}: not valid JSON ({exc.msg})"}
    if not isinstance(item, dict) or not isinstance(item.get("question"), str):
        return {"error": f"line {number}: expected an object with a string 'question'"}
    history = item.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return {"error": f"line {number}: 'history' must be a list of strings"}
    try:
        answer = assistant.ask(item["question"], history=history, doc_filter=item.get("doc_filter") or None)
    except (InvalidQuestion, UnknownDocument) as exc:
        return {"error": f"line {number}: {exc}"}
    result = answer.to_dict()
    if "id" in item:
        result["id"] = item["id"]
    return result


def run_batch(input_path: str | Path, output_path: str | Path, assistant: Assistant) -> dict[str, int]:
    source, target = Path(input_path), Path(output_path)
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    counts = {"answered": 0, "errors": 0}
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as out:
        for number, raw in enumerate(lines, 1):
            result = _answer_line(raw, number, assistant) if raw.strip() else {"error": f"line {number}: empty line"}
            counts["errors" if "error" in result else "answered"] += 1
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
    return counts
