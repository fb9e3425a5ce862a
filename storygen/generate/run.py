"""`storygen generate`: the whole run around a backend.

1. Build the prompt factory (vocabulary, features, template checked before anything is sent).
2. Lock the output directory, refuse one that holds another run's stories (manifest.json), repair a
   torn last line, and read which stories exist: a re-run continues where the last one stopped.
3. Send the missing prompts through the backend; every story is appended as it arrives.
4. Write run.json: what is stored (counted from the files themselves, so it is right after any crash),
   what this session did, and the estimated cost. The API key is never part of any of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storygen.config import RunConfig, save_config
from storygen.errors import StorygenError
from storygen.generate.accounting import Accounting, cost_usd
from storygen.generate.backends.base import FatalError
from storygen.generate.progress import Progress
from storygen.generate.store import (
    LineWriter,
    StoryWriter,
    failures_path,
    repair,
    stored_ids,
    story_files,
    write_json_atomic,
)
from storygen.prompts import PromptFactory

MANIFEST = "manifest.json"
RUN_SUMMARY = "run.json"


def fingerprint(config: RunConfig, vocab_version: str) -> dict[str, Any]:
    """What makes two runs the same run: same prompts, same model, same sampling. n may grow."""
    return {
        "seed": config.seed,
        "template": config.prompts.template,
        "vocab_version": vocab_version,
        "features": config.prompts.features.model_dump(mode="json"),
        "model": config.generate.model,
        "sampling": config.sampling.model_dump(mode="json"),
    }


def check_manifest(out_dir: Path, fp: dict[str, Any]) -> None:
    path = out_dir / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text())
        for key, value in fp.items():
            if old.get(key) != value:
                raise StorygenError(
                    f"{out_dir} holds stories of another run ({key}: {old.get(key)!r} there, {value!r} now); "
                    "use a new --out, or the same settings to continue that run"
                )
        return
    if story_files(out_dir):
        raise StorygenError(f"{out_dir} holds story files but no {MANIFEST}; use a new --out")
    write_json_atomic(path, fp)


class DirLock:
    """An exclusive flock on out_dir/.lock: two runs never write to one directory."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / ".lock"
        self.fd = -1

    def __enter__(self) -> DirLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise StorygenError(
                f"{self.path.parent} is in use by another storygen run; wait for it or use another --out"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def store_totals(out_dir: Path) -> dict[str, Any]:
    """Count what is stored, straight from the files (after `repair`)."""
    seen: set[str] = set()
    prompt_tokens = completion_tokens = 0
    finish: Counter[str] = Counter()
    for path in story_files(out_dir):
        with path.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                if rec["id"] in seen:
                    continue
                seen.add(rec["id"])
                usage = rec.get("usage") or {}
                prompt_tokens += usage.get("prompt_tokens", 0)
                completion_tokens += usage.get("completion_tokens", 0)
                finish[rec.get("finish_reason") or "none"] += 1
    return {
        "stories": len(seen),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "finish_reasons": dict(finish),
    }


def run_requests(
    config: RunConfig,
    factory: PromptFactory,
    out_dir: Path,
    done: set[str],
    on_tick: Callable[[Accounting], None],
    shard: int = 0,
    shards: int = 1,
) -> Accounting:
    """Send this shard's missing prompts through the OpenAI-compatible backend."""
    from storygen.generate.backends.openai_chat import OpenAIChatBackend
    from storygen.generate.runner import RequestRunner, pending_prompts, run_async

    backend = OpenAIChatBackend(config.generate)

    async def main() -> Accounting:
        with StoryWriter(out_dir, shard) as writer, LineWriter(failures_path(out_dir, shard)) as failures:
            runner = RequestRunner(backend, config, writer, failures, done)
            try:
                await backend.preflight()
                if config.generate.constrain_vocab:
                    from storygen.constrain.requests import probe, vocab_regex

                    await probe(backend, vocab_regex(config.prompts.vocab_dir))
                prompts = pending_prompts(factory, config.n, done, config.sampling.n, shard, shards)
                return await runner.run(prompts, on_tick=on_tick)
            finally:
                await backend.aclose()

    return run_async(main())


def check_backend(config: RunConfig) -> None:
    """Everything a backend needs that can be checked before a file is written."""
    from storygen.constrain.requests import check_supported

    g = config.generate
    check_supported(g)
    if g.backend == "local":
        path = Path(g.model)
        if not ((path / "ckpt.pt").is_file() or (path / "config.json").is_file()):
            raise StorygenError(
                f"--model {g.model}: the local backend needs a storygen run or a Hugging Face model folder"
            )
        return
    if g.backend in ("openai", "openai-batch"):
        from storygen.generate.backends.openai_chat import api_key, check_base_url

        check_base_url(g.base_url)
        api_key(g)
    else:
        import importlib.util

        from storygen.generate.backends.vllm_engine import VLLM_MISSING, require_gpu

        if importlib.util.find_spec("vllm") is None:
            raise StorygenError(VLLM_MISSING)
        require_gpu()


def generate(config: RunConfig, out_dir: Path, show_progress: bool = True) -> dict[str, Any]:
    factory = PromptFactory(config)
    g = config.generate
    check_backend(config)
    if out_dir.exists() and not out_dir.is_dir():
        raise StorygenError(f"--out {out_dir}: exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    with DirLock(out_dir):
        check_manifest(out_dir, fingerprint(config, factory.vocab.version))
        repaired = repair(out_dir)
        save_config(config, out_dir / "config.yaml")
        done = stored_ids(out_dir)
        target = config.n * config.sampling.n
        price = g.prices.get(g.model)
        discount = g.batch.discount if g.backend == "openai-batch" else 1.0
        progress = Progress(target, min(len(done), target), price, discount, enabled=show_progress)
        started = time.monotonic()
        fatal: FatalError | None = None
        try:
            if g.backend == "openai" and g.workers > 1:
                from storygen.generate.workers import run_workers

                acct = run_workers(config, out_dir, progress)
            elif g.backend == "openai":
                acct = run_requests(config, factory, out_dir, done, progress.update)
            elif g.backend == "local":
                from storygen.generate.backends.local import run_local

                acct = run_local(config, factory, out_dir, done, progress)
            elif g.backend == "openai-batch":
                from storygen.generate.backends.openai_batch import BatchRunner

                acct = BatchRunner(config, factory, out_dir, done, progress).run()
            else:
                from storygen.generate.backends.vllm_engine import run_vllm

                acct = run_vllm(config, factory, out_dir, done, progress)
        except FatalError as e:
            fatal, acct = e, Accounting()
        finally:
            progress.close()
        summary = write_summary(config, out_dir, acct, time.monotonic() - started, repaired.__dict__, str(fatal or ""))
    if fatal:
        raise fatal
    return summary


def write_summary(
    config: RunConfig, out_dir: Path, acct: Accounting, seconds: float, repaired: dict[str, Any], fatal: str
) -> dict[str, Any]:
    g = config.generate
    stored = store_totals(out_dir)
    target = config.n * config.sampling.n
    price = g.prices.get(g.model)
    discount = g.batch.discount if g.backend == "openai-batch" else 1.0
    prior = {}
    if (out_dir / RUN_SUMMARY).is_file():
        prior = json.loads((out_dir / RUN_SUMMARY).read_text()).get("history", {})
    history = {
        "sessions": prior.get("sessions", 0) + 1,
        "requests": prior.get("requests", 0) + acct.requests,
        "retries": prior.get("retries", 0) + acct.retries,
    }
    summary = {
        "out_dir": str(out_dir),
        "backend": g.backend,
        "model": g.model,
        "base_url": g.base_url,
        "prompts": config.n,
        "target_stories": target,
        "stored": stored,
        "complete": stored["stories"] >= target,
        "missing": max(0, target - stored["stories"]),
        "cost_usd": round(cost_usd(stored["prompt_tokens"], stored["completion_tokens"], price, discount), 6),
        "session": {
            **acct.to_dict(),
            "seconds": round(seconds, 3),
            "stories_per_s": round(acct.stories / seconds, 2) if seconds > 0 else 0.0,
            "sustained_stories_per_s": round(acct.sustained_per_s, 2),
            "cpu_ms_per_story": round(1000 * acct.cpu_s / acct.stories, 3) if acct.stories else None,
            "cost_usd": round(cost_usd(acct.prompt_tokens, acct.completion_tokens, price, discount), 6),
            "repaired": repaired,
            "fatal": fatal or None,
        },
        "history": history,
    }
    write_json_atomic(out_dir / RUN_SUMMARY, summary)
    return summary
