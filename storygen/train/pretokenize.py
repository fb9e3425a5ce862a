"""Stories -> flat uint16 token ids, one story after another with <|endoftext|> between them, in
train.bin and val.bin (memory-mapped at train time, as nanoGPT does). Encoding runs in the
tokenizers library's own threads, a batch at a time, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from storygen.dataset.schema import split_of
from storygen.errors import StorygenError

BATCH = 2048


def encode_split(texts: Any, tokenizer: Any, path: Path, desc: str, show_progress: bool = True) -> int:
    eot = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    backend = tokenizer.backend_tokenizer
    n_tokens = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        bar = tqdm(total=len(texts), desc=desc, unit="story", disable=not show_progress, mininterval=0.5)
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            encoded = backend.encode_batch(batch, add_special_tokens=False)
            ids = [t for e in encoded for t in (*e.ids, eot)]
            arr = np.asarray(ids, dtype=np.uint16)
            f.write(arr.tobytes())
            n_tokens += len(arr)
            bar.update(len(batch))
        bar.close()
    tmp.replace(path)
    return n_tokens


def pretokenize(dataset: Any, tokenizer: Any, out: Path, val_share: float = 0.05, show_progress: bool = True) -> dict:
    """Write out/train.bin, out/val.bin and out/meta.json; use the dataset's validation split, or
    hold out `val_share` of train by a hash of the text when it has none."""
    if len(tokenizer) > 65535:
        raise StorygenError(f"tokenizer has {len(tokenizer)} tokens; uint16 shards hold at most 65535")
    out.mkdir(parents=True, exist_ok=True)
    train_texts = dataset["train"]["text"]
    if "validation" in dataset:
        val_texts = dataset["validation"]["text"]
    else:
        train_texts, val_texts = (
            [t for t in train_texts if split_of(t, val_share) == "train"],
            [t for t in train_texts if split_of(t, val_share) == "validation"],
        )
    if not val_texts:
        raise StorygenError("no validation stories; add more stories or raise the validation share")
    meta = {
        "train_tokens": encode_split(train_texts, tokenizer, out / "train.bin", "train", show_progress),
        "val_tokens": encode_split(val_texts, tokenizer, out / "val.bin", "val", show_progress),
        "train_stories": len(train_texts),
        "val_stories": len(val_texts),
        "vocab_size": len(tokenizer),
        "eot": tokenizer.convert_tokens_to_ids(tokenizer.eos_token),
        "dtype": "uint16",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
