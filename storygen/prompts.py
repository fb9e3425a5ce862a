"""Templates -> Prompt records. A `PromptFactory` is built once per run (vocabulary, features and
template loaded and checked up front) and then renders prompt `index` of the seeded stream."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2

from storygen.config import RunConfig
from storygen.errors import StorygenError
from storygen.features import FeatureSet, load_features
from storygen.records import Prompt
from storygen.sampling import draw
from storygen.vocab import FEATURES_FILE, Vocabulary, load_vocabulary

TEMPLATE_SUFFIX = ".j2"


def available_templates(prompts_dir: Path) -> list[str]:
    return sorted(p.name.removesuffix(TEMPLATE_SUFFIX) for p in prompts_dir.glob(f"*{TEMPLATE_SUFFIX}"))


def load_template(prompts_dir: Path, name: str) -> jinja2.Template:
    if not prompts_dir.is_dir():
        raise StorygenError(f"{prompts_dir}: prompts directory not found; set prompts.prompts_dir")
    path = prompts_dir / f"{name}{TEMPLATE_SUFFIX}"
    if not re.fullmatch(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)?", name) or not path.is_file():
        names = ", ".join(available_templates(prompts_dir)) or "none"
        raise StorygenError(f"unknown template {name!r}: no {path}; available: {names}")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    try:
        return env.get_template(f"{name}{TEMPLATE_SUFFIX}")
    except jinja2.TemplateSyntaxError as e:
        raise StorygenError(f"{path}:{e.lineno}: template syntax error: {e.message}") from e


@dataclass(frozen=True)
class _FeatureView:
    name: str
    instruction: str


@dataclass(frozen=True)
class _AxisView:
    name: str
    value: str
    instruction: str


def prompt_id(seed: int, index: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x00{index}\x00{text}".encode()).hexdigest()[:16]


class PromptFactory:
    """Everything needed to render prompts, loaded and validated once."""

    def __init__(self, config: RunConfig):
        pc = config.prompts
        self.seed = config.seed
        self.template_name = pc.template
        self.vocab: Vocabulary = load_vocabulary(pc.vocab_dir)
        self.features: FeatureSet = load_features(pc.vocab_dir / FEATURES_FILE)
        self.template = load_template(pc.prompts_dir, pc.template)
        fc = pc.features
        for name in fc.weights:
            if name not in self.features.features:
                raise StorygenError(
                    f"prompts.features.weights.{name}: unknown feature; known: {', '.join(self.features.features)}"
                )
        for name in fc.axes:
            if name not in self.features.axes:
                raise StorygenError(
                    f"prompts.features.axes.{name}: unknown axis; known: {', '.join(self.features.axes)}"
                )
        self.weights = {name: fc.weights.get(name, f.weight) for name, f in self.features.features.items()}
        available = sum(1 for w in self.weights.values() if w > 0)
        if fc.min_count > available:
            raise StorygenError(
                f"prompts.features.min_count: {fc.min_count} exceeds the {available} features with weight > 0"
            )
        self.min_features, self.max_features = fc.min_count, min(fc.max_count, available)
        self.axis_probability = {name: fc.axes.get(name, a.probability) for name, a in self.features.axes.items()}

    def render(self, index: int) -> Prompt:
        d = draw(
            self.vocab, self.features, self.seed, index,
            self.min_features, self.max_features, self.weights, self.axis_probability,
        )  # fmt: skip
        features = [_FeatureView(n, self.features.features[n].instruction) for n in d.features]
        axes = [_AxisView(n, v, self.features.axes[n].instruction.replace("{value}", v)) for n, v in d.axes.items()]
        try:
            text = self.template.render(
                verb=d.words.verb,
                noun=d.words.noun,
                adjective=d.words.adjective,
                features=features,
                axes=axes,
            ).strip()
        except jinja2.UndefinedError as e:
            raise StorygenError(f"template {self.template_name!r}: {e.message}; see the variables in its header") from e
        if "\n\n\n" in text:
            text = re.sub(r"\n{3,}", "\n\n", text)
        return Prompt(
            id=prompt_id(self.seed, index, text),
            index=index,
            seed=self.seed,
            template=self.template_name,
            vocab_version=self.vocab.version,
            words=d.words,
            features=d.features,
            axes=d.axes,
            text=text,
        )

    def iter_prompts(self, n: int, start: int = 0) -> Iterator[Prompt]:
        for index in range(start, start + n):
            yield self.render(index)


_SUMMARY = re.compile(r"^[ \t]*\**summary\**[ \t]*:[ \t]*\**[ \t]*(?P<s>.+?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def split_summary(reply: str) -> tuple[str, str | None]:
    """Split a reply of the `summary` template into (story, summary). The summary is the last line
    starting with 'Summary:'; with none, the whole reply is the story and the summary is None."""
    matches = list(_SUMMARY.finditer(reply))
    if not matches:
        return reply.strip(), None
    m = matches[-1]
    return (reply[: m.start()] + reply[m.end() :]).strip(), m.group("s")
