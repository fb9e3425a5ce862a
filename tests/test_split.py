"""Word tokens of a batch as hashes (storygen.clean.split) against the one-text-at-a-time split."""

from __future__ import annotations

import random

import numpy as np

from storygen.clean.split import _LIMIT, SPLIT, HashIndex, batch_bytes, hash_words, narrow, tokens

ALPHABET = [*"abcXYZ019 '.,-\n\t", "\u00a0", "\u2003", "é", "’", "“", "\0", "ß", "İ", "—", "日", "«", "\ud800"]


def reference(text: str) -> list[str]:
    """The definition: SPLIT's translation, then str.split."""
    return text.translate(SPLIT).split()


def test_tokens_equal_the_definition_and_narrowing_covers_every_unicode_space():
    assert all(c < _LIMIT for c in SPLIT)
    assert all(c < _LIMIT for c in range(0x110000) if chr(c).isspace())
    rng = random.Random(1)
    everything = [chr(c) for c in range(_LIMIT + 50)]
    for _ in range(2000):
        text = "".join(rng.choice(everything if rng.random() < 0.5 else ALPHABET) for _ in range(rng.randint(0, 40)))
        assert tokens(text) == reference(text), repr(text)
    assert narrow("a’b\u3000c日") == "a'b c日"


def test_batch_words_equal_tokens_of_each_text():
    rng = random.Random(0)
    for _ in range(300):
        texts = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.5:  # all-ASCII batches take the one-translate path
            texts = [t.encode("ascii", "ignore").decode() for t in texts]
        for lower in (False, True):
            spans = hash_words(batch_bytes(texts, lower=lower))
            assert spans.per_text.tolist() == [len(reference(t.lower() if lower else t)) for t in texts]
            words = [spans.word(k) for k in range(len(spans.hashes))]
            assert words == [w for t in texts for w in reference((t.lower() if lower else t).replace("\0", " "))]
            by_word: dict[str, int] = {}
            for w, h in zip(words, spans.hashes.tolist(), strict=True):  # same word, same hash; else different
                assert by_word.setdefault(w, h) == h
            assert len(set(by_word.values())) == len(by_word)


def test_hash_index_finds_what_was_added_through_growth():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**64, size=5000, dtype=np.uint64))
    keys = np.concatenate(([np.uint64(0)], keys, keys & np.uint64(0xFF)))  # 0, and keys sharing a slot
    keys = np.unique(keys)
    index = HashIndex(capacity=8)
    for value, key in enumerate(keys.tolist()):
        index.add(key, value)
    assert (index.get(keys) == np.arange(len(keys))).all()
    absent = np.setdiff1d(rng.integers(0, 2**64, size=1000, dtype=np.uint64), keys)
    assert (index.get(absent) == -1).all()
    index.add(int(keys[3]), 77)  # adding a key again replaces its value
    assert index.get(keys[3:4]).tolist() == [77] and index.size == len(keys) - 1  # 0 is kept apart
