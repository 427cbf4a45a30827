"""Validate a blind question file: python3 check.py out/NAME.jsonl
Checks the schema and that every gold quote and answer point occurs in the named document
(comparison folds NFKC full/half width, lower case, and removes all whitespace)."""
import json, sys, unicodedata, re, pathlib
DOCS = pathlib.Path(__file__).parent / "docs"
def fold(s): return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s).lower().replace("**", ""))
texts = {p.stem: fold(p.read_text(encoding="utf-8")) for p in DOCS.glob("*.txt")}
QTYPES = {"requirement", "list", "factoid", "yes_no", "which_documents", "metadata", "unanswerable"}
FACETS = {"date", "duration", "count", "units", "recipients", "doc_number", "issuer", "title", "theme", "money", "number", "place", "person", "none"}
KEYS = {"id", "type", "style", "voice", "question", "history", "selected_doc", "doc_filter", "gold", "answer_points", "expect", "notes"}
bad = 0; ids = set()
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if not line.strip(): continue
    def err(m):
        global bad; bad += 1; print(f"line {n}: {m}")
    try: r = json.loads(line)
    except Exception as e: err(f"not JSON: {e}"); continue
    missing = KEYS - set(r); extra = set(r) - KEYS
    if missing: err(f"missing keys {sorted(missing)}"); continue
    if extra: err(f"unknown keys {sorted(extra)}")
    if r["id"] in ids: err("duplicate id")
    ids.add(r["id"])
    if not isinstance(r["history"], list) or not all(isinstance(h, str) for h in r["history"]): err("history must be a list of strings")
    for d in [r["doc_filter"], r["selected_doc"]] + [g.get("doc") for g in r["gold"]]:
        if d is not None and d not in texts: err(f"unknown document {d!r}")
    e = r["expect"]
    if e.get("qtype") not in QTYPES: err(f"expect.qtype must be one of {sorted(QTYPES)}")
    if not set(e.get("facets", [])) <= FACETS: err(f"expect.facets must be from {sorted(FACETS)}")
    for k in ("places", "years"):
        if not isinstance(e.get(k), list): err(f"expect.{k} must be a list")
    if not isinstance(e.get("rewrite"), str) or not e["rewrite"]: err("expect.rewrite must be a non-empty string")
    if r["type"] == "unanswerable" or e.get("qtype") == "unanswerable":
        if r["gold"] or r["answer_points"]: err("unanswerable items have empty gold and answer_points")
        continue
    if not r["gold"]: err("answerable item without gold quotes")
    for g in r["gold"]:
        if g["doc"] not in texts: continue
        if fold(g["quote"]) not in texts[g["doc"]]: err(f"gold quote not verbatim in {g['doc']}: {g['quote']}")
    golddocs = {g["doc"] for g in r["gold"]}
    for p in r["answer_points"]:
        if not any(fold(p) in texts[d] for d in golddocs if d in texts): err(f"answer point not in its gold documents: {p}")
        if not any(fold(p) in fold(g["quote"]) for g in r["gold"]): err(f"answer point not inside any gold quote: {p}")
print(f"{n} lines, {bad} problems")
sys.exit(1 if bad else 0)
