"""Words typed by ear: a place name ("门头钩区" for 门头沟区, "官县" for 冠县) or a term of the plans ("留言版" for
留言板, "发文字好" for 发文字号, "公式栏" for 公示栏) that sounds like one of the corpus's own words (pypinyin, tones
ignored), shares a character with it, and occurs nowhere in the corpus itself, is read as that word. The
words come from the documents (their places and their text), so a newly added document brings its own.
"""

from __future__ import annotations

import re
from assistant.ingest.metadata import DocumentMeta
from functools import lru_cache
from typing import Callable

from pypinyin import lazy_pinyin

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_A_WORD = 100   # typed as often as this in jieba's dictionary, a word is meant as typed ("接手")
_FUNCTION_CHAR = 50000   # a character this common is never the misheard one
_COMMON = 1000   # a word this common in jieba's dictionary is meant as typed
_RARER = 10   # a typed word this many times rarer than the corpus word it sounds like is a typo of it
_TERM_CHARS = (2, 3, 4, 5)   # lengths of the words corrected; a single character is too often right


@lru_cache(maxsize=8192)
def _sound(char: str) -> str:
    return lazy_pinyin(char)[0]


def _sounds(text: str) -> tuple[str, ...]:
    return tuple(_sound(ch) for ch in text)


@lru_cache(maxsize=16)
def _aliases_by_sound(aliases: frozenset[str]) -> dict[int, dict[tuple[str, ...], list[str]]]:
    """length -> sound -> the corpus's place names of that length that sound so (built once per corpus:
    a city's corpus has thousands of names, and a question is read against all of them)."""
    index: dict[int, dict[tuple[str, ...], list[str]]] = {}
    for alias in sorted(aliases):
        if len(alias) >= 2 and _CJK.match(alias):
            index.setdefault(len(alias), {}).setdefault(_sounds(alias), []).append(alias)
    return index


def correct_place_homophones(text: str, documents: dict[str, DocumentMeta],
                             aliases: frozenset[str] | None = None) -> str:
    """`text` with each homophone of a corpus place replaced by the place's own spelling. `aliases`: the
    documents' place names when the caller holds them already (gathering thousands per question costs more
    than the reading)."""
    if aliases is None:
        aliases = frozenset(alias for meta in documents.values() for alias in meta.aliases or [])
    index = _aliases_by_sound(aliases)
    for n in sorted(index, reverse=True):
        start = 0
        while start <= len(text) - n:
            window = text[start:start + n]
            # One shared character at least: "伤害" sounds like 上海 but is a word, not a typo of it.
            alias = next((a for a in index[n].get(_sounds(window), []) if a not in text and set(window) & set(a)),
                         None) if _CJK.match(window) else None
            if alias:
                text = text[:start] + alias + text[start + n:]
            start += 1
    return text


class TermSpeller:
    """The corpus's words by their sound, to read a misheard term as the corpus's own.

    Conservative by design, since a wrong "correction" changes a right question: the typed span must be whole
    words of the question's own segmentation and no word of the corpus, the word it becomes must be a word of
    the language or a term of the field, and no common one-character word ("是", "有", "对") is rewritten."""

    def __init__(self, words: set[str], frequency: Callable[[str], int] = lambda word: 0,
                 segment: Callable[[str], list[str]] = list, terms: frozenset[str] = frozenset()) -> None:
        """`frequency`: how common a word is in Chinese at large (jieba's dictionary); `segment`: the
        question's words; `terms`: the field's own terms (the lexicon), words even if jieba lacks them."""
        self._words = {w for w in words if _CJK.match(w)}
        self._frequency = frequency
        self._segment = segment
        self._by_sound: dict[tuple[str, ...], list[str]] = {}
        for word in sorted(self._words):
            if len(word) in _TERM_CHARS and (frequency(word) > 0 or word in terms):
                self._by_sound.setdefault(_sounds(word), []).append(word)

    def _misheard(self, typed: str, word: str) -> bool:
        """Whether `typed` reads as a typo of `word` (which sounds the same): they share a character, it is
        far rarer, and no common word inside it is lost."""
        if not set(typed) & set(word) or self._frequency(typed) >= _A_WORD \
                or self._frequency(typed) * _RARER > max(self._frequency(word), 1):
            return False
        # "各是" -> "各市": the most common characters ("是", "有", "好") are meant as typed.
        if any(a != b and self._frequency(a) >= _FUNCTION_CHAR for a, b in zip(typed, word)):
            return False
        return not any(self._frequency(typed[i:j]) >= _COMMON and typed[i:j] != word[i:j]
                       for i in range(len(typed)) for j in range(i + 2, len(typed) + 1))

    def correct(self, text: str, protected: list[str] = ()) -> str:
        """`text` with each misheard span replaced by the corpus word it sounds like; spans overlapping a
        `protected` name (a place) are left alone."""
        tokens = self._segment(text)
        bounds, at = {0}, 0
        for token in tokens:
            at += len(token)
            bounds.add(at)
        single = {}   # position -> a common one-character word standing there
        at = 0
        for token in tokens:
            if len(token) == 1 and self._frequency(token) >= _COMMON:
                single[at] = token
            at += len(token)
        guarded = set()
        for name in protected:   # plain search: a corpus of a thousand places would recompile as many regexes
            at = text.find(name) if name else -1
            while at >= 0:
                guarded.update(range(at, at + len(name)))
                at = text.find(name, at + 1)
        out = text
        for n in sorted(_TERM_CHARS, reverse=True):
            for start in range(len(text) - n + 1):
                end = start + n
                window = text[start:end]
                if start not in bounds or end not in bounds or not _CJK.match(window) or window in self._words \
                        or guarded & set(range(start, end)) or out[start:end] != window:
                    continue
                match = next((w for w in self._by_sound.get(_sounds(window), []) if self._misheard(window, w)), None)
                if match and not any(window[k] != match[k] and start + k in single for k in range(n)):
                    out = out[:start] + match + out[end:]
        return out
