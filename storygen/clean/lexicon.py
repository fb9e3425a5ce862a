"""Words of a story against the allowed vocabulary.

`tokens(text)` splits a story into word tokens; `Lexicon.lemmas(token)` gives the base forms a token
may be (lemminflect, for every part of speech: "went" -> go, "mice" -> mouse, "bigger" -> big),
plus the adjective of an -ly adverb ("happily" -> happy) and the stem of possessives and
contractions ("Lily's" -> lily, "don't" -> do). Lookups are cached per word form: stories for young
children reuse a few thousand forms, so almost every lookup after the first thousand stories is a
dict hit.
"""

from __future__ import annotations

import re
from functools import lru_cache

from storygen.vocab import Vocabulary

# A word: letters, with inner apostrophes or hyphens ("don't", "Lily's", "ice-cream"); or a number.
_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*(?:-[A-Za-z]+)*|\d+")
_CONTRACTIONS = {"n't": "", "'s": "", "'re": "", "'ve": "", "'ll": "", "'m": "", "'d": ""}
_SPECIAL = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "be", "let's": "let"}
NUMBER_WORDS = frozenset(
    (
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty", "hundred", "thousand",
    )
)  # fmt: skip


def tokens(text: str) -> list[str]:
    """Word tokens in order, curly apostrophes made straight."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


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


class Lexicon:
    """The allowed set of one vocabulary, and the per-form decision 'is this token allowed?'."""

    def __init__(self, vocab: Vocabulary):
        self.allowed = vocab.allowed_lemmas | NUMBER_WORDS
        self.names = frozenset(vocab.names)
        self.closed_class = frozenset(vocab.closed_class)
        self._cache: dict[str, bool] = {}

    def allowed_token(self, token: str) -> bool:
        hit = self._cache.get(token)
        if hit is None:
            hit = self._decide(token)
            self._cache[token] = hit
        return hit

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
