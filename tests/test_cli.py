"""The CLI as a user runs it: a real subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storygen", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_subcommands():
    out = run("--help").stdout
    assert "prompts" in out and "vocab" in out
    assert "--seed" in run("prompts", "--help").stdout


def test_prompts_are_byte_identical_and_valid_json():
    a, b = run("prompts", "--n", "50", "--seed", "7"), run("prompts", "--n", "50", "--seed", "7")
    assert a.returncode == 0 and a.stdout == b.stdout
    lines = a.stdout.splitlines()
    assert len(lines) == 50
    recs = [json.loads(line) for line in lines]
    assert [r["index"] for r in recs] == list(range(50))
    assert run("prompts", "--n", "5", "--seed", "8").stdout != run("prompts", "--n", "5", "--seed", "7").stdout


def test_vocab_check_passes():
    r = run("vocab", "check")
    assert r.returncode == 0, r.stderr
    assert "vocabulary ok" in r.stdout and "content words" in r.stdout


def test_vocab_check_fails_on_bad_files(vocab_copy: Path):
    (vocab_copy / "nouns.txt").write_text("dogs\ncat\n")
    r = run("vocab", "check", "--vocab-dir", str(vocab_copy))
    assert r.returncode == 2
    assert "'dogs' looks like an inflection of 'dog'" in r.stderr and "not sorted" in r.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["prompts", "--n", "0"], "n: Input should be greater than or equal to 1"),
        (["prompts", "--template", "nope"], "unknown template 'nope'"),
        (["prompts", "--config", "missing.yaml"], "missing.yaml: config file not found"),
        (["prompts", "--vocab-dir", "/nonexistent"], "/nonexistent: vocabulary directory not found"),
        (["prompts", "--set", "prompts.features.max_count=-1"], "prompts.features.max_count"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, expected, tmp_path: Path):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("storygen: error:") and expected in lines[0]
    assert "Traceback" not in r.stderr
