"""The judge: a strong model, reached through the generation backends, grades text.

`parse_grade` reads a reply into a `Grade` (JSON first, then "Grammar: 8/10" lines); a reply it
cannot read, or with a score outside 1..10, is asked again up to eval.parse_attempts times and then
counted as unparseable, never guessed. `ask_score` is the Ask-LLM score of one dataset story:
P(yes) from the first token's log-probabilities when the backend returns them.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from storygen.config import EvalConfig, GenerateConfig
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import RetryableError
from storygen.generate.runner import Caller
from storygen.paths import PROMPTS_DIR
from storygen.prompts import load_template

DIMENSIONS = ("grammar", "creativity", "consistency", "plot")
AGE_GROUPS = {"A": "3 or under", "B": "4-5", "C": "6-7", "D": "8-9", "E": "10-12", "F": "13-16"}


class Grade(BaseModel):
    grammar: int = Field(ge=1, le=10)
    creativity: int = Field(ge=1, le=10)
    consistency: int = Field(ge=1, le=10)
    plot: int = Field(ge=1, le=10)
    age_group: str

    @field_validator("age_group")
    @classmethod
    def _age(cls, v: str) -> str:
        letter = v.strip().upper()[:1]
        if letter not in AGE_GROUPS:
            raise ValueError(f"age_group must be one of {', '.join(AGE_GROUPS)}, got {v!r}")
        return letter

    @property
    def overall(self) -> float:
        return sum(getattr(self, d) for d in DIMENSIONS) / len(DIMENSIONS)


GRADE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "grade",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                **{d: {"type": "integer"} for d in DIMENSIONS},
                "age_group": {"type": "string", "enum": list(AGE_GROUPS)},
            },
            "required": [*DIMENSIONS, "age_group"],
            "additionalProperties": False,
        },
    },
}

_JSON = re.compile(r"\{.*?\}", re.DOTALL)
_LINE = re.compile(r"(grammar|creativity|consistency|plot)\W{0,3}\s*(\d{1,2})(?:\s*/\s*10)?", re.IGNORECASE)
_AGE = re.compile(r"age[ _]?group\W{0,3}\s*\"?([A-Fa-f])\b", re.IGNORECASE)


def _number(v: Any) -> Any:
    if isinstance(v, str) and (m := re.match(r"\s*(\d+(?:\.\d+)?)", v)):
        return round(float(m.group(1)))
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def parse_grade(reply: str) -> Grade | None:
    """A Grade, or None when the reply holds no complete, in-range grade."""
    candidates: list[dict[str, Any]] = []
    for m in _JSON.finditer(reply):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            continue
        if isinstance(obj, dict):
            candidates.append({str(k).lower().replace(" ", "_"): v for k, v in obj.items()})
    lines = {k.lower(): int(v) for k, v in _LINE.findall(reply)}
    if (age := _AGE.search(reply)) is not None:
        lines["age_group"] = age.group(1)
    candidates.append(lines)
    for obj in candidates:
        try:
            return Grade.model_validate({k: _number(v) for k, v in obj.items()})
        except ValidationError:
            continue
    return None


@dataclass
class Verdict:
    grade: Grade | None
    tries: int
    error: str | None = None


class Judge:
    """Grades many items at once through one backend, `judge.concurrency` in flight."""

    def __init__(self, judge: GenerateConfig, ev: EvalConfig, prompts_dir: Path = PROMPTS_DIR):
        from storygen.generate.backends.openai_chat import OpenAIChatBackend

        self.cfg, self.ev = judge, ev
        self.backend = OpenAIChatBackend(judge)
        self.acct = Accounting()
        self.caller = Caller(self.backend, judge, self.acct)
        self.grade_template = load_template(prompts_dir, "judge/grade")
        self.ask_template = load_template(prompts_dir, "judge/ask")

    async def preflight(self) -> None:
        await self.backend.preflight()

    async def aclose(self) -> None:
        await self.backend.aclose()

    def _params(self, structured: bool, max_tokens: int = 200) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": 0.0, "max_tokens": max_tokens}
        if structured:
            params["response_format"] = GRADE_SCHEMA
        return params

    async def grade(self, beginning: str, completion: str) -> Verdict:
        text = self.grade_template.render(beginning=beginning, completion=completion).strip()
        error = None
        for attempt in range(1, self.ev.parse_attempts + 1):
            try:
                reply = await self.caller.call(text, self._params(self.ev.structured), len(text) // 4 + 200)
            except RetryableError as e:
                return Verdict(None, attempt, f"request failed: {e.reason}")
            grade = parse_grade(reply.choices[0].text if reply.choices else "")
            self.acct.prompt_tokens += reply.prompt_tokens
            self.acct.completion_tokens += reply.completion_tokens
            if grade is not None:
                return Verdict(grade, attempt)
            error = "unparseable"
        return Verdict(None, self.ev.parse_attempts, error)

    async def ask(self, story: str) -> tuple[float | None, str]:
        """Ask-LLM: (P(yes), "logprobs") when the backend returns log-probabilities; otherwise
        (overall grade / 10, "grade") from the grading template; (None, reason) when neither works."""
        text = self.ask_template.render(story=story).strip()
        params = {"temperature": 0.0, "max_tokens": 1, "logprobs": True, "top_logprobs": 10}
        try:
            reply = await self.caller.call(text, params, len(text) // 4 + 1)
        except RetryableError as e:
            return None, f"request failed: {e.reason}"
        alts = reply.choices[0].top_logprobs if reply.choices else None
        if alts:
            yes = sum(math.exp(lp) for tok, lp in alts.items() if tok.strip().lower() == "yes")
            no = sum(math.exp(lp) for tok, lp in alts.items() if tok.strip().lower() == "no")
            if yes + no > 0:
                return yes / (yes + no), "logprobs"
        verdict = await self.grade("(a whole story; judge it as a complete story)", story)
        return (verdict.grade.overall / 10, "grade") if verdict.grade else (None, verdict.error or "unparseable")


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    """Run coroutines with at most `limit` at once; results in input order."""
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))
