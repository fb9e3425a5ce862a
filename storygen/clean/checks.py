"""Validation checks. Each is a small function from an analysed story (`Doc`) to zero or more
reasons; a story with no reason is accepted. Checks that need the prompt's words or features skip
stories that have none (imported text)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from storygen.clean.lexicon import COLUMNS, HINT_WORDS, Lexicon
from storygen.clean.readability import fk_grade, reading_age, sentence_counts
from storygen.clean.split import batch_bytes, hash_words, narrow, narrow_table
from storygen.config import CleanConfig
from storygen.records import Story, Words


@dataclass
class Doc:
    """A story with what several checks need, computed once."""

    story: Story
    lexicon: Lexicon
    ids: np.ndarray  # the lexicon's id of each word token, in order (tokens as storygen.clean.split.tokens)
    n_words: int
    oov: list[tuple[str, int]]  # forms outside the vocabulary, with their counts
    closed_class_words: int
    paragraphs: int
    hints: dict[str, int]  # tokens that begin with a lexicon.HINT_WORDS word, per group
    unexpected: str  # the text's characters outside the expected set (_EXPECTED), in order; usually none
    scores: dict[str, float] = field(default_factory=dict)

    @cached_property
    def text_lower(self) -> str:
        return self.story.text.lower()

    @cached_property
    def tokens(self) -> list[str]:
        forms = self.lexicon.forms
        return [forms[i] for i in self.ids.tolist()]

    @cached_property
    def counts(self) -> Counter[str]:
        """Word form -> occurrences."""
        return Counter(self.tokens)

    @cached_property
    def lower(self) -> set[str]:
        """Lowercase words (quote marks removed); only the required-words check needs them."""
        lower = self.lexicon.lower
        return {lower[i] for i in set(self.ids.tolist())}


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


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SCORES = ("words", "vocab_compliance", "fk_grade", "mean_zipf", "reading_age")
WORD, CLOSED, OOV, HINTS = (COLUMNS.index(c) for c in ("word", "closed_class", "oov", next(iter(HINT_WORDS))))


def analyse(story: Story, lexicon: Lexicon) -> Doc:
    return analyse_batch([story], lexicon)[0]


def analyse_batch(stories: list[Story], lexicon: Lexicon) -> list[Doc]:
    """`Doc`s of many stories. Their words are hashed together (`split.hash_words`, no Python string
    per token) and become the lexicon's form ids; the ids pick rows of the lexicon's table and one
    reduceat sums the rows per story (words, allowed, syllables, Zipf, closed-class, out of
    vocabulary, hint words). Only the out-of-vocabulary tokens are visited one by one."""
    texts = [s.text for s in stories]
    spans = hash_words(batch_bytes(texts))
    ids = lexicon.word_ids(spans)
    lens = spans.per_text
    rows = lexicon.table[ids]  # (tokens, COLUMNS)
    sums = np.zeros((len(stories), rows.shape[1]), dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    nonempty = np.flatnonzero(lens)
    if len(nonempty):
        sums[nonempty] = np.add.reduceat(rows, starts[nonempty], axis=0)
    oov: list[dict[str, int]] = [{} for _ in stories]
    if len(ids):
        forms = lexicon.forms
        at = np.flatnonzero(rows[:, OOV])
        story_of = np.searchsorted(np.cumsum(lens), at, side="right")
        for form_id, k in zip(ids[at].tolist(), story_of.tolist(), strict=True):
            found, form = oov[k], forms[form_id]
            found[form] = found.get(form, 0) + 1
    n, allowed, syl, zipf_x100 = (sums[:, COLUMNS.index(c)] for c in ("word", "allowed", "syllables", "zipf_x100"))
    grade = fk_grade(n, sentence_counts(texts), syl)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = (  # the SCORES of every story, rounded as Python rounds (half-even on the exact decimal value)
            n.astype(float).tolist(),
            [round(x, 4) for x in np.where(n > 0, allowed / n, 0.0).tolist()],
            [round(x, 3) for x in grade.tolist()],
            [round(x, 3) for x in np.where(n > 0, zipf_x100 / 100 / n, 0.0).tolist()],
            [round(x, 3) for x in reading_age(grade).tolist()],
        )
    scores = [dict(zip(SCORES, v, strict=True)) for v in zip(*columns, strict=True)]
    unexpected = unexpected_chars(texts)
    docs = []
    bounds = list(zip(starts.tolist(), (starts + lens).tolist(), strict=True))
    for k, (story, row) in enumerate(zip(stories, sums.tolist(), strict=True)):
        stripped = story.text.strip()  # blank lines between paragraphs are one separator: no part is blank
        paragraphs = len(_PARAGRAPH_BREAK.findall(stripped)) + 1 if stripped else 0
        hints = dict(zip(HINT_WORDS, row[HINTS:], strict=True))
        words = ids[slice(*bounds[k])]
        oov_k = list(oov[k].items())
        docs.append(Doc(story, lexicon, words, row[WORD], oov_k, row[CLOSED], paragraphs, hints, unexpected[k],
                        scores[k]))  # fmt: skip
    return docs


# ---------------------------------------------------------------- the checks

Check = Callable[[Doc, CleanConfig, Lexicon], list[str]]


def check_empty(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    return ["empty"] if not doc.n_words else []


def check_required_words(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    words = story_words(doc.story)
    if words is None or not doc.n_words:
        return []
    return [
        f"missing_{role}"
        for role, word in (("verb", words.verb), ("noun", words.noun), ("adjective", words.adjective))
        if not lex.uses(doc.lower, word)
    ]


def check_vocabulary(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if not doc.n_words or cfg.vocab_threshold <= 0:
        return []
    return ["low_vocab_compliance"] if doc.scores["vocab_compliance"] < cfg.vocab_threshold else []


_QUOTED = re.compile(r"[\"“”«»].{2,}?[\"“”«»]|(?:^|\s)'[^'\n]{2,}?[.!?,]'", re.DOTALL)


def check_dialogue(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    features = story_features(doc.story)
    if not features or "dialogue" not in features:
        return []
    return [] if _QUOTED.search(doc.story.text) else ["no_dialogue"]


def check_length(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if not doc.n_words:
        return []
    n = doc.n_words
    reasons = []
    if n < cfg.min_words:
        reasons.append("too_short")
    if n > cfg.max_words:
        reasons.append("too_long")
    if doc.paragraphs > cfg.max_paragraphs:
        reasons.append("too_many_paragraphs")
    return reasons


_CLOSERS = "\"'”’)]"


def check_truncated(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if doc.story.finish_reason == "length":
        return ["truncated"]
    if doc.n_words and doc.story.text.rstrip().rstrip(_CLOSERS)[-1:] not in (".", "!", "?", "…"):
        return ["truncated"]
    return []


def _maybe(text: str, hints: tuple[str, ...]) -> bool:
    return any(map(text.__contains__, hints))  # map over a bound method: no generator frame per hint


def _at_line_start(pattern: str) -> re.Pattern[str]:
    """`pattern` after a newline and blanks; searched in "\n" + text, so that the search starts from a
    literal (fast) and the first line counts too. Same as matching each line.lstrip()."""
    return re.compile(r"\n[^\S\n]*(?:" + pattern + ")")


# Matched against the lowercased text (cheaper than re.IGNORECASE over long alternations). A regex
# scan of a whole story costs ~15 µs, so each runs only if the story has a token that begins with one
# of its group's words (lexicon.HINT_WORDS, counted with the other word sums at no extra cost) and
# the text holds a substring that every match must contain: most stories skip them all.
_REFUSAL = re.compile(
    r"as an ai\b|as a language model|i(?:'m| am) sorry,? but|i can(?:not|'t) (?:write|help|create|fulfil)"
    r"|i(?:'m| am) unable to|i won't be able to"
)
_REFUSAL_HINTS = ("as a", "sorry", "i can", "unable to", "i won't")
_META_START = _at_line_start(
    r"(?:sure[,!.]|certainly[,!.]|of course[,!.]|title[^\S\n]*:|story[^\S\n]*:"
    r"|here(?:'s| is) (?:a|the|your) (?:short )?story)"
)
_META_ANYWHERE = re.compile(
    r"i hope you (?:enjoy|like)|let me know if|word count\s*:|this story (?:uses|includes|has) the (?:verb|noun|word)"
)
_META_HINTS = ("i hope you", "let me know if", "word count", "this story ")


def check_refusal_and_meta(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    hints = doc.hints  # most stories have none of the words these patterns need
    reasons = []
    if hints["refusal_hint"] and _maybe(doc.text_lower, _REFUSAL_HINTS) and _REFUSAL.search(doc.text_lower):
        reasons.append("refusal")
    if (hints["meta_hint"] and _maybe(doc.text_lower, _META_HINTS) and _META_ANYWHERE.search(doc.text_lower)) or (
        hints["start_hint"] and _META_START.search("\n" + doc.text_lower)
    ):
        reasons.append("meta_text")
    return reasons


_MARKUP_LINE = _at_line_start(r"#{1,6}[^\S\n]|[-*+•][^\S\n]|\d+[.)][^\S\n]|```|>[^\S\n]")
_MARKUP_INLINE = re.compile(r"\*\*[^*]+\*\*|__[^_]+__|</?[a-zA-Z][^>]*>")


def check_markup(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    text, odd = doc.story.text, doc.unexpected  # inline markup needs "*", "_" or "<": unexpected characters
    if _maybe(odd, ("*", "_", "<")) and _maybe(text, ("**", "__", "<")) and _MARKUP_INLINE.search(text):
        return ["markup"]
    if not (doc.hints["digit_hint"] or "-" in text or _maybe(odd, ("#", "*", "+", "•", "`", ">"))):
        return []  # a line start needs "#", "*", "+", "•", "`" or ">" (unexpected), "-" or a number
    if _MARKUP_LINE.search("\n" + text):
        return ["markup"]
    return []


_MOJIBAKE = re.compile(r"â€|Ã[\x80-\xbf¡-ÿ]|Â[\x80-\xbf ]|\ufffd|ï»¿")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EXPECTED = r"A-Za-z0-9 \n\t\r.,!?;:'\"“”‘’()\-–—…"
_UNEXPECTED = re.compile(f"[^{_EXPECTED}]")
_EXPECTED_ASCII = bytes(c for c in range(128) if not _UNEXPECTED.match(chr(c)))
_EXPECTED_WIDE = narrow_table(dict.fromkeys("“”‘’–—…", "."))  # the expected non-ASCII characters -> "."


def unexpected_chars(texts: list[str]) -> list[str]:
    """Each text's characters outside _EXPECTED, in order, found for the batch joined by NUL (itself
    unexpected, so it stays to split them again)."""
    joined = "\0".join(texts)
    if joined.count("\0") != len(texts) - 1:  # a text holds a NUL: one at a time
        return [_unexpected(t) for t in texts]
    return _unexpected(joined).split("\0")


def _unexpected(text: str) -> str:
    """The expected non-ASCII characters (curly quotes, dashes) become "." (split.narrow), so that one
    bytes.translate deletes every expected character."""
    if not text.isascii():
        text = narrow(text, _EXPECTED_WIDE)
    return text.encode("utf-8", "surrogatepass").translate(None, _EXPECTED_ASCII).decode("utf-8", "surrogatepass")


def check_encoding(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    text = doc.story.text
    if not doc.unexpected:  # the common case: only expected characters
        return []
    reasons = []
    if _MOJIBAKE.search(text) or _CONTROL.search(text):
        reasons.append("bad_encoding")
    reasons.append("unexpected_chars")
    return reasons


def check_english(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    if doc.n_words < 20:
        return []
    # letters outside ASCII (other scripts; all unexpected characters) may be at most 10% of the letters
    foreign = sum(1 for c in doc.unexpected if c.isalpha() and not c.isascii())
    if foreign and foreign > 0.1 * sum(len(w) * c for w, c in doc.counts.items()):
        return ["not_english"]
    return ["not_english"] if doc.closed_class_words / doc.n_words < cfg.min_function_share else []


def check_judge_quality(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    """Only for stories scored by `storygen judge`, and only when a minimum is configured."""
    score = doc.story.scores.get("judge_quality")
    if cfg.min_judge_quality is None or score is None:
        return []
    return ["low_judge_quality"] if score < cfg.min_judge_quality else []


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
    check_judge_quality,
)


def run_checks(doc: Doc, cfg: CleanConfig, lex: Lexicon) -> list[str]:
    reasons: list[str] = []
    for check in CHECKS:
        reasons.extend(check(doc, cfg, lex))
    return reasons
