"""How a typed question is made comparable with the documents' text.

Traditional characters become simplified (OpenCC), full-width letters and digits half-width,
stray spaces between Chinese characters go, and the lexicon's known misspellings of field terms
("留言版") are corrected. Punctuation stays full-width: the question is shown back to the user.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from assistant.config import LEXICON_DIR

_SPACES_IN_CJK = re.compile(r"(?<=[\u3400-\u9fff，。？！、：；“”])[ \t\u3000\u00a0]+|[ \t\u3000\u00a0]+(?=[\u3400-\u9fff，。？！、：；“”])")
_ASCII_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"})
_CJK = re.compile(r"[\u3400-\u9fff]")


@lru_cache(maxsize=1)
def _converter():
    import opencc  # noqa: PLC0415 - loads its dictionaries

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def misspellings() -> tuple[tuple[str, str], ...]:
    """(wrong, right) pairs from lexicon/misspellings.txt, longest first."""
    pairs = []
    for line in (LEXICON_DIR / "misspellings.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            wrong, right = (part.strip() for part in line.split("=", 1))
            pairs.append((wrong, right))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def _width(text: str) -> str:
    """Full-width letters and digits to half-width; Chinese punctuation kept full-width."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 and folded.isalnum() else ch)
    return "".join(out)


def normalize_question(text: str) -> str:
    """The question as the pipeline reads it (see the module docstring)."""
    text = _converter().convert(text)
    text = _width(text).strip()
    text = _SPACES_IN_CJK.sub(" ", text)
    if _CJK.search(text):
        text = text.translate(_ASCII_PUNCT)
        text = re.sub(r"(?<=[\u3400-\u9fff）”]) (?=[\u3400-\u9fff（“])", " ", text)
    for wrong, right in misspellings():
        text = text.replace(wrong, right)
    return re.sub(r"\s{2,}", " ", text)
