"""`storygen eval` and `storygen judge`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from storygen.clean.io import AtomicDir, BadLine, iter_lines, parse_story
from storygen.config import RunConfig, save_config
from storygen.errors import StorygenError
from storygen.evaluate.completions import Pupil, describe, held_out_texts, load_beginnings, perplexity
from storygen.evaluate.judge import Judge, gather_limited
from storygen.evaluate.report import aggregate, mean_ci, write_report
from storygen.generate.backends.openai_chat import api_key, check_base_url
from storygen.generate.runner import run_async


def _check_judge(config: RunConfig) -> None:
    if config.judge.backend != "openai":
        raise StorygenError(f"judge.backend: {config.judge.backend!r} is not supported for judging; use openai "
                            "(any OpenAI-compatible endpoint, a `vllm serve` included)")  # fmt: skip
    check_base_url(config.judge.base_url)
    api_key(config.judge)


def evaluate(
    model_path: Path, out: Path, config: RunConfig, data: str | None = None, show_progress: bool = True
) -> dict[str, Any]:
    _check_judge(config)
    ev = config.eval
    pupil = Pupil(model_path)
    texts = held_out_texts(data, model_path)
    beginnings = load_beginnings(ev, texts if data else None)
    started = time.perf_counter()
    completions = [
        pupil.complete(b, ev, ev.seed + i)
        for i, b in enumerate(tqdm(beginnings, desc="completing", disable=not show_progress, mininterval=0.5))
    ]
    loss = pupil.loss(texts, ev.perplexity_batches) if texts else None
    judge = Judge(config.judge, ev)

    async def grade_all() -> list[Any]:
        try:
            await judge.preflight()
            coros = [judge.grade(b, c) for b, c in zip(beginnings, completions, strict=True)]
            return await gather_limited(coros, config.judge.concurrency)
        finally:
            await judge.aclose()

    verdicts = run_async(grade_all())
    grades = [v.grade for v in verdicts]
    report = {
        "model": str(model_path),
        "pupil": describe(pupil),
        "judge": {"model": config.judge.model, "base_url": config.judge.base_url},
        "items": len(beginnings),
        "grades": aggregate(grades, ev.seed),
        "loss": round(loss, 5) if loss is not None else None,
        "perplexity": round(perplexity(loss), 4) if loss is not None else None,
        "judge_usage": judge.acct.to_dict(),
        "asks_per_item": mean_ci([v.tries for v in verdicts]),
        "examples": [
            {"beginning": b, "completion": c, "grade": v.grade.model_dump() if v.grade else None}
            for b, c, v in list(zip(beginnings, completions, verdicts, strict=True))[: ev.examples]
        ],
        "seconds": round(time.perf_counter() - started, 2),
    }
    with AtomicDir(out) as tmp:
        write_report(report, tmp)
        with (tmp / "completions.jsonl").open("w") as f:
            for b, c, v in zip(beginnings, completions, verdicts, strict=True):
                f.write(json.dumps({"beginning": b, "completion": c, "grade": v.grade.model_dump() if v.grade else None,
                                    "asks": v.tries, "error": v.error}) + "\n")  # fmt: skip
        save_config(config, tmp / "config.yaml")
    return report


def judge_stories(
    inputs: list[Path], out: Path, config: RunConfig, skip_bad: bool = False, show_progress: bool = True
) -> dict[str, Any]:
    """Ask-LLM quality score for each story, stored as scores["judge_quality"]."""
    _check_judge(config)
    stories = []
    for source, lineno, line in iter_lines(inputs):
        try:
            stories.append(parse_story(line, source))
        except BadLine as e:
            if not skip_bad:
                raise StorygenError(f"{source}:{lineno}: {e}; fix the line or pass --skip-bad") from None
    if not stories:
        raise StorygenError(f"no stories in {', '.join(map(str, inputs))}")
    judge = Judge(config.judge, config.eval)

    async def ask_all() -> list[tuple[float | None, str]]:
        try:
            await judge.preflight()
            return await gather_limited([judge.ask(s.text) for s in stories], config.judge.concurrency)
        finally:
            await judge.aclose()

    results = run_async(ask_all())
    methods: dict[str, int] = {}
    scores = []
    with AtomicDir(out) as tmp, (tmp / "judged.jsonl").open("w") as f:
        for story, (score, method) in zip(stories, results, strict=True):
            methods[method] = methods.get(method, 0) + 1
            if score is not None:
                story.scores["judge_quality"] = round(score, 4)
                scores.append(score)
            f.write(story.model_dump_json() + "\n")
        report = {
            "stories": len(stories),
            "scored": len(scores),
            "methods": methods,
            "judge_quality": mean_ci(scores),
            "judge": {"model": config.judge.model, "base_url": config.judge.base_url},
            "judge_usage": judge.acct.to_dict(),
        }
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        save_config(config, tmp / "config.yaml")
    return report
