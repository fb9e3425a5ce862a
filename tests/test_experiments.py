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


# ---------------------------------------------------------------- SALT and growth


def test_kd_loss_hand_computation_and_alpha_one_is_ce():
    import torch
    import torch.nn.functional as F

    from storygen.experiments.salt import kd_loss

    s = torch.tensor([[[1.0, 0.0, -1.0]], [[0.5, 0.5, 0.0]]])  # (B=2, T=1, V=3)
    t = torch.tensor([[[0.0, 1.0, 0.0]], [[2.0, 0.0, 0.0]]])
    y = torch.tensor([[0], [1]])
    T, alpha = 2.0, 0.25
    ps, pt = torch.softmax(s.view(2, 3) / T, -1), torch.softmax(t.view(2, 3) / T, -1)
    kl = (pt * (pt.log() - ps.log())).sum(-1).mean()
    ce = -torch.log_softmax(s.view(2, 3), -1)[torch.arange(2), y.view(-1)].mean()
    assert kd_loss(s, t, y, alpha, T).item() == pytest.approx((alpha * ce + (1 - alpha) * T * T * kl).item(), abs=1e-6)
    assert kd_loss(s, t, y, 1.0, T).item() == pytest.approx(F.cross_entropy(s.view(2, 3), y.view(-1)).item(), abs=1e-7)


def test_selection_keeps_exactly_the_band():
    import torch

    from storygen.config import SaltConfig
    from storygen.experiments.salt import pool_size, select_band

    losses = torch.tensor([float(v) for v in np.random.default_rng(0).permutation(40)])
    keep = select_band(losses, 0.25, 0.75, 12)
    lo, hi = torch.quantile(losses, 0.25), torch.quantile(losses, 0.75)
    assert len(keep) == 12 and bool(((losses[keep] >= lo) & (losses[keep] <= hi)).all())
    sc = SaltConfig(band_low=0.3, band_high=0.7)
    assert pool_size(8, sc) == 25  # enough candidates that the band always holds a full batch
    with pytest.raises(ValueError, match="in the band"):
        select_band(losses, 0.45, 0.55, 12)


@pytest.mark.parametrize("position", ["top", "middle", "bottom"])
def test_growth_preserves_the_function(position):
    import torch

    from storygen.experiments.grow import grow
    from storygen.train.model import ModelConfig, StoryModel

    torch.manual_seed(0)
    small = StoryModel(ModelConfig(vocab_size=50, d_model=32, n_head=4, context=16, n_layer=1))
    big = grow(small, 4, position)
    x = torch.randint(0, 50, (3, 16))
    assert big.cfg.n_layer == 4 and len(big.layers) == 4
    assert torch.allclose(small(x), big(x), atol=1e-6)
    assert big.num_params() > small.num_params()


def test_tiny_salt_and_grow_runs_write_every_report_file(corpus: Path, tmp_path: Path):  # noqa: F811
    from storygen.experiments.grow import run_grow
    from storygen.experiments.salt import run_salt
    from storygen.train.trainer import train

    teacher = tmp_path / "teacher"
    train(str(corpus), teacher, tiny_config(max_steps=20), show_progress=False)
    cfg = tiny_config(max_steps=12, d_model=96, n_head=4)
    cfg = cfg.model_copy(update={"experiment": cfg.experiment.model_copy(update={"eval_every": 6, "eval_batches": 1})})
    salt = run_salt(teacher, str(corpus), tmp_path / "salt", cfg, seeds=2, show_progress=False)
    assert {"report.json", "report.md", "loss_curves.png", "loss_by_flops.png"} <= {
        p.name for p in (tmp_path / "salt/report").iterdir()
    }
    assert salt["steps_equal_across_arms"] and salt["phase_steps"] == 4
    f = {arm: v["mean"] for arm, v in salt["flops"].items()}
    assert f["baseline"] < f["kd"] < f["kd_select"]  # the teacher's forward passes are counted
    grow_cfg = tiny_config(max_steps=12, n_layer=3)
    grow_cfg = grow_cfg.model_copy(
        update={"experiment": grow_cfg.experiment.model_copy(update={"eval_every": 6, "eval_batches": 1})}
    )
    g = run_grow(str(corpus), tmp_path / "grow", grow_cfg, seeds=2, show_progress=False)
    assert {"report.json", "report.md", "loss_curves.png"} <= {p.name for p in (tmp_path / "grow/report").iterdir()}
    assert g["loss_change_at_growth"]["max_abs"] < 1e-5
    flops = g["summary"]["arms"]
    step_flops = 6 * g["params"]["deep"] * 8 * 64  # one deep step: the most the two arms can differ by
    assert abs(flops["grown"]["flops"]["mean"] - flops["scratch"]["flops"]["mean"]) <= step_flops


def test_salt_refuses_a_teacher_with_another_tokenizer(corpus: Path, tmp_path: Path):  # noqa: F811
    from storygen.errors import StorygenError
    from storygen.experiments.salt import run_salt
    from storygen.train.tokenizer import train_tokenizer
    from storygen.train.trainer import train

    teacher = tmp_path / "teacher"
    train(str(corpus), teacher, tiny_config(max_steps=2), show_progress=False)
    other = tmp_path / "other_tok"
    train_tokenizer(iter(["completely different words " * 50] * 20), 300, other)
    cfg = tiny_config(max_steps=2).model_copy()
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"tokenizer": other})})
    with pytest.raises(StorygenError, match="tokenizer differs"):
        run_salt(teacher, str(corpus), tmp_path / "s", cfg, seeds=1, show_progress=False)
