"""The two dataset configs and how a Story becomes a row of each.

default   {"text"}: a drop-in for code that trains on TinyStories.
instruct  the story with everything about how it was made: the prompt, its words and features,
          the summary (when the template asked for one), model and backend, and cleaning scores.
"""

from __future__ import annotations

import hashlib
from typing import Any

from datasets import Features, List, Value

from storygen.clean.checks import story_features
from storygen.records import Story

TEXT_FEATURES = Features({"text": Value("string")})

INSTRUCT_FEATURES = Features(
    {
        "id": Value("string"),
        "story": Value("string"),
        "prompt": Value("string"),
        "words": {"verb": Value("string"), "noun": Value("string"), "adjective": Value("string")},
        "features": List(Value("string")),
        "axes": List({"name": Value("string"), "value": Value("string")}),
        "summary": Value("string"),
        "template": Value("string"),
        "vocab_version": Value("string"),
        "seed": Value("int64"),
        "model": Value("string"),
        "backend": Value("string"),
        "source": Value("string"),
        "finish_reason": Value("string"),
        "completion_tokens": Value("int64"),
        "word_count": Value("int32"),
        "vocab_compliance": Value("float32"),
        "reading_age": Value("float32"),
        "fk_grade": Value("float32"),
        "mean_zipf": Value("float32"),
    }
)

CONFIGS = {"default": TEXT_FEATURES, "instruct": INSTRUCT_FEATURES}


def split_of(story_id: str, validation_share: float) -> str:
    """A pure function of the id: adding stories never moves an old one to the other split."""
    bucket = int.from_bytes(hashlib.sha256(story_id.encode()).digest()[:8], "big") % 1_000_000
    return "validation" if bucket < validation_share * 1_000_000 else "train"


def instruct_row(story: Story) -> dict[str, Any]:
    p = story.prompt
    words = story.meta.get("words") if p is None else p.words.model_dump()
    s = story.scores
    return {
        "id": story.id,
        "story": story.text,
        "prompt": p.text if p else None,
        "words": words if isinstance(words, dict) else None,
        "features": story_features(story) or [],
        "axes": [{"name": k, "value": v} for k, v in (p.axes.items() if p else ())],
        "summary": story.summary,
        "template": p.template if p else None,
        "vocab_version": p.vocab_version if p else None,
        "seed": p.seed if p else None,
        "model": story.model,
        "backend": story.backend,
        "source": story.source,
        "finish_reason": story.finish_reason,
        "completion_tokens": story.usage.completion_tokens if story.usage else None,
        "word_count": int(s["words"]) if "words" in s else len(story.text.split()),
        "vocab_compliance": s.get("vocab_compliance"),
        "reading_age": s.get("reading_age"),
        "fk_grade": s.get("fk_grade"),
        "mean_zipf": s.get("mean_zipf"),
    }
