"""A byte-level BPE tokenizer trained with `tokenizers`, saved in Hugging Face format (loads with
transformers.AutoTokenizer), with <|endoftext|> as the end-of-text token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storygen.errors import StorygenError

EOT = "<|endoftext|>"


def train_tokenizer(texts: Iterator[str], vocab_size: int, out: Path) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + 1 or vocab_size > 65535:
        raise StorygenError(f"--vocab-size must be in [257, 65535] (uint16 token ids), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )  # fmt: skip
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOT, bos_token=EOT, unk_token=None)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    return fast


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    if not (path / "tokenizer.json").is_file():
        raise StorygenError(f"{path}: no tokenizer.json; train one with `storygen tokenizer train`")
    return AutoTokenizer.from_pretrained(str(path))
