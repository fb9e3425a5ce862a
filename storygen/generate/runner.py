"""The request loop for per-request backends: `concurrency` coroutines pull prompts from one
iterator, wait for the rate limiter, call the backend with tenacity retries, and append each story to
the store the moment it arrives. A prompt that uses up its tries is written to failures.jsonl and
left for the next run; a FatalError stops everything at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from storygen.config import GenerateConfig, RunConfig
from storygen.gc_tuning import fewer_collections
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import Completion, RequestBackend, RetryableError
from storygen.generate.ratelimit import RateLimiter
from storygen.generate.store import LineWriter, StoryWriter, record_failure
from storygen.prompts import PromptFactory, split_summary
from storygen.records import Prompt, Story, Usage, utcnow


def story_ids(prompt: Prompt, choices: int) -> list[str]:
    """One story per prompt keeps the prompt id; n choices get '<id>-<j>'."""
    return [prompt.id] if choices == 1 else [f"{prompt.id}-{j}" for j in range(choices)]


def sampling_params(config: RunConfig, prompt: Prompt) -> dict[str, Any]:
    s = config.sampling
    params: dict[str, Any] = {"temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens}
    if s.n > 1:
        params["n"] = s.n
    if s.seed is not None:
        params["seed"] = s.seed + prompt.index
    return params


def recorded_params(config: RunConfig, params: dict[str, Any]) -> dict[str, Any]:
    """What a story keeps of its request: the sampling parameters, and a flag for the constraint."""
    return {**params, "constrain_vocab": True} if config.generate.constrain_vocab else params


def estimated_tokens(prompt: Prompt, config: RunConfig) -> int:
    return len(prompt.text) // 4 + config.sampling.max_tokens * config.sampling.n


def pending_prompts(
    factory: PromptFactory, n: int, done: set[str], choices: int, shard: int = 0, shards: int = 1
) -> Iterator[Prompt]:
    """Prompts of this shard (index % shards == shard) that still miss a story."""
    for index in range(shard, n, shards):
        prompt = factory.render(index)
        if any(sid not in done for sid in story_ids(prompt, choices)):
            yield prompt


def build_stories(
    prompt: Prompt, completion: Completion, config: RunConfig, backend: str, params: dict[str, Any]
) -> list[Story]:
    """Stories from one completion, in choice order. Usage is split so that the stories' usage sums
    to what the backend reported: the prompt tokens go to the first story."""
    ids = story_ids(prompt, config.sampling.n)
    k = len(completion.choices)
    per, extra = divmod(completion.completion_tokens, max(1, k))
    created = utcnow()
    stories = []
    for j, (sid, choice) in enumerate(zip(ids, completion.choices, strict=False)):
        text, summary = choice.text, None
        if "Summary:" in prompt.text:
            text, summary = split_summary(text)
        usage = Usage(
            prompt_tokens=completion.prompt_tokens if j == 0 else 0, completion_tokens=per + (extra if j == 0 else 0)
        )
        stories.append(
            Story(
                id=sid,
                text=text.strip(),
                prompt=prompt,
                summary=summary,
                model=config.generate.model,
                backend=backend,
                sampling=recorded_params(config, params),
                finish_reason=choice.finish_reason,
                usage=usage,
                created_at=created,
            )
        )
    return stories


def store_completion(prompt: Prompt, completion: Completion, config: RunConfig, backend: str, params: dict[str, Any],
                     writer: StoryWriter, done: set[str], acct: Accounting) -> None:  # fmt: skip
    """Count a completion's tokens and append the stories it made that are not stored yet."""
    acct.prompt_tokens += completion.prompt_tokens
    acct.completion_tokens += completion.completion_tokens
    for story in build_stories(prompt, completion, config, backend, params):
        if story.id in done:
            continue
        writer.write(story)
        done.add(story.id)
        acct.stories += 1
        acct.finish_reasons[story.finish_reason or "none"] += 1
    acct.last_done = time.time()


def _wait(retry_state: RetryCallState) -> float:
    """The server's Retry-After when it gave one, else exponential backoff with jitter."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, RetryableError) and exc.retry_after is not None:
        return exc.retry_after
    return _BACKOFF(retry_state)


BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_JITTER = 0.5, 30.0, 0.5
_BACKOFF = wait_exponential_jitter(multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_JITTER)


class Caller:
    """One backend call with everything around it: rate limits, retries (tenacity, honouring the
    server's waits), and the accounting of requests, retries and errors. Shared by the generation
    runner and the evaluation judge."""

    def __init__(self, backend: RequestBackend, generate: GenerateConfig, acct: Accounting | None = None):
        self.backend, self.max_attempts = backend, generate.max_attempts
        self.acct = acct or Accounting()
        self.limiter = RateLimiter(generate.requests_per_minute, generate.tokens_per_minute)
        self.retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, generate.max_attempts - 1)),
            wait=_wait,
            retry=retry_if_exception_type(RetryableError),
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        self.acct.retries += 1
        if isinstance(exc, RetryableError) and exc.reason == "rate_limited" and exc.retry_after:
            self.limiter.pause(exc.retry_after)  # everyone backs off, not just this request

    async def _attempt(self, text: str, params: dict[str, Any], estimate: int) -> Completion:
        await self.limiter.acquire(estimate)
        if not self.acct.first_send:
            self.acct.first_send = time.time()
        self.acct.requests += 1
        try:
            completion = await self.backend.complete(text, params)
        except RetryableError as e:
            self.acct.errors[e.reason] += 1
            self.limiter.settle(estimate, 0)
            raise
        self.limiter.settle(estimate, completion.prompt_tokens + completion.completion_tokens)
        return completion

    async def call(self, text: str, params: dict[str, Any], estimate: int) -> Completion:
        """The completion, or the last RetryableError once max_attempts are used up."""
        # First try outside tenacity: most requests succeed at once, and the retry
        # machinery costs more CPU than the request itself at high rates.
        try:
            return await self._attempt(text, params, estimate)
        except RetryableError as first:
            if self.max_attempts <= 1:
                raise
            self.acct.retries += 1
            wait = (
                first.retry_after
                if first.retry_after is not None
                else BACKOFF_INITIAL + random.uniform(0, BACKOFF_JITTER)
            )
            if first.reason == "rate_limited" and first.retry_after:
                self.limiter.pause(first.retry_after)
            await asyncio.sleep(wait)
        async for attempt in self.retrying.copy():
            with attempt:
                return await self._attempt(text, params, estimate)
        raise AssertionError("unreachable: tenacity reraises the last error")


class RequestRunner:
    def __init__(
        self,
        backend: RequestBackend,
        config: RunConfig,
        writer: StoryWriter,
        failures: LineWriter,
        done: set[str],
        acct: Accounting | None = None,
    ):
        self.backend, self.config, self.writer, self.failures, self.done = backend, config, writer, failures, done
        self.caller = Caller(backend, config.generate, acct)
        self.acct = self.caller.acct
        self.extra: dict[str, Any] = {}  # request-only fields (the vocabulary constraint), not stored on stories
        if config.generate.constrain_vocab:
            from storygen.constrain.requests import request_fields, vocab_regex

            self.extra = request_fields(vocab_regex(config.prompts.vocab_dir))

    async def process(self, prompt: Prompt) -> None:
        params = sampling_params(self.config, prompt)
        try:
            request = {**params, **self.extra} if self.extra else params
            completion = await self.caller.call(prompt.text, request, estimated_tokens(prompt, self.config))
        except RetryableError as e:
            self.acct.failures[e.reason] += 1
            record_failure(
                self.failures, prompt.id, prompt.index, e.reason, self.config.generate.max_attempts, e.detail
            )
            return
        store_completion(prompt, completion, self.config, self.backend.name, params, self.writer, self.done, self.acct)

    async def run(self, prompts: Iterable[Prompt], on_tick: Callable[[Accounting], None] | None = None) -> Accounting:
        it = iter(prompts)
        cpu_start = time.process_time()

        def tick() -> None:
            self.acct.cpu_s = time.process_time() - cpu_start
            if on_tick:
                on_tick(self.acct)

        async def worker() -> None:
            for prompt in it:
                await self.process(prompt)

        ticker = asyncio.create_task(_tick(tick))
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(self.config.generate.concurrency):
                    tg.create_task(worker())
        except* Exception as group:
            raise group.exceptions[0] from None
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            tick()
        return self.acct


def run_async(coro: Any) -> Any:
    """Run a coroutine on uvloop where it is installed (about a third less CPU per request), with
    the cyclic garbage collector told to look less often: every request allocates hundreds of
    short-lived objects that reference counting frees."""
    with fewer_collections():
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)


async def _tick(tick: Callable[[], None], every: float = 0.25) -> None:
    while True:
        await asyncio.sleep(every)
        tick()
