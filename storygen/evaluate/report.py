"""Aggregating grades: mean and a 95% bootstrap interval per dimension, the age-group distribution,
examples; written as report.json, report.md and grades.png."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from storygen.evaluate.judge import AGE_GROUPS, DIMENSIONS, Grade


def mean_ci(values: list[float], seed: int = 0, resamples: int = 2000) -> dict[str, float | int]:
    """Mean and the 2.5/97.5 percentiles of bootstrap means (n = 1: the interval is the value)."""
    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return {"n": 0, "mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, len(a), size=(resamples, len(a)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {
        "n": len(a),
        "mean": round(float(a.mean()), 4),
        "ci_low": round(float(lo), 4),
        "ci_high": round(float(hi), 4),
    }


def aggregate(grades: list[Grade | None], seed: int = 0) -> dict[str, Any]:
    ok = [g for g in grades if g is not None]
    dims = {d: mean_ci([getattr(g, d) for g in ok], seed) for d in DIMENSIONS}
    dims["overall"] = mean_ci([g.overall for g in ok], seed)
    ages = Counter(g.age_group for g in ok)
    return {
        "graded": len(ok),
        "unparseable": len(grades) - len(ok),
        "dimensions": dims,
        "age_groups": {f"{k} ({v})": ages.get(k, 0) for k, v in AGE_GROUPS.items()},
    }


def markdown(report: dict[str, Any]) -> str:
    dims = report["grades"]["dimensions"]
    lines = [
        f"# Evaluation of {report['model']}",
        "",
        f"Judge: {report['judge']['model']} ({report['judge']['base_url'] or 'OpenAI API'}); "
        f"{report['grades']['graded']} of {report['items']} completions graded, "
        f"{report['grades']['unparseable']} unparseable.",
        "",
        "| dimension | mean | 95% CI |",
        "|---|---|---|",
        *(f"| {d} | {v['mean']:.2f} | {v['ci_low']:.2f} – {v['ci_high']:.2f} |" for d, v in dims.items()),
        "",
    ]
    if report.get("loss") is not None:
        lines += [f"Held-out loss {report['loss']:.4f} nats/token, perplexity {report['perplexity']:.2f}.", ""]
    lines += ["| age group of the writer | completions |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["grades"]["age_groups"].items()] + [""]
    for ex in report.get("examples", []):
        g = ex["grade"]
        scores = ", ".join(f"{d} {g[d]}" for d in DIMENSIONS) + f", age {g['age_group']}" if g else "unparseable"
        lines += [f"**Beginning:** {ex['beginning']}", "", f"**Completion:** {ex['completion']}", "", f"*{scores}*", ""]
    return "\n".join(lines)


def bar_chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = report["grades"]["dimensions"]
    names = list(dims)
    means = [dims[d]["mean"] for d in names]
    err = [[m - dims[d]["ci_low"] for d, m in zip(names, means, strict=True)],
           [dims[d]["ci_high"] - m for d, m in zip(names, means, strict=True)]]  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(names, means, yerr=err, capsize=5, color="#4c72b0")
    ax.set(
        ylim=(0, 10),
        ylabel="grade (1-10), mean with 95% CI",
        title=f"{report['model']}: graded by {report['judge']['model']}",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict[str, Any], out: Path) -> None:
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report) + "\n")
    bar_chart(report, out / "grades.png")
