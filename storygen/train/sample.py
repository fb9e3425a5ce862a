"""`storygen sample`: continue a prompt with a trained run (temperature, top-k, seeded)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from storygen.errors import StorygenError
from storygen.train.model import ModelConfig, StoryModel
from storygen.train.tokenizer import load_tokenizer
from storygen.train.trainer import CKPT, load_checkpoint


def load_run(run: Path, device: str = "cpu") -> tuple[StoryModel, object]:
    if not (run / CKPT).is_file():
        raise StorygenError(f"{run}: no {CKPT}; train a model with `storygen train --out {run}` first")
    ck = load_checkpoint(run / CKPT)
    model = StoryModel(ModelConfig(**ck.model_config))
    model.load_state_dict(ck.model)
    return model.to(device).eval(), load_tokenizer(run / "tokenizer")


@torch.no_grad()
def generate(model: StoryModel, ids: list[int], max_new: int, temperature: float = 1.0, top_k: int | None = None,
             eot: int | None = None, seed: int = 0, constraint: Any = None) -> list[int]:  # fmt: skip
    """Append up to max_new tokens to ids with a storygen model; see `decode`."""
    device = next(model.parameters()).device
    return decode(lambda w: model(w.to(device))[0, -1], model.cfg.context, ids, max_new, temperature, top_k, eot,
                  seed, constraint)  # fmt: skip


@torch.no_grad()
def decode(next_logits: Callable[[torch.Tensor], torch.Tensor], context: int, ids: list[int], max_new: int,
           temperature: float = 1.0, top_k: int | None = None, eot: int | None = None, seed: int = 0,
           constraint: Any = None) -> list[int]:  # fmt: skip
    """The sampling loop for any model: `next_logits(window (1, T))` gives the next token's logits.
    Appends up to max_new tokens to ids; stops at eot; temperature 0 is greedy. With a `constraint`
    (storygen.constrain.decode.TokenConstraint) only tokens it allows are drawn, end-of-text waits
    for the first word, and a word cut off by max_new is dropped."""
    g = torch.Generator().manual_seed(seed)
    out = list(ids)
    state = constraint.start(ids) if constraint is not None else None
    last_end = len(out)  # with a constraint: the last length at which the text may end
    has_word = False  # with a constraint: no end-of-text before the first word
    for _ in range(max_new):
        logits = next_logits(torch.tensor([out[-context:]])).float().cpu()
        allowed = None
        if constraint is not None:  # draw among the allowed tokens only: the same as masking the rest
            allowed = constraint.allowed(state, allow_end=has_word)
            if allowed.numel() == 0:
                break
            logits = logits.index_select(0, allowed)
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits[logits < kth] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g))
        if allowed is not None:
            nxt = int(allowed[nxt])
        if nxt == eot:
            break
        out.append(nxt)
        if constraint is not None:
            state = constraint.advance(state, nxt)
            has_word = has_word or constraint.has_letter[nxt]
            if constraint.can_end(state):
                last_end = len(out)
    if constraint is not None and not constraint.can_end(state):
        out = out[:last_end]  # ran out of tokens inside a word: drop the unfinished word
    return out


def sample(run: Path, prompt: str, max_new: int = 200, temperature: float = 0.8, top_k: int | None = 50,
           seed: int = 0, n: int = 1, constrain_vocab: Path | None = None) -> list[str]:  # fmt: skip
    """Continue `prompt` n times; with `constrain_vocab` (a vocab folder) only allowed words appear."""
    if temperature < 0:
        raise StorygenError(f"--temperature must be >= 0, got {temperature}")
    model, tok = load_run(run)
    ids = tok.encode(prompt, add_special_tokens=False)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    constraint = vocab_constraint(constrain_vocab, tok, eot) if constrain_vocab else None
    return [tok.decode(generate(model, ids, max_new, temperature, top_k, eot, seed + i, constraint)) for i in range(n)]


def vocab_constraint(vocab_dir: Path, tokenizer: Any, eot: int | None) -> Any:
    from storygen.constrain.decode import TokenConstraint
    from storygen.constrain.forms import all_forms
    from storygen.constrain.pattern import Matcher
    from storygen.vocab import load_vocabulary

    return TokenConstraint(Matcher(all_forms(load_vocabulary(vocab_dir))), tokenizer, eot)
