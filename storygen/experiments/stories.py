"""Tokenized stories with a difficulty score each, and batches packed from them.

A batch is B sequences of T+1 tokens made by concatenating stories (with <|endoftext|> after each)
drawn from an eligible set; which stories is a pure function of (seed, step), so arms, seeds and
resumed runs see exactly what they should, and every step holds exactly B*T training tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class StorySet:
    tokens: list[np.ndarray]  # one array of token ids per story, without the separator
    difficulty: np.ndarray  # one score per story (reading age), float
    eot: int

    def __len__(self) -> int:
        return len(self.tokens)

    def order(self) -> np.ndarray:
        """Story indices from easiest to hardest (ties broken by index)."""
        return np.lexsort((np.arange(len(self)), self.difficulty))


def pack(stories: StorySet, eligible: np.ndarray, batch: int, context: int, rng: np.random.Generator,
         seen: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """B rows of context+1 tokens from random eligible stories; `seen` counts tokens per story."""
    rows = np.empty((batch, context + 1), dtype=np.int64)
    for r in range(batch):
        filled = 0
        while filled < context + 1:
            i = int(eligible[rng.integers(len(eligible))])
            ids = stories.tokens[i]
            take = min(len(ids) + 1, context + 1 - filled)
            chunk = np.append(ids, stories.eot)[:take]
            rows[r, filled : filled + take] = chunk
            if seen is not None:
                seen[i] += take
            filled += take
    t = torch.from_numpy(rows)
    return t[:, :-1], t[:, 1:]


def step_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, step])


@dataclass
class EvalSet:
    name: str
    x: torch.Tensor
    y: torch.Tensor


def eval_set(
    stories: StorySet, idx: np.ndarray, name: str, batches: int, batch: int, context: int, seed: int
) -> EvalSet:
    """A fixed set of packed windows from the stories `idx` (the same for every arm and seed)."""
    xs, ys = zip(
        *(pack(stories, idx, batch, context, step_rng(seed, 10_000_000 + b)) for b in range(batches)), strict=True
    )
    return EvalSet(name, torch.cat(xs), torch.cat(ys))
