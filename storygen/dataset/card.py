"""The dataset card (README.md): YAML metadata the Hub reads, then what a person wants to know.
Regenerated from the data on every build; never edit it by hand."""

from __future__ import annotations

from typing import Any

import yaml

from storygen.config import RunConfig


def size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if n < limit:
            return name
    return "100M<n<1B"


def metadata(
    config: RunConfig,
    summary: dict[str, Any],
    files: dict[str, dict[str, list[str]]],
    features: dict[str, Any],
    split_bytes: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """The YAML header: license, language, task, size, and one config per schema with its files."""
    configs = []
    infos = []
    for name, splits in files.items():
        entry: dict[str, Any] = {
            "config_name": name,
            "data_files": [{"split": split, "path": f"data/{name}/{split}-*.parquet"} for split in splits],
        }
        if name == "default":
            entry["default"] = True
        configs.append(entry)
        infos.append(
            {
                "config_name": name,
                "features": features[name],
                "splits": [
                    {"name": split, "num_bytes": split_bytes[name][split], "num_examples": summary["splits"][split]}
                    for split in splits
                ],
                "dataset_size": sum(split_bytes[name].values()),
            }
        )
    return {
        "pretty_name": config.dataset.pretty_name,
        "license": config.dataset.license,
        "language": ["en"],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(summary["stories"])],
        "tags": ["synthetic", "tinystories", "children-stories", "storygen"],
        "configs": configs,
        "dataset_info": infos,
    }


def _table(rows: list[tuple[str, Any]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def render(
    meta: dict[str, Any], summary: dict[str, Any], plots: dict[str, str], reports: dict[str, Any], repo_hint: str
) -> str:
    s = summary
    wps = s["words_per_story"]
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {meta['pretty_name']}",
        "",
        "Short stories in the style of TinyStories: simple words a 3–4-year-old understands, each story built",
        "around a sampled verb, noun and adjective and a few sampled story features. Made with storygen;",
        "this card is generated from the data.",
        "",
        "```python",
        "from datasets import load_dataset",
        f'stories = load_dataset("{repo_hint}")               # text only, like TinyStories',
        f'full = load_dataset("{repo_hint}", "instruct")      # with prompts, words, features, scores',
        "```",
        "",
        "## Statistics",
        "",
        _table(
            [
                ("stories", f"{s['stories']:,}"),
                *((f"{k} split", f"{v:,}") for k, v in sorted(s["splits"].items())),
                ("words", f"{s['words']:,}"),
                ("words per story", f"mean {wps['mean']}, median {wps['median']}, min {wps['min']}, max {wps['max']}"),
                (
                    "completion tokens (from generation usage)",
                    f"{s['completion_tokens']:,} over {s['stories_with_usage']:,} stories",
                ),
                ("vocabulary words used", f"{s['vocabulary_used']:,} of {s['vocabulary_size']:,}"),
                ("stories with a summary", f"{s['with_summary']:,}"),
                ("mean reading age", s["mean_reading_age"] if s["mean_reading_age"] is not None else "not scored"),
            ]
        ),
        "",
        "## How it was made",
        "",
        _table(
            [
                ("models", ", ".join(f"{k} ({v:,})" for k, v in s["models"].items())),
                ("backends", ", ".join(f"{k} ({v:,})" for k, v in s["backends"].items())),
                ("prompt templates", ", ".join(f"{k} ({v:,})" for k, v in s["templates"].items()) or "n/a"),
                ("vocabulary versions", ", ".join(s["vocab_versions"]) or "n/a"),
                ("prompt seeds", ", ".join(map(str, s["seeds"])) or "n/a"),
                ("sampling", "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in s["sampling"]) or "n/a"),
            ]
        ),
        "",
    ]
    if s["features"]:
        lines += ["Story features asked for:", "", _table([(k, f"{v:,}") for k, v in s["features"].items()]), ""]
    if reports:
        lines += ["## Cleaning", ""]
        for stage, r in reports.items():
            if stage == "validate":
                reasons = ", ".join(f"{k} {v:,}" for k, v in r.get("reasons", {}).items()) or "none"
                lines.append(
                    f"- validation: {r['accepted']:,} of {r['total']:,} stories accepted; rejected by {reasons}."
                )
            elif stage == "dedup":
                lines.append(
                    f"- deduplication: {r['total']:,} stories in, {r['exact_removed']:,} exact and "
                    f"{r['near_removed']:,} near duplicates removed ({r['clusters']:,} clusters)."
                )
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{title}](plots/{name})" for title, name in plots.items()]
        lines.append("")
    lines += [
        "## Fields",
        "",
        "`default`: `text`. `instruct`: `id`, `story`, `prompt`, `words` (verb, noun, adjective), `features`, `axes`,",
        "`summary`, `template`, `vocab_version`, `seed`, `model`, `backend`, `source`, `finish_reason`,",
        "`completion_tokens`, `word_count`, and the cleaning scores `vocab_compliance`, `reading_age`, `fk_grade`,",
        "`mean_zipf`. The split is a hash of the story id, so adding stories never moves one across splits.",
        "Plain text with `<|endoftext|>` between stories is in `txt/`.",
        "",
    ]
    return "\n".join(lines)
