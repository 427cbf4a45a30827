from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.app.batch import BatchError, run_batch
from assistant.config import Settings
from tests.conftest import ROOT


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".tmp-" in p.name]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_batch_answers_line_by_line_and_reports_bad_lines(assistant, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"question": "政府开放月在几月?"}, ensure_ascii=False),
        "{not json",
        json.dumps({"question": "它由哪个部门负责？", "history": ["松江区任务分解表第24项是什么任务？"]}, ensure_ascii=False),
        json.dumps({"nothing": 1}),
        json.dumps({"question": "依申请公开", "doc_filter": "2099-nowhere"}, ensure_ascii=False),
        json.dumps({"question": ""}, ensure_ascii=False),
        json.dumps({"question": "浦东新区政策解读优秀案例评选什么时候做？", "doc_filter": "2024-pudong"}, ensure_ascii=False),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = run_batch(source, tmp_path / "out.jsonl", assistant)
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(out) == len(lines) and counts == {"answered": 3, "errors": 4}
    assert "8" in out[0]["answer"]
    assert out[1]["error"].startswith("line 2:")
    assert out[2]["answer"].startswith("答：区应急局")
    assert out[3]["error"].startswith("line 4:")
    assert "2099-nowhere" in out[4]["error"]
    assert out[5]["error"].startswith("line 6:")
    assert out[6]["direct"] == "5月"
    assert not list(tmp_path.glob(".out.jsonl.tmp*"))


def _j(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


GOOD = "政府开放月在几月?"
# (input line as bytes, None for an answered line or words its error must contain). Every kind of
# malformed line the batch contract covers, between good lines, so order and numbering are checked.
MATRIX: list[tuple[bytes, str | None]] = [
    (b"\xef\xbb\xbf" + _j({"question": GOOD, "id": 1}), None),                  # BOM before line 1
    (b"[1, 2]", "got an array"),
    (b'"just a string"', "got a string"),
    (b"null", "got null"),
    (b"42", "got a number"),
    (_j({"id": "no-question"}), "no 'question' key"),
    (_j({"question": 42}), "'question' must be a string, got a number"),
    (_j({"question": None}), "'question' must be a string, got null"),
    (_j({"question": ["政府开放月"]}), "'question' must be a string, got an array"),
    (_j({"question": ""}), "请输入问题"),
    (_j({"question": "\u200b\u202e\x01"}), "请输入问题"),                       # nothing left once cleaned
    (_j({"question": "问" * 600}), "太长"),
    (b'{"question": "\\ud800\\u653f\\u5e9c"}', "U+D800"),                       # lone surrogate as a JSON escape
    (_j({"question": GOOD, "history": "松江区"}), "'history' must be a list of strings, got a string"),
    (_j({"question": GOOD, "history": {"a": 1}}), "got an object"),
    (_j({"question": GOOD, "history": [1, 2]}), "item 1 is a number"),
    (_j({"question": GOOD, "history": ["政府开放月", None]}), "item 2 is null"),
    (_j({"question": GOOD, "history": ["政府开放月"] * 21}), "at most 20"),
    (b'{"question": "x", "history": ["\\udfff"]}', "U+DFFF"),
    (_j({"question": GOOD, "doc_filter": ["x"]}), "'doc_filter' must be a document id (a string), got an array"),
    (_j({"question": GOOD, "doc_filter": 5}), "got a number"),
    (_j({"question": GOOD, "doc_filter": {"id": "2024-pudong"}}), "got an object"),
    (_j({"question": GOOD, "doc_filter": True}), "got a boolean"),
    (_j({"question": GOOD, "doc_filter": "2099-nowhere"}), "2099-nowhere"),
    (_j({"question": "浦东新区政策解读优秀案例评选什么时候做？", "doc_filter": "2024-pudong", "id": {"a": [1, None]},
         "extra": "ignored", "more": [1, 2, 3]}), None),                       # id of any type, unknown keys
    (b'{"question": "\xff\xfe\xe6\x94\xbf"}', "not valid UTF-8 (byte 0xff"),    # not UTF-8: only this line fails
    (b"", "empty line"),
    (b"   \t ", "empty line"),
    (b"{not json", "not valid JSON"),
    (b'{"question": "x", "id": NaN}', "not valid JSON"),
    (b"[" * 20_000, "not valid JSON"),                                       # nested too deep for the parser
    (b'{"question": "x", "id": ' + b"9" * 5000 + b"}", "not valid JSON"),     # integer over Python's digit limit
    (_j({"question": "问" * 70_000}), "line too long"),
    (_j({"question": "它由哪个部门负责？", "history": ["松江区任务分解表第24项是什么任务？"], "id": True}) + b"\r", None),  # CRLF
    (b'{"question": "\\u653f\\u5e9c\\u200b\\u5f00\\u653e\\u6708\\u5728\\u51e0\\u6708\\u202e?", "id": "\\udc80"}', None),
    (_j({"question": "政府开放月在几月?", "history": None, "doc_filter": None, "id": 2.5}), None),
]


@pytest.mark.slow
def test_hostile_input_matrix_every_bad_line_gets_its_error_and_the_rest_complete(assistant, tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"\n".join(line for line, _ in MATRIX) + b"\n")
    counts = run_batch(source, target, assistant)

    out = _read(target)
    expected_answers = sum(1 for _, error in MATRIX if error is None)
    assert len(out) == len(MATRIX)
    assert counts == {"answered": expected_answers, "errors": len(MATRIX) - expected_answers} == {"answered": 5, "errors": 31}
    for number, ((_line, error), result) in enumerate(zip(MATRIX, out, strict=True), 1):
        if error is None:
            assert "error" not in result and not result["refused"] and "答" in result["answer"], number
            assert result["citations"], number
        else:
            assert set(result) <= {"error", "id"} and result["error"].startswith(f"line {number}: "), number
            assert error in result["error"], (number, result["error"])
    assert "8" in out[0]["answer"] and out[0]["id"] == 1
    assert out[5]["id"] == "no-question"                        # echoed on an error line too
    assert out[24]["direct"] == "5月" and out[24]["id"] == {"a": [1, None]} and "extra" not in out[24]
    assert out[33]["answer"].startswith("答：区应急局") and out[33]["id"] is True
    assert "8" in out[34]["answer"] and out[34]["question"] == "政府开放月在几月?" and out[34]["id"] == "\udc80"
    assert out[35]["id"] == 2.5
    assert not _temps(tmp_path)


@pytest.mark.slow
def test_a_bug_on_one_line_costs_that_line_only(assistant, tmp_path, monkeypatch, caplog):
    real_ask = assistant.ask

    def flaky(question, **kwargs):
        if "出错" in question:
            raise RuntimeError("a bug")
        return real_ask(question, **kwargs)

    monkeypatch.setattr(assistant, "ask", flaky)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join([_j({"question": GOOD}), _j({"question": "出错的问题", "id": 7}), _j({"question": GOOD})]))
    counts = run_batch(source, tmp_path / "out.jsonl", assistant)
    out = _read(tmp_path / "out.jsonl")
    assert counts == {"answered": 2, "errors": 1}
    assert out[1] == {"error": "line 2: internal error (RuntimeError); see the log", "id": 7}
    assert "8" in out[0]["answer"] and "8" in out[2]["answer"]
    assert "batch line 2 failed unexpectedly" in caplog.text


class _Answer:
    def __init__(self, question: str) -> None:
        self.question = question

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": f"答：{self.question}"}


class FakeAssistant:
    """The part of Assistant the batch uses, answering at once (no model) and failing on demand."""

    def __init__(self, fail_on: str | None = None, exc: BaseException | None = None) -> None:
        self.settings = Settings()
        self.fail_on, self.exc, self.asked = fail_on, exc, []

    def ask(self, question: str, *, history: list[str] | None = None, doc_filter: str | None = None) -> _Answer:
        from assistant.pipeline import clean_question

        text = clean_question(question, self.settings)
        if self.fail_on and self.fail_on in text:
            raise self.exc
        self.asked.append(text)
        return _Answer(text)


def _questions(n: int) -> bytes:
    return b"".join(_j({"question": f"问题{i}"}) + b"\n" for i in range(1, n + 1))


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143)])
def test_an_interrupted_run_leaves_no_temp_file_and_the_old_output_intact(tmp_path, exc):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(_questions(6))
    target.write_text('{"earlier": "output"}\n', encoding="utf-8")
    fake = FakeAssistant(fail_on="问题4", exc=exc)
    with pytest.raises(type(exc)):
        run_batch(source, target, fake)
    assert fake.asked == ["问题1", "问题2", "问题3"]
    assert target.read_text(encoding="utf-8") == '{"earlier": "output"}\n'
    assert not _temps(tmp_path)


def test_a_full_disk_mid_file_is_a_batch_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    from assistant.app import batch

    real_line, written = batch._json_line, []

    def disk_full(result: dict) -> str:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(result)
        return real_line(result)

    monkeypatch.setattr(batch, "_json_line", disk_full)
    (tmp_path / "in.jsonl").write_bytes(_questions(5))
    with pytest.raises(BatchError, match="No space left on device"):
        run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", FakeAssistant())
    assert len(written) == 2 and not (tmp_path / "out.jsonl").exists() and not _temps(tmp_path)


def test_sigterm_mid_batch_removes_the_temp_file(tmp_path):
    source, target, started = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "started"
    source.write_bytes(_questions(200))
    script = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from assistant.app.batch import run_batch
from tests.app.test_batch import FakeAssistant

class Slow(FakeAssistant):
    def ask(self, question, **kwargs):
        Path({str(started)!r}).touch()
        time.sleep(0.05)
        return super().ask(question, **kwargs)

run_batch({str(source)!r}, {str(target)!r}, Slow())
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), proc.stderr.read() if proc.poll() is not None else "did not start"
    assert _temps(tmp_path)  # the run is writing
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    assert not _temps(tmp_path) and not target.exists()


def test_temp_files_left_by_a_killed_run_are_removed_at_the_next(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(_questions(2))
    left = [tmp_path / ".out.jsonl.tmp-12345", tmp_path / ".out.jsonl.tmp-k3j2h1"]
    other = tmp_path / ".other.jsonl.tmp-999"  # another output's: perhaps a run still writing it
    for path in [*left, other]:
        path.write_text("half", encoding="utf-8")
    assert run_batch(source, target, FakeAssistant()) == {"answered": 2, "errors": 0}
    assert not any(p.exists() for p in left) and other.exists()
    assert _temps(tmp_path) == [other]


def test_missing_or_unreadable_input_is_a_batch_error(tmp_path):
    with pytest.raises(BatchError, match="找不到输入文件"):
        run_batch(tmp_path / "nope.jsonl", tmp_path / "out.jsonl", FakeAssistant())
    with pytest.raises(BatchError, match="文件夹"):
        run_batch(tmp_path, tmp_path / "out.jsonl", FakeAssistant())
    assert not (tmp_path / "out.jsonl").exists() and not _temps(tmp_path)


def test_line_endings_bom_and_a_missing_final_newline(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # A JSON string may hold U+2028 and U+0085 raw: they are not line ends of a JSONL file.
    source.write_bytes(b"\xef\xbb\xbf" + _j({"question": "问题1"}) + b"\r\n" + _j({"question": "问题\u20282"}) + b"\n"
                       + _j({"question": "问题\u00853"}))
    assert run_batch(source, target, FakeAssistant()) == {"answered": 3, "errors": 0}
    assert [r["question"] for r in _read(target)] == ["问题1", "问题 2", "问题3"]


def test_an_empty_input_gives_an_empty_output(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(b"")
    assert run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", FakeAssistant()) == {"answered": 0, "errors": 0}
    assert (tmp_path / "out.jsonl").read_bytes() == b""
