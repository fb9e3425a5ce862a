"""Validation checks. Each is a small function from an analysed story (`Doc`) to zero or more
reasons; a story with no reason is accepted. Checks that need the prompt's words or features skip
stories that have none (imported text)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from storygen.clean.lexicon import Lexicon, tokens
from storygen.clean.readability import fk_grade, mean_zipf, reading_age, sentence_count
from storygen.config import CleanConfig
from storygen.records import Story, Words


@dataclass
class Doc:
    """A story with what several checks need, computed once."""

    story: Story
    words: list[str]
    lower: set[str]
    allowed: list[bool]
    paragraphs: int
    scores: dict[str, float] = field(default_factory=dict)


def story_words(story: Story) -> Words | None:
    if story.prompt is not None:
        return story.prompt.words
    words = story.meta.get("words")
    return Words.model_validate(words) if isinstance(words, dict) else None


def story_features(story: Story) -> list[str] | None:
    if story.prompt is not None:
        return story.prompt.features
    features = story.meta.get("features")
    return list(features) if isinstance(features, list) else None


def analyse(story: Story, lexicon: Lexicon) -> Doc:
    words = tokens(story.text)
    allowed = [lexicon.allowed_token(w) for w in words]
    paragraphs = sum(1 for p in re.split(r"\n\s*\n", story.text) if p.strip())
    doc = Doc(story, words, {w.lower() for w in words}, allowed, paragraphs)
    n = len(words)
    grade = fk_grade(words, sentence_count(story.text))
    doc.scores = {
        "words": float(n),
        "vocab_compliance": round(sum(allowed) / n, 4) if n else 0.0,
        "fk_grade": round(grade, 3),
        "mean_zipf": round(mean_zipf(words), 3),
        "reading_age": round(reading_age(grade), 3),
    }
    return doc


# ---------------------------------------------------------------- the checks

Check = Callable[[Doc, CleanConfig, Lexicon], list[str]]


def check_empty(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    return ["empty"] if not doc.words else []


def check_required_words(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    words = story_words(doc.story)
    if words is None or not doc.words:
        return []
    return [
        f"missing_{role}"
        for role, word in (("verb", words.verb), ("noun", words.noun), ("adjective", words.adjective))
        if not lex.uses(doc.lower, word)
    ]


def check_vocabulary(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if not doc.words or cfg.vocab_threshold <= 0:
        return []
    return ["low_vocab_compliance"] if doc.scores["vocab_compliance"] < cfg.vocab_threshold else []


_QUOTED = re.compile(r"[\"“”«»].{2,}?[\"“”«»]|(?:^|\s)'[^'\n]{2,}?[.!?,]'", re.DOTALL)


def check_dialogue(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    features = story_features(doc.story)
    if not features or "dialogue" not in features:
        return []
    return [] if _QUOTED.search(doc.story.text) else ["no_dialogue"]


def check_length(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if not doc.words:
        return []
    n = len(doc.words)
    reasons = []
    if n < cfg.min_words:
        reasons.append("too_short")
    if n > cfg.max_words:
        reasons.append("too_long")
    if doc.paragraphs > cfg.max_paragraphs:
        reasons.append("too_many_paragraphs")
    return reasons


_FINAL = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


def check_truncated(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if doc.story.finish_reason == "length":
        return ["truncated"]
    if doc.words and not _FINAL.search(doc.story.text):
        return ["truncated"]
    return []


_REFUSAL = re.compile(
    r"\b(as an ai\b|as a language model|i(?:'m| am) sorry,? but|i can(?:not|'t) (?:write|help|create|fulfil)"
    r"|i(?:'m| am) unable to|i won't be able to)",
    re.IGNORECASE,
)
_META = re.compile(
    r"^\s*(?:sure[,!.]|certainly[,!.]|of course[,!.]|title\s*:|story\s*:"
    r"|here(?:'s| is) (?:a|the|your) (?:short )?story)"
    r"|\b(?:i hope you (?:enjoy|like)|let me know if|word count\s*:"
    r"|this story (?:uses|includes|has) the (?:verb|noun|word))",
    re.IGNORECASE | re.MULTILINE,
)


def check_refusal_and_meta(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    text = doc.story.text
    reasons = []
    if _REFUSAL.search(text):
        reasons.append("refusal")
    if _META.search(text):
        reasons.append("meta_text")
    return reasons


_MARKUP = re.compile(
    r"^\s*(?:#{1,6}\s|[-*+•]\s|\d+[.)]\s|```|>\s)|\*\*[^*]+\*\*|__[^_]+__|</?[a-zA-Z][^>]*>", re.MULTILINE
)


def check_markup(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    return ["markup"] if _MARKUP.search(doc.story.text) else []


_MOJIBAKE = re.compile(r"â€|Ã[\x80-\xbf¡-ÿ]|Â[\x80-\xbf ]|\ufffd|ï»¿")
_ALLOWED_CHARS = re.compile(r"[A-Za-z0-9\s.,!?;:'\"“”‘’()\-–—…]")


def check_encoding(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    text = doc.story.text
    reasons = []
    if _MOJIBAKE.search(text) or any(ord(c) < 32 and c not in "\n\t\r" for c in text):
        reasons.append("bad_encoding")
    if _ALLOWED_CHARS.sub("", text):
        reasons.append("unexpected_chars")
    return reasons


def check_english(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if len(doc.words) < 20:
        return []
    letters = sum(c.isalpha() for c in doc.story.text)
    ascii_letters = sum(c.isascii() and c.isalpha() for c in doc.story.text)
    function = sum(1 for w in doc.words if w.lower() in lex.closed_class)
    if ascii_letters < 0.9 * letters or function / len(doc.words) < cfg.min_function_share:
        return ["not_english"]
    return []


CHECKS: tuple[Check, ...] = (
    check_empty,
    check_required_words,
    check_vocabulary,
    check_dialogue,
    check_length,
    check_truncated,
    check_refusal_and_meta,
    check_markup,
    check_encoding,
    check_english,
)


def run_checks(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    reasons: list[str] = []
    for check in CHECKS:
        reasons.extend(check(doc, cfg, lex))
    return reasons
