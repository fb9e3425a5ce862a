"""`storygen generate` end to end: the real openai client against the loopback OpenAI server."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storygen.testing.openai_server import RunningServer

ENV = {**os.environ, "OPENAI_API_KEY": "sk-test-secret-123"}


def generate(
    out: Path, server: RunningServer | None, *args: str, env: dict | None = None, **kw
) -> subprocess.CompletedProcess:
    base = ["--base-url", server.base_url] if server else []
    cmd = [
        sys.executable,
        "-m",
        "storygen",
        "generate",
        "--out",
        str(out),
        "--no-progress",
        "--model",
        "fake",
        *base,
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=kw.get("timeout", 300))


def stored_lines(out: Path) -> list[dict]:
    return [
        json.loads(line) for p in sorted(out.glob("stories.*.jsonl")) for line in p.read_text().splitlines() if line
    ]


def check_complete(out: Path, n: int) -> dict:
    lines = stored_lines(out)
    ids = [r["id"] for r in lines]
    assert len(ids) == n and len(set(ids)) == n  # exactly n, none doubled
    summary = json.loads((out / "run.json").read_text())
    assert summary["stored"]["stories"] == n and summary["complete"] and summary["missing"] == 0
    assert summary["stored"]["prompt_tokens"] == sum(r["usage"]["prompt_tokens"] for r in lines)
    assert summary["stored"]["completion_tokens"] == sum(r["usage"]["completion_tokens"] for r in lines)
    return summary


def test_faults_at_30_percent_still_give_exactly_n(tmp_path: Path):
    with RunningServer(latency=0.01, fault_rate=0.3, hang=3) as server:
        r = generate(tmp_path / "run", server, "--n", "150", "--concurrency", "16",
                     "--set", "generate.timeout_s=1", "--set", "generate.max_attempts=12")  # fmt: skip
        stats = server.stats()
    assert r.returncode == 0, r.stderr
    summary = check_complete(tmp_path / "run", 150)
    session = summary["session"]
    assert session["retries"] > 10 and session["requests"] == session["stories"] + session["retries"]
    assert {"rate_limited", "timeout", "malformed_response"} <= set(session["errors"])
    assert summary["stored"]["finish_reasons"].get("length", 0) > 0  # cut-off replies are kept, not retried
    assert stats["completions"] >= 150
    records = stored_lines(tmp_path / "run")
    r0 = records[0]
    assert r0["prompt"]["words"]["verb"] in r0["text"] or r0["finish_reason"] != "stop" or r0["text"] == ""
    assert r0["model"] == "fake" and r0["backend"] == "openai" and r0["sampling"]["max_tokens"] == 800
    everything = "".join(p.read_text() for p in (tmp_path / "run").iterdir() if p.is_file()) + r.stdout + r.stderr
    assert "sk-test-secret-123" not in everything


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path):
    out, n = tmp_path / "run", 200
    rng = random.Random(0)
    kills = 0
    with RunningServer(latency=0.25, fault_rate=0.1, faults="429,500,length", seed=1) as server:
        cmd = [sys.executable, "-m", "storygen", "generate", "--out", str(out), "--no-progress", "--model", "fake",
               "--base-url", server.base_url, "--n", str(n), "--concurrency", "4"]  # fmt: skip
        while kills < 12:
            proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.8, 2.0))
            if proc.poll() is not None:
                break  # finished before we could kill it
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        r = generate(out, server, "--n", str(n), "--concurrency", "8")
        stats = server.stats()
    assert kills >= 10, "the run finished too soon to be killed 10 times; slow the server"
    assert r.returncode == 0, r.stderr
    summary = check_complete(out, n)
    assert summary["history"]["sessions"] >= 1
    assert stats["completions"] >= n


def test_n_choices_and_summary_template(tmp_path: Path):
    with RunningServer() as server:
        r = generate(tmp_path / "run", server, "--n", "5", "--set", "sampling.n=2", "--template", "summary")
    assert r.returncode == 0, r.stderr
    lines = stored_lines(tmp_path / "run")
    assert sorted(line["id"][-2:] for line in lines) == ["-0"] * 5 + ["-1"] * 5
    assert all(line["prompt"]["template"] == "summary" for line in lines)


def test_resume_extends_and_failures_are_retried_next_run(tmp_path: Path):
    out = tmp_path / "run"
    with RunningServer(fault_rate=1.0, faults="503") as server:
        r = generate(out, server, "--n", "10", "--set", "generate.max_attempts=2")
    assert r.returncode == 1 and "10 stories missing (http_503: 10)" in r.stderr
    assert len((out / "failures.000.jsonl").read_text().splitlines()) == 10
    with RunningServer() as server:
        assert generate(out, server, "--n", "10").returncode == 0
        check_complete(out, 10)
        r = generate(out, server, "--n", "25")
        assert r.returncode == 0 and "(this run: 15 new" in r.stdout
    check_complete(out, 25)
    assert json.loads((out / "run.json").read_text())["history"]["sessions"] == 3


@pytest.mark.parametrize(
    ("server_opts", "args", "expected"),
    [
        ({"api_key": "right-key"}, [], "refused the API key (401"),
        ({"models": "other-model"}, [], "model 'fake' is not served by"),
        ({"fail_status": 400}, [], "rejected the request (400"),
        ({"fail_status": 404}, [], "answered 404 for model 'fake'"),
        ({"fail_status": 403}, [], "denied access (403"),
    ],
)
def test_non_retryable_errors_stop_at_once(tmp_path: Path, server_opts, args, expected):
    with RunningServer(**server_opts) as server:
        t0 = time.monotonic()
        r = generate(tmp_path / "run", server, "--n", "50", *args)
        stats = server.stats()
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert time.monotonic() - t0 < 20
    assert stats.get("requests", 0) <= 64  # stopped at once, not after 50 prompts x 6 tries


def test_bad_input(tmp_path: Path):
    env = {k: v for k, v in ENV.items() if k != "OPENAI_API_KEY"}
    r = generate(tmp_path / "a", None, "--n", "3", env=env)
    assert r.returncode == 2 and "OPENAI_API_KEY is not set" in r.stderr and "--base-url" in r.stderr
    r = generate(tmp_path / "b", None, "--n", "3", "--base-url", "ftp://nowhere")
    assert r.returncode == 2 and "is not an http(s) URL" in r.stderr
    r = generate(tmp_path / "c", None, "--n", "3", "--base-url", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "cannot reach http://127.0.0.1:9/v1" in r.stderr
    r = generate(tmp_path / "d", None, "--n", "3", "--backend", "claude")
    assert r.returncode == 2 and "generate.backend" in r.stderr


def test_refuses_a_directory_of_another_run(tmp_path: Path):
    out = tmp_path / "run"
    with RunningServer() as server:
        assert generate(out, server, "--n", "5", "--seed", "1").returncode == 0
        before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        r = generate(out, server, "--n", "5", "--seed", "2")
    assert r.returncode == 2 and "holds stories of another run (seed: 1 there, 2 now)" in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
