"""`storygen validate`: run every check on every story, in parallel chunks, in input order.

Output in DIR: accepted.jsonl (stories with their scores), rejected.jsonl (with their reasons;
nothing is dropped silently) and report.json (counts per reason, score summaries, and the most
frequent out-of-vocabulary words, to improve the vocabulary with).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tqdm import tqdm

from storygen.clean.checks import analyse_batch, run_checks
from storygen.clean.io import AtomicDir, BadLine, append_file, byte_ranges, line_number, lines_in, parse_story
from storygen.clean.lexicon import Lexicon, strip_clitic, word_of
from storygen.config import CleanConfig, RunConfig, save_config
from storygen.errors import StorygenError
from storygen.gc_tuning import fewer_collections
from storygen.vocab import load_vocabulary

_state: dict[str, Any] = {}
BATCH = 256  # stories analysed together: their token arrays (~2 MB) stay in the CPU cache


def _init(vocab_dir: str, cfg: dict[str, Any], parts: str) -> None:
    _state["lexicon"] = Lexicon(load_vocabulary(Path(vocab_dir)))
    _state["cfg"] = CleanConfig.model_validate(cfg)
    _state["parts"] = Path(parts)


def _process(task: tuple[int, str, int, int]) -> dict[str, Any]:
    """Check one byte range of an input; accepted and rejected lines go to this task's part files
    (joined in order by the parent), only counts come back."""
    number, path, start, end = task
    lex: Lexicon = _state["lexicon"]
    cfg: CleanConfig = _state["cfg"]
    accepted, rejected, bad = [], [], []
    reasons: Counter[str] = Counter()
    oov: Counter[str] = Counter()
    score_sums: Counter[str] = Counter()
    oov_keys: dict[str, str] = _state.setdefault("oov_keys", {})  # form -> the word it counts as
    stories = []
    for offset, line in lines_in(path, start, end):
        try:
            stories.append(parse_story(line, path))
        except BadLine as e:
            bad.append((path, offset, str(e)))
    docs = [doc for k in range(0, len(stories), BATCH) for doc in analyse_batch(stories[k : k + BATCH], lex)]
    for story, doc in zip(stories, docs, strict=True):
        for form, count in doc.oov:
            key = oov_keys.get(form)
            if key is None:
                key = oov_keys[form] = strip_clitic(word_of(form).lower())
            oov[key] += count
        found = run_checks(doc, cfg, lex)
        story.scores.update(doc.scores)
        story.reasons = found
        score_sums.update(doc.scores)
        if found:
            reasons.update(set(found))
            rejected.append(story.model_dump_json().encode())
        else:
            accepted.append(story.model_dump_json().encode())
    parts = _state["parts"]
    (parts / f"{number:06d}.accepted").write_bytes(b"".join(x + b"\n" for x in accepted))
    (parts / f"{number:06d}.rejected").write_bytes(b"".join(x + b"\n" for x in rejected))
    return {"accepted": len(accepted), "rejected": len(rejected), "bad": bad, "reasons": reasons, "oov": oov,
            "sums": score_sums}  # fmt: skip


def validate(
    inputs: list[Path], out: Path, config: RunConfig, skip_bad: bool = False, workers: int | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    load_vocabulary(config.prompts.vocab_dir)  # a bad vocabulary fails here, before any work
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    oov: Counter[str] = Counter()
    sums: Counter[str] = Counter()
    bad_lines: list[tuple[str, int, str]] = []
    for path in inputs:
        if not path.is_file():
            raise StorygenError(f"{path}: input file not found")
    tasks = [(i, path, start, end) for i, (path, start, end) in enumerate(byte_ranges(inputs))]
    with AtomicDir(out) as tmp, ExitStack() as stack:
        parts = tmp / "parts"
        parts.mkdir()
        init_args = (str(config.prompts.vocab_dir), config.clean.model_dump(), str(parts))
        parallel = workers > 1 and len(tasks) > 1
        if parallel and not hasattr(os, "fork"):
            pool = mp.get_context("spawn").Pool(workers, initializer=_init, initargs=init_args)
        else:
            _init(*init_args)
            Lexicon.preload()  # the dictionaries (~1 s), loaded once: forked workers share them
            stack.enter_context(fewer_collections())  # after loading: they are frozen, never rescanned
            pool = mp.get_context("fork").Pool(workers) if parallel else None
        results = pool.imap(_process, tasks) if pool is not None else map(_process, tasks)
        outputs = {kind: (tmp / f"{kind}.jsonl").open("wb") for kind in ("accepted", "rejected")}
        try:
            bar = tqdm(unit="story", disable=not show_progress, mininterval=0.5)
            for number, r in enumerate(results):  # in input order: join each task's parts as it lands
                if r["bad"] and not skip_bad:
                    source, offset, msg = r["bad"][0]
                    raise StorygenError(
                        f"{source}:{line_number(source, offset)}: {msg}; fix the line or pass --skip-bad"
                    )
                bad_lines.extend(r["bad"])
                totals["accepted"] += r["accepted"]
                totals["rejected"] += r["rejected"]
                reasons.update(r["reasons"])
                oov.update(r["oov"])
                sums.update(r["sums"])
                for kind, f in outputs.items():
                    part = parts / f"{number:06d}.{kind}"
                    append_file(part, f)
                    part.unlink()
                bar.update(r["accepted"] + r["rejected"])
            bar.close()
        finally:
            for f in outputs.values():
                f.close()
            if pool is not None:
                pool.terminate()
        parts.rmdir()
        total = totals["accepted"] + totals["rejected"]
        if total == 0:
            raise StorygenError(f"no stories in {', '.join(map(str, inputs))}; check the input files")
        seconds = time.perf_counter() - started
        report = {
            "inputs": [str(p) for p in inputs],
            "total": total,
            "accepted": totals["accepted"],
            "rejected": totals["rejected"],
            "reasons": dict(reasons.most_common()),
            "bad_lines": len(bad_lines),
            "bad_line_examples": [f"{s}:{line_number(s, o)}: {m}" for s, o, m in bad_lines[:10]],
            "mean_scores": {k: round(v / total, 4) for k, v in sorted(sums.items())},
            "vocab_threshold": config.clean.vocab_threshold,
            "top_oov": [[w, c] for w, c in oov.most_common(config.clean.oov_report)],
            "seconds": round(seconds, 3),
            "stories_per_s": round(total / seconds, 1),
        }
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        save_config(config, tmp / "config.yaml")
    return report
