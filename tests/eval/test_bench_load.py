"""`assistant bench load` in a short form: the real app.py process under concurrent clients."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


def test_load_bench_answers_every_question_and_reports_its_figures(shared_index, tmp_path):
    from assistant.eval.bench_load import run_load
    from assistant.config import load_settings

    settings = load_settings(index_dir=shared_index, feedback_log=tmp_path / "feedback.jsonl")
    result = run_load(settings, clients=4, answers=24, sessions=40, warmup=4)
    assert result.errors == 0 and result.answers == 24 and result.clients == 4
    assert result.per_s > 0 and 0 < result.p50_ms <= result.p95_ms and math.isfinite(result.p95_ms)
    assert result.rss_before_mb > 100 and result.rss_after_mb > 100


def test_load_bench_json_has_the_documented_keys(shared_index, tmp_path):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(shared_index), ASSISTANT_FEEDBACK_LOG=str(tmp_path / "f.jsonl"))
    out = subprocess.run([sys.executable, "-m", "assistant.app.cli", "bench", "load", "--clients", "2", "--answers", "6",
                          "--sessions", "4", "--json"], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert set(data) == {"clients", "answers", "errors", "per_s", "p50_ms", "p95_ms", "rss_before_mb",
                         "rss_after_mb"}
    assert data["clients"] == 2 and data["answers"] == 6 and data["errors"] == 0
