"""The OpenAI Batch API: half the price, results within 24 hours.

A run writes the missing prompts as request files under batch/ (split at the API's limits on
requests and bytes per batch), uploads each, creates a batch per file, polls until every batch ends,
then downloads results and errors and maps them back by custom_id (the story id). Every step is
recorded in batches.json before the next one starts, and each batch carries its chunk key in its
metadata, so an interrupted run resumes polling, and a batch that was created but not yet recorded is
found by listing batches: nothing is paid for twice. Requests that failed inside a batch are written
to failures and sent again by the next run.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import openai

from storygen.config import RunConfig
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import FatalError, RetryableError
from storygen.generate.backends.openai_chat import api_key, check_base_url, classify, parse_chat_completion
from storygen.generate.progress import Progress
from storygen.generate.runner import pending_prompts, run_async, sampling_params, store_completion
from storygen.generate.store import LineWriter, StoryWriter, failures_path, record_failure, write_json_atomic
from storygen.prompts import PromptFactory
from storygen.records import Prompt

STATE = "batches.json"
TERMINAL = {"completed", "failed", "expired", "cancelled"}
ENDPOINT = "/v1/chat/completions"


def request_line(prompt: Prompt, config: RunConfig) -> bytes:
    body = {"model": config.generate.model, "messages": [{"role": "user", "content": prompt.text}]}
    body.update(sampling_params(config, prompt))
    return json.dumps({"custom_id": prompt.id, "method": "POST", "url": ENDPOINT, "body": body}).encode() + b"\n"


def split_chunks(lines: list[bytes], max_requests: int, max_bytes: int) -> list[list[bytes]]:
    """Consecutive groups with at most max_requests lines and max_bytes bytes each."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and (len(current) >= max_requests or size + len(line) > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append(current)
    return chunks


class BatchRunner:
    def __init__(self, config: RunConfig, factory: PromptFactory, out_dir: Path, done: set[str], progress: Progress):
        check_base_url(config.generate.base_url)
        self.config, self.factory, self.out_dir, self.done, self.progress = config, factory, out_dir, done, progress
        self.dir = out_dir / "batch"
        self.state_path = out_dir / STATE
        self.state: dict[str, Any] = (
            json.loads(self.state_path.read_text()) if self.state_path.is_file() else {"chunks": []}
        )
        self.acct = Accounting()
        self.prompts: dict[str, Prompt] = {}

    def save(self) -> None:
        write_json_atomic(self.state_path, self.state)

    def run(self) -> Accounting:
        return run_async(self._run())

    async def _run(self) -> Accounting:
        g = self.config.generate
        self.client = openai.AsyncOpenAI(api_key=api_key(g), base_url=g.base_url, timeout=g.timeout_s, max_retries=5)
        cpu0 = time.process_time()
        try:
            self.dir.mkdir(exist_ok=True)
            self._submit_plan()
            for chunk in self.state["chunks"]:
                if not chunk.get("collected"):
                    await self._ensure_submitted(chunk)
            await self._poll_and_collect()
        except openai.APIError as e:
            err = classify(e, g)
            if isinstance(err, RetryableError):
                raise FatalError(
                    f"batch API call failed after retries ({err}); run the same command again to resume"
                ) from e
            raise err from e
        finally:
            await self.client.close()
            self.acct.cpu_s = time.process_time() - cpu0
        return self.acct

    # ---------------------------------------------------------------- planning

    def _in_flight(self) -> set[str]:
        ids: set[str] = set()
        for chunk in self.state["chunks"]:
            if not chunk.get("collected"):
                with (self.dir / chunk["file"]).open("rb") as f:
                    ids.update(json.loads(line)["custom_id"] for line in f if line.strip())
        return ids

    def _submit_plan(self) -> None:
        """Write request files for prompts that have no story and are in no open batch."""
        in_flight = self._in_flight()
        choices = self.config.sampling.n
        lines = []
        for prompt in pending_prompts(self.factory, self.config.n, self.done, choices):
            self.prompts[prompt.id] = prompt
            if prompt.id not in in_flight:
                lines.append(request_line(prompt, self.config))
        b = self.config.generate.batch
        for group in split_chunks(lines, b.max_requests, b.max_bytes):
            seq = len(self.state["chunks"])
            key = f"{self.state.setdefault('run_key', _run_key(self.out_dir))}-{seq:04d}"
            name = f"chunk-{seq:04d}.jsonl"
            tmp = self.dir / f".{name}.tmp"
            tmp.write_bytes(b"".join(group))
            tmp.replace(self.dir / name)
            self.state["chunks"].append({"key": key, "file": name, "requests": len(group)})
            self.save()
        if in_flight:  # prompts of open batches from an earlier run, needed to map results back
            for prompt in self.factory.iter_prompts(self.config.n):
                if prompt.id in in_flight:
                    self.prompts[prompt.id] = prompt

    # ---------------------------------------------------------------- submitting

    async def _find_batch(self, key: str) -> str | None:
        async for batch in self.client.batches.list(limit=100):
            if (batch.metadata or {}).get("storygen_chunk") == key:
                return batch.id
        return None

    async def _ensure_submitted(self, chunk: dict[str, Any]) -> None:
        if chunk.get("batch_id"):
            return
        if not chunk.get("file_id"):
            path = self.dir / chunk["file"]
            uploaded = await self.client.files.create(file=(chunk["file"], path.read_bytes()), purpose="batch")
            chunk["file_id"] = uploaded.id
            self.save()
        batch_id = await self._find_batch(chunk["key"])  # created by a run that died before recording it?
        if batch_id is None:
            batch = await self.client.batches.create(
                input_file_id=chunk["file_id"],
                endpoint=ENDPOINT,
                completion_window=self.config.generate.batch.completion_window,
                metadata={"storygen_chunk": chunk["key"]},
            )
            batch_id = batch.id
        chunk["batch_id"] = batch_id
        self.save()

    # ---------------------------------------------------------------- polling and collecting

    async def _poll_and_collect(self) -> None:
        interval = self.config.generate.batch.poll_interval_s
        while True:
            open_chunks = [c for c in self.state["chunks"] if not c.get("collected")]
            if not open_chunks:
                return
            for chunk in open_chunks:
                batch = await self.client.batches.retrieve(chunk["batch_id"])
                chunk["status"] = batch.status
                if batch.status in TERMINAL:
                    await self._collect(chunk, batch)
            self.save()
            if any(not c.get("collected") for c in self.state["chunks"]):
                await asyncio.sleep(interval)

    async def _collect(self, chunk: dict[str, Any], batch: Any) -> None:
        shard = 0
        with StoryWriter(self.out_dir, shard) as writer, LineWriter(failures_path(self.out_dir, shard)) as failures:
            answered: set[str] = set()
            if batch.output_file_id:
                content = (await self.client.files.content(batch.output_file_id)).content
                for line in content.splitlines():
                    if line.strip():
                        answered.add(self._store_result(json.loads(line), writer, failures))
            if batch.error_file_id:
                content = (await self.client.files.content(batch.error_file_id)).content
                for line in content.splitlines():
                    if line.strip():
                        rec = json.loads(line)
                        answered.add(self._fail(rec["custom_id"], rec.get("error") or {}, failures))
            with (self.dir / chunk["file"]).open("rb") as f:
                sent = [json.loads(line)["custom_id"] for line in f if line.strip()]
            for cid in sent:
                if cid not in answered:  # expired, cancelled or failed batch: no answer at all
                    self._fail(cid, {"code": f"batch_{batch.status}", "message": str(batch.errors or "")}, failures)
        chunk["collected"] = True
        self.progress.update(self.acct)

    def _store_result(self, rec: dict[str, Any], writer: StoryWriter, failures: LineWriter) -> str:
        cid = rec["custom_id"]
        response = rec.get("response") or {}
        if rec.get("error") or response.get("status_code") != 200:
            err = rec.get("error") or {
                "code": f"http_{response.get('status_code')}",
                "message": json.dumps(response.get("body"))[:300],
            }
            return self._fail(cid, err, failures)
        prompt = self.prompts.get(cid)
        if prompt is None:
            return cid  # a prompt beyond this run's n; nothing to map it to
        try:
            completion = parse_chat_completion(json.dumps(response["body"]).encode())
        except RetryableError as e:
            return self._fail(cid, {"code": e.reason, "message": e.detail}, failures)
        self.acct.requests += 1
        params = sampling_params(self.config, prompt)
        store_completion(prompt, completion, self.config, "openai-batch", params, writer, self.done, self.acct)
        return cid

    def _fail(self, cid: str, error: dict[str, Any], failures: LineWriter) -> str:
        reason = str(error.get("code") or "batch_error")
        self.acct.failures[reason] += 1
        prompt = self.prompts.get(cid)
        record_failure(failures, cid, prompt.index if prompt else -1, reason, 1, str(error.get("message") or ""))
        return cid


def _run_key(out_dir: Path) -> str:
    import hashlib

    return "sg" + hashlib.sha256(f"{out_dir.resolve()}:{time.time_ns()}".encode()).hexdigest()[:10]
