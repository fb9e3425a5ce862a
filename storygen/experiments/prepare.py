"""What every experiment starts from: stories with a reading age, a tokenizer, a held-out split
and fixed evaluation sets (the full distribution and each reading-age bucket)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storygen.config import RunConfig
from storygen.dataset.schema import split_of
from storygen.errors import StorygenError
from storygen.experiments.curriculum import buckets
from storygen.experiments.stories import EvalSet, StorySet, eval_set


@dataclass
class Prepared:
    stories: StorySet
    train_idx: np.ndarray
    val_idx: np.ndarray
    eval_sets: list[EvalSet]
    vocab_size: int
    scorer: str
    tokenizer_dir: Path


def reading_ages(data: str, texts: list[str]) -> tuple[np.ndarray, str]:
    """Reading age per story: the cleaning stage's stored score when the data has it (a
    `storygen build` folder's instruct config), else computed here the same way."""
    path = Path(data)
    if path.is_dir() and (path / "data" / "instruct").is_dir():
        import datasets

        ds = datasets.load_dataset(str(path), "instruct")
        by_text = {}
        for split in ds:
            for story, age in zip(ds[split]["story"], ds[split]["reading_age"], strict=True):
                if age is not None:
                    by_text[story] = age
        if all(t in by_text for t in texts):
            return np.array(
                [by_text[t] for t in texts], dtype=float
            ), "scores.reading_age from `storygen validate` (Flesch–Kincaid grade + 5)"
    from storygen.clean.checks import analyse
    from storygen.clean.lexicon import Lexicon
    from storygen.paths import VOCAB_DIR
    from storygen.records import Story
    from storygen.vocab import load_vocabulary

    lex = Lexicon(load_vocabulary(VOCAB_DIR))
    ages = [analyse(Story(id=str(i), text=t), lex).scores["reading_age"] for i, t in enumerate(texts)]
    return np.array(ages, dtype=float), "Flesch–Kincaid grade + 5, computed on the fly (storygen.clean.readability)"


def prepare(data: str, config: RunConfig, out: Path) -> Prepared:
    from storygen.train.data import load_text_dataset
    from storygen.train.tokenizer import load_tokenizer, train_tokenizer

    tc, xc = config.train, config.experiment
    ds = load_text_dataset(data)
    texts = [t for split in ds for t in ds[split]["text"] if t and t.strip()]
    if len(texts) < 30:
        raise StorygenError(f"{data}: {len(texts)} stories; an experiment needs at least 30")
    ages, scorer = reading_ages(data, texts)
    tok_dir = out / "tokenizer"
    if tc.tokenizer is not None:
        tok = load_tokenizer(tc.tokenizer)
    elif (tok_dir / "tokenizer.json").is_file():
        tok = load_tokenizer(tok_dir)
    else:
        tok = train_tokenizer(iter(texts), tc.vocab_size, tok_dir)
    eot = tok.convert_tokens_to_ids(tok.eos_token)
    encoded = tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
    stories = StorySet([np.asarray(e.ids, dtype=np.int64) for e in encoded], ages, eot)
    is_val = np.array([split_of(t, xc.val_share) == "validation" for t in texts])
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    if len(val_idx) < 3 or len(train_idx) < 10:
        raise StorygenError(f"{data}: too few stories to hold some out; use more data or raise experiment.val_share")
    sets = [eval_set(stories, val_idx, "full", xc.eval_batches, tc.batch_size, tc.context, 0)]
    for name, members in buckets(stories, val_idx).items():
        if len(members):
            sets.append(eval_set(stories, members, name, xc.eval_batches, tc.batch_size, tc.context, 0))
    return Prepared(stories, train_idx, val_idx, sets, len(tok), scorer, tok_dir)


def fresh_model(config: RunConfig, vocab_size: int, seed: int, **shape: Any):  # type: ignore[no-untyped-def]
    """A new model initialised from `seed` alone: the same seed gives the same weights, which is how
    every arm of an experiment starts from the same point."""
    import torch

    from storygen.train.model import StoryModel
    from storygen.train.trainer import model_config

    torch.manual_seed(seed)
    tc = config.train.model_copy(update=shape) if shape else config.train
    return StoryModel(model_config(tc, vocab_size))
