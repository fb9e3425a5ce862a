"""Experiments: the curriculum sampler, distortion figures, statistics, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from storygen.config import CurriculumConfig
from storygen.experiments.curriculum import ceiling, data_shares, eligible, expected_shares, run_curriculum
from storygen.experiments.harness import auc, effect, mean_ci, tokens_to_reach
from storygen.experiments.stories import StorySet, pack, step_rng
from tests.test_train import corpus, tiny_config  # noqa: F401  (the corpus fixture)


def toy(n: int = 6, length: int = 9) -> StorySet:
    return StorySet([np.full(length, i + 1) for i in range(n)], np.arange(n, dtype=float) + 3.0, eot=0)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("linear", [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        ("root", [0.2] + [0.2 + 0.8 * math.sqrt(s / 4) for s in range(1, 4)] + [1.0] * 6),
        ("step", [0.2, 0.2, 0.6, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_ceiling_schedule_step_by_step(schedule, expected):
    cc = CurriculumConfig(schedule=schedule, start=0.2, ramp=0.4, stages=2)
    assert [round(ceiling(s, 10, cc), 6) for s in range(10)] == [round(e, 6) for e in expected]


def test_no_story_is_sampled_above_the_ceiling():
    stories = toy(30)
    order = np.argsort(stories.difficulty)
    cc = CurriculumConfig(start=0.1, ramp=0.5)
    for step in range(20):
        pool = eligible(order, ceiling(step, 20, cc))
        seen = np.zeros(len(stories))
        pack(stories, pool, 4, 16, step_rng(1, step), seen)
        used = np.flatnonzero(seen)
        limit = np.quantile(stories.difficulty, ceiling(step, 20, cc), method="higher")
        assert set(used) <= set(pool) and stories.difficulty[used].max() <= limit
    assert list(eligible(order, 0.5, hardest_first=True)) == list(order[-15:])


def test_packing_is_deterministic_and_holds_exact_tokens():
    stories = toy(10)
    a = pack(stories, np.arange(10), 3, 20, step_rng(7, 3))
    b = pack(stories, np.arange(10), 3, 20, step_rng(7, 3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[0].shape == (3, 20) and a[1].shape == (3, 20) and bool((a[0][:, 1:] == a[1][:, :-1]).all())


def test_distortion_matches_a_hand_computation():
    # 6 stories of equal length, difficulties 3..8: buckets easy {0,1}, middle {2,3}, hard {4,5}.
    # 4 steps, start 1/3, ramp 0.5 -> ceiling 1/3, 2/3, 1, 1: eligible {0,1}, {0..3}, {0..5}, {0..5}.
    stories, order = toy(6), np.arange(6)
    cc = CurriculumConfig(schedule="linear", start=1 / 3, ramp=0.5)
    # per step, shares (easy, middle, hard): (1,0,0), (.5,.5,0), (1/3,1/3,1/3) x 2
    overall = expected_shares(stories, order, 4, cc)
    assert overall == {
        "easy": round((1 + 0.5 + 2 / 3) / 4, 4),
        "middle": round((0.5 + 2 / 3) / 4, 4),
        "hard": round((2 / 3) / 4, 4),
    }
    by_ramp = expected_shares(stories, order, 4, cc, until=2)
    assert by_ramp == {"easy": 0.75, "middle": 0.25, "hard": 0.0}
    assert data_shares(stories, order) == {"easy": round(1 / 3, 4), "middle": round(1 / 3, 4), "hard": round(1 / 3, 4)}


def test_statistics():
    assert mean_ci([1.0, 2.0, 3.0]) == {"n": 3, "mean": 2.0, "ci_low": round(2 - 4.303 * 1 / math.sqrt(3), 5),
                                        "ci_high": round(2 + 4.303 * 1 / math.sqrt(3), 5)}  # fmt: skip
    assert auc([0, 10, 20], [4.0, 2.0, 2.0]) == pytest.approx(2.5)
    assert (
        tokens_to_reach([0, 10, 20], [4.0, 3.0, 2.0], 3.0) == 10 and tokens_to_reach([0, 10], [4.0, 3.5], 3.0) is None
    )
    e = effect([3.0, 3.2, 3.1], [2.9, 3.0, 3.0])
    assert e["mean"] == pytest.approx(-0.1333, abs=1e-3) and e["ci_high"] < 0.2


def test_tiny_curriculum_run_writes_every_report_file(corpus: Path, tmp_path: Path):  # noqa: F811
    cfg = tiny_config(max_steps=24)
    cfg = cfg.model_copy(update={"experiment": cfg.experiment.model_copy(update={"eval_every": 8, "eval_batches": 2})})
    report = run_curriculum(str(corpus), tmp_path / "x", cfg, seeds=2, show_progress=False)
    files = {p.name for p in (tmp_path / "x" / "report").iterdir()}
    assert {"report.json", "report.md", "loss_curves.png", "bucket_curves.png", "config.yaml"} <= files
    assert report["tokens_equal_across_arms"] and set(report["summary"]["arms"]) == {"shuffled", "curriculum", "anti"}
    saved = json.loads((tmp_path / "x" / "report" / "report.json").read_text())
    assert saved["summary"]["arms"]["curriculum"]["final_loss"]["n"] == 2
    again = run_curriculum(str(corpus), tmp_path / "y", cfg, seeds=2, show_progress=False)
    assert again["summary"] == report["summary"]  # same seeds and config -> same numbers
