"""Words of a story against the allowed vocabulary.

`split.tokens(text)` splits a story into word tokens; `lemmas_of(word)` gives the base forms a token
may be (lemminflect, for every part of speech: "went" -> go, "mice" -> mouse, "bigger" -> big),
plus the adjective of an -ly adverb ("happily" -> happy) and the stem of possessives and
contractions ("Lily's" -> lily, "don't" -> do). What a story needs of a form is worked out once per
form and kept as a row of `Lexicon.table`: stories for young children reuse a few thousand forms, so
almost every token after the first thousand stories is a lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from storygen.clean.split import HashIndex, WordSpans, hash_words
from storygen.vocab import Vocabulary

_CONTRACTIONS = {"n't": "", "'s": "", "'re": "", "'ve": "", "'ll": "", "'m": "", "'d": ""}
_SPECIAL = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "be", "let's": "let"}
NUMBER_WORDS = frozenset(
    (
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        "twenty", "hundred", "thousand",
    )
)  # fmt: skip


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


# What some checks' regexes (clean.checks) cannot do without, one pattern per group: every
# alternative of a group's regexes holds one of its words, preceded by a space or a line start, so the
# word begins a token. A story none of whose tokens begins with one of a group's words cannot match
# that group, and skips the regex scans (~15 µs a story); a form's flags are worked out once, like the
# rest of its row.
HINT_WORDS = {
    "refusal_hint": re.compile(r"ai(?:'|$)|language|sorry|cannot|can't|unable|won't"),  # refusals
    "meta_hint": re.compile(r"hope|know|count|verb|noun|word"),  # meta-text anywhere
    "start_hint": re.compile(r"sure|certainly|course|title|story|here"),  # meta-text at a line start
    "digit_hint": re.compile(r"\d"),  # a numbered list item (markup)
}

# The columns of Lexicon.table: per form, what a story's sums count (whole numbers: exact sums).
COLUMNS = ("word", "allowed", "syllables", "zipf_x100", "closed_class", "oov", *HINT_WORDS)


class Lexicon:
    """The allowed set of one vocabulary, and what validation needs to know of each word form: a
    row of `table` (the COLUMNS) per form id, computed once per form. Forms are found by the 64-bit
    hash of their bytes (`split.hash_words`), so a batch of stories becomes ids without a Python
    string per token."""

    def __init__(self, vocab: Vocabulary):
        self.allowed = vocab.allowed_lemmas | NUMBER_WORDS
        self.names = frozenset(vocab.names)
        self.closed_class = frozenset(vocab.closed_class)
        self.index = HashIndex()  # form hash -> id
        self.forms: list[str] = []  # id -> form
        self.lower: list[str] = []  # id -> the form's word, lowercase, quote marks removed
        self.table = np.zeros((1024, len(COLUMNS)), dtype=np.int32)

    def word_ids(self, spans: WordSpans) -> np.ndarray:
        """The id (int64) of each word of a batch, adding forms not seen before to `table`."""
        ids = self.index.get(spans.hashes)
        missing = np.flatnonzero(ids < 0)
        if len(missing):  # forms not seen before: each added once, then looked up again
            new, first = np.unique(spans.hashes[missing], return_index=True)
            for h, k in zip(new.tolist(), missing[first].tolist(), strict=True):
                self.index.add(h, self._add(spans.word(k)))
            ids[missing] = self.index.get(spans.hashes[missing])
        return ids

    def form_ids(self, forms: list[str]) -> np.ndarray:
        """The ids of word tokens (as `split.tokens` makes them) given as strings."""
        spans = hash_words(b" ".join(f.encode("utf-8", "surrogatepass") for f in forms))
        if len(spans.hashes) != len(forms):
            raise ValueError(f"not one word token each: {forms!r}")
        return self.word_ids(spans)

    def _add(self, form: str) -> int:
        """A new form's row of the table (a lone quote mark is no word and counts nowhere)."""
        from storygen.clean.readability import syllables, zipf

        word_form = word_of(form)
        word = bool(word_form)  # a lone quote mark is no word
        ok = word and self._decide(word_form)
        syl = syllables(word_form) if word else 0
        zipf_value = zipf(word_form) if word else 0.0
        closed = word and word_form.lower() in self.closed_class
        k = len(self.forms)
        if k == len(self.table):
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
        lower = word_form.lower()
        hints = [word and pattern.match(lower) is not None for pattern in HINT_WORDS.values()]
        # Zipf values come rounded to hundredths: kept as whole hundredths, they sum exactly.
        self.table[k] = (word, ok and word, syl, round(zipf_value * 100), closed and word, word and not ok, *hints)
        self.forms.append(form)
        self.lower.append(lower)
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
