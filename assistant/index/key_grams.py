"""How many clauses' search keys hold a word: exact counts from character-gram postings.

`HybridRetriever.word_weight` weighs each word of a question by the number of clauses whose search key
holds it. Counted by a string search over all keys, that cost 2–40 ms per new word at 100,000 clauses,
three quarters of a question's first search (`assistant bench scale`). The build now saves, for every
character and every pair of adjacent characters of the keys, the clauses that hold it (ascending): a
one- or two-character word's count is the length of its postings, and a longer word's clauses are among
those holding all of its pairs, where only those few are read. The counts are the string search's, to
the clause, so weights and answers do not change.

The postings are one CSR table in `key_grams.npz` beside the build's other files (checksummed by the
manifest like them): `codes` the grams, sorted (a character's code point shifted by 21 bits, or'ed with
the next character's, or 0 for a character alone), `offsets` where each gram's clauses start in
`clauses`. Built in chunks of clauses so the build's memory does not grow with the corpus's size.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

GRAMS_FILE = "key_grams.npz"
FORMAT = 1
_SHIFT = 21            # Unicode code points are below 2**21
_CHUNK = 5000          # clauses per step of the build
_SEPARATOR = "\x00"    # never in a search key


class KeyGrams:
    """The clauses holding each character and character pair of the search keys `keys` (clause i is keys[i])."""

    def __init__(self, keys: Sequence[str], codes: np.ndarray, offsets: np.ndarray, clauses: np.ndarray) -> None:
        self.keys = keys
        self.codes = codes
        self.offsets = offsets
        self.clauses = clauses
        self._seen = np.zeros(len(keys), dtype=bool)   # scratch for intersections (cleared after each)

    @classmethod
    def from_keys(cls, keys: Sequence[str]) -> KeyGrams:
        present = set().union(*(set("".join(keys[i:i + _CHUNK])) for i in range(0, len(keys), _CHUNK)))
        chars = np.array(sorted(map(ord, present)), dtype=np.int64)
        if chars.size and chars[0] == 0:
            raise ValueError("a search key holds the separator character")
        dense = np.zeros(0x110000, dtype=np.int64)      # code point -> 1..C (0: none), order kept
        dense[chars] = np.arange(1, chars.size + 1)
        width = chars.size + 1
        clause_bits = max(1, len(keys).bit_length())
        pairs = [_chunk_pairs(keys, start, dense, width, clause_bits) for start in range(0, len(keys), _CHUNK)]
        merged = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.uint64)
        del pairs
        merged.sort()                                    # by gram, then clause
        grams = (merged >> np.uint64(clause_bits)).astype(np.int64)
        clauses = (merged & np.uint64((1 << clause_bits) - 1)).astype(np.uint32)
        del merged
        starts = np.flatnonzero(np.concatenate([grams[:1] >= 0, grams[1:] != grams[:-1]]))   # each gram's first
        table = np.concatenate([[0], chars])             # dense id -> code point
        firsts, seconds = table[grams[starts] // width], table[grams[starts] % width]
        codes = (firsts.astype(np.uint64) << np.uint64(_SHIFT)) | seconds.astype(np.uint64)
        offsets = np.concatenate([starts, [grams.size]]).astype(np.int64)
        return cls(keys, codes, offsets, clauses)

    def save(self, path: Path) -> None:
        """Into `path` (a build folder's file, written before its manifest)."""
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array([FORMAT]), clause_count=np.array([len(self.keys)]), codes=self.codes,
                 offsets=self.offsets, clauses=self.clauses)
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path, keys: Sequence[str]) -> KeyGrams:
        """The saved postings of `keys`; ValueError when the file does not describe that many clauses."""
        with np.load(path) as saved:
            if int(saved["format"][0]) != FORMAT or int(saved["clause_count"][0]) != len(keys):
                raise ValueError(f"{path.name} describes {int(saved['clause_count'][0])} clauses "
                                 f"(format {int(saved['format'][0])}), not {len(keys)} (format {FORMAT})")
            codes, offsets, clauses = saved["codes"], saved["offsets"], saved["clauses"]
        if offsets.size != codes.size + 1 or (offsets.size and int(offsets[-1]) != clauses.size) \
                or (clauses.size and int(clauses.max()) >= len(keys)):
            raise ValueError(f"{path.name} is inconsistent: {codes.size} grams, {clauses.size} postings")
        return cls(keys, codes, offsets, clauses)

    def postings(self, first: str, second: str = "") -> np.ndarray:
        """The clauses (ascending) whose key holds `first` followed by `second` (or `first` anywhere)."""
        code = (ord(first) << _SHIFT) | (ord(second) if second else 0)
        at = int(np.searchsorted(self.codes, code))
        if at == self.codes.size or int(self.codes[at]) != code:
            return self.clauses[:0]
        return self.clauses[self.offsets[at]:self.offsets[at + 1]]

    def clauses_holding(self, key: str) -> int:
        """How many clauses' keys hold `key` (every clause for the empty key, as a substring test says)."""
        if len(key) <= 2:
            return len(self.postings(*key)) if key else len(self.keys)
        lists = sorted((self.postings(a, b) for a, b in {(key[i], key[i + 1]) for i in range(len(key) - 1)}),
                       key=len)
        found = lists[0]
        for other in lists[1:]:
            if not found.size:
                break
            self._seen[other] = True
            found = found[self._seen[found]]
            self._seen[other] = False
        keys = self.keys
        return sum(1 for i in found.tolist() if key in keys[i])


def _chunk_pairs(keys: Sequence[str], start: int, dense: np.ndarray, width: int, clause_bits: int) -> np.ndarray:
    """The distinct (gram, clause) pairs of keys[start:start + _CHUNK], each as gram << clause_bits | clause."""
    text = _SEPARATOR.join(keys[start:start + _CHUNK]) + _SEPARATOR
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = dense[points]                                        # 0 at separators
    clause = (np.cumsum(points == 0) - (points == 0) + start).astype(np.uint64)
    alone = ids != 0
    together = alone[:-1] & ids[1:].astype(bool)
    grams = np.concatenate([ids[alone] * width, (ids[:-1] * width + ids[1:])[together]]).astype(np.uint64)
    owners = np.concatenate([clause[alone], clause[:-1][together]])
    pairs = (grams << np.uint64(clause_bits)) | owners
    pairs.sort()   # not np.unique: its hashing is ten times slower on these
    return pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if pairs.size else pairs
