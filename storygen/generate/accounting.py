"""What a run used and what it cost. Addable, so the counts of worker processes merge."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from storygen.config import Price


@dataclass
class Accounting:
    stories: int = 0
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # prompts that used up their tries, by reason
    errors: Counter[str] = field(default_factory=Counter)  # every failed attempt, by reason
    finish_reasons: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0  # client CPU seconds spent sending and storing (all client processes)
    first_send: float = 0.0  # wall-clock time of the first request (0 = none yet)
    last_done: float = 0.0  # wall-clock time the last story was stored

    def __iadd__(self, other: Accounting) -> Accounting:
        self.stories += other.stories
        self.requests += other.requests
        self.retries += other.retries
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.failures.update(other.failures)
        self.errors.update(other.errors)
        self.finish_reasons.update(other.finish_reasons)
        self.cpu_s += other.cpu_s
        starts = [t for t in (self.first_send, other.first_send) if t]
        self.first_send = min(starts) if starts else 0.0
        self.last_done = max(self.last_done, other.last_done)
        return self

    @property
    def sustained_per_s(self) -> float:
        """Stories per second between the first request and the last stored story."""
        span = self.last_done - self.first_send
        return self.stories / span if self.first_send and span > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stories": self.stories,
            "requests": self.requests,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "failures": dict(self.failures),
            "errors": dict(self.errors),
            "finish_reasons": dict(self.finish_reasons),
            "cpu_s": round(self.cpu_s, 3),
            "first_send": self.first_send,
            "last_done": self.last_done,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Accounting:
        return cls(
            stories=d.get("stories", 0), requests=d.get("requests", 0), retries=d.get("retries", 0),
            prompt_tokens=d.get("prompt_tokens", 0), completion_tokens=d.get("completion_tokens", 0),
            failures=Counter(d.get("failures", {})), errors=Counter(d.get("errors", {})),
            finish_reasons=Counter(d.get("finish_reasons", {})), cpu_s=d.get("cpu_s", 0.0),
            first_send=d.get("first_send", 0.0), last_done=d.get("last_done", 0.0),
        )  # fmt: skip


def cost_usd(prompt_tokens: int, completion_tokens: int, price: Price | None, discount: float = 1.0) -> float:
    """Estimated cost from a per-million-token price; a model with no price costs 0."""
    if price is None:
        return 0.0
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6 * discount
