"""`storygen serve`: a local vLLM OpenAI-compatible server with the run config's settings.

Starts `vllm serve` in its own process group, waits until /health answers, prints the base URL to
use with `storygen generate --backend openai --base-url ...`, and on Ctrl-C (or SIGTERM) stops the
server: SIGINT, then SIGTERM, then SIGKILL, each after a grace period.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from storygen.config import RunConfig
from storygen.errors import StorygenError
from storygen.generate.backends.vllm_engine import VLLM_MISSING, require_gpu


def vllm_command(config: RunConfig) -> list[str]:
    exe = shutil.which("vllm")
    if exe is None:
        raise StorygenError(VLLM_MISSING)
    v = config.generate.vllm
    cmd = [
        exe, "serve", config.generate.model, "--host", v.host, "--port", str(v.port),
        "--tensor-parallel-size", str(v.tensor_parallel_size),
        "--gpu-memory-utilization", str(v.gpu_memory_utilization), "--dtype", v.dtype,
        "--seed", str(config.seed),
    ]  # fmt: skip
    if v.max_model_len:
        cmd += ["--max-model-len", str(v.max_model_len)]
    if v.structured_backend != "auto":
        cmd += ["--structured-outputs-config.backend", v.structured_backend]
    return cmd


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop(proc: subprocess.Popen[bytes], grace: float = 30.0) -> int:
    """Stop the server's whole process group, politely first."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def serve(config: RunConfig, announce: Callable[[str], None] = print) -> int:
    cmd = vllm_command(config)
    require_gpu()
    v = config.generate.vllm
    base = f"http://{v.host}:{v.port}"
    if _healthy(f"{base}/health"):
        raise StorygenError(f"port {v.port} already answers /health; stop that server or set generate.vllm.port")
    proc = subprocess.Popen(cmd, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        deadline = time.monotonic() + v.startup_timeout_s
        while not _healthy(f"{base}/health"):
            if proc.poll() is not None:
                raise StorygenError(
                    f"vllm serve exited with code {proc.returncode} before it was ready; see its output above"
                )
            if time.monotonic() > deadline:
                raise StorygenError(
                    f"vllm serve was not ready after {v.startup_timeout_s:.0f} s; raise generate.vllm.startup_timeout_s"
                )
            time.sleep(1.0)
        announce(f"serving {config.generate.model} at {base}/v1 — in another shell:")
        announce(f"  storygen generate --backend openai --base-url {base}/v1 --model {config.generate.model} --out DIR")
        announce("press Ctrl-C to stop")
        code = proc.wait()
        raise StorygenError(f"vllm serve stopped by itself with code {code}")
    except KeyboardInterrupt:
        announce("stopping vllm serve ...")
        stop(proc)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            stop(proc)
