"""`storygen sample`: continue a prompt with a trained run (temperature, top-k, seeded)."""

from __future__ import annotations

from pathlib import Path

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
             eot: int | None = None, seed: int = 0) -> list[int]:  # fmt: skip
    """Append up to max_new tokens to ids; stop at eot. temperature 0 is greedy."""
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    out = list(ids)
    for _ in range(max_new):
        window = torch.tensor([out[-model.cfg.context :]], device=device)
        logits = model(window)[0, -1].float().cpu()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits[logits < kth] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g))
        if nxt == eot:
            break
        out.append(nxt)
    return out


def sample(run: Path, prompt: str, max_new: int = 200, temperature: float = 0.8, top_k: int | None = 50,
           seed: int = 0, n: int = 1) -> list[str]:  # fmt: skip
    if temperature < 0:
        raise StorygenError(f"--temperature must be >= 0, got {temperature}")
    model, tok = load_run(run)
    ids = tok.encode(prompt, add_special_tokens=False)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    return [tok.decode(generate(model, ids, max_new, temperature, top_k, eot, seed + i)) for i in range(n)]
