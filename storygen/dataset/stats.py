"""Statistics of a built dataset, gathered while its rows are written; the card and the plots are
made from these and nothing else, so every number on the card is a number of the data."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from storygen.clean.checks import story_features
from storygen.clean.lexicon import Lexicon, lemmas_of, strip_clitic, word_of
from storygen.clean.split import tokens
from storygen.records import Story


@dataclass
class Stats:
    splits: Counter[str] = field(default_factory=Counter)
    word_counts: list[int] = field(default_factory=list)
    reading_ages: list[float] = field(default_factory=list)
    completion_tokens: int = 0
    stories_with_usage: int = 0
    features: Counter[str] = field(default_factory=Counter)
    vocab_usage: Counter[str] = field(default_factory=Counter)  # content word -> stories that use it
    models: Counter[str] = field(default_factory=Counter)
    backends: Counter[str] = field(default_factory=Counter)
    templates: Counter[str] = field(default_factory=Counter)
    vocab_versions: Counter[str] = field(default_factory=Counter)
    seeds: Counter[int] = field(default_factory=Counter)
    sampling: Counter[str] = field(default_factory=Counter)
    with_summary: int = 0

    def add(self, story: Story, split: str, lexicon: Lexicon, content: frozenset[str]) -> None:
        self.splits[split] += 1
        words = tokens(story.text)
        self.word_counts.append(len(words))
        if "reading_age" in story.scores:
            self.reading_ages.append(float(story.scores["reading_age"]))
        if story.usage is not None:
            self.completion_tokens += story.usage.completion_tokens
            self.stories_with_usage += 1
        p = story.prompt
        self.features.update(story_features(story) or [])
        used = set()
        for form in set(words):
            base = strip_clitic(word_of(form).lower())
            if base:
                used.update(lemmas_of(base) & content)
        self.vocab_usage.update(used)
        self.models[story.model or "unknown"] += 1
        self.backends[story.backend or "unknown"] += 1
        if p:
            self.templates[p.template] += 1
            self.vocab_versions[p.vocab_version] += 1
            self.seeds[p.seed] += 1
        if story.sampling:
            self.sampling[json.dumps(story.sampling, sort_keys=True)] += 1
        self.with_summary += story.summary is not None

    @property
    def total(self) -> int:
        return sum(self.splits.values())

    def summary(self, vocab_size: int) -> dict[str, Any]:
        wc = sorted(self.word_counts)
        mid = wc[len(wc) // 2] if wc else 0
        return {
            "stories": self.total,
            "splits": dict(self.splits),
            "words": sum(wc),
            "words_per_story": {
                "mean": round(sum(wc) / max(1, len(wc)), 1),
                "median": mid,
                "min": wc[0] if wc else 0,
                "max": wc[-1] if wc else 0,
            },
            "completion_tokens": self.completion_tokens,
            "stories_with_usage": self.stories_with_usage,
            "vocabulary_used": len(self.vocab_usage),
            "vocabulary_size": vocab_size,
            "features": dict(self.features.most_common()),
            "models": dict(self.models),
            "backends": dict(self.backends),
            "templates": dict(self.templates),
            "vocab_versions": dict(self.vocab_versions),
            "seeds": sorted(self.seeds),
            "sampling": [json.loads(s) for s, _ in self.sampling.most_common(5)],
            "with_summary": self.with_summary,
            "mean_reading_age": round(sum(self.reading_ages) / len(self.reading_ages), 2)
            if self.reading_ages
            else None,
        }
