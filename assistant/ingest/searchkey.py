"""Keys for matching text regardless of layout: whitespace and full-/half-width variants.

Display text is never replaced by these; they are only compared.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def compact(text: str) -> str:
    """The text with all whitespace removed (how clause texts are compared)."""
    return _WHITESPACE.sub("", text)


_BRACKETS = re.compile(r"[()]")


def search_key(text: str) -> str:
    """NFKC (full-width -> half-width), no whitespace, no round brackets, lower case.

    "３ 月 31 日" and "3月31日" get the same key, as do "（一）" and "一"; "居(村)务公开" is found by "居村务公开".
    """
    return _BRACKETS.sub("", compact(unicodedata.normalize("NFKC", text)).lower())


# Bigrams are taken inside runs of CJK characters, letters and digits, so punctuation never
# makes two texts look alike.
_RUN = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def bigrams(text: str) -> set[str]:
    """Character bigrams of the search key (so "３ 个工作日" and "3个工作日" have the same)."""
    out: set[str] = set()
    for run in _RUN.findall(search_key(text)):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def support(sentence: str, texts: list[str]) -> float:
    """Share of the sentence's bigrams that occur in `texts` (0.0 when it has none): how much of a
    generated sentence its cited clauses back up."""
    wanted = bigrams(sentence)
    if not wanted:
        return 0.0
    have: set[str] = set()
    for text in texts:
        have |= bigrams(text)
    return len(wanted & have) / len(wanted)
