"""The vllm backend's mapping with an engine stub shaped like vLLM's outputs, and `storygen serve`'s
lifecycle with a stand-in `vllm` executable (the real one needs a GPU; see the README)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storygen.config import RunConfig
from storygen.generate.backends.vllm_engine import run_vllm
from storygen.generate.progress import Progress
from storygen.generate.run import store_totals
from storygen.generate.store import stored_ids
from storygen.prompts import PromptFactory


@dataclass
class _Seq:
    text: str
    finish_reason: str
    token_ids: list[int]


@dataclass
class _Out:
    prompt_token_ids: list[int]
    outputs: list[_Seq]


@dataclass
class StubEngine:
    chat_template: str | None = "{{ messages }}"
    calls: list[tuple[str, int]] = field(default_factory=list)

    def get_tokenizer(self):
        return self

    def _answer(self, texts, params):
        assert len(texts) == len(params)
        return [
            _Out(
                list(range(len(t) // 4)),
                [_Seq(f"Story {j} for: {t[-30:]}", "stop", [1] * (10 + j)) for j in range(p.get("n", 1))],
            )
            for t, p in zip(texts, params, strict=True)
        ]

    def chat(self, messages, params, use_tqdm=False):
        self.calls.append(("chat", len(messages)))
        return self._answer([m[0]["content"] for m in messages], params)

    def generate(self, prompts, params, use_tqdm=False):
        self.calls.append(("generate", len(prompts)))
        return self._answer(prompts, params)


def _params(config, prompt):
    from storygen.generate.runner import sampling_params

    return sampling_params(config, prompt)


@pytest.mark.parametrize("template", ["{{ messages }}", None])
def test_vllm_backend_chunks_maps_and_resumes(tmp_path: Path, template):
    config = RunConfig.model_validate(
        {"n": 10, "generate": {"backend": "vllm", "model": "tiny", "vllm": {"chunk_size": 4}}}
    )
    factory = PromptFactory(config)
    engine = StubEngine(chat_template=template)
    progress = Progress(10, 0, None, enabled=False)
    acct = run_vllm(config, factory, tmp_path, set(), progress, engine=engine, params_for=_params)
    kind = "chat" if template else "generate"
    assert engine.calls == [(kind, 4), (kind, 4), (kind, 2)]
    assert acct.stories == 10 and len(stored_ids(tmp_path)) == 10
    totals = store_totals(tmp_path)
    assert totals["completion_tokens"] == 100 and totals["prompt_tokens"] == acct.prompt_tokens
    rec = json.loads((tmp_path / "stories.000.jsonl").read_text().splitlines()[0])
    assert rec["backend"] == "vllm" and rec["model"] == "tiny" and rec["text"].startswith("Story 0 for:")
    # A second run with more prompts sends only the new ones.
    config = config.model_copy(update={"n": 12})
    engine2 = StubEngine(chat_template=template)
    run_vllm(
        config, PromptFactory(config), tmp_path, stored_ids(tmp_path), progress, engine=engine2, params_for=_params
    )
    assert engine2.calls == [(kind, 2)] and len(stored_ids(tmp_path)) == 12


def test_vllm_backend_without_the_extra_is_a_one_line_error(tmp_path: Path):
    out = tmp_path / "o"
    cmd = ["generate", "--backend", "vllm", "--model", "m", "--n", "2", "--out", str(out)]
    r = subprocess.run([sys.executable, "-m", "storygen", *cmd], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "needs the vllm extra" in r.stderr
    assert not out.exists()  # nothing written


FAKE_VLLM = """#!{python}
import sys
args = sys.argv[1:]
assert args[0] == "serve", args
port = args[args.index("--port") + 1]
from storygen.testing.openai_server import main
main(["--port", port])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_lifecycle_with_a_stand_in_vllm(tmp_path: Path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vllm").write_text(FAKE_VLLM.format(python=sys.executable))
    (bindir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: stand-in'\n")
    for f in bindir.iterdir():
        f.chmod(0o755)
    port = _free_port()
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "storygen", "serve", "--model", "tiny", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        lines = []
        while not any("serving" in x for x in lines) and len(lines) < 20:
            lines.append(proc.stdout.readline())
            if lines[-1] == "":
                break
        assert any(f"serving tiny at http://127.0.0.1:{port}/v1" in x for x in lines), lines
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.2)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the server is gone


def test_serve_without_vllm_or_gpu(tmp_path: Path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "storygen", "serve", "--model", "m"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 2 and "needs the vllm extra" in r.stderr
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vllm").write_text("#!/bin/sh\nexit 1\n")
    (bindir / "vllm").chmod(0o755)
    env["PATH"] = f"{bindir}:{env['PATH']}"
    r = subprocess.run(
        [sys.executable, "-m", "storygen", "serve", "--model", "m"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 2 and "no NVIDIA GPU is visible" in r.stderr
