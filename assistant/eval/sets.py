"""The evaluation sets of `assistant eval`: which sets, their items, and the corpus they are asked against.

* validation and loading of a set file (JSONL, one item a line; every bad line is named by number);
* which sets a plain `assistant eval` scores, and their names ("questions", "blind/test");
* the extra documents a set needs (`--documents`, a `<set>.documents` sidecar, or eval/documents when
  the set's items name documents that are there) and the temporary corpus they are added to through
  the knowledge base's own add path, so the user's corpus/ and index/ are never touched;
* scoring of question understanding against an item's "expect" (`Assistant.understand`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import AssistantError
from assistant.config import Settings
from assistant.ingest.corpus import SUPPORTED_SUFFIXES, corpus_files
from assistant.eval.goldmatch import quote_hits, quote_key, text_key
from assistant.ingest.searchkey import compact, search_key

TYPES = ("lookup", "requirement", "cross_doc", "table", "numeric", "followup", "unanswerable", "paraphrase",
         "list", "colloquial", "multi_part", "metadata", "which_docs", "yes_no", "selected_doc", "traditional",
         "typo")
STYLES = ("terse", "plain", "colloquial", "long", "multi_part", "traditional", "typo")
VOICES = ("staff", "newcomer", "citizen", "evaluator")
QTYPES = ("requirement", "list", "factoid", "yes_no", "which_documents", "metadata", "unanswerable")
FACETS = ("date", "duration", "count", "units", "recipients", "doc_number", "issuer", "title", "theme", "money",
          "number", "place", "person", "none")
KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str, "type": str, "question": str, "history": list, "doc_filter": (str, type(None)),
    "gold": list, "answer_points": list,
}
# The sets a plain `assistant eval` scores, relative to eval/ (those that exist).
DEFAULT_SETS = ("questions.jsonl", "heldout.jsonl", "blind/dev.jsonl", "blind/dev2.jsonl", "blind/dev3.jsonl",
                "blind/dev4.jsonl", "blind/test.jsonl")
DOCUMENTS_FOLDER = "documents"        # eval/documents: documents the shipped corpus lacks
SIDECAR_SUFFIX = ".documents"         # blind/test.documents beside blind/test.jsonl: folder(s), one a line
REWRITE_MIN_DICE = 0.6
# Administrative suffixes dropped before places are compared ("浦东新区" = "浦东", "上海市" = "上海");
# 新区 before 区 so that both spellings of a new district meet.
PLACE_SUFFIXES = ("街道", "新区", "省", "市", "区", "县", "镇", "乡")


class EvalSetError(AssistantError, ValueError):
    """The question set has bad lines; `errors` lists them ("FILE line N: …")."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path, self.errors = path, errors
        shown = errors[:30] + ([f"… and {len(errors) - 30} more"] if len(errors) > 30 else [])
        super().__init__(f"{path}: {len(errors)} bad line(s) in the evaluation set:\n  " + "\n  ".join(shown))


# --------------------------------------------------------------------------------------------
# Items


def expected_qtype(item: dict) -> str | None:
    expect = item.get("expect")
    return expect.get("qtype") if isinstance(expect, dict) else None


def is_answerable(item: dict) -> bool:
    """An item is unanswerable by its type, or by an "expect" qtype of unanswerable with no gold."""
    return item["type"] != "unanswerable" and not (expected_qtype(item) == "unanswerable" and not item["gold"])


def item_docs(item: dict) -> list[str]:
    """The documents an item is about: its doc_filter, else its gold documents, else the selected one."""
    if item.get("doc_filter"):
        return [item["doc_filter"]]
    gold = sorted({g["doc"] for g in item.get("gold") or []})
    return gold or ([item["selected_doc"]] if item.get("selected_doc") else [])


def referenced_docs(item: dict) -> set[str]:
    """Every document id an item names anywhere (doc_filter, selected_doc, gold)."""
    docs = {g["doc"] for g in item.get("gold") or [] if isinstance(g, dict) and isinstance(g.get("doc"), str)}
    return docs | {d for d in (item.get("doc_filter"), item.get("selected_doc")) if isinstance(d, str)}


def batch_line(item: dict) -> str:
    """The batch input line for an item: id, question, history, and the UI's document selector when
    the item has one (`selected_doc` becomes doc_filter) — never the scoring doc_filter or gold."""
    line = {"id": item["id"], "question": item["question"], "history": item.get("history") or []}
    if item.get("selected_doc"):
        line["doc_filter"] = item["selected_doc"]
    return json.dumps(line, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Validation


def _check_expect(expect: object) -> list[str]:
    """What is wrong with an item's "expect" (question understanding); only qtype is required."""
    if not isinstance(expect, dict):
        return ["'expect' must be an object"]
    bad = []
    if expect.get("qtype") not in QTYPES:
        bad.append(f"expect.qtype {expect.get('qtype')!r} (allowed: {', '.join(QTYPES)})")
    facets = expect.get("facets", [])
    if not (isinstance(facets, list) and all(f in FACETS for f in facets)):
        bad.append(f"expect.facets must be a list of {', '.join(FACETS)}")
    if not (isinstance(expect.get("places", []), list) and all(isinstance(p, str) and p.strip()
                                                                for p in expect.get("places", []))):
        bad.append("expect.places must be a list of non-empty strings")
    if not (isinstance(expect.get("years", []), list) and all(_year(y) is not None for y in expect.get("years", []))):
        bad.append("expect.years must be a list of years (1900-2099)")
    if not isinstance(expect.get("rewrite", ""), str):
        bad.append("expect.rewrite must be a string")
    return bad


def _check_new_keys(obj: dict) -> list[str]:
    bad = []
    if obj.get("style") is not None and obj["style"] not in STYLES:
        bad.append(f"unknown style {obj['style']!r} (allowed: {', '.join(STYLES)})")
    if obj.get("voice") is not None and obj["voice"] not in VOICES:
        bad.append(f"unknown voice {obj['voice']!r} (allowed: {', '.join(VOICES)})")
    if not isinstance(obj.get("selected_doc"), (str, type(None))) or obj.get("selected_doc") == "":
        bad.append("'selected_doc' must be a doc id or null")
    if "expect" in obj:
        bad += _check_expect(obj["expect"])
    return bad


def _check_answers(obj: dict) -> list[str]:
    bad = []
    for n, g in enumerate(obj["gold"], 1):
        if not (isinstance(g, dict) and isinstance(g.get("doc"), str) and isinstance(g.get("quote"), str)
                and g["quote"].strip()):
            bad.append(f"gold entry {n} must be {{\"doc\": str, \"quote\": non-empty str}}")
    if obj["type"] == "unanswerable" and (obj["gold"] or obj["answer_points"]):
        bad.append("an unanswerable item must have empty 'gold' and 'answer_points'")
    elif expected_qtype(obj) == "unanswerable" and not obj["gold"]:
        if obj["answer_points"]:
            bad.append("an item without gold quotes cannot have answer points")
    elif obj["type"] != "unanswerable" and not (obj["gold"] and obj["answer_points"]):
        bad.append("an answerable item needs at least one gold quote and one answer point")
    return bad


def validate_item(obj: object, known_docs: Iterable[str] | None = None) -> list[str]:
    """What is wrong with one parsed line (empty when it is a valid item)."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    bad = []
    for key, kind in KEY_TYPES.items():
        if key not in obj:
            bad.append(f"missing key '{key}'")
        elif not isinstance(obj[key], kind):
            bad.append(f"'{key}' has type {type(obj[key]).__name__}")
    if "notes" in obj and not isinstance(obj["notes"], str):
        bad.append("'notes' must be a string")
    if bad:
        return bad
    if not obj["id"].strip():
        bad.append("empty 'id'")
    if not obj["question"].strip():
        bad.append("empty 'question'")
    if obj["type"] not in TYPES:
        bad.append(f"unknown type '{obj['type']}' (allowed: {', '.join(TYPES)})")
    if not all(isinstance(h, str) and h.strip() for h in obj["history"]):
        bad.append("'history' must hold non-empty strings")
    if not all(isinstance(p, str) and p.strip() for p in obj["answer_points"]):
        bad.append("'answer_points' must hold non-empty strings")
    bad += _check_answers(obj) + _check_new_keys(obj)
    if known_docs is not None and not bad:
        known = set(known_docs)
        for key in ("doc_filter", "selected_doc"):
            if obj.get(key) is not None and obj[key] not in known:
                bad.append(f"unknown {key} '{obj[key]}'")
        bad += [f"unknown gold doc '{g['doc']}'" for g in obj["gold"] if g["doc"] not in known]
    return bad


def load_eval_set(path: Path | str, known_docs: Iterable[str] | None = None) -> tuple[list[dict], list[str]]:
    """(items, warnings). Raises `EvalSetError` naming every bad line by its line number."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(path, [f"{path}: cannot read ({exc})"]) from exc
    known = sorted(known_docs) if known_docs is not None else None
    items, errors, warnings, first_line = [], [], [], {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name} line {number}: not valid JSON ({exc.msg}, column {exc.colno})")
            continue
        problems = validate_item(obj, known)
        if not problems and obj["id"] in first_line:
            problems.append(f"duplicate id '{obj['id']}' (first on line {first_line[obj['id']]})")
        if problems:
            label = f" (id {obj['id']})" if isinstance(obj, dict) and isinstance(obj.get("id"), str) else ""
            errors.extend(f"{path.name} line {number}{label}: {p}" for p in problems)
            continue
        first_line[obj["id"]] = number
        item = {**obj, "notes": obj.get("notes", ""), "line": number}
        joined = compact("".join(g["quote"] for g in item["gold"]))
        warnings += [f"{item['id']}: answer point {p!r} is not in its gold quotes"
                     for p in item["answer_points"] if compact(p) not in joined]
        if item["type"] == "followup" and not item["history"]:
            warnings.append(f"{item['id']}: a followup item without history")
        items.append(item)
    if errors:
        raise EvalSetError(path, errors)
    if not items:
        raise EvalSetError(path, [f"{path.name}: no items"])
    return items, warnings


def longest_common_substring(short: str, long: str) -> int:
    """Length of the longest substring of `short` that occurs in `long`."""
    best = 0
    for i in range(len(short)):
        while i + best < len(short) and short[i:i + best + 1] in long:
            best += 1
    return best


def quote_overlap(text: str, quote: str) -> float:
    """Share of the quote's characters covered by a common substring with `text` (per TAB field).

    1.0 when the text contains the quote. Both sides folded as in goldmatch (NFKC, lower case, no
    whitespace, markdown ** removed)."""
    keys = quote_key(quote)
    total = sum(len(k) for k in keys)
    if not total:
        return 0.0
    key = text_key(text)
    return sum(longest_common_substring(k, key) for k in keys) / total


def unreachable_quotes(items: list[dict], clauses: dict[str, dict]) -> list[str]:
    """Gold quotes that no clause of their document contains: retrieval and citation recall can
    never reach them (a quote across two clauses, a quote the parser dropped, a document refused)."""
    by_doc: dict[str, list[str]] = {}
    for clause in clauses.values():
        by_doc.setdefault(clause.doc_id, []).append(clause.text)
    return [f"{item['id']}: no clause of {g['doc']} contains «{g['quote']}»" for item in items for g in item["gold"]
            if not any(quote_hits(text, g["quote"]) for text in by_doc.get(g["doc"], []))]


# --------------------------------------------------------------------------------------------
# Which sets, with which documents


def default_set_paths(eval_dir: Path) -> list[Path]:
    return [eval_dir / name for name in DEFAULT_SETS if (eval_dir / name).is_file()]


def set_name(path: Path, eval_dir: Path) -> str:
    """"blind/test" for eval/blind/test.jsonl (the key of its thresholds section); else the stem."""
    try:
        return path.resolve().relative_to(eval_dir.resolve()).with_suffix("").as_posix()
    except ValueError:
        return path.stem


def document_files(folder: Path) -> list[Path]:
    """The documents of an extra folder as `add_documents` would take them, minus READMEs (a
    folder of documents usually describes itself, and a README is not a plan)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in SUPPORTED_SUFFIXES and p.stem.lower() != "readme")


def extra_folders(path: Path, items: list[dict], settings: Settings, shipped: set[str]) -> list[Path]:
    """The document folders a set needs besides corpus/: those its sidecar names, else eval/documents
    when an item names a document that is there and not in the corpus."""
    sidecar = path.with_suffix(SIDECAR_SUFFIX)
    if sidecar.is_file():
        lines = [line.strip() for line in sidecar.read_text(encoding="utf-8-sig").splitlines()]
        folders = [(path.parent / line).resolve() for line in lines if line and not line.startswith("#")]
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            raise EvalSetError(path, [f"{sidecar.name}: no such document folder: {', '.join(missing)}"])
        return folders
    default = settings.paths.eval_dir / DOCUMENTS_FOLDER
    if default.is_dir():
        there = {p.stem for p in document_files(default)}
        if any((referenced_docs(item) - shipped) & there for item in items):
            return [default.resolve()]
    return []


@dataclass
class Workspace:
    """A temporary corpus: a copy of corpus/ plus the added documents, with its own index."""

    settings: Settings
    root: Path
    added: dict[str, str] = field(default_factory=dict)    # doc id -> the file it came from
    refused: list[str] = field(default_factory=list)        # why a document could not be added


def _copy_index(source: Path, target: Path) -> None:
    """Copy the live build of the user's index, so only the added documents are embedded; a copy
    that fails (no index, a concurrent rebuild) just leaves the temporary index to be built."""
    try:
        name = (source / "CURRENT").read_text(encoding="utf-8").strip()
        if name:
            shutil.copytree(source / name, target / name)
            (target / "CURRENT").write_text(name, encoding="utf-8")
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)


@contextmanager
def extended_corpus(settings: Settings, folders: list[Path],
                    say: Callable[[str], None] = lambda message: None) -> Iterator[Workspace]:
    """corpus/ copied to a temporary folder, the folders' documents added there with
    `knowledge.add_documents` (as a user adds her own plan) and the index built there. The
    temporary folder is removed on leaving, also on error."""
    from assistant.app.knowledge import add_documents

    root = Path(tempfile.mkdtemp(prefix="assistant-eval-"))
    try:
        corpus, overrides = root / "corpus", root / "overrides"
        if settings.paths.corpus_dir.is_dir():
            shutil.copytree(settings.paths.corpus_dir, corpus)
        corpus.mkdir(exist_ok=True)
        shutil.rmtree(corpus / "overrides", ignore_errors=True)     # overrides get their own folder
        if settings.paths.overrides_dir.is_dir():
            shutil.copytree(settings.paths.overrides_dir, overrides)
        _copy_index(settings.paths.index_dir, root / "index")
        work = Workspace(settings.replace(corpus_dir=corpus, index_dir=root / "index", overrides_dir=overrides), root)
        files = [f for folder in folders for f in document_files(folder)]
        say(f"adding {len(files)} document(s) from {', '.join(map(str, folders))} to a temporary corpus …")
        report = add_documents(files, work.settings)
        work.added = {a.doc_id: str(a.source) for a in report.added}
        work.refused = [r.reason for r in report.refused]
        yield work
    finally:
        shutil.rmtree(root, ignore_errors=True)


def plan_sets(settings: Settings, set_paths: list[Path | str] | None,
              documents: list[Path | str] | None) -> list[dict]:
    """Each set validated (before any model is loaded), with its name and the document folders it is
    answered with: `documents` for every set when given, else what the set itself needs."""
    shipped = {f.doc_id for f in corpus_files(settings)}
    paths = [Path(p) for p in set_paths] if set_paths else default_set_paths(settings.paths.eval_dir)
    if not paths:
        raise ValueError(f"no question sets in {settings.paths.eval_dir}")
    given = [Path(d).resolve() for d in documents or []]
    missing = [str(d) for d in given if not d.is_dir()]
    if missing:
        raise ValueError(f"no such document folder: {', '.join(missing)}")
    plans, names = [], set()
    for path in paths:
        if not path.is_file():
            raise ValueError(f"no such question file: {path}")
        items, _ = load_eval_set(path)               # the schema first: bad lines named before anything else
        folders = given or extra_folders(path, items, settings, shipped)
        known = shipped | {f.stem for folder in folders for f in document_files(folder)}
        items, warnings = load_eval_set(path, known_docs=known or None)
        name, n = set_name(path, settings.paths.eval_dir), 2
        while name in names:
            name, n = f"{set_name(path, settings.paths.eval_dir)}-{n}", n + 1
        names.add(name)
        # The top-level thresholds were measured on eval/questions.jsonl and gate only that set.
        main = path.resolve() == (settings.paths.eval_dir / "questions.jsonl").resolve()
        plans.append({"name": name, "path": path, "items": items, "warnings": warnings, "folders": folders,
                      "main": main})
    return plans


def open_corpus(settings: Settings, folders: list[Path], stack: ExitStack, say: Callable[[str], None]) -> dict:
    """The assistant for one corpus: the user's, or (with folders) a temporary one with them added."""
    from assistant.pipeline import Assistant

    if not folders:
        say("loading the assistant (index, models) …")
        return {"settings": settings, "assistant": Assistant.load(settings), "added": {}, "refused": [],
                "folders": [], "new_docs": [], "naive": {}}
    work = stack.enter_context(extended_corpus(settings, folders, say))
    say("loading the assistant on the temporary corpus …")
    # A document counts as new whether or not it could be added: items about a refused one are new failures.
    new = sorted(set(work.added) | {f.stem for folder in folders for f in document_files(folder)})
    return {"settings": work.settings, "assistant": Assistant.load(work.settings), "added": work.added,
            "refused": work.refused, "folders": [str(f) for f in folders], "new_docs": new,
            "workspace": str(work.root), "naive": {}}


def corpus_info(corpus: dict) -> dict:
    """What a set report says about the corpus it was answered on (API keys and passwords left out)."""
    index, hidden = corpus["assistant"].index, {"llm_api_key", "auth_password", "milvus_token"}
    return {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in corpus["settings"].flat().items()
                         if k not in hidden},
            "corpus": {k: corpus.get(k) for k in ("added", "refused", "folders", "new_docs", "workspace")},
            "index": {"clauses": len(index.clauses), "documents": len(index.documents)}}


# --------------------------------------------------------------------------------------------
# Question understanding


def place_key(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    for suffix in PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _year(value: object) -> int | None:
    text = str(value).strip()
    return int(text) if re.fullmatch(r"(?:19|20)\d{2}", text) else None


_WORD_RUN = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff]+")


def dice(a: str, b: str) -> float:
    """Dice coefficient of the two texts' character-bigram multisets (width, case, spaces and
    punctuation ignored); 1.0 when both have none."""
    def grams(text: str) -> Counter:
        return Counter(run[i:i + 2] for run in _WORD_RUN.findall(search_key(text)) for i in range(len(run) - 1))
    x, y = grams(a), grams(b)
    total = sum(x.values()) + sum(y.values())
    return 2 * sum((x & y).values()) / total if total else 1.0


def score_understanding(item: dict, query: object) -> dict:
    """Per dimension True/False (None when the item does not state it) for one predicted Query."""
    expect, scope = item["expect"], getattr(query, "scope", None)

    def listed(name: str) -> list:
        return list(getattr(scope, name, None) or [])

    places = {place_key(p) for p in listed("places") + listed("unknown_places")}
    years = {_year(y) for y in listed("years") + listed("unknown_years")} - {None}
    qtype, rewrite = getattr(query, "qtype", None), getattr(query, "rewrite", "") or ""
    facets = set(getattr(query, "facet_kinds", None) or []) - {"none"}
    # An unanswerable question is understood when the system saw what it lacks (a place or year
    # the corpus does not cover), whatever qtype it then gave.
    unknown = bool(listed("unknown_places") or listed("unknown_years")) or qtype == "unanswerable"
    out = {"qtype": qtype == expect["qtype"] or (expect["qtype"] == "unanswerable" and unknown),
           "facets": facets == set(expect["facets"]) - {"none"} if "facets" in expect else None,
           "places": {place_key(p) for p in expect["places"]} <= places if "places" in expect else None,
           "years": {_year(y) for y in expect["years"]} == years if "years" in expect else None,
           "rewrite": dice(rewrite, expect["rewrite"]) >= REWRITE_MIN_DICE if expect.get("rewrite") else None}
    out["predicted"] = {"qtype": qtype, "facets": sorted(facets), "places": sorted(places), "years": sorted(years),
                        "rewrite": rewrite}
    return out


UNDERSTANDING_KEYS = ("qtype", "facets", "places", "years", "rewrite")


def understanding_shares(rows: list[dict]) -> dict:
    """{"n", dimension: share of matches among the rows that state it (None when none do)}."""
    out: dict = {"n": len(rows)}
    for key in UNDERSTANDING_KEYS:
        judged = [r[key] for r in rows if r.get(key) is not None]
        out[key] = sum(judged) / len(judged) if judged else None
    return out


def understanding_report(assistant: object, items: list[dict], say: Callable[[str], None]) -> dict | None:
    """Understanding accuracy over the items with "expect"; a note instead when the assistant has
    no `understand` yet (it is written in parallel with this evaluation)."""
    expecting = [item for item in items if isinstance(item.get("expect"), dict)]
    if not expecting:
        return None
    if not hasattr(assistant, "understand"):
        return {"skipped": "Assistant has no understand() yet: question understanding was not scored",
                "n": len(expecting)}
    say(f"question understanding: {len(expecting)} item(s)")
    rows = []
    for item in expecting:
        try:
            query = assistant.understand(item["question"], history=item.get("history") or None,
                                         doc_filter=item.get("selected_doc") or None)
            row = score_understanding(item, query)
        except Exception as exc:  # one broken question must not lose the section: it counts as all wrong
            stated = {"qtype", *item["expect"]} - ({"rewrite"} if not item["expect"].get("rewrite") else set())
            row = {key: False if key in stated else None for key in UNDERSTANDING_KEYS}
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append({"id": item["id"], "type": item["type"], **row})
    types = sorted({r["type"] for r in rows})
    return {"overall": understanding_shares(rows),
            "by_type": {t: understanding_shares([r for r in rows if r["type"] == t]) for t in types},
            "items": rows}
