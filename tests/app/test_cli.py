from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.app.cli import main
from tests.conftest import DOC_IDS, ROOT


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_docs_json_lists_every_document_with_metadata(capsys):
    code, out, _ = _run(capsys, "docs", "--json")
    data = json.loads(out)
    assert code == 0 and [d["doc_id"] for d in data] == DOC_IDS
    pudong = next(d for d in data if d["doc_id"] == "2024-pudong")
    assert pudong["doc_number"] == "浦府办〔2024〕14号" and pudong["level"] == "区"


def test_outline_prints_the_heading_tree_with_clause_ids(capsys):
    code, out, _ = _run(capsys, "outline", "2024-songjiang")
    assert code == 0
    assert "一、聚焦公众关心关切，持续深化重点领域信息公开" in out
    assert "（三）常态化推进政府开放活动  [2024-songjiang/4.3]" in out
    assert "任务分解表：2024年松江区政务公开工作任务分解表  (51 行)" in out


def test_outline_json_has_sections_and_tables(capsys):
    code, out, _ = _run(capsys, "outline", "2024-pudong", "--json")
    data = json.loads(out)
    assert len(data["sections"]) == 4 and data["tables"][0]["rows"] == 26
    assert data["sections"][0]["children"][0]["clause_ids"] == ["2024-pudong/1.1"]


def test_clauses_json_has_every_field(capsys):
    code, out, _ = _run(capsys, "clauses", "2024-songjiang", "--json")
    clauses = json.loads(out)
    row = next(c for c in clauses if c["id"] == "2024-songjiang/table/45")
    assert row["deadline"] == "8月" and row["kind"] == "table_row"
    assert set(clauses[0]) >= {"id", "doc_id", "kind", "heading_path", "text", "start", "end", "units",
                               "deadline", "doc_title", "part"}


@pytest.mark.parametrize("command", ["outline", "clauses"])
def test_unknown_document_id_is_a_clear_error_with_status_2(capsys, command):
    code, out, err = _run(capsys, command, "2099-nowhere")
    assert code == 2 and "2099-nowhere" in err and "2024-pudong" in err and "Traceback" not in err


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "assistant.app.cli", "outline", "nope"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "未知文档" in result.stderr


@pytest.mark.slow
def test_ask_json_contract(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "ask", "它由哪个部门负责？",
                        "--history", "松江区任务分解表第24项是什么任务？", "--json")
    data = json.loads(out[out.index("{"):])
    assert code == 0 and data["rewritten_question"] == "松江区任务分解表第24项由哪个部门负责？"
    assert data["answer"].startswith("答：区应急局[1]") and not data["refused"]
    assert data["citations"][0]["clause_id"] == "2024-songjiang/table/24"


@pytest.mark.slow
def test_ask_prints_answer_and_sources(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "ask", "政府开放月在几月?")
    assert code == 0 and "来源 (sources):" in out and "[1]" in out
    # A question that stood alone is not "read by context", though its "?" became "？".
    assert "按上文理解为" not in out


@pytest.mark.slow
def test_ask_shows_how_a_follow_up_was_read(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "ask", "那浦东新区呢?",
                        "--history", "松江区政府开放月在几月?")
    assert code == 0 and "（按上文理解为：浦东新区政府开放月在几月？）" in out


@pytest.mark.slow
def test_ask_explain_prints_how_the_question_was_understood(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "ask", "那白鹤镇呢？",
                        "--history", "松江區政府開放月在幾月？", "--explain")
    assert code == 0
    assert "独立问题 standalone: 白鹤镇政府开放月在几月？" in out and "[follow-up rule: place]" in out
    assert "类型 type: factoid" in out and "具体时间" in out and "2024-qingpu-baihe" in out
    assert out.index("理解 (how the question was read):") < out.index("答：8月")


@pytest.mark.slow
def test_ask_json_carries_the_understood_query(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "ask", "徐汇区开放月几月", "--json")
    data = json.loads(out[out.index("{"):])
    assert data["refused"] and data["query"]["scope"]["unknown_places"] == ["徐汇区"]
    assert data["query"]["qtype"] == "factoid" and data["query"]["facets"][0]["kind"] == "date"


@pytest.mark.slow
def test_search_shows_scores_per_leg(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "search", "四类推送法", "--doc",
                        "2024-songjiang", "--json")
    data = json.loads(out[out.index("{"):])
    assert all(h["doc_id"] == "2024-songjiang" for h in data["hits"])
    assert {"bm25", "dense", "score", "heading_path", "text"} <= set(data["hits"][0])


@pytest.mark.slow
def test_index_status_prints_the_manifest(capsys, built_settings):
    code, out, _ = _run(capsys, "--index-dir", str(built_settings.paths.index_dir), "index", "status", "--json")
    data = json.loads(out)
    assert code == 0 and set(data["documents"]) == set(DOC_IDS) and data["dimension"] == 384
