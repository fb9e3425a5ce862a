"""The loop every experiment arm runs, and the statistics and plots over arms and seeds."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from storygen.config import TrainConfig
from storygen.experiments.stories import EvalSet
from storygen.train.model import StoryModel
from storygen.train.trainer import lr_at, make_optimizer

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class Curve:
    """Losses of one arm and seed at evaluation points (tokens seen so far)."""

    tokens: list[int] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)  # training FLOPs so far (6 N per token, plus extra)
    losses: dict[str, list[float]] = field(default_factory=dict)  # eval set name -> losses
    extra: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def evaluate(model: StoryModel, sets: list[EvalSet], chunk: int, batch: int) -> dict[str, float]:
    model.eval()
    out = {}
    for s in sets:
        total = 0.0
        for i in range(0, len(s.x), batch):
            total += model.loss(s.x[i : i + batch], s.y[i : i + batch], chunk).item() * len(s.x[i : i + batch])
        out[s.name] = total / len(s.x)
    model.train()
    return out


LossFn = Callable[[StoryModel, torch.Tensor, torch.Tensor, int], torch.Tensor]
StepHook = Callable[[StoryModel, int], StoryModel]


ExtraFlops = Callable[[int, int], float]


def train_arm(model: StoryModel, tc: TrainConfig, steps: int, batches: Callable[[int], Batch],
              eval_sets: list[EvalSet], eval_every: int, loss_fn: LossFn | None = None,
              on_step: StepHook | None = None, extra_flops: ExtraFlops | None = None) -> Curve:  # fmt: skip
    """Train `model` for `steps` optimizer steps on batches(step); evaluate every `eval_every` steps.
    `loss_fn(model, x, y, step)` replaces plain cross-entropy (distillation); `on_step(model, step)`
    may return a new model before a step (growth), which gets a fresh optimizer. FLOPs count
    6 * parameters per training token (forward and backward) plus `extra_flops(step, tokens)`
    (a teacher's forward passes)."""
    optimizer = make_optimizer(model, tc, torch.device("cpu"))
    curve = Curve()
    tokens, flops = 0, 0.0

    def record() -> None:
        curve.tokens.append(tokens)
        curve.flops.append(flops)
        for name, value in evaluate(model, eval_sets, tc.loss_chunk, tc.batch_size).items():
            curve.losses.setdefault(name, []).append(value)

    record()
    schedule = tc.model_copy(update={"max_steps": steps})  # the learning-rate schedule spans this arm
    n_params = model.num_params()
    for step in range(steps):
        if on_step is not None:
            new = on_step(model, step)
            if new is not model:
                model, n_params = new, new.num_params()
                optimizer = make_optimizer(model, tc, torch.device("cpu"))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, schedule)
        x, y = batches(step)
        loss = loss_fn(model, x, y, step) if loss_fn else model.loss(x, y, tc.loss_chunk)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += x.numel()
        flops += 6.0 * n_params * x.numel() + (extra_flops(step, x.numel()) if extra_flops else 0.0)
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            record()
    curve.extra["model"] = model
    return curve


# ---------------------------------------------------------------- statistics over seeds


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student-t quantile (exact table for small df, normal beyond)."""
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
             15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip
    if df <= 0:
        return float("nan")
    for k in sorted(table):
        if df <= k:
            return table[k]
    return 1.96


def mean_ci(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    n = len(a)
    m = float(a.mean())
    half = t_quantile_975(n - 1) * float(a.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
    return {"n": n, "mean": round(m, 5), "ci_low": round(m - half, 5), "ci_high": round(m + half, 5)}


def auc(tokens: list[int], losses: list[float]) -> float:
    """Area under the loss curve per token (trapezoid), so arms of equal tokens compare directly."""
    t = np.asarray(tokens, dtype=float)
    return float(np.trapezoid(losses, t) / (t[-1] - t[0])) if t[-1] > t[0] else float(losses[-1])


def tokens_to_reach(tokens: list[int], losses: list[float], target: float) -> int | None:
    for t, v in zip(tokens, losses, strict=True):
        if v <= target:
            return int(t)
    return None


def effect(a: list[float], b: list[float]) -> dict[str, float]:
    """b - a: mean difference with a 95% interval (paired over seeds) and Cohen's d."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    ci = mean_ci(list(d))
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2) if len(a) > 1 else float("nan")
    return {**{k: ci[k] for k in ("mean", "ci_low", "ci_high")}, "cohens_d": round(float(d.mean()) / pooled, 4)
            if pooled and not math.isnan(pooled) else float("nan")}  # fmt: skip


def summarize(curves: dict[str, list[Curve]], main: str = "full", baseline: str | None = None,
              x: str = "tokens") -> dict[str, Any]:  # fmt: skip
    """Per arm: final loss, AUC, and the tokens (or FLOPs, or steps) needed to reach the baseline's
    final loss, with means and CIs over seeds; effects of every arm against the baseline."""
    baseline = baseline or next(iter(curves))
    base_final = float(np.mean([c.losses[main][-1] for c in curves[baseline]]))
    arms: dict[str, Any] = {}

    def axis(c: Curve) -> list:
        return c.flops if x == "flops" else c.tokens

    for arm, cs in curves.items():
        reach = [tokens_to_reach(axis(c), c.losses[main], base_final) for c in cs]
        arms[arm] = {
            "final_loss": mean_ci([c.losses[main][-1] for c in cs]),
            "auc": mean_ci([auc(axis(c), c.losses[main]) for c in cs]),
            f"{x}_to_baseline_final": {"per_seed": reach, "reached": sum(r is not None for r in reach)},
            "flops": mean_ci([c.flops[-1] for c in cs]),
            "final_by_set": {name: mean_ci([c.losses[name][-1] for c in cs]) for name in cs[0].losses},
        }

    def finals(cs: list[Curve]) -> list[float]:
        return [c.losses[main][-1] for c in cs]

    def aucs(cs: list[Curve]) -> list[float]:
        return [auc(axis(c), c.losses[main]) for c in cs]

    effects = {
        f"{arm} - {baseline}": {
            "final_loss": effect(finals(curves[baseline]), finals(cs)),
            "auc": effect(aucs(curves[baseline]), aucs(cs)),
        }
        for arm, cs in curves.items()
        if arm != baseline
    }
    return {"baseline": baseline, "baseline_final_loss": round(base_final, 5), "x": x, "arms": arms, "effects": effects}


def curves_json(curves: dict[str, list[Curve]]) -> dict[str, list[dict[str, Any]]]:
    return {arm: [{"tokens": c.tokens, "flops": c.flops, "losses": c.losses} for c in cs] for arm, cs in curves.items()}


def plot_curves(curves: dict[str, list[Curve]], name: str, path: Path, title: str, x: str = "tokens") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, cs in curves.items():
        t = np.asarray(cs[0].flops if x == "flops" else cs[0].tokens)
        ys = np.asarray([c.losses[name] for c in cs])
        m = ys.mean(axis=0)
        ax.plot(t, m, label=arm)
        if len(cs) > 1:
            half = t_quantile_975(len(cs) - 1) * ys.std(axis=0, ddof=1) / math.sqrt(len(cs))
            ax.fill_between(t, m - half, m + half, alpha=0.2)
    ax.set(
        xlabel="training FLOPs" if x == "flops" else "training tokens",
        ylabel="validation loss (nats/token)",
        title=title,
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
