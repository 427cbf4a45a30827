"""`assistant bench retrieval`: structure of the result, the CLI wiring, and a small real run."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from assistant.eval import bench

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
# Six easy questions, one or more per document and question type (lookup, numeric, table, cross_doc).
EASY = ["q001", "q002", "q038", "q043", "q055", "q072"]
METHODS = {"bm25", "dense", "hybrid", "hybrid_rrf", "naive", "naive_filtered"}


def _write_subset(path: Path, ids: list[str], extra: list[dict] = ()) -> Path:
    items = {json.loads(line)["id"]: line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()}
    path.write_text("\n".join([items[i] for i in ids] + [json.dumps(e, ensure_ascii=False) for e in extra]) + "\n",
                    encoding="utf-8")
    return path


def test_load_questions_keeps_answerable_questions_without_history(tmp_path):
    extra = [
        {"id": "u1", "type": "unanswerable", "question": "x", "history": [], "doc_filter": None, "gold": [],
         "answer_points": [], "notes": ""},
        {"id": "f1", "type": "followup", "question": "那呢？", "history": ["上一问"], "doc_filter": None,
         "gold": [{"doc": "2024-pudong", "quote": "四类推送法"}], "answer_points": [], "notes": ""},
    ]
    everything, usable = bench.load_questions(_write_subset(tmp_path / "q.jsonl", EASY[:2], extra))
    assert len(everything) == 4
    assert [q["id"] for q in usable] == EASY[:2]


def test_metrics():
    m = bench._metrics([1, 2, None, 6, 11])
    assert m["recall@1"] == pytest.approx(0.2)
    assert m["recall@5"] == pytest.approx(0.4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 1 / 6) / 5)
    assert m["found@10"] == 3 and m["n"] == 5


def test_cli_registration():
    parser = argparse.ArgumentParser()
    bench.register_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "retrieval", "--set", "x.jsonl", "--json"])
    assert args.func is bench.cmd_bench_retrieval and args.set_file == "x.jsonl" and args.json
    args = parser.parse_args(["bench", "retrieval", "--no-cold-build"])
    assert args.set_file is None and not args.json and args.no_cold_build


@pytest.mark.slow
def test_bench_on_six_easy_questions(tmp_path):
    from assistant.config import load_settings

    settings = load_settings(corpus_dir=ROOT / "corpus").replace(index_dir=tmp_path / "index")
    result = bench.run_retrieval_bench(settings, _write_subset(tmp_path / "easy.jsonl", EASY))

    assert result["questions"]["evaluated"] == 6
    assert set(result["methods"]) == METHODS
    for name, m in result["methods"].items():
        assert m["n"] == 6, name
        for key in ("recall@1", "recall@5", "mrr@10"):
            assert 0.0 <= m[key] <= 1.0, (name, key, m[key])
        assert m["recall@1"] <= m["recall@5"] and m["recall@1"] <= m["mrr@10"] <= 1.0
    assert [row["id"] for row in result["per_question"]] == EASY
    hybrid_found = sum(1 for row in result["per_question"]
                       if row["ranks"]["hybrid"] is not None and row["ranks"]["hybrid"] <= 5)
    assert hybrid_found >= 5, result["per_question"]

    lat = result["latency_ms"]
    assert lat["n"] == 6 and 0 < lat["p50"] <= lat["p95"] <= lat["max"]
    cold = result["cold_build"]
    assert "error" not in cold, cold
    assert cold["seconds"] > 0 and cold["clauses"] == result["index"]["clauses"] > 0
    assert isinstance(cold["conversion_included"], bool) and cold["peak_rss_mb"] > 0
    assert result["peak_rss_mb"]["bench_process"] > 0
    assert result["naive"]["chunks"] > 0
    assert set(result["targets"]) == set(bench.TARGETS)
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    json.dumps(result)  # serialisable as it is
    assert not any(isinstance(v, float) and math.isnan(v) for v in lat.values())

    text = bench.format_bench(result)
    for label in ("BM25 only", "dense only", "hybrid (weighted", "hybrid (rrf", "naive llama-index", "p95", "cold build"):
        assert label in text, label


@pytest.mark.slow
def test_ask_bench_reports_percentiles(built_settings, tmp_path):
    from assistant.eval.bench import run_ask_bench

    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps({"question": q, "history": h}, ensure_ascii=False) for q, h in [
        ("政府开放月在几月?", []), ("那浦东新区呢？", ["松江区政府开放月在几月？"]), ("明天天气怎么样", [])]),
        encoding="utf-8")
    result = run_ask_bench(built_settings, questions, rounds=1)
    assert result["questions"] == 3 and 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
