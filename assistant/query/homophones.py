"""Place names typed by ear ("门头钩区" for 门头沟区, "官县" for 冠县, "浦金街道" for 浦锦街道): a name that sounds
like one of the corpus's documents' places (pypinyin, tones ignored) and shares a character with it is read as
that place. The names come from the documents themselves, so a newly added document's place is corrected too.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import lazy_pinyin

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


@lru_cache(maxsize=8192)
def _sound(char: str) -> str:
    return lazy_pinyin(char)[0]


def _sounds(text: str) -> tuple[str, ...]:
    return tuple(_sound(ch) for ch in text)


def correct_place_homophones(text: str, documents: dict[str, dict]) -> str:
    """`text` with each homophone of a corpus place replaced by the place's own spelling."""
    aliases = sorted({alias for meta in documents.values() for alias in meta.get("aliases") or []
                      if len(alias) >= 2 and _CJK.match(alias)}, key=len, reverse=True)
    sounds = _sounds(text)
    for alias in aliases:
        if alias in text:
            continue
        target, n = _sounds(alias), len(alias)
        for start in range(len(text) - n + 1):
            window = text[start:start + n]
            # One shared character at least: "伤害" sounds like 上海 but is a word, not a typo of it.
            if sounds[start:start + n] == target and _CJK.match(window) and set(window) & set(alias):
                text = text[:start] + alias + text[start + n:]
                sounds = _sounds(text)
                break
    return text
