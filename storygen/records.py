"""The records that cross stage boundaries: a `Prompt` goes into generation, a `Story` comes out
and flows through cleaning, dataset building and evaluation. Both serialise as one JSON line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Words(BaseModel):
    """The three content words a story must use, as base forms from vocab/."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verb: str
    noun: str
    adjective: str


class Prompt(BaseModel):
    """One rendered request for a story. Same seed, index, vocabulary and template -> same record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="stable id: a hash of seed, index and text")
    index: int = Field(ge=0, description="position in the seeded prompt stream")
    seed: int = Field(description="the run seed the prompt was sampled from")
    template: str = Field(description="template name, a file prompts/<name>.j2")
    vocab_version: str = Field(description="hash of the vocab/ files the words came from")
    words: Words
    features: list[str] = Field(description="names of the sampled story features")
    axes: dict[str, str] = Field(default_factory=dict, description="sampled diversity axes: name -> value")
    text: str = Field(description="the prompt sent to the model")


class Usage(BaseModel):
    """Token counts as reported by the backend."""

    model_config = ConfigDict(extra="ignore")

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Story(BaseModel):
    """A generated (or imported) story with its provenance; later stages add scores and reasons."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the prompt id for generated stories; a text hash for imported ones")
    text: str
    prompt: Prompt | None = Field(default=None, description="the request; None for imported stories")
    summary: str | None = Field(default=None, description="one-sentence summary, when the template asked")
    model: str | None = None
    backend: str | None = None
    sampling: dict[str, Any] = Field(default_factory=dict, description="sampling parameters sent")
    finish_reason: str | None = Field(default=None, description="'stop', 'length', ... from the backend")
    usage: Usage | None = None
    created_at: datetime | None = None
    source: str | None = Field(default=None, description="where an imported story came from")
    scores: dict[str, float] = Field(default_factory=dict, description="per-story scores from cleaning")
    reasons: list[str] = Field(default_factory=list, description="validation reasons; empty = accepted")
    meta: dict[str, Any] = Field(default_factory=dict, description="anything else worth keeping")


def utcnow() -> datetime:
    return datetime.now(UTC)
