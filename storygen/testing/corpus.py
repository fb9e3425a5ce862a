"""Synthetic story corpora with planted duplicates, for dedup tests and benchmarks.

Stories are built from the bundled vocabulary with varied sentence patterns, so two unrelated
stories share about as few word 3-grams as two real TinyStories do. Planted copies record which
original they copy and how, so recall and precision can be measured exactly.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from storygen.paths import VOCAB_DIR
from storygen.vocab import load_vocabulary

_PATTERNS = (
    "{Name} {verb}ed the {adj} {noun}.",
    "One day, {name} saw a {adj} {noun} near the {noun2}.",
    '"Can I {verb} the {noun}?" asked {name}.',
    "The {noun} was very {adj}, and {name} was happy.",
    "{Name} and the {noun} went to the {noun2} to {verb}.",
    "Then a {adj} {noun2} came and wanted to {verb} too.",
    "{Name} did not want to {verb}, but the {noun} was {adj}.",
    "After that, they {verb}ed with the {adj} {noun2} all day.",
    'Mom said, "You must {verb} with care, {name}."',
    "In the end, {name} learned that a {adj} {noun} is a good friend.",
)


KINDS = ("exact", "chars_1", "chars_3", "words_5", "words_10", "reorder")


@dataclass(frozen=True)
class Planted:
    index: int  # position in the corpus
    original: int  # index of the story it copies
    kind: str  # exact | chars_1 | chars_5 | words_10 | reorder ...


class CorpusMaker:
    def __init__(self, seed: int = 0):
        v = load_vocabulary(VOCAB_DIR)
        self.rng = random.Random(seed)
        self.nouns, self.verbs, self.adjs, self.names = list(v.nouns), list(v.verbs), list(v.adjectives), list(v.names)

    def story(self, min_words: int = 150, max_words: int = 250) -> str:
        r = self.rng
        target = r.randint(min_words, max_words)
        sentences, n = [], 0
        while n < target:
            name = r.choice(self.names)
            s = r.choice(_PATTERNS).format(
                Name=name, name=name, verb=r.choice(self.verbs), noun=r.choice(self.nouns),
                noun2=r.choice(self.nouns), adj=r.choice(self.adjs),
            )  # fmt: skip
            sentences.append(s)
            n += len(s.split())
        paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        return "\n\n".join(paragraphs)

    # ---------------------------------------------------------------- variations

    def exact_variant(self, text: str) -> str:
        """Same words; different case, whitespace and punctuation (an exact duplicate after normalisation)."""
        t = text.upper() if self.rng.random() < 0.5 else text.lower()
        return "  " + t.replace(". ", ".  ").replace(",", "") + "\n"

    def char_edits(self, text: str, rate: float) -> str:
        """Substitute, insert or delete letters at `rate` of the characters."""
        r = self.rng
        out = list(text)
        for _ in range(max(1, int(len(text) * rate))):
            i = r.randrange(len(out))
            op = r.random()
            if op < 0.4:
                out[i] = r.choice(string.ascii_lowercase)
            elif op < 0.7:
                out.insert(i, r.choice(string.ascii_lowercase))
            elif len(out) > 1:
                del out[i]
        return "".join(out)

    def word_edits(self, text: str, rate: float) -> str:
        """Replace `rate` of the words by other vocabulary words."""
        r = self.rng
        words = text.split(" ")
        for _ in range(max(1, int(len(words) * rate))):
            words[r.randrange(len(words))] = r.choice(self.nouns + self.adjs)
        return " ".join(words)

    def reorder(self, text: str) -> str:
        """The same sentences in another order."""
        sentences = [s for s in text.replace("\n\n", " ").split(". ") if s]
        self.rng.shuffle(sentences)
        return ". ".join(sentences)

    def corpus(self, n: int, dup_share: float = 0.1, kinds: tuple[str, ...] = KINDS) -> tuple[list[str], list[Planted]]:
        """n stories of which about dup_share are planted copies (of the given kinds) of earlier ones."""
        texts: list[str] = []
        planted: list[Planted] = []
        for i in range(n):
            if texts and self.rng.random() < dup_share:
                src = self.rng.randrange(len(texts))
                while any(p.index == src for p in planted[-50:]):  # copy originals, not copies
                    src = self.rng.randrange(len(texts))
                kind = self.rng.choice(kinds)
                texts.append(self.variant(texts[src], kind))
                planted.append(Planted(i, src, kind))
            else:
                texts.append(self.story())
        return texts, planted

    def variant(self, text: str, kind: str) -> str:
        if kind == "exact":
            return self.exact_variant(text)
        if kind == "reorder":
            return self.reorder(text)
        what, pct = kind.split("_")
        rate = int(pct) / 100
        return self.char_edits(text, rate) if what == "chars" else self.word_edits(text, rate)
