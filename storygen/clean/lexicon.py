"""Words of a story against the allowed vocabulary.

`tokens(text)` splits a story into word tokens; `Lexicon.lemmas(token)` gives the base forms a token
may be (lemminflect, for every part of speech: "went" -> go, "mice" -> mouse, "bigger" -> big),
plus the adjective of an -ly adverb ("happily" -> happy) and the stem of possessives and
contractions ("Lily's" -> lily, "don't" -> do). Lookups are cached per word form: stories for young
children reuse a few thousand forms, so almost every lookup after the first thousand stories is a
dict hit.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import repeat

import numpy as np

from storygen.vocab import Vocabulary

# Every character but letters, digits and apostrophes splits words ("ice-cream" is two words); curly
# apostrophes become straight. str.translate + split is several times faster than a regex here.
SPLIT = str.maketrans(
    {**{chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "'")},
     **dict.fromkeys("“”„«»‹›—–…", " "), "’": "'", "‘": "'"}
)  # fmt: skip
_CONTRACTIONS = {"n't": "", "'s": "", "'re": "", "'ve": "", "'ll": "", "'m": "", "'d": ""}
_SPECIAL = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "be", "let's": "let"}
NUMBER_WORDS = frozenset(
    (
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty", "hundred", "thousand",
    )
)  # fmt: skip


# The same table for ASCII text, as bytes: bytes.translate is ~3x faster than str.translate with a dict.
SPLIT_BYTES = bytes(ord(SPLIT[c]) if c in SPLIT else c for c in range(256))


def tokens(text: str) -> list[str]:
    """Word tokens in order. A token may carry quote marks at its edges ("'hello"); `word_of`
    removes them, once per distinct form."""
    if text.isascii():
        return text.encode().translate(SPLIT_BYTES).decode().split()
    return text.translate(SPLIT).split()


def word_of(token: str) -> str:
    return token.strip("'") if token[:1] == "'" or (token[-1:] == "'" and not token.endswith("s'")) else token


def strip_clitic(word: str) -> str:
    """'lily's' -> 'lily', "don't" -> 'do', "can't" -> 'can'; other words unchanged. Lowercase in."""
    if word in _SPECIAL:
        return _SPECIAL[word]
    for suffix in _CONTRACTIONS:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    if word.endswith("s'"):  # plural possessive: "dogs'"
        return word[:-1]
    return word


@lru_cache(maxsize=200_000)
def lemmas_of(word: str) -> frozenset[str]:
    """Every base form `word` (lowercase) may be, itself included."""
    from lemminflect import getAllLemmas

    out = {word}
    for forms in getAllLemmas(word).values():
        out.update(forms)
    if word.endswith("ly") and len(word) > 4:  # adverb -> adjective: quickly, happily, gently
        out.update({word[:-2], word[:-3] + "y", word[:-1] + "e"})
    return frozenset(out)


# The columns of Lexicon.table: per form, what a story's sums count.
COLUMNS = ("word", "allowed", "syllables", "zipf_x100", "closed_class", "oov")


class Lexicon:
    """The allowed set of one vocabulary, and what validation needs to know of each word form: a
    row of `table` (the COLUMNS) per form id, computed once per form (`form_ids`)."""

    def __init__(self, vocab: Vocabulary):
        self.allowed = vocab.allowed_lemmas | NUMBER_WORDS
        self.names = frozenset(vocab.names)
        self.closed_class = frozenset(vocab.closed_class)
        self.ids: dict[str, int] = {}
        self.table = np.zeros((1024, len(COLUMNS)), dtype=np.float64)

    def form_ids(self, forms: list[str]) -> np.ndarray:
        """The id of each form (int64), adding forms not seen before to `table`: one row per id
        with the COLUMNS (a lone quote mark is no word and counts nowhere)."""
        ids = np.fromiter(map(self.ids.get, forms, repeat(-1)), dtype=np.int64, count=len(forms))
        for k in np.flatnonzero(ids < 0).tolist():  # forms not seen before (each once, then known)
            form = forms[k]
            found = self.ids.get(form)
            ids[k] = found if found is not None else self._add(form)
        return ids

    def _add(self, form: str) -> int:
        from storygen.clean.readability import syllables, zipf

        word_form = word_of(form)
        word = bool(word_form)  # a lone quote mark is no word
        ok = word and self._decide(word_form)
        syl = syllables(word_form) if word else 0
        zipf_value = zipf(word_form) if word else 0.0
        closed = word and word_form.lower() in self.closed_class
        k = len(self.ids)
        if k == len(self.table):
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
        # Zipf values come rounded to hundredths: kept as whole hundredths, they sum exactly.
        self.table[k] = (word, ok and word, syl, round(zipf_value * 100), closed and word, word and not ok)
        self.ids[form] = k
        return k

    @staticmethod
    def preload() -> None:
        """Load the dictionaries behind `form_ids` now (CMU, pyphen, wordfreq, lemminflect: about a second),
        e.g. before forking workers that then share them."""
        from storygen.clean.readability import syllables, zipf

        syllables("warm"), syllables("qzxv"), zipf("warm"), lemmas_of("warmed")

    def allowed_token(self, token: str) -> bool:
        """An allowed word, or no word at all (a lone quote mark)."""
        word, allowed = self.table[self.form_ids([token])[0], :2]
        return bool(allowed or not word)

    def _decide(self, token: str) -> bool:
        if token.isdigit():
            return True
        base = strip_clitic(token.lower())
        if token[:1].isupper() and strip_clitic(token) in self.names:
            return True
        parts = base.split("-")  # "ice-cream": every part must be allowed
        return all(p in self.allowed or not lemmas_of(p).isdisjoint(self.allowed) for p in parts if p)

    def uses(self, tokens_lower: set[str], word: str) -> bool:
        """Does a story with these lowercase tokens use `word` in any inflection?"""
        if word in tokens_lower:
            return True
        return any(word in lemmas_of(strip_clitic(t)) for t in tokens_lower)
