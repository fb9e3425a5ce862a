"""What every backend returns and the two kinds of error it may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from storygen.errors import StorygenError


@dataclass(frozen=True)
class Choice:
    text: str
    finish_reason: str | None
    top_logprobs: dict[str, float] | None = None  # first token's alternatives, when asked for


@dataclass(frozen=True)
class Completion:
    choices: list[Choice]
    prompt_tokens: int
    completion_tokens: int


class RetryableError(Exception):
    """A failed attempt worth repeating (429, 5xx, timeout, dropped connection, unreadable reply)."""

    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


class FatalError(StorygenError):
    """An error no retry can fix (bad key, unknown model, rejected request): the run stops at once."""


class RequestBackend(Protocol):
    """A backend that answers one prompt per call (many calls in flight at once)."""

    name: str

    async def complete(self, text: str, params: dict[str, Any]) -> Completion: ...

    async def aclose(self) -> None: ...
