"""The command line on hostile arguments: invalid UTF-8, lone surrogates, control and bidi
characters, huge values. Each ends in one message and exit status 2 — never a traceback, and
(for the question) before the model loads, so these run in a second or two."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.app.cli import main
from tests.conftest import ROOT


def _cli(*argv: str | bytes, timeout: int = 120) -> subprocess.CompletedProcess:
    # Bytes arguments reach the child as they are: the way a terminal passes what the user typed.
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "assistant.app.cli", *argv], cwd=ROOT, capture_output=True, check=False,
                            timeout=timeout, env=env)
    result.stdout_text = result.stdout.decode("utf-8", "replace")  # type: ignore[attr-defined]
    result.stderr_text = result.stderr.decode("utf-8", "replace")  # type: ignore[attr-defined]
    return result


def _refused(result: subprocess.CompletedProcess, *words: str) -> None:
    err = result.stderr_text  # type: ignore[attr-defined]
    assert result.returncode == 2, err
    assert "Traceback" not in err and "Error:" not in err.replace("错误 (error):", "")
    for word in words:
        assert word in err, err


def _main(capsys, *argv: str | bytes) -> tuple[int, str, str]:
    """main() in this process, with bytes arguments decoded as Python decodes argv (surrogateescape)."""
    code = main([os.fsdecode(a) if isinstance(a, bytes) else a for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused_here(capsys, argv, *words: str) -> None:
    code, _, err = _main(capsys, *argv)
    assert code == 2 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


# A real subprocess for the cases from the issue (argv bytes as a terminal passes them); the rest
# in this process, where each costs milliseconds instead of an interpreter start.
@pytest.mark.parametrize("argv, words", [
    (["ask", b"\xff\xfe\xfd\xfc"], ["问题不是有效的 UTF-8 文本"]),
    (["ask", "\u202e\u2066\u200b\x01\x1b"], ["请输入问题"]),                # bidi/control only: nothing to ask
    (["ask", "a" * 100_000], ["问题太长（100000 字）", "500 字以内"]),
])
def test_hostile_question_arguments_in_a_real_process(argv, words):
    _refused(_cli(*argv), *words)


@pytest.mark.parametrize("argv, words", [
    (["ask", b"\xe6\x94\xbf\xe5\xba\x9c\xff"], ["问题不是有效的 UTF-8 文本", "第 3 个字符"]),
    (["ask", b"\xed\xa0\x80"], ["问题不是有效的 UTF-8"]),                     # a surrogate encoded in UTF-8
    (["search", b"\xff\xfe"], ["问题不是有效的 UTF-8"]),
    (["ask", "政府开放月", "--history", b"\xc3\x28"], ["上文第 1 个问题 (--history)不是有效的 UTF-8"]),
    (["ask", "政府开放月", "--doc", b"2024-pudong\xff"], ["文档编号 (--doc)不是有效的 UTF-8"]),
    (["outline", b"\xff2024"], ["文档编号 (doc id)不是有效的 UTF-8"]),
    (["clauses", b"\x80"], ["文档编号 (doc id)不是有效的 UTF-8"]),
    (["remove", b"\xfe"], ["文档编号 (doc id)不是有效的 UTF-8"]),
    (["add", "/nonexistent.txt", "--id", b"\xfe"], ["文档编号 (--id)不是有效的 UTF-8"]),
    (["ask", "政府\ud800"], ["孤立的代理码位 U+D800"]),                         # lone surrogates from Python callers
    (["ask", "政府", "--history", "\udfff"], ["孤立的代理码位 U+DFFF"]),
    (["outline", "\ud800"], ["孤立的代理码位"]),
    (["ask", "\x01\x02\x7f"], ["请输入问题"]),
    (["search", "\u200d\ufeff \t"], ["请输入问题"]),
    (["ask", "问" * 501], ["问题太长（501 字）"]),
    (["ask", "政府开放月", "--history", *["上文"] * 21], ["--history 最多 20 个问题"]),
    (["ask", "政府开放月", "--history", "问" * 501], ["上文第 1 个问题 (--history)太长"]),
    (["outline", "x" * 5000], ["文档编号 (doc id)太长"]),
])
def test_hostile_arguments_are_refused_with_a_message(capsys, argv, words):
    _refused_here(capsys, argv, *words)


def test_an_invalid_subcommand_is_argparse_usage_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([os.fsdecode(b"\xff")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice" in err and "Traceback" not in err


def test_doc_ids_with_invisible_characters_are_cleaned(capsys):
    code, out, _ = _main(capsys, "outline", "\u202e2024-pudong\u200b")
    assert code == 0 and "2024年浦东新区政务公开工作要点" in out


def test_batch_with_a_missing_input_is_a_message_before_the_model_loads(capsys, tmp_path, monkeypatch):
    from assistant.app import cli

    monkeypatch.setattr(cli, "_load_assistant", lambda settings: pytest.fail("loaded the model"))
    _refused_here(capsys, ["batch", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl")], "找不到输入文件")


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "assistant.app.cli", "clauses", "2024-pudong"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 141) and b"Traceback" not in err


@pytest.mark.slow
def test_a_question_with_bidi_and_control_characters_is_answered_cleaned(capsys, built_settings):
    code = main(["--index-dir", str(built_settings.paths.index_dir), "ask", "\u202e政府\u200b开放月\x07在几月?\u2069",
                 "--history", "\u2066松江区\u2069"])
    out = capsys.readouterr().out
    assert code == 0 and "来源 (sources):" in out and "8" in out
    assert not any(ch in out for ch in "\u202e\u200b\x07\u2066\u2069")
