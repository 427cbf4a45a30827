"""Word lists and the jieba tokenizer built from them (the data lives in assistant/lexicon/)."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba

from assistant.config import LEXICON_DIR

jieba.setLogLevel(logging.WARNING)

_TOKEN_OK = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
# "3 月 31 日", "5个工作日", "8月": a number and its unit are one search token.
_QUANTITY = re.compile(r"\d+(?:\.\d+)?\s*(?:个工作日|工作日|个月|月|日|天|次|年|份|号|版|分钟|万元|元)")


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(_lines(LEXICON_DIR / "stopwords.txt"))


@lru_cache(maxsize=1)
def field_terms() -> frozenset[str]:
    """The field's own terms (the user dictionary's words)."""
    return frozenset(line.split()[0] for line in _lines(LEXICON_DIR / "userdict.txt"))


class ChineseTokenizer:
    """jieba in search mode with the field's terms and the corpus's place names as words."""

    def __init__(self, extra_words: list[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.load_userdict(str(LEXICON_DIR / "userdict.txt"))
        for word in extra_words:
            self._jieba.add_word(word, freq=100)
        self._stop = stopwords()

    def words(self, text: str) -> list[str]:
        """The words of `text` as jieba segments them for search ("政策留言板" and "留言"), nothing dropped."""
        return [w for w in self._jieba.cut_for_search(text) if w.strip()]

    def segment(self, text: str) -> list[str]:
        """`text` cut into words (precise mode), every character kept."""
        return list(self._jieba.cut(text))

    def frequency(self, word: str) -> int:
        """How common `word` is in jieba's dictionary (0 when it is not a word there)."""
        self._jieba.check_initialized()
        return int(self._jieba.FREQ.get(word, 0) or 0)

    def tokens(self, text: str) -> list[str]:
        """Search tokens: folded (full/half width, case), stop-words and punctuation dropped."""
        folded = unicodedata.normalize("NFKC", text).lower()
        folded = re.sub(r"(?<=\d)\s+(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+(?=\d)", "", folded)
        out = [re.sub(r"\s+", "", q) for q in _QUANTITY.findall(folded)]
        for token in self._jieba.cut_for_search(folded):
            token = token.strip()
            if not token or token in self._stop or not _TOKEN_OK.search(token):
                continue
            out.append(token)
        return out
