"""What `assistant eval` writes and prints: the worst items, tables, report.md, chart (the gate: gate.py).

A run scores one or more sets; each set's report (`evaluate.score_set`) holds its metrics per system,
split by type, by document and by origin (shipped vs added documents), its worst items and its
question-understanding scores. `format_markdown`/`format_summary` render one set; the run-level
functions put one summary table with a column per set in front of the per-set sections.

Public API::

    item_quality(record), reasons(record), worst_items(records)
    format_summary(set_report), format_markdown(set_report), write_chart(set_report, path)
    format_run_summary(run), format_run_markdown(run), write_reports(run, out_dir, answers)
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from assistant.eval.sets import UNDERSTANDING_KEYS

WORST_ITEMS = 10
EXCERPT_CHARS = 300

# Rows of the summary table: (key, label, format).
SUMMARY_ROWS = [
    ("recall_at_5", "Recall@5 (gold quotes)", "{:.3f}"),
    ("hit_at_5", "Hit@5 (any gold quote)", "{:.3f}"),
    ("mrr_at_10", "MRR@10", "{:.3f}"),
    ("citation_recall", "citation recall", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("wrong_doc_citations", "wrong-document citations", "{:d}"),
    ("answer_points", "answer points", "{:.3f}"),
    ("grounding", "grounding (supported sentences)", "{:.3f}"),
    ("uncited_sentences", "sentences without citation", "{:d}"),
    ("refusal_precision", "refusal precision", "{:.3f}"),
    ("refusal_recall", "refusal recall", "{:.3f}"),
    ("false_refusal_rate", "false refusals (answerable, refused flag)", "{:.3f}"),
    ("false_refusal_share", "  kind refusal", "{:.3f}"),
    ("false_not_stated_share", "  kind not_stated (没有写明)", "{:.3f}"),
    ("false_decline_share", "  refusal + 没有写明", "{:.3f}"),
    ("answer_chars_mean", "answer length mean (chars)", "{:.0f}"),
    ("answer_chars_p95", "answer length p95 (chars)", "{:.0f}"),
    ("latency_p50_ms", "latency p50 (ms)", "{:.0f}"),
    ("latency_p95_ms", "latency p95 (ms)", "{:.0f}"),
]


# --------------------------------------------------------------------------------------------
# Regression gate


# --------------------------------------------------------------------------------------------
# Why an item went wrong

def item_quality(r: dict) -> float:
    """1.0 for a perfect item; used to pick the worst items."""
    if r["error"]:
        return 0.0
    if not r["answerable"]:
        return 1.0 if r["refused"] else 0.0
    if r["refused"]:
        return 0.0
    g = r["grounding"]
    parts = [
        sum(p["found"] for p in r["points"]) / len(r["points"]) if r["points"] else 1.0,
        sum(q["cited"] for q in r["quotes"]) / len(r["quotes"]) if r["quotes"] else 1.0,
        sum(c["relevant"] for c in r["citations"]) / len(r["citations"]) if r["citations"] else 0.0,
        sum(q["at_k"] for q in r["quotes"]) / len(r["quotes"]) if r["quotes"] else 1.0,
        g["supported"] / g["sentences"] if g["sentences"] else 0.0,
    ]
    return sum(parts) / len(parts) - 0.1 * any(c["wrong_doc"] for c in r["citations"])


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _refusal_reasons(r: dict) -> list[str]:
    """For an answerable item: whether it refused, and which answer points it missed."""
    out = []
    if r["refused"]:
        first = next((line for line in r["answer"].split("\n") if line.strip()), "")
        out.append(f"refused an answerable question (kind {r['kind']}): «{_short(first, 80)}»")
    missing = [p["point"] for p in r["points"] if not p["found"]]
    if missing:
        out.append("missing answer points: " + "；".join(missing))
    return out


def _quote_reasons(r: dict) -> list[str]:
    """Gold quotes retrieved too low, then gold quotes left uncited (all of the first before the second)."""
    out = []
    for q in r["quotes"]:
        if not q["at_k"]:
            where = f"rank {q['rank']}" if q["rank"] else "not in the top 10"
            out.append(f"gold quote not in the first 5 retrieved ({where}): {q['doc']} «{_short(q['quote'], 40)}»")
    for q in r["quotes"]:
        if not q["cited"]:
            out.append(f"gold quote not cited: {q['doc']} «{_short(q['quote'], 40)}»")
    return out


def _citation_reasons(r: dict) -> list[str]:
    """Citations from the wrong document or without a gold quote, and sentences their citations do not carry."""
    out = []
    for c in r["citations"]:
        if c["wrong_doc"]:
            out.append(f"citation [{c['n']}] is from {c['doc_id']}, the question is about {r['doc_filter']}")
        elif not c["relevant"]:
            out.append(f"citation [{c['n']}] ({c['clause_id']}) contains no gold quote (overlap {c['overlap']:.2f})")
    for p in r["grounding"]["problems"]:
        if p["status"] == "uncited":
            out.append(f"sentence without citation: «{_short(p['sentence'], 60)}»")
        else:
            out.append(f"sentence not supported by its citation {p['cites']}: «{_short(p['sentence'], 60)}»")
    if not r["citations"]:
        out.append("no citations")
    return out


def reasons(r: dict) -> list[str]:
    """Plain-language reasons an item lost points."""
    if r["error"]:
        return [f"error: {r['error']}"]
    if not r["answerable"]:
        # Only answering counts against an unanswerable item; its quotes and citations are moot.
        return [] if r["refused"] else [f"answered (kind {r['kind']}) a question the documents cannot answer"]
    return _refusal_reasons(r) + _quote_reasons(r) + _citation_reasons(r)


def worst_items(records: list[dict], limit: int = WORST_ITEMS) -> list[dict]:
    scored = sorted(((item_quality(r), i, r) for i, r in enumerate(records)), key=lambda x: (x[0], x[1]))
    out = []
    for quality, _, r in scored:
        why = reasons(r)
        if quality >= 1.0 and not why:
            continue
        out.append({"id": r["id"], "type": r["type"], "question": r["question"], "history": r["history"],
                    "docs": r["docs"], "expected": r["answer_points"] or ["(refusal)"],
                    "got": _short(r["answer"], EXCERPT_CHARS), "kind": r["kind"], "refused": r["refused"],
                    "quality": round(quality, 3), "why": why})
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------------------------
# Text


def _fmt(value: object, pattern: str = "{:.3f}") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and "d" in pattern:
        return str(round(value))
    if isinstance(value, int) and "d" not in pattern:
        return str(value)
    return pattern.format(value)


def _width(text: str) -> int:
    """Columns a text takes in a terminal: CJK characters take two, so "没有写明" lines up."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells: list) -> str:
        pads = [" " * (w - _width(str(c))) for c, w in zip(cells, widths)]
        return " | ".join(f"{c}{pad}" if i == 0 else f"{pad}{c}" for i, (c, pad) in enumerate(zip(cells, pads)))
    return [line(header), "-+-".join("-" * w for w in widths)] + [line(r) for r in rows]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows])


def _threshold_text(key: str, thresholds: dict | None) -> str:
    if not thresholds:
        return ""
    if key in thresholds.get("min", {}):
        return f">= {thresholds['min'][key]}"
    if key in thresholds.get("max", {}):
        return f"<= {thresholds['max'][key]}"
    return ""


def summary_rows(report: dict, thresholds: dict | None = None) -> tuple[list[str], list[list[str]]]:
    names = list(report["systems"])
    header = ["metric"] + names + (["gate"] if thresholds else [])
    rows = []
    for key, label, pattern in SUMMARY_ROWS:
        row = [label] + [_fmt(report["systems"][n]["overall"].get(key), pattern) for n in names]
        if thresholds:
            row.append(_threshold_text(key, thresholds))
        rows.append(row)
    return header, rows


def _corpus_text(report: dict) -> str:
    corpus = report.get("corpus") or {}
    if not corpus.get("folders"):
        return "the shipped corpus"
    text = (f"a temporary copy of the corpus plus {len(corpus['added'])} added document(s) from "
            + ", ".join(corpus["folders"]))
    return text + (f" ({len(corpus['refused'])} could not be added)" if corpus.get("refused") else "")


def format_summary(report: dict) -> str:
    """The printed summary of one set: system vs baselines, the gate, the worst items."""
    q = report["questions"]
    gate = report.get("gate")
    overall = report["systems"]["system"]["overall"]
    lines = [f"评测 (evaluation): {q['items']} items ({overall['answerable']} answerable, "
             f"{overall['unanswerable']} unanswerable) from {q['path']}, answered on {_corpus_text(report)}"]
    lines += [f"  {name}: {s['label']}" for name, s in report["systems"].items()]
    lines += [""] + _table(*summary_rows(report, (gate or {}).get("limits")))
    if gate:
        lines += ["", "gate: PASSED" if gate["passed"] else "gate: FAILED\n  " + "\n  ".join(gate["failures"])]
    if overall["errors"]:
        lines.append(f"{overall['errors']} item(s) could not be run (see report.md)")
    if report.get("warnings"):
        lines.append(f"{len(report['warnings'])} warning(s) about the set (see report.md)")
    worst = report.get("worst") or []
    if worst:
        lines += ["", "worst items:"]
        for w in worst:
            lines.append(f"  {w['id']} ({w['type']}, quality {w['quality']:.2f}): {w['question']}")
            lines.extend(f"      - {why}" for why in w["why"][:4])
    return "\n".join(lines)


_TYPE_COLUMNS = [("n", "n", "{:d}"), ("recall_at_5", "R@5", "{:.2f}"), ("mrr_at_10", "MRR@10", "{:.2f}"),
                 ("citation_recall", "cit. recall", "{:.2f}"), ("citation_precision", "cit. precision", "{:.2f}"),
                 ("wrong_doc_citations", "wrong-doc cit.", "{:d}"), ("answer_points", "points", "{:.2f}"),
                 ("grounding", "grounding", "{:.3f}"), ("uncited_sentences", "uncited", "{:d}"),
                 ("refusal_recall", "refusal recall", "{:.2f}"), ("false_refusal_share", "false refusals", "{:.2f}"),
                 ("false_not_stated_share", "false 没有写明", "{:.2f}"), ("answer_chars_mean", "chars", "{:.0f}"),
                 ("latency_p50_ms", "p50 ms", "{:.0f}")]


def _group_table(groups: dict[str, dict]) -> list[str]:
    header = ["group"] + [label for _, label, _ in _TYPE_COLUMNS]
    rows = [[name] + [_fmt(m.get(key), pattern) for key, _, pattern in _TYPE_COLUMNS] for name, m in groups.items()]
    return _md_table(header, rows)


def understanding_lines(understanding: dict | None) -> list[str]:
    """Markdown lines of the question-understanding section ([] when the set has no "expect")."""
    if not understanding:
        return []
    lines = ["## Question understanding (items with \"expect\")", ""]
    if "skipped" in understanding:
        return lines + [f"Not scored ({understanding['n']} items): {understanding['skipped']}.", ""]
    header = ["group", "n"] + list(UNDERSTANDING_KEYS)
    groups = {"overall": understanding["overall"], **understanding["by_type"]}
    rows = [[name, str(m["n"])] + [_fmt(m.get(k), "{:.2f}") for k in UNDERSTANDING_KEYS] for name, m in groups.items()]
    errors = [f"- {r['id']}: {r['error']}" for r in understanding["items"] if r.get("error")]
    return lines + _md_table(header, rows) + ([""] + errors if errors else []) + [""]


def _per_system_lines(report: dict) -> list[str]:
    names = list(report["systems"])
    lines = ["", "## Per type, all systems (Recall@5 / citation precision / answer points / refusal accuracy)", ""]
    rows = []
    for t in report["systems"]["system"]["by_type"]:
        rows.append([t] + [" / ".join(_fmt(report["systems"][n]["by_type"][t].get(k), "{:.2f}") for k in
                                      ("recall_at_5", "citation_precision", "answer_points", "refusal_accuracy"))
                           for n in names])
    return lines + _md_table(["type"] + names, rows)


def _worst_lines(worst: list[dict]) -> list[str]:
    lines = ["", f"## The {len(worst)} worst items (system)", ""]
    if not worst:
        lines.append("Every item scored perfectly.")
    for w in worst:
        lines += [f"### {w['id']} — {w['type']} — quality {w['quality']:.2f}", ""]
        if w["history"]:
            lines.append("- history: " + " → ".join(w["history"]))
        lines += [f"- question: {w['question']}", f"- documents: {', '.join(w['docs']) or '—'}",
                  f"- expected: {'；'.join(w['expected'])}",
                  f"- got ({w['kind']}{', refused' if w['refused'] else ''}): " + w["got"].replace("\n", " ⏎ "),
                  "- why:"]
        lines += [f"  - {why}" for why in w["why"]] + [""]
    return lines


def format_markdown(report: dict, title: str = "# 政务公开助手 — evaluation report") -> str:
    """One set's report: summary, per type / document / origin, understanding, worst items."""
    q, s, gate = report["questions"], report["settings"], report.get("gate")
    lines = [title, "", f"- set: `{q['path']}` — {q['items']} items (" + ", ".join(f"{t} {n}" for t, n in q["types"].items())
             + f"); answered on {_corpus_text(report)}",
             f"- created {report['created']}, {report['seconds']} s; index {report['index']['clauses']} clauses in "
             f"{report['index']['documents']} documents; embedder `{s.get('embed_model')}`, fusion {s.get('fusion')} "
             f"(alpha {s.get('fusion_alpha')}), top_k {s.get('top_k')}"
             + (f", language model `{s.get('llm_model')}`" if s.get("llm_model") else ", extractive answers"),
             "- metric definitions: eval/README.md. Every system answers the question, its history and the "
             "document the user selected (`selected_doc`); `doc_filter` is used for scoring.", ""]
    lines += [f"- **{name}**: {sys_['label']}" for name, sys_ in report["systems"].items()]
    if report.get("baseline_info", {}).get("naive"):
        n = report["baseline_info"]["naive"]
        lines.append(f"- naive baseline: {n['chunks']} chunks ({n['splitter']}), top {n['top_k']}, "
                     f"built in {n['build_s']} s; its answer is the top chunk, cited as [1], and it never refuses")
    lines += ["", "## Summary", ""] + _md_table(*summary_rows(report, (gate or {}).get("limits")))
    if gate:
        lines += ["", f"**Regression gate** (`{Path(gate['thresholds']).name}`): "
                  + ("passed." if gate["passed"] else "FAILED:")] + [f"- {f}" for f in gate["failures"]]
    if len(report["systems"]) > 1:
        lines += _per_system_lines(report)
    system = report["systems"]["system"]
    lines += ["", "## Per type (system)", ""] + _group_table(system["by_type"])
    lines += ["", "## Per document (system)", "",
              "An item counts for its doc_filter, or for each gold document (cross_doc); for a cross_doc item "
              "R@5, MRR and citation recall use that document's quotes only.", ""] + _group_table(system["by_document"])
    if system.get("by_origin"):
        lines += ["", "## Shipped vs added documents (system)", "",
                  "shipped: documents of corpus/; new: documents this run added; an item counts for each group "
                  "its documents fall in.", ""] + _group_table(system["by_origin"])
    lines += [""] + understanding_lines(report.get("understanding"))
    lines += _worst_lines(report.get("worst") or [])
    errors = [r for r in report["items"]["system"] if r["error"]]
    if errors:
        lines += ["## Items that could not be run", ""] + [f"- {r['id']}: {r['error']}" for r in errors] + [""]
    if report.get("warnings"):
        lines += ["## Warnings about the set", ""] + [f"- {w}" for w in report["warnings"]] + [""]
    if report.get("files", {}).get("chart"):
        lines += ["## Chart", "", f"![per-type scores]({Path(report['files']['chart']).name})", ""]
    return "\n".join(lines)


def run_summary_rows(run: dict) -> tuple[list[str], list[list[str]]]:
    """One row per metric, one column per set (the system only)."""
    sets = run["sets"]
    rows = [["items (answerable / unanswerable)"]
            + [f"{r['systems']['system']['overall']['answerable']} / {r['systems']['system']['overall']['unanswerable']}"
               for r in sets.values()]]
    rows += [[label] + [_fmt(r["systems"]["system"]["overall"].get(key), pattern) for r in sets.values()]
             for key, label, pattern in SUMMARY_ROWS]
    rows.append(["gate"] + [("PASSED" if r["gate"]["passed"] else "FAILED") if r.get("gate") else "–"
                            for r in sets.values()])
    return ["metric"] + list(sets), rows


def _set_tables_text(report: dict) -> list[str]:
    """The per-type / per-document / per-origin tables of one set, as plain text for the console."""
    system = report["systems"]["system"]
    lines = []
    for title, groups in (("per type", system["by_type"]), ("per document", system["by_document"]),
                          ("shipped vs new documents", system.get("by_origin") or {})):
        if groups:
            header = [title] + [label for _, label, _ in _TYPE_COLUMNS]
            lines += [""] + _table(header, [[g] + [_fmt(m.get(k), p) for k, _, p in _TYPE_COLUMNS]
                                            for g, m in groups.items()])
    u = report.get("understanding")
    if u:
        lines += ["", "question understanding: " + (u["skipped"] if "skipped" in u else ", ".join(
            f"{k} {_fmt(u['overall'].get(k), '{:.2f}')}" for k in UNDERSTANDING_KEYS))]
    return lines


def format_run_summary(run: dict) -> str:
    """What `assistant eval` prints: one table with a column per set, then each set's tables."""
    lines = [f"评测 (evaluation): {len(run['sets'])} set(s), {run['seconds']} s"]
    for name, r in run["sets"].items():
        lines.append(f"  {name}: {r['questions']['path']} — answered on {_corpus_text(r)}")
    lines += [""] + _table(*run_summary_rows(run))
    for name, r in run["sets"].items():
        lines += ["", f"=== {name} ==="] + _set_tables_text(r)
        gate = r.get("gate")
        if gate and not gate["passed"]:
            lines += ["gate FAILED:"] + [f"  {f}" for f in gate["failures"]]
        if r["systems"]["system"]["overall"]["errors"] or r.get("warnings"):
            lines.append(f"{r['systems']['system']['overall']['errors']} item(s) could not be run, "
                         f"{len(r.get('warnings') or [])} warning(s) (see report.md)")
        lines += [f"  worst: {w['id']} ({w['type']}, {w['quality']:.2f}) {w['question']}" for w in r["worst"][:5]]
    return "\n".join(lines)


def format_run_markdown(run: dict) -> str:
    lines = ["# 政务公开助手 — evaluation report", "", f"- created {run['created']}, {run['seconds']} s; "
             f"{len(run['sets'])} set(s); metric definitions: eval/README.md", "", "## Summary (system, per set)", ""]
    lines += _md_table(*run_summary_rows(run))
    for name, report in run["sets"].items():
        lines += ["", format_markdown(report, title=f"# Set `{name}`")]
    return "\n".join(lines)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "set"


def write_reports(run: dict, out: Path, answers: dict[str, list[dict]]) -> dict:
    """report.json, report.md, and per set `<name>.answers.jsonl` and `<name>.chart.png` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for name, report in run["sets"].items():
        path = out / f"{_slug(name)}.answers.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for record, answer in zip(report["items"]["system"], answers[name]):
                fh.write(json.dumps({"id": record["id"], **answer}, ensure_ascii=False) + "\n")
        chart = write_chart(report, out / f"{_slug(name)}.chart.png")
        report["files"] = {"answers": str(path), "chart": str(chart) if chart else None}
    run["files"] = {"json": str(out / "report.json"), "markdown": str(out / "report.md")}
    (out / "report.json").write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "report.md").write_text(format_run_markdown(run), encoding="utf-8")
    return run["files"]


CHART_METRICS = [("recall_at_5", "Recall@5"), ("citation_recall", "Citation recall"),
                 ("citation_precision", "Citation precision"), ("answer_points", "Answer points"),
                 ("grounding", "Grounding"), ("refusal_accuracy", "Refusal correct")]


def _bars(ax, ticks: list[str], series: dict[str, list], title: str, legend: dict) -> None:
    """Grouped bars on one axis: one bar per series at each tick (None drawn as 0)."""
    import numpy as np

    x, width = np.arange(len(ticks)), 0.8 / len(series)
    for j, (label, values) in enumerate(series.items()):
        ax.bar(x + (j - (len(series) - 1) / 2) * width, [v or 0 for v in values], width, label=label)
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=len(series), loc="upper center", **legend)
    ax.grid(axis="y", alpha=0.3)


def write_chart(report: dict, path: Path) -> Path | None:
    """Grouped bars: per type for the system, and overall for every system (English labels, so
    no CJK font is needed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    by_type = report["systems"]["system"]["by_type"]
    fig, axes = plt.subplots(2, 1, figsize=(max(13, len(by_type)), 9), gridspec_kw={"height_ratios": [3, 2]})
    _bars(axes[0], [f"{t}\n(n={m['n']})" for t, m in by_type.items()],
          {label: [m.get(key) for m in by_type.values()] for key, label in CHART_METRICS},
          "System, per question type", {"bbox_to_anchor": (0.5, -0.2)})
    labels = {"system": "system", "bm25": "BM25-only baseline", "naive": "naive llama-index baseline"}
    _bars(axes[1], [label for _, label in CHART_METRICS],
          {labels.get(n, n): [s["overall"].get(k) for k, _ in CHART_METRICS] for n, s in report["systems"].items()},
          "Overall, system vs baselines", {"bbox_to_anchor": (0.5, -0.1)})
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
