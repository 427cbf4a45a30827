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


def search_key(text: str) -> str:
    """NFKC (full-width -> half-width), no whitespace, lower case.

    "３ 月 31 日" and "3月31日" get the same key, as do "（一）" and "(一)".
    """
    return compact(unicodedata.normalize("NFKC", text)).lower()
