"""Evaluation against the loopback server acting as the judge, with a tiny trained model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storygen.evaluate.judge import Grade, parse_grade
from storygen.evaluate.report import aggregate, mean_ci
from storygen.testing.openai_server import RunningServer
from tests.test_train import corpus, tiny_config  # noqa: F401  (the corpus fixture)

ENV = {**os.environ, "OPENAI_API_KEY": "sk-judge"}
FENCED = (
    'Here you go:\n```json\n{"Grammar": "9", "Creativity": 7.0, "consistency": 8, "plot": 6, "age group": "c"}\n```'
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"grammar": 8, "creativity": 6, "consistency": 7, "plot": 5, "age_group": "B"}', (8, 6, 7, 5, "B")),
        (FENCED, (9, 7, 8, 6, "C")),
        ("Grammar: 7/10\nCreativity: 5/10\nConsistency: 6/10\nPlot: 4/10\nAge group: D", (7, 5, 6, 4, "D")),
    ],
)  # fmt: skip
def test_parse_well_formed_and_tolerated_grades(reply, expected):
    g = parse_grade(reply)
    assert g is not None and (g.grammar, g.creativity, g.consistency, g.plot, g.age_group) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "It is a nice story, well done!",
        '{"grammar": 14, "creativity": 6, "consistency": 7, "plot": 5, "age_group": "B"}',
        '{"grammar": 0, "creativity": 6, "consistency": 7, "plot": 5, "age_group": "B"}',
        '{"grammar": 8, "creativity": 6, "consistency": 7, "age_group": "B"}',
        '{"grammar": 8, "creativity": 6, "consistency": 7, "plot": 5, "age_group": "Z"}',
        "{not json",
    ],
)
def test_malformed_and_out_of_range_grades_are_not_guessed(reply):
    assert parse_grade(reply) is None


def test_aggregation_maths():
    r = mean_ci([2, 4, 6, 8])
    assert (
        r["mean"] == 5.0 and r["n"] == 4 and r["ci_low"] < 5 < r["ci_high"] and r["ci_low"] >= 2 and r["ci_high"] <= 8
    )
    assert mean_ci([7.0]) == {"n": 1, "mean": 7.0, "ci_low": 7.0, "ci_high": 7.0}
    grades = [Grade(grammar=8, creativity=6, consistency=7, plot=5, age_group="B"),
              Grade(grammar=6, creativity=4, consistency=5, plot=3, age_group="C"), None]  # fmt: skip
    agg = aggregate(grades)
    assert agg["graded"] == 2 and agg["unparseable"] == 1
    assert agg["dimensions"]["grammar"]["mean"] == 7.0 and agg["dimensions"]["overall"]["mean"] == 5.5
    assert agg["age_groups"]["B (4-5)"] == 1 and agg["age_groups"]["C (6-7)"] == 1


@pytest.fixture(scope="module")
def tiny_run(corpus: Path, tmp_path_factory) -> Path:  # noqa: F811
    from storygen.train.trainer import train

    out = tmp_path_factory.mktemp("eval") / "run"
    train(str(corpus), out, tiny_config(max_steps=40, eval_interval=20), show_progress=False)
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storygen", *args, "--no-progress"], capture_output=True, text=True, env=ENV
    )


def test_eval_writes_every_report_file_and_retries_bad_grades(tiny_run: Path, tmp_path: Path):
    with RunningServer(judge_fault_rate=0.4, seed=2) as server:
        r = cli("eval", str(tiny_run), "--out", str(tmp_path / "ev"), "--judge-base-url", server.base_url,
                "--judge-model", "fake", "--n", "10", "--set", "eval.max_new=30",
                "--set", "eval.parse_attempts=6")  # fmt: skip
        stats = server.stats()
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "ev/report.json").read_text())
    assert report["items"] == 10 and report["grades"]["graded"] == 10 and report["grades"]["unparseable"] == 0
    assert stats["judge_ok"] == 10 and stats.get("judge_malformed", 0) + stats.get("judge_out_of_range", 0) > 0
    assert report["asks_per_item"]["mean"] > 1.0
    assert report["loss"] > 0 and report["perplexity"] > 1
    lines = (tmp_path / "ev/completions.jsonl").read_text().splitlines()
    assert len(lines) == 10 and all(json.loads(x)["completion"] is not None for x in lines)
    md = (tmp_path / "ev/report.md").read_text()
    assert "| grammar |" in md and "95% CI" in md and "perplexity" in md
    assert (tmp_path / "ev/grades.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_counts_unparseable_grades(tiny_run: Path, tmp_path: Path):
    with RunningServer(judge_fault_rate=1.0) as server:
        r = cli("eval", str(tiny_run), "--out", str(tmp_path / "ev"), "--judge-base-url", server.base_url,
                "--judge-model", "fake", "--n", "4", "--set", "eval.max_new=10",
                "--set", "eval.parse_attempts=2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    grades = json.loads((tmp_path / "ev/report.json").read_text())["grades"]
    assert grades["graded"] == 0 and grades["unparseable"] == 4


def test_judge_scores_stories_and_validate_filters_on_it(tmp_path: Path):
    from tests.test_clean_checks import GOOD

    stories = [{"id": "long", "text": GOOD}, {"id": "short", "text": "The dog ran. The end."}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(s) + "\n" for s in stories))
    with RunningServer() as server:
        r = cli("judge", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "j"), "--judge-base-url", server.base_url,
                "--judge-model", "fake")  # fmt: skip
    assert r.returncode == 0, r.stderr
    judged = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "j/judged.jsonl").read_text().splitlines()}
    assert 0 < judged["short"]["scores"]["judge_quality"] < judged["long"]["scores"]["judge_quality"] <= 1
    assert json.loads((tmp_path / "j/report.json").read_text())["methods"] == {"logprobs": 2}
    r = cli("validate", str(tmp_path / "j"), "--out", str(tmp_path / "v"), "--set", "clean.min_words=1",
            "--set", "clean.min_judge_quality=0.5", "--workers", "1")  # fmt: skip
    rejected = [json.loads(x) for x in (tmp_path / "v/rejected.jsonl").read_text().splitlines()]
    assert [x["id"] for x in rejected] == ["short"] and "low_judge_quality" in rejected[0]["reasons"]


def test_eval_bad_input(tmp_path: Path):
    r = cli("eval", str(tmp_path), "--out", str(tmp_path / "ev"), "--judge-base-url", "http://127.0.0.1:9/v1")
    assert r.returncode == 2 and "neither a storygen run" in r.stderr
    env = {k: v for k, v in ENV.items() if k != "OPENAI_API_KEY"}
    (tmp_path / "s.jsonl").write_text('{"text": "A story."}\n')
    cmd = [sys.executable, "-m", "storygen", "judge", str(tmp_path / "s.jsonl"), "--out", str(tmp_path / "j")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "OPENAI_API_KEY is not set" in r.stderr
