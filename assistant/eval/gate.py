"""The gate of `assistant eval`: eval/thresholds.toml per set, never below the project's floors."""

from __future__ import annotations

import tomllib
from pathlib import Path

from assistant.config import PROJECT_ROOT

DEFAULT_THRESHOLDS = PROJECT_ROOT / "eval" / "thresholds.toml"
# The project's floors: eval/thresholds.toml may be raised, never set below these.
FLOORS_MIN = {"recall_at_5": 0.90, "citation_recall": 0.85, "citation_precision": 0.85, "answer_points": 0.85,
              "grounding": 0.98, "refusal_recall": 0.90}
FLOORS_MAX = {"false_refusal_rate": 0.05}


def load_thresholds(path: Path | str | None = None) -> dict:
    """{"min", "max", "sets": {set name: {"min", "max"}}} from eval/thresholds.toml. The top-level
    tables gate eval/questions.jsonl; a `[sets."blind/test".min]` section gates that set."""
    with open(Path(path) if path else DEFAULT_THRESHOLDS, "rb") as fh:
        data = tomllib.load(fh)
    sets = {name: {"min": dict(t.get("min", {})), "max": dict(t.get("max", {}))}
            for name, t in (data.get("sets") or {}).items()}
    return {"min": dict(data.get("min", {})), "max": dict(data.get("max", {})), "sets": sets}


def set_gate(name: str, is_main: bool, overall: dict, path: Path | str | None = None) -> dict | None:
    """The gate of one set: eval/questions.jsonl (`is_main`) by the top-level tables, any other set
    by its own section; None when the set has none (or there is no thresholds file)."""
    path = Path(path) if path else DEFAULT_THRESHOLDS
    if not path.is_file():
        return None
    thresholds = load_thresholds(path)
    limits = {"min": thresholds["min"], "max": thresholds["max"]} if is_main else thresholds["sets"].get(name)
    if not limits or not (limits["min"] or limits["max"]):
        return None
    failures = check_thresholds(overall, limits)
    return {"thresholds": str(path), "passed": not failures, "failures": failures, "limits": limits}


def check_thresholds(summary: dict, thresholds: dict) -> list[str]:
    """One message per metric outside its threshold (empty when all pass)."""
    failures = []
    for key, limit in thresholds.get("min", {}).items():
        value = summary.get(key)
        if value is None or value < limit:
            failures.append(f"{key} = {_shown(value)} is below the threshold {limit}")
    for key, limit in thresholds.get("max", {}).items():
        value = summary.get(key)
        if value is None or value > limit:
            failures.append(f"{key} = {_shown(value)} is above the threshold {limit}")
    return failures


def _shown(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
