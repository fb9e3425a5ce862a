"""The CPU path: a local model (a `storygen train` run or a Hugging Face folder, `generate.model`)
continues each prompt's text, one prompt at a time, optionally inside the vocabulary constraint.
Meant for small models and for testing the constraint without a GPU."""

from __future__ import annotations

import time
from pathlib import Path

from storygen.config import RunConfig
from storygen.generate.accounting import Accounting
from storygen.generate.backends.base import Choice, Completion
from storygen.generate.progress import Progress
from storygen.generate.runner import pending_prompts, sampling_params, store_completion
from storygen.generate.store import StoryWriter
from storygen.prompts import PromptFactory


def run_local(
    config: RunConfig, factory: PromptFactory, out_dir: Path, done: set[str], progress: Progress
) -> Accounting:
    from storygen.evaluate.completions import Pupil
    from storygen.train.sample import vocab_constraint

    pupil = Pupil(Path(config.generate.model))
    constraint = (
        vocab_constraint(config.prompts.vocab_dir, pupil.tokenizer, pupil.eot)
        if config.generate.constrain_vocab
        else None
    )
    s = config.sampling
    acct = Accounting()
    cpu0 = time.process_time()
    acct.first_send = time.time()
    with StoryWriter(out_dir, 0) as writer:
        for prompt in pending_prompts(factory, config.n, done, s.n):
            choices, completion_tokens = [], 0
            for j in range(s.n):
                seed = (s.seed or 0) + prompt.index * 16 + j
                text, n_new = pupil.generate(prompt.text, s.max_tokens, s.temperature, None, seed, constraint)
                choices.append(Choice(text=text, finish_reason="length" if n_new >= s.max_tokens else "stop"))
                completion_tokens += n_new
            prompt_tokens = len(pupil.tokenizer.encode(prompt.text, add_special_tokens=False))
            completion = Completion(choices, prompt_tokens, completion_tokens)
            acct.requests += 1
            store_completion(prompt, completion, config, "local", sampling_params(config, prompt), writer, done, acct)
            acct.cpu_s = time.process_time() - cpu0
            progress.update(acct)
    return acct
