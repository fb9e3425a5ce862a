from __future__ import annotations

import asyncio
import time

import pytest

from storygen.generate.backends.openai_chat import retry_after
from storygen.generate.ratelimit import Bucket, RateLimiter, parse_reset


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1.5", 1.5),
        ("1h2m3s", 3723.0),
        ("", None),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_reset(value, seconds):
    assert parse_reset(value) == seconds


def test_retry_after_takes_the_longest_server_hint():
    assert retry_after({"retry-after": "2", "x-ratelimit-reset-requests": "500ms"}) == 2.0
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"x-ratelimit-reset-tokens": "1m30s"}) == 90.0
    assert retry_after({}) is None
    assert retry_after({"retry-after": "100000"}) == 120.0  # capped


def test_bucket_waits_for_refill():
    b = Bucket(per_minute=60)  # 1 per second, capacity 60
    b.take(60)
    assert 0.9 < b.wait_time(1) <= 1.0
    b.give(30)
    assert b.wait_time(1) == 0


def test_limiter_holds_requests_to_the_rate():
    async def main() -> float:
        limiter = RateLimiter(requests_per_minute=600, tokens_per_minute=None)  # 10/s, bucket of 600
        limiter.requests.level = 0  # start empty to observe the rate
        t0 = time.monotonic()
        for _ in range(5):
            await limiter.acquire(1)
        return time.monotonic() - t0

    assert 0.4 < asyncio.run(main()) < 1.0


def test_token_reservation_is_corrected_by_usage():
    limiter = RateLimiter(None, tokens_per_minute=6000)
    asyncio.run(limiter.acquire(1000))
    level = limiter.tokens.level
    limiter.settle(estimated=1000, actual=300)
    assert limiter.tokens.level == pytest.approx(level + 700, abs=1)


def test_pause_holds_everyone():
    async def main() -> float:
        limiter = RateLimiter(None, None)
        limiter.pause(0.3)
        t0 = time.monotonic()
        await limiter.acquire(1)
        return time.monotonic() - t0

    assert asyncio.run(main()) >= 0.28
