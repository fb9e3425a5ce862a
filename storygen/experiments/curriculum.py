"""Does a reading-age curriculum help? Arms, at equal tokens and the same initial weights per seed:

shuffled   every step samples from all training stories
curriculum the ceiling on reading age starts at the `start` share of the easiest stories and rises
           (linear, step or root) to all stories by `ramp` of training; plain shuffled after that
anti       the same schedule from the hardest stories down (a control)

Distortion: how much the curriculum changed the data seen. Expected token shares per reading-age
bucket (easy / middle / hard: tertiles) are computed from the schedule (each eligible story is
drawn with equal chance and contributes its length), both by the end of the ramp and overall, next
to each bucket's share of the data; the measured shares of the first seed are reported beside them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from storygen.config import CurriculumConfig, RunConfig
from storygen.experiments.stories import StorySet

BUCKETS = ("easy", "middle", "hard")


def ceiling(step: int, steps: int, cc: CurriculumConfig) -> float:
    """The share of stories (easiest first) eligible at `step`, in (0, 1]."""
    ramp_steps = max(1, math.ceil(cc.ramp * steps))
    x = min(1.0, step / ramp_steps)
    if cc.schedule == "linear":
        f = x
    elif cc.schedule == "root":
        f = math.sqrt(x)
    else:
        f = min(1.0, math.floor(x * cc.stages) / cc.stages) if x < 1 else 1.0
    return cc.start + (1 - cc.start) * f


def eligible(order: np.ndarray, share: float, hardest_first: bool = False) -> np.ndarray:
    """The `share` of stories from the easy end of `order` (or the hard end)."""
    k = max(1, math.ceil(share * len(order) - 1e-9))
    return order[-k:] if hardest_first else order[:k]


def buckets(stories: StorySet, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Tertiles of difficulty among `idx`."""
    ranked = idx[np.lexsort((idx, stories.difficulty[idx]))]
    thirds = np.array_split(ranked, 3)
    return dict(zip(BUCKETS, thirds, strict=True))


def expected_shares(stories: StorySet, order: np.ndarray, steps: int, cc: CurriculumConfig,
                    until: int | None = None) -> dict[str, float]:  # fmt: skip
    """Expected share of training tokens from each bucket over steps [0, until), when every eligible
    story is equally likely and contributes its length (+1 for the separator)."""
    until = steps if until is None else until
    lengths = np.array([len(t) + 1 for t in stories.tokens], dtype=float)
    parts = buckets(stories, order)
    bucket_of = np.empty(len(stories), dtype=int)
    for b, members in enumerate(parts.values()):
        bucket_of[members] = b
    tokens = np.zeros(3)
    for step in range(until):
        e = eligible(order, ceiling(step, steps, cc))
        share = lengths[e] / lengths[e].sum()
        np.add.at(tokens, bucket_of[e], share)
    return {name: round(float(tokens[b] / tokens.sum()), 4) for b, name in enumerate(BUCKETS)}


def data_shares(stories: StorySet, order: np.ndarray) -> dict[str, float]:
    lengths = np.array([len(t) + 1 for t in stories.tokens], dtype=float)
    parts = buckets(stories, order)
    total = lengths[order].sum()
    return {name: round(float(lengths[m].sum() / total), 4) for name, m in parts.items()}


def measured_shares(stories: StorySet, order: np.ndarray, seen: np.ndarray) -> dict[str, float]:
    parts = buckets(stories, order)
    total = seen.sum()
    return {name: round(float(seen[m].sum() / total), 4) for name, m in parts.items()}


def run_curriculum(
    data: str, out: Path, config: RunConfig, seeds: int | None = None, show_progress: bool = True
) -> dict:
    """The whole experiment; writes report.json, report.md, loss_curves.png, bucket_curves.png."""
    import json

    from tqdm import tqdm

    from storygen.clean.io import AtomicDir
    from storygen.config import save_config
    from storygen.experiments.harness import curves_json, plot_curves, summarize, train_arm
    from storygen.experiments.prepare import fresh_model, prepare
    from storygen.experiments.stories import pack, step_rng

    xc, tc = config.experiment, config.train
    cc = xc.curriculum
    seeds = seeds or xc.seeds
    steps = tc.max_steps
    out.mkdir(parents=True, exist_ok=True)
    prep = prepare(data, config, out)
    stories = prep.stories
    order = prep.train_idx[np.lexsort((prep.train_idx, stories.difficulty[prep.train_idx]))]
    arms = ["shuffled", "curriculum", *(["anti"] if cc.anti else [])]
    curves: dict[str, list] = {arm: [] for arm in arms}
    seen_first = {arm: np.zeros(len(stories)) for arm in arms}
    bar = tqdm(total=seeds * len(arms), desc="arms", disable=not show_progress)
    for seed in range(seeds):
        for arm in arms:
            model = fresh_model(config, prep.vocab_size, seed)  # the same weights for every arm of a seed
            seen = seen_first[arm] if seed == 0 else None

            def batches(step: int, arm: str = arm, seen: np.ndarray | None = seen, seed: int = seed):
                share = 1.0 if arm == "shuffled" else ceiling(step, steps, cc)
                pool = eligible(order, share, hardest_first=arm == "anti")
                return pack(stories, pool, tc.batch_size, tc.context, step_rng(seed, step), seen)

            curve = train_arm(model, tc, steps, batches, prep.eval_sets, xc.eval_every)
            curve.extra.pop("model")
            curves[arm].append(curve)
            bar.update(1)
    bar.close()
    ramp_end = max(1, math.ceil(cc.ramp * steps))
    report = {
        "data": data,
        "scorer": prep.scorer,
        "seeds": seeds,
        "steps": steps,
        "tokens_per_arm": curves["shuffled"][0].tokens[-1],
        "tokens_equal_across_arms": len({c.tokens[-1] for cs in curves.values() for c in cs}) == 1,
        "schedule": cc.model_dump(),
        "summary": summarize(curves, "full", "shuffled"),
        "distortion": {
            "data_share": data_shares(stories, order),
            "expected_share_by_ramp_end": expected_shares(stories, order, steps, cc, until=ramp_end),
            "expected_share_overall": expected_shares(stories, order, steps, cc),
            "measured_share_overall_seed0": measured_shares(stories, order, seen_first["curriculum"]),
            "shuffled_measured_share_seed0": measured_shares(stories, order, seen_first["shuffled"]),
        },
        "curves": curves_json(curves),
        "model_params": sum(p.numel() for p in fresh_model(config, prep.vocab_size, 0).parameters()),
    }
    with AtomicDir(out / "report") as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (tmp / "report.md").write_text(curriculum_markdown(report) + "\n")
        plot_curves(curves, "full", tmp / "loss_curves.png", "held-out loss (full distribution), mean and 95% CI")
        _bucket_plot(curves, tmp / "bucket_curves.png")
        save_config(config, tmp / "config.yaml")
    return report


def _bucket_plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, name in zip(axes, BUCKETS, strict=True):
        for arm, cs in curves.items():
            if name in cs[0].losses:
                ax.plot(cs[0].tokens, np.mean([c.losses[name] for c in cs], axis=0), label=arm)
        ax.set(title=f"{name} stories", xlabel="training tokens")
    axes[0].set_ylabel("held-out loss")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curriculum_markdown(r: dict) -> str:
    s = r["summary"]
    lines = [
        "# Reading-age curriculum",
        "",
        f"{r['seeds']} seeds, {r['steps']} steps, {r['tokens_per_arm']:,} tokens per arm; reading age: {r['scorer']}.",
        "",
        "| arm | final loss (95% CI) | area under the loss curve | seeds reaching shuffled's final loss |",
        "|---|---|---|---|",
    ]
    for arm, a in s["arms"].items():
        f, u = a["final_loss"], a["auc"]
        lines.append(f"| {arm} | {f['mean']:.4f} ({f['ci_low']:.4f} – {f['ci_high']:.4f}) | {u['mean']:.4f} | "
                     f"{a['tokens_to_baseline_final']['reached']}/{r['seeds']} |")  # fmt: skip
    lines += ["", "| effect (arm − shuffled) | final loss | AUC |", "|---|---|---|"]
    for name, e in s["effects"].items():
        fl = e["final_loss"]
        lines.append(
            f"| {name} | {fl['mean']:+.4f} ({fl['ci_low']:+.4f} – {fl['ci_high']:+.4f}) | {e['auc']['mean']:+.4f} |"
        )
    d = r["distortion"]
    lines += [
        "",
        "Share of training tokens per reading-age bucket:",
        "",
        "| bucket | data | by ramp end (expected) | overall (expected) | overall (measured) |",
        "|---|---|---|---|---|",
    ]
    for b in BUCKETS:
        shares = (
            d["data_share"],
            d["expected_share_by_ramp_end"],
            d["expected_share_overall"],
            d["measured_share_overall_seed0"],
        )
        lines.append(f"| {b} | " + " | ".join(f"{x[b]:.3f}" for x in shares) + " |")
    lines += ["", "![loss curves](loss_curves.png)", "", "![per bucket](bucket_curves.png)"]
    return "\n".join(lines)
