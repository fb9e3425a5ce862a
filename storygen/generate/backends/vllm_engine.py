"""An in-process vLLM engine: built once, handed whole lists of prompts so it batches them itself.

Prompts go in chunks of `generate.vllm.chunk_size`; each chunk's stories are stored before the next
is submitted, so a crash loses at most one chunk of GPU time, never a stored story. The chat template
is applied by the engine (`LLM.chat`); a model without one (a bare base model) gets the prompt text
as is (`LLM.generate`). vllm is imported lazily: without the extra this is a one-line error.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from storygen.config import RunConfig
from storygen.errors import StorygenError
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import Choice, Completion
from storygen.generate.progress import Progress
from storygen.generate.runner import pending_prompts, sampling_params, store_completion
from storygen.generate.store import StoryWriter
from storygen.prompts import PromptFactory
from storygen.records import Prompt

VLLM_MISSING = "the vllm backend needs the vllm extra: pip install -e '.[vllm]' on a machine with an NVIDIA GPU"


def require_gpu() -> None:
    """A one-line error when no CUDA device is visible."""
    try:
        import torch

        if torch.cuda.is_available():
            return
    except ImportError:
        pass
    smi = shutil.which("nvidia-smi")
    if smi and subprocess.run([smi, "-L"], capture_output=True).returncode == 0:
        return
    raise StorygenError("no NVIDIA GPU is visible (torch.cuda.is_available() is False and nvidia-smi fails); "
                        "run vLLM on a GPU machine, or use --backend openai")  # fmt: skip


def build_engine(config: RunConfig) -> Any:
    try:
        import vllm
    except ImportError:
        raise StorygenError(VLLM_MISSING) from None
    require_gpu()
    v = config.generate.vllm
    extra: dict[str, Any] = {}
    if v.structured_backend != "auto":
        extra["structured_outputs_config"] = {"backend": v.structured_backend}
    return vllm.LLM(
        model=config.generate.model,
        tensor_parallel_size=v.tensor_parallel_size,
        max_model_len=v.max_model_len,
        gpu_memory_utilization=v.gpu_memory_utilization,
        dtype=v.dtype,
        seed=config.seed,
        **extra,
    )


def make_sampling_params(config: RunConfig, prompt: Prompt) -> Any:
    from vllm import SamplingParams

    extra: dict[str, Any] = {}
    if config.generate.constrain_vocab:
        from storygen.constrain.requests import sampling_constraint, vocab_regex

        extra = sampling_constraint(vocab_regex(config.prompts.vocab_dir))
    return SamplingParams(**sampling_params(config, prompt), **extra)


def _chunks(it: Iterator[Prompt], size: int) -> Iterator[list[Prompt]]:
    while chunk := list(islice(it, size)):
        yield chunk


def completion_from_output(output: Any) -> Completion:
    """A vLLM RequestOutput -> Completion (choices in order, token counts from the ids)."""
    choices = [Choice(text=o.text, finish_reason=o.finish_reason) for o in output.outputs]
    prompt_tokens = len(output.prompt_token_ids or [])
    return Completion(choices, prompt_tokens, sum(len(o.token_ids) for o in output.outputs))


def run_vllm(
    config: RunConfig,
    factory: PromptFactory,
    out_dir: Path,
    done: set[str],
    progress: Progress,
    engine: Any = None,
    params_for: Callable[[RunConfig, Prompt], Any] = make_sampling_params,
) -> Accounting:
    """Generate every missing story with one engine. `engine` and `params_for` are injectable for tests."""
    engine = engine if engine is not None else build_engine(config)
    tokenizer = engine.get_tokenizer()
    use_chat = bool(getattr(tokenizer, "chat_template", None))
    acct = Accounting()
    cpu0 = time.process_time()
    prompts = pending_prompts(factory, config.n, done, config.sampling.n)
    with StoryWriter(out_dir, 0) as writer:
        for chunk in _chunks(prompts, config.generate.vllm.chunk_size):
            params = [params_for(config, p) for p in chunk]
            acct.first_send = acct.first_send or time.time()
            if use_chat:
                outputs = engine.chat([[{"role": "user", "content": p.text}] for p in chunk], params, use_tqdm=False)
            else:
                outputs = engine.generate([p.text for p in chunk], params, use_tqdm=False)
            for prompt, output in zip(chunk, outputs, strict=True):
                acct.requests += 1
                params = sampling_params(config, prompt)
                store_completion(prompt, completion_from_output(output), config, "vllm", params, writer, done, acct)
            acct.cpu_s = time.process_time() - cpu0
            progress.update(acct)
    return acct
