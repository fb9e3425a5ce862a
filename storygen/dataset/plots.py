"""PNG plots for the dataset card (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from storygen.dataset.stats import Stats


def _save(fig: plt.Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def make_plots(stats: Stats, vocab: list[str], out: Path) -> dict[str, str]:
    """Write the plots into `out`; returns {title: file name} for those with data."""
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(stats.word_counts, bins=min(60, max(5, len(set(stats.word_counts)))), color="#4c72b0")
    ax.set(title="Story length", xlabel="words per story", ylabel="stories")
    made["Story length"] = _save(fig, out / "length_histogram.png")

    usage = sorted((u for w in vocab if (u := stats.vocab_usage.get(w, 0))), reverse=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(range(1, len(usage) + 1), usage, color="#55a868")
    ax.set_yscale("log")
    used = len(usage)
    ax.set(title=f"Vocabulary coverage: {used} of {len(vocab)} content words used",
           xlabel="content words, most used first", ylabel="stories using the word (log)")  # fmt: skip
    made["Vocabulary coverage"] = _save(fig, out / "vocabulary_coverage.png")

    if stats.features:
        names, counts = zip(*stats.features.most_common(), strict=True)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.barh(list(reversed(names)), list(reversed(counts)), color="#c44e52")
        ax.set(title="Story features asked for", xlabel="stories")
        made["Feature distribution"] = _save(fig, out / "feature_distribution.png")

    if stats.reading_ages:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(stats.reading_ages, bins=30, color="#8172b2")
        ax.set(title="Reading age (Flesch–Kincaid grade + 5)", xlabel="years", ylabel="stories")
        made["Reading age"] = _save(fig, out / "reading_age.png")
    return made
