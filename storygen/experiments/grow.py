"""Growing a one-block model into a deeper one, against the deep model from scratch, at equal FLOPs.

The grown arm spends `small_fraction` of the FLOP budget training one block, then inserts
n_layer - 1 new blocks (at the top, middle or bottom) whose output projections (o_proj, down_proj)
are zero: each new block adds nothing to the residual stream, so at the moment of growth the deep
model computes exactly the small model's function, and training continues from there.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from storygen.config import RunConfig
from storygen.errors import StorygenError
from storygen.train.model import Block, ModelConfig, StoryModel


def grow(small: StoryModel, n_layer: int, position: str = "top") -> StoryModel:
    """A model with n_layer blocks computing the same function as `small`."""
    if n_layer <= small.cfg.n_layer:
        raise ValueError(f"cannot grow {small.cfg.n_layer} blocks into {n_layer}")
    cfg = ModelConfig(**{**small.cfg.to_dict(), "n_layer": n_layer})
    big = StoryModel(cfg)
    new = [Block(cfg) for _ in range(n_layer - small.cfg.n_layer)]
    for b in new:
        torch.nn.init.zeros_(b.self_attn.o_proj.weight)
        torch.nn.init.zeros_(b.mlp.down_proj.weight)
    old = [copy.deepcopy(b) for b in small.layers]
    at = {"top": len(old), "middle": len(old) // 2 if len(old) > 1 else 1, "bottom": 0}[position]
    big.layers = torch.nn.ModuleList(old[:at] + new + old[at:])
    big.embed_tokens.load_state_dict(small.embed_tokens.state_dict())
    big.norm.load_state_dict(small.norm.state_dict())
    return big


def run_grow(
    data: str, out: Path, config: RunConfig, seeds: int | None = None, show_progress: bool = True
) -> dict[str, Any]:
    from tqdm import tqdm

    from storygen.clean.io import AtomicDir
    from storygen.config import save_config
    from storygen.experiments.harness import curves_json, plot_curves, summarize, train_arm
    from storygen.experiments.prepare import fresh_model, prepare
    from storygen.experiments.salt import experiment_markdown
    from storygen.experiments.stories import pack, step_rng

    tc, xc, gc = config.train, config.experiment, config.experiment.grow
    if tc.n_layer < 2:
        raise StorygenError("experiment grow: set train.n_layer to the deep model's depth (at least 2)")
    seeds = seeds or xc.seeds
    out.mkdir(parents=True, exist_ok=True)
    prep = prepare(data, config, out)
    tokens_per_step = tc.batch_size * tc.context
    n_deep = fresh_model(config, prep.vocab_size, 0).num_params()
    n_small = fresh_model(config, prep.vocab_size, 0, n_layer=1).num_params()
    budget = 6.0 * n_deep * tokens_per_step * tc.max_steps
    small_steps = max(1, round(gc.small_fraction * budget / (6.0 * n_small * tokens_per_step)))
    deep_steps = max(1, round((1 - gc.small_fraction) * budget / (6.0 * n_deep * tokens_per_step)))
    curves: dict[str, list] = {"scratch": [], "grown": []}
    bar = tqdm(total=2 * seeds, desc="arms", disable=not show_progress)
    growth_check = []
    for seed in range(seeds):

        def batches(step: int, seed: int = seed) -> tuple[torch.Tensor, torch.Tensor]:
            return pack(prep.stories, prep.train_idx, tc.batch_size, tc.context, step_rng(seed, step))

        deep = fresh_model(config, prep.vocab_size, seed)
        curve = train_arm(deep, tc, tc.max_steps, batches, prep.eval_sets, xc.eval_every)
        curve.extra.pop("model")
        curves["scratch"].append(curve)
        bar.update(1)

        def on_step(model: StoryModel, step: int) -> StoryModel:
            if step != small_steps:
                return model
            grown = grow(model, tc.n_layer, gc.position)
            x, y = prep.eval_sets[0].x[: tc.batch_size], prep.eval_sets[0].y[: tc.batch_size]
            with torch.no_grad():
                growth_check.append(abs(model.loss(x, y).item() - grown.loss(x, y).item()))
            return grown

        small = fresh_model(config, prep.vocab_size, seed, n_layer=1)
        curve = train_arm(small, tc, small_steps + deep_steps, batches, prep.eval_sets, xc.eval_every, on_step=on_step)
        curve.extra.pop("model")
        curves["grown"].append(curve)
        bar.update(1)
    bar.close()
    report = {
        "seeds": seeds, "n_layer": tc.n_layer, "params": {"deep": n_deep, "small": n_small},
        "flop_budget": budget, "small_steps": small_steps, "deep_steps_after_growth": deep_steps,
        "scratch_steps": tc.max_steps, "grow": gc.model_dump(),
        "loss_change_at_growth": {"max_abs": max(growth_check) if growth_check else None},
        "summary": summarize(curves, "full", "scratch", x="flops"),
        "curves": curves_json(curves),
    }  # fmt: skip
    with AtomicDir(out / "report") as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "report.md").write_text(experiment_markdown("Growing one block into a deeper model", report) + "\n")
        plot_curves(curves, "full", tmp / "loss_curves.png", "growth vs scratch: held-out loss by FLOPs", x="flops")
        save_config(config, tmp / "config.yaml")
    return report
