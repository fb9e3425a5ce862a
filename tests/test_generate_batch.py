"""The openai-batch backend against the loopback server's files and batches endpoints."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from storygen.generate.backends.openai_batch import split_chunks
from storygen.testing.openai_server import RunningServer
from tests.test_generate import ENV, check_complete, generate

BATCH = ["--backend", "openai-batch", "--set", "generate.batch.poll_interval_s=0.05"]


def test_split_chunks_by_count_and_bytes():
    lines = [b"x" * 10 + b"\n"] * 25
    assert [len(c) for c in split_chunks(lines, 10, 10**6)] == [10, 10, 5]
    assert [len(c) for c in split_chunks(lines, 100, 55)] == [5, 5, 5, 5, 5]
    assert split_chunks([], 10, 100) == []
    assert [len(c) for c in split_chunks([b"y" * 500], 10, 100)] == [1]  # an oversized line still goes alone


def test_batch_run_splits_collects_and_prices_at_the_discount(tmp_path: Path):
    out = tmp_path / "run"
    with RunningServer(batch_polls=2) as server:
        args = ["--n", "25", *BATCH, "--set", "generate.batch.max_requests=10",
                "--set", "generate.prices.fake.input=1.0", "--set", "generate.prices.fake.output=2.0"]  # fmt: skip
        r = generate(out, server, *args)
        assert r.returncode == 0, r.stderr
        again = generate(out, server, *args)
        stats = server.stats()
    assert again.returncode == 0 and "(this run: 0 new" in again.stdout
    summary = check_complete(out, 25)
    assert stats["batches"] == 3 and stats["completions"] == 25
    state = json.loads((out / "batches.json").read_text())
    assert [c["requests"] for c in state["chunks"]] == [10, 10, 5] and all(c["collected"] for c in state["chunks"])
    stored = summary["stored"]
    assert summary["cost_usd"] == round(
        (stored["prompt_tokens"] * 1.0 + stored["completion_tokens"] * 2.0) / 1e6 * 0.5, 6
    )
    lines = [json.loads(x) for x in (out / "stories.000.jsonl").read_text().splitlines()]
    assert {x["backend"] for x in lines} == {"openai-batch"}


def test_killed_while_polling_resumes_without_paying_twice(tmp_path: Path):
    out = tmp_path / "run"
    with RunningServer(batch_polls=40) as server:
        cmd = [sys.executable, "-m", "storygen", "generate", "--out", str(out), "--no-progress", "--model", "fake",
               "--base-url", server.base_url, "--n", "30", *BATCH,
               "--set", "generate.batch.max_requests=10"]  # fmt: skip
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until all three batches are recorded, then kill
            state = out / "batches.json"
            if state.is_file() and sum(1 for c in json.loads(state.read_text())["chunks"] if c.get("batch_id")) == 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Pretend the last batch was created but the run died before recording its id.
        state = json.loads((out / "batches.json").read_text())
        del state["chunks"][2]["batch_id"]
        (out / "batches.json").write_text(json.dumps(state))
        r = generate(out, server, "--n", "30", *BATCH, "--set", "generate.batch.max_requests=10")
        stats = server.stats()
    assert r.returncode == 0, r.stderr
    check_complete(out, 30)
    assert stats["batches"] == 3  # found the unrecorded batch instead of creating a fourth


def test_failed_batch_items_are_recorded_and_sent_again(tmp_path: Path):
    out = tmp_path / "run"
    with RunningServer(fault_rate=0.5, batch_polls=1, seed=3) as server:
        r = generate(out, server, "--n", "20", *BATCH)
    assert r.returncode == 1 and "stories missing (server_error:" in r.stderr
    failed = len((out / "failures.000.jsonl").read_text().splitlines())
    assert 0 < failed < 20
    with RunningServer(batch_polls=1) as server:
        r = generate(out, server, "--n", "20", *BATCH)
        stats = server.stats()
    assert r.returncode == 0, r.stderr
    assert stats["completions"] == failed  # only the failed ones were sent again
    check_complete(out, 20)
