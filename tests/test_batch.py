from __future__ import annotations

import json

import pytest

from assistant.batch import run_batch

pytestmark = pytest.mark.slow


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
