"""`storygen build`: stories -> a Hugging Face dataset folder.

    DIR/README.md                         the card (YAML metadata + statistics + plots)
    DIR/data/default/train-00000-of-00002.parquet ...   text only
    DIR/data/instruct/train-00000-of-00002.parquet ...  everything about each story
    DIR/txt/train.txt, validation.txt     plain text, stories separated by <|endoftext|>
    DIR/plots/*.png, DIR/stats.json, DIR/config.yaml

Everything is written into a temporary folder beside DIR and moved into place at the end: a failed
build leaves DIR as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features
from tqdm import tqdm

from storygen.clean.io import BadLine, iter_lines, parse_story
from storygen.clean.lexicon import Lexicon
from storygen.config import RunConfig, save_config
from storygen.dataset import card, plots
from storygen.dataset.schema import CONFIGS, instruct_row, split_of
from storygen.dataset.stats import Stats
from storygen.errors import StorygenError
from storygen.vocab import load_vocabulary

SPLITS = ("train", "validation")


class ShardWriter:
    """Rows of one config and split -> Parquet shards of at most `shard_rows` rows."""

    def __init__(self, folder: Path, split: str, features: Features, shard_rows: int):
        self.folder, self.split, self.schema, self.shard_rows = folder, split, features.arrow_schema, shard_rows
        self.rows: list[dict[str, Any]] = []
        self.paths: list[Path] = []
        self.nbytes = 0  # Arrow (uncompressed) bytes written, for the card's split sizes

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.split}-{len(self.paths):05d}.parquet"
        table = pa.Table.from_pylist(self.rows, schema=self.schema)
        pq.write_table(table, path, compression="zstd")
        self.nbytes += table.nbytes
        self.paths.append(path)
        self.rows = []

    def finish(self) -> list[str]:
        """Flush, then name the shards NAME-00000-of-00003.parquet; returns the final names."""
        self.flush()
        names = []
        for i, path in enumerate(self.paths):
            final = path.with_name(f"{self.split}-{i:05d}-of-{len(self.paths):05d}.parquet")
            path.rename(final)
            names.append(final.name)
        return names


def find_reports(inputs: list[Path]) -> dict[str, Any]:
    """report.json files of the cleaning stages next to the inputs (and the inputs of those stages)."""
    found: dict[str, Any] = {}
    todo = [p if p.is_dir() else p.parent for p in inputs]
    seen: set[Path] = set()
    while todo:
        folder = todo.pop().resolve()
        if folder in seen or not (folder / "report.json").is_file():
            continue
        seen.add(folder)
        report = json.loads((folder / "report.json").read_text())
        stage = "dedup" if "near_removed" in report else "validate" if "accepted" in report else None
        if stage and stage not in found:
            found[stage] = report
            todo += [Path(p).parent for p in report.get("inputs", [])]
    return found


def build(inputs: list[Path], out: Path, config: RunConfig, overwrite: bool = False, show_progress: bool = True,
          repo_hint: str | None = None) -> dict[str, Any]:  # fmt: skip
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise StorygenError(f"--out {out}: exists and is not empty; pass --overwrite to replace it")
    for path in inputs:
        if not path.is_file():
            raise StorygenError(f"{path}: input file not found")
    vocab = load_vocabulary(config.prompts.vocab_dir)
    lexicon, content = Lexicon(vocab), vocab.content_words
    dc = config.dataset
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.build.", dir=out.parent))
    try:
        writers = {
            (name, split): ShardWriter(tmp / "data" / name, split, features, dc.shard_rows)
            for name, features in CONFIGS.items() for split in SPLITS
        }  # fmt: skip
        (tmp / "txt").mkdir()
        txt = {split: (tmp / "txt" / f"{split}.txt").open("w", encoding="utf-8") for split in SPLITS}
        stats = Stats()
        seen: set[str] = set()
        duplicates = 0
        for source, lineno, line in tqdm(iter_lines(inputs), unit="story", disable=not show_progress, mininterval=0.5):
            try:
                story = parse_story(line, source)
            except BadLine as e:
                raise StorygenError(f"{source}:{lineno}: {e}; every line needs a JSON object with a 'text'") from None
            if not story.text.strip():
                raise StorygenError(
                    f"{source}:{lineno}: story {story.id!r} has empty text; run `storygen validate` first"
                )
            if story.id in seen:
                duplicates += 1
                continue
            seen.add(story.id)
            split = split_of(story.id, dc.validation_share)
            writers["default", split].add({"text": story.text})
            writers["instruct", split].add(instruct_row(story))
            txt[split].write(f"{story.text.strip()}\n{dc.eot}\n")
            stats.add(story, split, lexicon, content)
        for f in txt.values():
            f.close()
        if stats.total == 0:
            raise StorygenError(f"no stories in {', '.join(map(str, inputs))}; nothing to build")
        files: dict[str, dict[str, list[str]]] = {name: {} for name in CONFIGS}
        split_bytes: dict[str, dict[str, int]] = {name: {} for name in CONFIGS}
        for (name, split), w in writers.items():
            shards = w.finish()
            if shards:
                files[name][split] = shards
                split_bytes[name][split] = w.nbytes
        summary = stats.summary(len(content)) | {"duplicate_ids_skipped": duplicates}
        made = plots.make_plots(stats, sorted(content), tmp / "plots")
        features = {name: f.to_dict() for name, f in CONFIGS.items()}
        meta = card.metadata(config, summary, files, _features_yaml(features), split_bytes)
        reports = find_reports(inputs)
        hint = repo_hint or f"path/to/{out.name}"
        (tmp / "README.md").write_text(card.render(meta, summary, made, reports, hint), encoding="utf-8")
        (tmp / "stats.json").write_text(json.dumps(summary, indent=2) + "\n")
        save_config(config, tmp / "config.yaml")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary | {"seconds": round(time.perf_counter() - started, 2), "files": files}


def _features_yaml(features: dict[str, Any]) -> dict[str, Any]:
    """datasets' Features dicts -> the card's `features:` lists (name + dtype, nested for structs)."""

    def conv(name: str, spec: Any) -> dict[str, Any]:
        if isinstance(spec, dict) and spec.get("_type") == "Value":
            return {"name": name, "dtype": spec["dtype"]}
        if isinstance(spec, dict) and spec.get("_type") in ("List", "Sequence"):
            inner = conv(name, spec["feature"])
            inner.pop("name")
            return {"name": name, "list": inner.get("dtype") or inner.get("struct")}
        if isinstance(spec, dict):
            return {"name": name, "struct": [conv(k, v) for k, v in spec.items()]}
        return {"name": name, "dtype": str(spec)}

    return {cfg: [conv(k, v) for k, v in f.items()] for cfg, f in features.items()}


def _move_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old.{int(time.time())}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
