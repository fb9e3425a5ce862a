"""The allowed words: vocab/{nouns,verbs,adjectives}.txt (content words a 3–4-year-old knows),
closed_class.txt (articles, pronouns, auxiliaries, ...) and names.txt (character names).

Files hold one word per line. Content and closed-class words are lowercase base forms; names are
capitalised. `load_vocabulary` refuses malformed files; `check_vocabulary` also reports words that are
out of order or look like inflections ("cats", "went") rather than base forms.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from storygen.errors import StorygenError

CONTENT_FILES = {"nouns": "NOUN", "verbs": "VERB", "adjectives": "ADJ"}
OTHER_FILES = ("closed_class", "names")
FEATURES_FILE = "features.yaml"

_LOWER_WORD = re.compile(r"^[a-z][a-z'-]*$")
_NAME = re.compile(r"^[A-Z][a-z'-]*$")


@dataclass(frozen=True)
class Vocabulary:
    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    adjectives: tuple[str, ...]
    closed_class: tuple[str, ...]
    names: tuple[str, ...]
    version: str = field(default="")

    @property
    def content_words(self) -> frozenset[str]:
        return frozenset(self.nouns) | frozenset(self.verbs) | frozenset(self.adjectives)

    @property
    def allowed_lemmas(self) -> frozenset[str]:
        """Lowercase base forms a story may use: content + closed-class words + names."""
        return self.content_words | frozenset(self.closed_class) | {n.lower() for n in self.names}


@dataclass
class WordFile:
    path: Path
    words: list[str]
    problems: list[str]


def read_word_file(path: Path, pattern: re.Pattern[str], what: str) -> WordFile:
    """Read one word file; collect format problems (one message per offending line)."""
    if not path.is_file():
        raise StorygenError(f"{path}: vocabulary file not found; restore it or point prompts.vocab_dir elsewhere")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise StorygenError(f"{path}: not UTF-8 text ({e.reason}); save it as UTF-8") from e
    words: list[str] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines, start=1):
        word = raw.strip()
        if not word:
            problems.append(f"{path}:{lineno}: empty line; remove it")
            continue
        if not pattern.match(word):
            problems.append(f"{path}:{lineno}: {word!r} is not {what}; one word per line")
            continue
        if word in seen:
            problems.append(f"{path}:{lineno}: {word!r} repeats line {seen[word]}; remove one")
            continue
        seen[word] = lineno
        words.append(word)
    if not words and not problems:
        problems.append(f"{path}: no words; add one word per line")
    return WordFile(path, words, problems)


def _spec(name: str) -> tuple[re.Pattern[str], str]:
    if name == "names":
        return _NAME, "a capitalised name"
    return _LOWER_WORD, "a lowercase word"


def vocab_version(vocab_dir: Path) -> str:
    """A short hash of every vocabulary and feature file: prompts from other files get other ids."""
    h = hashlib.sha256()
    for name in (*CONTENT_FILES, *OTHER_FILES):
        h.update(name.encode())
        h.update((vocab_dir / f"{name}.txt").read_bytes())
    features = vocab_dir / FEATURES_FILE
    if features.is_file():
        h.update(features.read_bytes())
    return h.hexdigest()[:12]


def load_vocabulary(vocab_dir: Path) -> Vocabulary:
    """Load vocab_dir strictly: the first format problem is a StorygenError naming file and line."""
    if not vocab_dir.is_dir():
        raise StorygenError(f"{vocab_dir}: vocabulary directory not found; set prompts.vocab_dir")
    files = {}
    for name in (*CONTENT_FILES, *OTHER_FILES):
        pattern, what = _spec(name)
        wf = read_word_file(vocab_dir / f"{name}.txt", pattern, what)
        if wf.problems:
            raise StorygenError(wf.problems[0])
        files[name] = tuple(wf.words)
    return Vocabulary(**files, version=vocab_version(vocab_dir))


def inflection_of(word: str, upos: str) -> str | None:
    """The base form `word` inflects, if lemminflect knows `word` as an inflection for this part of
    speech and not as a base form of its own ("cats" -> "cat", "went" -> "go"; "lay" is its own verb)."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word).get(upos, ())
    if lemmas and word not in lemmas:
        return lemmas[0]
    return None


@dataclass
class CheckReport:
    counts: dict[str, int]
    problems: list[str]
    shared: dict[str, list[str]]

    @property
    def content_total(self) -> int:
        return sum(self.counts[name] for name in CONTENT_FILES)


def check_vocabulary(vocab_dir: Path) -> CheckReport:
    """Every problem in vocab_dir (format, duplicates, order, inflections), not just the first."""
    if not vocab_dir.is_dir():
        raise StorygenError(f"{vocab_dir}: vocabulary directory not found; pass --vocab-dir")
    counts: dict[str, int] = {}
    problems: list[str] = []
    contents: dict[str, list[str]] = {}
    for name in (*CONTENT_FILES, *OTHER_FILES):
        pattern, what = _spec(name)
        path = vocab_dir / f"{name}.txt"
        if not path.is_file():
            problems.append(f"{path}: vocabulary file not found")
            counts[name] = 0
            continue
        wf = read_word_file(path, pattern, what)
        problems.extend(wf.problems)
        counts[name] = len(wf.words)
        contents[name] = wf.words
        if wf.words != sorted(wf.words):
            first = next(i for i, (a, b) in enumerate(zip(wf.words, sorted(wf.words), strict=True)) if a != b)
            problems.append(
                f"{path}: not sorted (first out of place: {wf.words[first]!r}); run `sort -o {path} {path}`"
            )
        upos = CONTENT_FILES.get(name)
        if upos:
            for word in wf.words:
                base = inflection_of(word, upos)
                if base:
                    problems.append(f"{path}: {word!r} looks like an inflection of {base!r}; list the base form")
    shared: dict[str, list[str]] = {}
    names = list(CONTENT_FILES)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = sorted(set(contents.get(a, ())) & set(contents.get(b, ())))
            if both:
                shared[f"{a}&{b}"] = both
    return CheckReport(counts=counts, problems=problems, shared=shared)
