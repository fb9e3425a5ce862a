"""Small-model-aided training (SALT): a smaller trained model teaches in phase 1.

Phase 1 (the first `phase` share of steps): loss = alpha * CE + (1 - alpha) * T^2 * KL(teacher_T || student_T),
both distributions softened by T; with selection, the teacher also picks the training sequences:
from a pool of candidates it keeps those whose own loss lies between the `band_low` and `band_high`
quantiles of the pool (hard but learnable). Phase 2: plain cross-entropy. Arms at equal steps from
the same initial weights per seed: baseline, kd, kd_select. The teacher's forward passes are counted
(2 * its parameters per token it reads), so savings in the report are net.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from storygen.config import RunConfig, SaltConfig
from storygen.errors import StorygenError
from storygen.train.model import StoryModel


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, alpha: float,
            temperature: float) -> torch.Tensor:  # fmt: skip
    """alpha * CE(student, targets) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T)),
    averaged over tokens. At alpha = 1 it is exactly the cross-entropy."""
    v = student_logits.shape[-1]
    s, t = student_logits.float().reshape(-1, v), teacher_logits.float().reshape(-1, v)
    ce = F.cross_entropy(s, targets.reshape(-1))
    if alpha >= 1.0:
        return ce
    kl = F.kl_div(
        F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1), log_target=True, reduction="batchmean"
    )
    return alpha * ce + (1 - alpha) * temperature**2 * kl


@torch.no_grad()
def sequence_losses(model: StoryModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each sequence (B,)."""
    logits = model(x).float()
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)


def select_band(losses: torch.Tensor, low: float, high: float, k: int) -> torch.Tensor:
    """Indices of the first k sequences whose loss lies within the [low, high] quantiles of `losses`."""
    q_low, q_high = torch.quantile(losses, low), torch.quantile(losses, high)
    inside = torch.nonzero((losses >= q_low) & (losses <= q_high)).flatten()
    if len(inside) < k:
        raise ValueError(f"only {len(inside)} candidates in the band for a batch of {k}; widen it or enlarge the pool")
    return inside[:k]


def pool_size(k: int, sc: SaltConfig) -> int:
    return math.ceil(round((k + 2) / (sc.band_high - sc.band_low), 9))  # round: 10 / 0.4 is 25.000000000000004


def check_teacher(teacher_run: Path) -> tuple[StoryModel, Path]:
    from storygen.train.sample import load_run

    model, _ = load_run(teacher_run)
    return model.eval(), teacher_run / "tokenizer"


def same_tokenizer(a: Path, b: Path) -> bool:
    return (
        json.loads((a / "tokenizer.json").read_text())["model"]
        == json.loads((b / "tokenizer.json").read_text())["model"]
    )


def run_salt(teacher_run: Path, data: str, out: Path, config: RunConfig, seeds: int | None = None,
             show_progress: bool = True) -> dict[str, Any]:  # fmt: skip
    from tqdm import tqdm

    from storygen.clean.io import AtomicDir
    from storygen.config import save_config
    from storygen.experiments.harness import curves_json, plot_curves, summarize, train_arm
    from storygen.experiments.prepare import fresh_model, prepare
    from storygen.experiments.stories import pack, step_rng

    if config.experiment.salt.band_low >= config.experiment.salt.band_high:
        raise StorygenError("experiment.salt: band_low must be below band_high")
    teacher, teacher_tok = check_teacher(teacher_run)
    tc = config.train
    if tc.tokenizer is not None and not same_tokenizer(tc.tokenizer, teacher_tok):
        raise StorygenError(
            f"{teacher_run}: the teacher's tokenizer differs from train.tokenizer; the two must share one"
        )
    config = config.model_copy(update={"train": tc.model_copy(update={"tokenizer": teacher_tok})})
    tc, xc, sc = config.train, config.experiment, config.experiment.salt
    seeds = seeds or xc.seeds
    steps = tc.max_steps
    phase_steps = max(1, round(sc.phase * steps))
    out.mkdir(parents=True, exist_ok=True)
    prep = prepare(data, config, out)
    if prep.vocab_size != teacher.cfg.vocab_size:
        raise StorygenError(
            f"{teacher_run}: teacher vocabulary {teacher.cfg.vocab_size} != data tokenizer {prep.vocab_size}"
        )
    if teacher.cfg.context < tc.context:
        raise StorygenError(
            f"{teacher_run}: teacher context {teacher.cfg.context} is shorter than train.context {tc.context}"
        )
    n_teacher = teacher.num_params()
    k = tc.batch_size
    arms = ("baseline", "kd", "kd_select")
    curves: dict[str, list] = {a: [] for a in arms}
    bar = tqdm(total=seeds * len(arms), desc="arms", disable=not show_progress)
    for seed in range(seeds):
        for arm in arms:
            model = fresh_model(config, prep.vocab_size, seed)  # the same weights for every arm of a seed

            def batches(step: int, arm: str = arm, seed: int = seed) -> tuple[torch.Tensor, torch.Tensor]:
                rng = step_rng(seed, step)
                if arm == "kd_select" and step < phase_steps:
                    x, y = pack(prep.stories, prep.train_idx, pool_size(k, sc), tc.context, rng)
                    keep = select_band(sequence_losses(teacher, x, y), sc.band_low, sc.band_high, k)
                    return x[keep], y[keep]
                return pack(prep.stories, prep.train_idx, k, tc.context, rng)

            def loss_fn(m: StoryModel, x: torch.Tensor, y: torch.Tensor, step: int, arm: str = arm) -> torch.Tensor:
                if arm == "baseline" or step >= phase_steps:
                    return m.loss(x, y, tc.loss_chunk)
                with torch.no_grad():
                    t_logits = teacher(x)
                return kd_loss(m(x), t_logits, y, sc.alpha, sc.temperature)

            def teacher_flops(step: int, tokens: int, arm: str = arm) -> float:
                if arm == "baseline" or step >= phase_steps:
                    return 0.0
                read = tokens + (pool_size(k, sc) * tc.context if arm == "kd_select" else 0)
                return 2.0 * n_teacher * read

            curve = train_arm(
                model, tc, steps, batches, prep.eval_sets, xc.eval_every, loss_fn, extra_flops=teacher_flops
            )
            curve.extra.pop("model")
            curves[arm].append(curve)
            bar.update(1)
    bar.close()
    summary = summarize(curves, "full", "baseline", x="tokens")
    flops_summary = summarize(curves, "full", "baseline", x="flops")
    report = {
        "teacher": {"run": str(teacher_run), "params": n_teacher},
        "student_params": fresh_model(config, prep.vocab_size, 0).num_params(),
        "seeds": seeds, "steps": steps, "phase_steps": phase_steps, "salt": sc.model_dump(),
        "steps_equal_across_arms": len({len(c.tokens) for cs in curves.values() for c in cs}) == 1,
        "summary": summary,
        "flops": {arm: a["flops"] for arm, a in flops_summary["arms"].items()},
        "flops_to_baseline_final": {arm: a["flops_to_baseline_final"] for arm, a in flops_summary["arms"].items()},
        "curves": curves_json(curves),
    }  # fmt: skip
    with AtomicDir(out / "report") as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "report.md").write_text(experiment_markdown("Small-model-aided training (SALT)", report) + "\n")
        plot_curves(curves, "full", tmp / "loss_curves.png", "SALT: held-out loss by training tokens")
        plot_curves(
            curves, "full", tmp / "loss_by_flops.png", "SALT: held-out loss by FLOPs (teacher included)", x="flops"
        )
        save_config(config, tmp / "config.yaml")
    return report


def experiment_markdown(title: str, r: dict[str, Any]) -> str:
    s = r["summary"]
    x = s["x"]
    lines = [f"# {title}", "", f"{r['seeds']} seeds; baseline: {s['baseline']}.", "",
             f"| arm | final loss (95% CI) | AUC | FLOPs (mean) | seeds reaching the baseline's final loss ({x}) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for arm, a in s["arms"].items():
        f = a["final_loss"]
        lines.append(f"| {arm} | {f['mean']:.4f} ({f['ci_low']:.4f} – {f['ci_high']:.4f}) | {a['auc']['mean']:.4f} | "
                     f"{a['flops']['mean']:.3g} | {a[f'{x}_to_baseline_final']['reached']}/{r['seeds']} |")  # fmt: skip
    lines += ["", "| effect (arm − baseline) | final loss (95% CI) |", "|---|---|"]
    for name, e in s["effects"].items():
        fl = e["final_loss"]
        lines.append(f"| {name} | {fl['mean']:+.4f} ({fl['ci_low']:+.4f} – {fl['ci_high']:+.4f}) |")
    lines += ["", "![loss curves](loss_curves.png)"]
    return "\n".join(lines)
