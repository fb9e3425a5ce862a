"""Chat completions through the `openai` package against any OpenAI-compatible endpoint
(the OpenAI API, `vllm serve`, or any base_url).

The client is built once with retries off (the runner retries, with its own accounting) and the
aiohttp transport, which costs about half the CPU per request of the default one. Requests go through
the client's documented low-level call, `client.post(path, content=..., cast_to=httpx.Response)`: same
client, headers, auth, timeouts and error types, but it skips the per-request transform of typed
params and the pydantic parse of the reply, which together were most of the client's CPU at high
request rates (see bench/bench_generate.py). The body is sent as JSON bytes made by orjson (the
client's Content-Type stays application/json) and the reply is parsed with orjson for three fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any
from urllib.parse import urlparse

import openai
import orjson

from storygen.config import GenerateConfig
from storygen.errors import StorygenError
from storygen.generate.backends.base import Choice, Completion, FatalError, RetryableError
from storygen.generate.ratelimit import parse_reset

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def check_base_url(base_url: str | None) -> None:
    if base_url is None:
        return
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StorygenError(f"generate.base_url: {base_url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1")


def api_key(config: GenerateConfig) -> str:
    """The key from the environment. A custom base_url (vllm serve) may need none."""
    key = os.environ.get(config.api_key_env, "")
    if key:
        return key
    if config.base_url is None:
        raise StorygenError(
            f"{config.api_key_env} is not set: export your OpenAI API key, or pass --base-url of an "
            "OpenAI-compatible server (start one with `storygen serve --model M` on a GPU machine)"
        )
    return "EMPTY"


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: Retry-After(-ms) or the x-ratelimit-reset-* headers."""
    if headers is None:
        return None
    waits = []
    if (ms := headers.get("retry-after-ms")) is not None:
        with contextlib.suppress(ValueError):
            waits.append(float(ms) / 1000)
    for name in ("retry-after", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"):
        if (value := parse_reset(headers.get(name))) is not None:
            waits.append(value)
    return min(max(waits), 120.0) if waits else None


def classify(e: openai.APIError, config: GenerateConfig) -> Exception:
    """An SDK error -> RetryableError or FatalError with a message that says what to do."""
    if isinstance(e, openai.APITimeoutError):
        return RetryableError("timeout", str(e))
    if isinstance(e, openai.APIConnectionError):
        return RetryableError("connection", str(e.__cause__ or e))
    if not isinstance(e, openai.APIStatusError):
        return RetryableError("api_error", str(e))
    status = e.status_code
    body = e.body if isinstance(e.body, dict) else {}
    code = str(body.get("code") or body.get("type") or "")
    message = str(body.get("message") or e.message).splitlines()[0][:300]
    where = config.base_url or "the OpenAI API"
    if status == 429 and code == "insufficient_quota":
        return FatalError(
            f"{where} says the account has no quota left (429 insufficient_quota); add credit or use another key"
        )
    if status in RETRYABLE_STATUS or status >= 500:
        reason = "rate_limited" if status == 429 else f"http_{status}"
        return RetryableError(reason, message, retry_after(e.response.headers))
    if status == 401:
        return FatalError(f"{where} refused the API key (401: {message}); check {config.api_key_env}")
    if status == 403:
        return FatalError(f"{where} denied access (403: {message}); check the key's permissions for {config.model}")
    if status == 404:
        return FatalError(f"{where} answered 404 for model {config.model!r} ({message}); check --model and --base-url")
    return FatalError(f"{where} rejected the request ({status}: {message}); check the sampling settings")


class OpenAIChatBackend:
    name = "openai"

    def __init__(self, config: GenerateConfig):
        check_base_url(config.base_url)
        import httpx2

        self.config = config
        limits = httpx2.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
        self.client = openai.AsyncOpenAI(
            api_key=api_key(config),
            base_url=config.base_url,
            max_retries=0,
            timeout=config.timeout_s,
            http_client=openai.DefaultAioHttpClient(limits=limits, timeout=config.timeout_s),
        )
        self._response_type = httpx2.Response

    async def complete(self, text: str, params: dict[str, Any]) -> Completion:
        body = {"model": self.config.model, "messages": [{"role": "user", "content": text}], **params}
        try:  # the body goes as JSON bytes (orjson): the client's own encoder is pure Python
            raw = await self.client.post("/chat/completions", content=orjson.dumps(body), cast_to=self._response_type)
        except openai.APIError as e:
            raise classify(e, self.config) from e
        return parse_chat_completion(raw.content)

    async def preflight(self, tries: int = 3) -> None:
        """Before sending prompts: is the endpoint reachable, the key accepted, the model served?
        Endpoints without a model list (404 on /models) are let through."""
        where = self.config.base_url or "the OpenAI API"
        for attempt in range(tries):
            try:
                page = await self.client.models.list()
                break
            except openai.NotFoundError:
                return
            except (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError) as e:
                if attempt == tries - 1:
                    detail = str(e.__cause__ or e).splitlines()[0][:200]
                    raise StorygenError(
                        f"cannot reach {where} ({detail}); is the server running and the URL right?"
                    ) from e
                await asyncio.sleep(0.5 * 2**attempt)
            except openai.APIStatusError as e:
                raise classify(e, self.config) from e
        served = [m.id for m in page.data]
        if served and self.config.model not in served:
            shown = ", ".join(served[:10]) + (" ..." if len(served) > 10 else "")
            raise StorygenError(f"model {self.config.model!r} is not served by {where}; available: {shown}")

    async def aclose(self) -> None:
        await self.client.close()


def _first_top_logprobs(choice: dict[str, Any]) -> dict[str, float] | None:
    """{token: logprob} of the first generated token's alternatives (logprobs=True, top_logprobs=k)."""
    content = (choice.get("logprobs") or {}).get("content") or []
    if not content:
        return None
    return {alt["token"]: float(alt["logprob"]) for alt in content[0].get("top_logprobs") or []}


def parse_chat_completion(content: bytes) -> Completion:
    """The fields storygen keeps from a chat.completion body; anything unreadable is retryable."""
    try:
        data = orjson.loads(content)
        choices = [
            Choice(
                text=(c.get("message") or {}).get("content") or "",
                finish_reason=c.get("finish_reason"),
                top_logprobs=_first_top_logprobs(c),
            )
            for c in sorted(data["choices"], key=lambda c: c.get("index", 0))
        ]
        usage = data.get("usage") or {}
        return Completion(choices, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise RetryableError("malformed_response", f"{type(e).__name__}: {content[:80]!r}") from e
