"""Several client processes for one run (`generate.workers`), for when one process's CPU, not the
endpoint, is the limit. Worker k takes the prompts with index % workers == k, writes its own
stories.<k>.jsonl and failures.<k>.jsonl, gets 1/workers of the concurrency and rate limits, and
reports its counts to the parent, which draws the progress bar. A worker dies with its parent
(PR_SET_PDEATHSIG on Linux), so a killed run leaves no writer behind.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from storygen.config import RunConfig
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import FatalError
from storygen.generate.progress import Progress


def worker_config(config: RunConfig) -> RunConfig:
    g = config.generate
    w = g.workers
    share = g.model_copy(
        update={
            "concurrency": math.ceil(g.concurrency / w),
            "requests_per_minute": g.requests_per_minute / w if g.requests_per_minute else None,
            "tokens_per_minute": g.tokens_per_minute / w if g.tokens_per_minute else None,
        }
    )
    return config.model_copy(update={"generate": share})


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker(config_json: dict[str, Any], out_dir: str, shard: int, shards: int, parent: int, q: Any) -> None:
    _die_with_parent(parent)
    from storygen.generate.run import run_requests
    from storygen.generate.store import stored_ids
    from storygen.prompts import PromptFactory

    try:
        config = RunConfig.model_validate(config_json)
        factory = PromptFactory(config)
        done = stored_ids(Path(out_dir))
        acct = run_requests(
            config, factory, Path(out_dir), done, lambda a: q.put(("tick", shard, a.to_dict())), shard, shards
        )
        q.put(("done", shard, acct.to_dict()))
    except FatalError as e:
        q.put(("fatal", shard, str(e)))
    except Exception as e:  # reported to the parent, which stops the run
        q.put(("error", shard, f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))


def run_workers(config: RunConfig, out_dir: Path, progress: Progress) -> Accounting:
    shards = config.generate.workers
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    cfg = worker_config(config).model_dump(mode="json")
    procs = [
        ctx.Process(target=_worker, args=(cfg, str(out_dir), k, shards, os.getpid(), q), daemon=True)
        for k in range(shards)
    ]
    for p in procs:
        p.start()
    totals = {k: Accounting() for k in range(shards)}
    cpu_start = time.process_time()  # the parent's own CPU (progress, merging) counts as client CPU

    def merged() -> Accounting:
        total = Accounting()
        for a in totals.values():
            total += a
        total.cpu_s += time.process_time() - cpu_start
        return total

    finished: set[int] = set()
    problem: tuple[str, str] | None = None
    try:
        while len(finished) < shards and problem is None:
            try:
                kind, k, payload = q.get(timeout=0.5)
            except queue.Empty:
                for k, p in enumerate(procs):
                    if k not in finished and p.exitcode not in (None, 0):
                        problem = ("error", f"worker {k} exited with code {p.exitcode}")
                continue
            if kind in ("tick", "done"):
                totals[k] = Accounting.from_dict(payload)
                if kind == "done":
                    finished.add(k)
                progress.update(merged())
            else:
                problem = (kind, payload)
    finally:
        if problem is not None or len(finished) < shards:
            for p in procs:
                p.terminate()
        for p in procs:
            p.join(timeout=10)
    if problem is not None:
        kind, message = problem
        if kind == "fatal":
            raise FatalError(message)
        raise RuntimeError(f"a generate worker failed: {message}")
    return merged()
