"""Client-side rate limits: token buckets for requests/minute and tokens/minute, and a shared pause
when the server says to back off (429 with Retry-After or a rate-limit reset header).

Each bucket holds at most one minute of its limit and refills continuously. A request reserves its
estimated tokens (prompt length / 4 + max_tokens) before it is sent; `settle` returns the difference
once the server reports real usage, so the estimate is corrected as the run goes.
"""

from __future__ import annotations

import asyncio
import re
import time

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str | None) -> float | None:
    """'1s', '6m0s', '20ms', '1.5' -> seconds; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


class Bucket:
    def __init__(self, per_minute: float, burst_seconds: float = 60.0):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_seconds)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, amount: float) -> float:
        self._refill()
        need = min(amount, self.capacity)  # a request larger than the bucket waits for a full bucket
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """Shared by every request of one event loop. `None` limits disable a bucket."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None):
        self.requests = Bucket(requests_per_minute) if requests_per_minute else None
        self.tokens = Bucket(tokens_per_minute) if tokens_per_minute else None
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None or self.paused_until > time.monotonic()

    async def acquire(self, tokens: int) -> None:
        if not self.active:
            return
        async with self._lock:  # one waiter at a time keeps the order fair
            while True:
                wait = self.paused_until - time.monotonic()
                if self.requests:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1)
            if self.tokens:
                self.tokens.take(tokens)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct a reservation with the usage the server reported."""
        if self.tokens:
            self.tokens.give(estimated - actual)

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` (the server asked us to back off)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
