"""Colloquial wording mapped to the plans' own terms (data in lexicon/thesaurus.txt)."""

from __future__ import annotations

from functools import lru_cache

from assistant.config import LEXICON_DIR


@lru_cache(maxsize=1)
def thesaurus() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(phrase, official terms), longest phrase first."""
    entries = []
    for line in (LEXICON_DIR / "thesaurus.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            phrase, terms = line.split("=", 1)
            entries.append((phrase.strip(), tuple(terms.split())))
    return tuple(sorted(entries, key=lambda e: -len(e[0])))


def expansions(question: str) -> list[str]:
    """The official terms for the colloquial phrases in `question` that it does not already use."""
    out: list[str] = []
    for phrase, terms in thesaurus():
        if phrase in question:
            out.extend(t for t in terms if t not in question and t not in out)
    return out
