"""A loopback server that speaks the OpenAI wire format: chat completions, models, files and batches,
with configurable latency and injected faults. The real `openai` client talks to it unchanged.

    python -m storygen.testing.openai_server --port 0 --latency 0.2 --fault-rate 0.3

prints `READY <port>` on stdout when it is listening. GET /stats returns what it served.

Faults (each request draws one with probability --fault-rate, uniformly among --faults):
  429        rate limited, with Retry-After and x-ratelimit-reset-requests headers
  500, 503   server errors
  timeout    answers after --hang seconds (longer than the client's timeout)
  disconnect closes the connection without answering
  malformed  200 with a body that is not JSON
  length     a story cut off mid-sentence, finish_reason "length"
  empty      an empty reply, finish_reason "stop"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import time
import uuid
from collections import Counter
from typing import Any

from aiohttp import web

ALL_FAULTS = ("429", "500", "503", "timeout", "disconnect", "malformed", "length", "empty")
_WORD = re.compile(r'(verb|noun|adjective) "([^"]+)"')


def story_for(prompt: str, salt: int = 0) -> str:
    """A small deterministic story that uses the words the prompt asks for (salt varies it)."""
    words = dict(_WORD.findall(prompt))
    verb, noun, adj = words.get("verb", "play"), words.get("noun", "ball"), words.get("adjective", "happy")
    names = ("Lily", "Tom", "Mia", "Ben", "Sue", "Max")
    name = names[(len(prompt) + salt) % len(names)]
    return (
        f"Once upon a time, there was a little girl named {name}. She had a {adj} {noun}. "
        f"Every day, {name} liked to {verb} with it in the park.\n\n"
        f'One day, {name} saw her friend. "Do you want to {verb} with me?" she asked. '
        f'Her friend smiled and said, "Yes, I do!"\n\n'
        f"They played all day. When the sun went down, they went home. {name} was very happy."
    )


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAI:
    def __init__(
        self,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = ALL_FAULTS,
        hang: float = 30.0,
        retry_after: float = 0.05,
        api_key: str | None = None,
        models: tuple[str, ...] = (),
        batch_polls: int = 2,
        seed: int = 0,
        fail_status: int | None = None,
        judge_fault_rate: float = 0.0,
        judge_faults: tuple[str, ...] = ("malformed", "out_of_range"),
        honor_structured: bool = False,
    ):
        self.judge_fault_rate, self.judge_faults = judge_fault_rate, judge_faults
        self.honor_structured = honor_structured
        self.latency, self.fault_rate, self.faults = latency, fault_rate, faults
        self.hang, self.retry_after, self.api_key = hang, retry_after, api_key
        self.models, self.batch_polls, self.fail_status = models, batch_polls, fail_status
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: Counter[str] = Counter()

    # ------------------------------------------------------------ helpers

    def _auth(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            self.stats["401"] += 1
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return None

    def _model_error(self, model: str) -> web.Response | None:
        if self.models and model not in self.models:
            self.stats["404"] += 1
            return _error(
                404, f"The model `{model}` does not exist or you do not have access to it.", "model_not_found"
            )
        return None

    def judge_reply(self, prompt: str) -> str:
        """A grade for the judge template: scores from the continuation's length, so longer,
        richer continuations score higher; sometimes malformed or out of range (judge faults)."""
        part = prompt.split("STUDENT'S CONTINUATION:")[-1].split("Give each of these")[0]
        n = len(part.split())
        base = max(1, min(10, 2 + n // 12))
        fault = (
            self.rng.choice(self.judge_faults)
            if self.judge_faults and self.rng.random() < self.judge_fault_rate
            else None
        )
        self.stats[f"judge_{fault or 'ok'}"] += 1
        if fault == "malformed":
            return "The story is lovely. I would give it a good mark overall."
        grade = {"grammar": base, "creativity": max(1, base - 1), "consistency": base, "plot": max(1, base - 2),
                 "age_group": "ABCDEF"[min(5, n // 40)]}  # fmt: skip
        if fault == "out_of_range":
            grade["grammar"] = 14
        return json.dumps(grade)

    def completion(self, body: dict[str, Any], fault: str | None = None) -> dict[str, Any]:
        messages = body.get("messages") or []
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        if prompt.startswith("Repeat exactly, with nothing else:"):  # the constraint probe
            constrained = bool(body.get("structured_outputs")) and self.honor_structured
            return self._reply(body, prompt, "the end." if constrained else prompt.split(":", 1)[1].strip())
        if "STUDENT'S CONTINUATION:" in prompt:
            return self._reply(body, prompt, self.judge_reply(prompt))
        if body.get("logprobs") and "Is this good training data" in prompt:
            words = len(prompt.split("STORY:")[-1].split())
            p_yes = min(0.95, max(0.05, words / 120))
            reply = self._reply(body, prompt, "yes" if p_yes >= 0.5 else "no")
            alts = [{"token": "yes", "logprob": math.log(p_yes)}, {"token": "no", "logprob": math.log(1 - p_yes)}]
            reply["choices"][0]["logprobs"] = {
                "content": [{"token": "yes", "logprob": math.log(p_yes), "top_logprobs": alts}]
            }
            return reply
        n = int(body.get("n") or 1)
        choices = []
        for i in range(n):
            text, finish = story_for(prompt, salt=i + int(body.get("seed") or 0)), "stop"
            if fault == "length":
                text, finish = text[: len(text) // 2].rstrip(), "length"
            elif fault == "empty":
                text = ""
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            )
        completion_tokens = sum(_tokens(c["message"]["content"]) for c in choices)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": choices,
            "usage": {
                "prompt_tokens": _tokens(prompt),
                "completion_tokens": completion_tokens,
                "total_tokens": _tokens(prompt) + completion_tokens,
            },
        }

    # ------------------------------------------------------------ handlers

    def _reply(self, body: dict[str, Any], prompt: str, text: str) -> dict[str, Any]:
        self.stats["judged"] += 1
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None,
        }
        p, c = _tokens(prompt), _tokens(text)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"), "choices": [choice],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        }  # fmt: skip

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.stats["requests"] += 1
        if (err := self._auth(request)) is not None:
            return err
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if (err := self._model_error(body.get("model", ""))) is not None:
            return err
        if self.fail_status is not None:
            self.stats[str(self.fail_status)] += 1
            return _error(self.fail_status, "Injected permanent failure.", "invalid_request_error")
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self.rng.choice(self.faults) if self.faults and self.rng.random() < self.fault_rate else None
        if fault:
            self.stats[f"fault_{fault}"] += 1
        if fault == "429":
            headers = {"Retry-After": f"{self.retry_after}", "x-ratelimit-reset-requests": f"{self.retry_after}s"}
            return _error(429, "Rate limit reached for requests.", "rate_limit_exceeded", headers)
        if fault in ("500", "503"):
            return _error(int(fault), "The server had an error while processing your request.", "server_error")
        if fault == "timeout":
            await asyncio.sleep(self.hang)
        if fault == "disconnect":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if fault == "malformed":
            return web.Response(status=200, text='{"id": "chatcmpl-x", "choices": [', content_type="application/json")
        self.stats["completions"] += 1
        return web.json_response(self.completion(body, fault))

    async def models_list(self, request: web.Request) -> web.Response:
        if (err := self._auth(request)) is not None:
            return err
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "storygen"} for m in self.models or ("fake",)]
        return web.json_response({"object": "list", "data": data})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))

    async def upload_file(self, request: web.Request) -> web.Response:
        if (err := self._auth(request)) is not None:
            return err
        form = await request.post()
        upload = form.get("file")
        content = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        filename = getattr(upload, "filename", "upload.jsonl")
        return web.json_response(self._new_file(content, str(form.get("purpose", "batch")), filename))

    def _new_file(self, content: bytes, purpose: str, filename: str) -> dict[str, Any]:
        fid = f"file-{uuid.uuid4().hex[:16]}"
        meta = {
            "id": fid, "object": "file", "bytes": len(content), "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed",
        }  # fmt: skip
        self.files[fid] = {"meta": meta, "content": content}
        self.stats["files"] += 1
        return meta

    async def file_meta(self, request: web.Request) -> web.Response:
        f = self.files.get(request.match_info["fid"])
        return web.json_response(f["meta"]) if f else _error(404, "No such File object", "invalid_request_error")

    async def file_content(self, request: web.Request) -> web.Response:
        f = self.files.get(request.match_info["fid"])
        if not f:
            return _error(404, "No such File object", "invalid_request_error")
        return web.Response(body=f["content"], content_type="application/octet-stream")

    async def create_batch(self, request: web.Request) -> web.Response:
        if (err := self._auth(request)) is not None:
            return err
        body = await request.json()
        if body.get("input_file_id") not in self.files:
            return _error(400, "Invalid input_file_id.", "invalid_request_error")
        bid = f"batch_{uuid.uuid4().hex[:16]}"
        lines = self.files[body["input_file_id"]]["content"].decode().splitlines()
        batch = {
            "id": bid, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
            "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": int(time.time()), "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }  # fmt: skip
        self.batches[bid] = batch
        self.stats["batches"] += 1
        return web.json_response(batch)

    async def list_batches(self, request: web.Request) -> web.Response:
        data = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
        return web.json_response({"object": "list", "data": data, "has_more": False})

    async def get_batch(self, request: web.Request) -> web.Response:
        bid = request.match_info["bid"]
        batch = self.batches.get(bid)
        if batch is None:
            return _error(404, "No such batch", "invalid_request_error")
        self.polls[bid] += 1
        if batch["status"] != "completed":
            batch["status"] = "in_progress"
            if self.polls[bid] >= self.batch_polls:
                self._finish_batch(batch)
        return web.json_response(batch)

    def _finish_batch(self, batch: dict[str, Any]) -> None:
        out, errs = [], []
        for line in self.files[batch["input_file_id"]]["content"].decode().splitlines():
            req = json.loads(line)
            cid = req["custom_id"]
            if self.faults and self.rng.random() < self.fault_rate:
                errs.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": cid, "response": None,
                             "error": {"code": "server_error", "message": "Injected batch failure."}})  # fmt: skip
                continue
            self.stats["completions"] += 1
            body = {"status_code": 200, "request_id": uuid.uuid4().hex, "body": self.completion(req["body"])}
            out.append({"id": f"batch_req_{uuid.uuid4().hex[:8]}", "custom_id": cid, "response": body, "error": None})
        batch["status"] = "completed"
        batch["request_counts"] = {"total": len(out) + len(errs), "completed": len(out), "failed": len(errs)}
        if out:
            payload = "".join(json.dumps(r) + "\n" for r in out).encode()
            batch["output_file_id"] = self._new_file(payload, "batch_output", "output.jsonl")["id"]
        if errs:
            payload = "".join(json.dumps(r) + "\n" for r in errs).encode()
            batch["error_file_id"] = self._new_file(payload, "batch_output", "errors.jsonl")["id"]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 2**20)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models_list)
        app.router.add_get("/stats", self.stats_view)
        app.router.add_get("/health", self.health)
        app.router.add_post("/v1/files", self.upload_file)
        app.router.add_get("/v1/files/{fid}", self.file_meta)
        app.router.add_get("/v1/files/{fid}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_batch)
        app.router.add_get("/v1/batches", self.list_batches)
        app.router.add_get("/v1/batches/{bid}", self.get_batch)
        return app


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": code, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


async def serve(server: FakeOpenAI, host: str, port: int) -> None:
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY {bound}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as READY <port>)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each completion answers")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that get a fault")
    p.add_argument("--faults", default=",".join(ALL_FAULTS), help=f"comma list from {','.join(ALL_FAULTS)}")
    p.add_argument("--hang", type=float, default=30.0, help="seconds a 'timeout' fault waits")
    p.add_argument("--retry-after", type=float, default=0.05, help="Retry-After seconds sent with 429")
    p.add_argument("--api-key", default=None, help="require this bearer key (401 otherwise)")
    p.add_argument("--models", default="", help="comma list of served models (404 for others); empty = any")
    p.add_argument("--batch-polls", type=int, default=2, help="polls before a batch completes")
    p.add_argument("--fail-status", type=int, default=None, help="answer every completion with this status")
    p.add_argument(
        "--judge-fault-rate", type=float, default=0.0, help="share of judge replies that are malformed or out of range"
    )
    p.add_argument("--honor-structured", action="store_true", help="answer the constraint probe as vLLM >= 0.12 would")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    faults = tuple(f for f in a.faults.split(",") if f)
    unknown = set(faults) - set(ALL_FAULTS)
    if unknown:
        p.error(f"unknown faults: {', '.join(sorted(unknown))}")
    server = FakeOpenAI(
        latency=a.latency, fault_rate=a.fault_rate, faults=faults, hang=a.hang, retry_after=a.retry_after,
        api_key=a.api_key, models=tuple(m for m in a.models.split(",") if m), batch_polls=a.batch_polls,
        seed=a.seed, fail_status=a.fail_status, judge_fault_rate=a.judge_fault_rate,
        honor_structured=a.honor_structured,
    )  # fmt: skip
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(server, a.host, a.port))


if __name__ == "__main__":
    main()


class RunningServer:
    """`with RunningServer(latency=0.2) as s:` starts the server in a subprocess on a free port;
    `s.base_url` is its /v1 URL and `s.stats()` what it served."""

    def __init__(self, **options: Any):
        self.args: list[str] = []
        for key, value in options.items():
            if value is None or value is False:
                continue
            if value is True:
                self.args.append(f"--{key.replace('_', '-')}")
                continue
            if isinstance(value, list | tuple):
                value = ",".join(map(str, value))
            self.args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc: Any = None
        self.port = 0

    def __enter__(self) -> RunningServer:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "storygen.testing.openai_server", "--port", "0", *self.args],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"fake OpenAI server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as r:
            return json.loads(r.read())

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
