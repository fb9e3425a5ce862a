"""The pupil's side: story beginnings, their completions by the model under test (a storygen run
or an exported Hugging Face folder), and the model's loss on held-out text."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path
from typing import Any

import torch

from storygen.config import EvalConfig
from storygen.errors import StorygenError
from storygen.paths import PROMPTS_DIR

DEFAULT_BEGINNINGS = PROMPTS_DIR / "eval" / "beginnings.txt"


def cut_mid_sentence(text: str, rng: random.Random) -> str | None:
    """The start of a story, cut inside a sentence between 30% and 60% of its words."""
    words = text.split(" ")
    if len(words) < 20:
        return None
    for _ in range(10):
        k = rng.randint(int(0.3 * len(words)), int(0.6 * len(words)))
        if not re.search(r"[.!?\"]$", words[k - 1]):
            return " ".join(words[:k])
    return None


def load_beginnings(ev: EvalConfig, texts: list[str] | None) -> list[str]:
    """ev.n beginnings: from a file (one per line), or held-out stories cut mid-sentence."""
    if ev.beginnings is not None or not texts:
        path = ev.beginnings or DEFAULT_BEGINNINGS
        if not path.is_file():
            raise StorygenError(f"{path}: beginnings file not found; set eval.beginnings")
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise StorygenError(f"{path}: no beginnings in the file")
        return [lines[i % len(lines)] for i in range(ev.n)]
    rng = random.Random(ev.seed)
    pool = list(texts)
    rng.shuffle(pool)
    out = [b for b in (cut_mid_sentence(t, rng) for t in pool) if b][: ev.n]
    if not out:
        raise StorygenError("no held-out story is long enough to cut; use eval.beginnings")
    return out


class Pupil:
    """The model under test: a storygen run folder (ckpt.pt) or a Hugging Face model folder."""

    def __init__(self, path: Path):
        from transformers import AutoTokenizer

        if (path / "ckpt.pt").is_file():
            from storygen.train.sample import load_run

            self.kind = "storygen"
            self.model, self.tokenizer = load_run(path)
            self.context = self.model.cfg.context
        elif (path / "config.json").is_file():
            from transformers import AutoModelForCausalLM

            self.kind = "huggingface"
            try:
                self.model = AutoModelForCausalLM.from_pretrained(str(path)).eval()
                self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            except Exception as e:
                raise StorygenError(
                    f"{path}: cannot load the model ({type(e).__name__}: {str(e).splitlines()[0][:150]})"
                ) from None
            self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        else:
            raise StorygenError(f"{path}: neither a storygen run (ckpt.pt) nor a Hugging Face model (config.json)")
        self.eot = self.tokenizer.convert_tokens_to_ids(self.tokenizer.eos_token)

    @torch.no_grad()
    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        if self.kind == "storygen":
            return self.model(ids)
        return self.model(ids).logits

    def complete(self, beginning: str, ev: EvalConfig, seed: int) -> str:
        return self.generate(beginning, ev.max_new, ev.temperature, ev.top_k, seed)[0].strip()

    def generate(self, prefix: str, max_new: int, temperature: float, top_k: int | None, seed: int,
                 constraint: Any = None) -> tuple[str, int]:  # fmt: skip
        """The continuation of `prefix` and the number of tokens it has."""
        from storygen.train.sample import decode

        ids = self.tokenizer.encode(prefix, add_special_tokens=False)[-(self.context - 1) :]
        out = decode(lambda w: self.logits(w)[0, -1], self.context, ids, max_new, temperature, top_k, self.eot,
                     seed, constraint)  # fmt: skip
        return self.tokenizer.decode(out[len(ids) :]), len(out) - len(ids)

    @torch.no_grad()
    def loss(self, texts: list[str], batches: int, seq: int = 256) -> float:
        """Mean next-token cross-entropy (nats) over up to `batches` windows of held-out text."""
        ids: list[int] = []
        for t in texts:
            ids += [*self.tokenizer.encode(t, add_special_tokens=False), self.eot]
            if len(ids) > batches * (seq + 1):
                break
        seq = min(seq, self.context - 1)
        total, count = 0.0, 0
        for start in range(0, len(ids) - seq - 1, seq):
            window = torch.tensor([ids[start : start + seq + 1]])
            logits = self.logits(window[:, :-1])[0].float()
            total += torch.nn.functional.cross_entropy(logits, window[0, 1:], reduction="sum").item()
            count += seq
            if count >= batches * seq:
                break
        if count == 0:
            raise StorygenError("too little held-out text to measure the loss")
        return total / count


def perplexity(loss: float) -> float:
    return math.exp(loss)


def held_out_texts(data: str | None, run: Path) -> list[str]:
    """Validation stories from --data, else the run's own validation shard decoded."""
    if data:
        from storygen.train.data import load_text_dataset

        ds = load_text_dataset(data)
        split = "validation" if "validation" in ds else "train"
        return list(ds[split]["text"])
    val = run / "data" / "val.bin"
    if val.is_file():
        import numpy as np

        from storygen.train.tokenizer import load_tokenizer

        tok = load_tokenizer(run / "tokenizer")
        ids = np.fromfile(val, dtype=np.uint16)
        eot = tok.convert_tokens_to_ids(tok.eos_token)
        parts = np.split(ids, np.flatnonzero(ids == eot) + 1)
        return [tok.decode(p[:-1].tolist()) for p in parts[:2000] if len(p) > 1]
    return []


def describe(p: Pupil) -> dict[str, Any]:
    n = sum(x.numel() for x in p.model.parameters())
    return {"kind": p.kind, "params": n, "context": p.context}
