"""Regression gate: the full evaluation (no baselines) meets eval/thresholds.toml.

Slow: builds a fresh index in a temporary folder (so it never races another run over index/),
loads the embedder and answers all questions of eval/questions.jsonl through the batch path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.eval import evaluate

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_system_meets_every_threshold(tmp_path):
    from assistant.config import load_settings

    settings = load_settings(corpus_dir=ROOT / "corpus").replace(index_dir=tmp_path / "index")
    report = evaluate.run_eval(settings, ROOT / "eval" / "questions.jsonl", tmp_path / "report", baselines=False)

    assert (tmp_path / "report" / "report.json").is_file() and (tmp_path / "report" / "report.md").is_file()
    overall = report["systems"]["system"]["overall"]
    failures = evaluate.check_thresholds(overall, evaluate.load_thresholds())
    if overall["errors"]:
        failures.append(f"{overall['errors']} item(s) could not be run")
    worst = "\n".join(f"  {w['id']} ({w['type']}) {w['question']}\n      expected {'；'.join(w['expected'])}"
                      f"\n      got {w['got'][:120]!r}\n      why: " + "; ".join(w["why"][:3])
                      for w in report["worst"])
    assert not failures, (f"{len(failures)} metric(s) missed eval/thresholds.toml:\n  " + "\n  ".join(failures)
                          + f"\nworst items:\n{worst}")
