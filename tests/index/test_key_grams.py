"""key_grams.py: a word's clause count from the character-gram postings is the substring test's, always."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from assistant.index.key_grams import KeyGrams

pytestmark = pytest.mark.slow   # the corpus's index, built with the real model


def _holding(keys: list[str], word: str) -> int:
    return sum(1 for key in keys if word in key)


@pytest.fixture(scope="module")
def retriever(assistant):
    return assistant.retriever


@pytest.fixture(scope="module")
def keys(retriever) -> list[str]:
    return retriever.keys


def test_every_piece_of_the_corpus_keys_is_counted_as_the_substring_test_counts(keys):
    grams = KeyGrams.from_keys(keys)
    rng = random.Random(7)
    words = ["政务公开", "政府信息公开", "依申请公开", "开放月", "12345", "区块链", "公开", "月", "靠", "", "ａ"]
    for _ in range(600):
        key = keys[rng.randrange(len(keys))]
        length = rng.randint(1, 8)
        start = rng.randrange(max(1, len(key) - length + 1))
        words.append(key[start:start + length])
    words += [word[::-1] for word in words[-100:]]        # pieces of the corpus's characters in no key's order
    assert [grams.clauses_holding(w) for w in words] == [_holding(keys, w) for w in words]


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text("政务公开申请", max_size=12), max_size=30), st.text("政务公开申请x", max_size=5))
def test_any_keys_and_any_word_count_as_the_substring_test(keys, word):
    assert KeyGrams.from_keys(keys).clauses_holding(word) == _holding(keys, word)


def test_the_postings_are_each_grams_clauses_in_order(keys):
    grams = KeyGrams.from_keys(keys)
    found = grams.postings("公", "开")
    assert found.tolist() == [i for i, key in enumerate(keys) if "公开" in key]
    assert grams.postings("公").tolist() == [i for i, key in enumerate(keys) if "公" in key]
    assert grams.postings("靠", "谱").size == 0


def test_saved_postings_load_as_they_were_and_refuse_other_keys(keys, tmp_path: Path):
    grams = KeyGrams.from_keys(keys)
    grams.save(tmp_path / "g.npz")
    loaded = KeyGrams.load(tmp_path / "g.npz", keys)
    assert (loaded.codes == grams.codes).all() and (loaded.offsets == grams.offsets).all()
    assert (loaded.clauses == grams.clauses).all()
    with pytest.raises(ValueError, match="describes .* clauses"):
        KeyGrams.load(tmp_path / "g.npz", keys[:-1])


def test_the_build_saves_the_postings_of_its_search_keys(retriever):
    index = retriever.index
    assert index.grams is not None and index.terms is not None
    fresh = KeyGrams.from_keys(index.terms.keys)
    assert (index.grams.codes == fresh.codes).all() and (index.grams.clauses == fresh.clauses).all()


def test_a_separator_in_a_key_is_refused():
    with pytest.raises(ValueError, match="separator"):
        KeyGrams.from_keys(["政务\x00公开"])
