"""The constraint on the wire: vLLM's structured outputs, per request.

vLLM >= 0.12 reads `structured_outputs` (`StructuredOutputsParams` in process, an extra body field
for `vllm serve`); older versions read `guided_regex` / `GuidedDecodingParams`, and a server silently
ignores a field it does not know. So before a constrained run, `probe` sends one request whose
unconstrained answer would break the constraint and stops the run if the answer does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from storygen.config import GenerateConfig
from storygen.constrain.forms import all_forms
from storygen.constrain.pattern import regex
from storygen.errors import StorygenError
from storygen.vocab import load_vocabulary

PROBE = "Repeat exactly, with nothing else: photosynthesis xylophone quizzical"


@lru_cache(maxsize=4)
def vocab_regex(vocab_dir: Path) -> str:
    return regex(all_forms(load_vocabulary(vocab_dir)))


def request_fields(pattern: str) -> dict[str, Any]:
    """Extra body fields of a constrained chat request to `vllm serve`."""
    return {"structured_outputs": {"regex": pattern}}


def sampling_constraint(pattern: str) -> dict[str, Any]:
    """Keyword arguments for vllm.SamplingParams that apply the constraint, for the installed vLLM."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(regex=pattern)}
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams  # vLLM < 0.12

        return {"guided_decoding": GuidedDecodingParams(regex=pattern)}


def check_supported(config: GenerateConfig) -> None:
    if not config.constrain_vocab:
        return
    if config.backend == "openai-batch" or (config.backend == "openai" and config.base_url is None):
        raise StorygenError(
            "--constrain-vocab needs a decoder storygen controls: the hosted OpenAI API cannot enforce it; "
            "use --backend vllm, --backend local, or --base-url of a `storygen serve`"
        )


async def probe(backend: Any, pattern: str) -> None:
    """Stop unless the server really applies the constraint (see the module docstring)."""
    reply = await backend.complete(PROBE, {"temperature": 0.0, "max_tokens": 24, **request_fields(pattern)})
    text = reply.choices[0].text if reply.choices else ""
    if not re.fullmatch(pattern, text):
        raise StorygenError(
            f"the server ignored the vocabulary constraint (it answered {text[:60]!r}); it needs vLLM >= 0.12 "
            "with structured outputs (the `structured_outputs` request field)"
        )
