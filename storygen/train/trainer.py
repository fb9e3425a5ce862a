"""`storygen train`: tokenizer -> pretokenized shards -> training, with exact resume.

RUN/ is the whole state of a run: tokenizer/, data/{train,val}.bin, config.yaml, ckpt.pt (latest
checkpoint), log.jsonl and loss.png. Running the same command again continues from ckpt.pt.

The loop, as in nanoGPT: learning rate -> evaluate / checkpoint -> forward-backward over micro
batches -> clip -> step -> log. Batches are random windows of the token stream drawn from a generator
seeded by (seed, step, micro-step), so the data a step sees does not depend on where a run was
resumed: an interrupted and resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from storygen.config import RunConfig, TrainConfig, save_config
from storygen.errors import StorygenError
from storygen.train.model import ModelConfig, StoryModel

CKPT = "ckpt.pt"


def model_config(tc: TrainConfig, vocab_size: int) -> ModelConfig:
    try:
        return ModelConfig(vocab_size=vocab_size, n_layer=tc.n_layer, d_model=tc.d_model, n_head=tc.n_head,
                           context=tc.context, ffn_hidden=tc.ffn_hidden)  # fmt: skip
    except ValueError as e:
        raise StorygenError(f"train: {e}") from None


def pick_device(tc: TrainConfig) -> tuple[torch.device, torch.dtype | None]:
    """The device, and the autocast dtype (None = plain fp32)."""
    name = tc.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StorygenError(f"train.device is {tc.device!r} but no CUDA GPU is visible; use --set train.device=cpu")
    device = torch.device(name)
    if tc.dtype == "bfloat16" or (tc.dtype == "auto" and device.type == "cuda"):
        return device, torch.bfloat16
    return device, None


class TokenData:
    """A memory-mapped uint16 token stream and seeded random windows from it."""

    def __init__(self, path: Path, context: int):
        self.tokens = np.memmap(path, dtype=np.uint16, mode="r")
        self.context = context
        if len(self.tokens) <= context + 1:
            raise StorygenError(f"{path}: {len(self.tokens)} tokens, fewer than one training sequence of "
                                f"{context + 1}; use more data or a smaller train.context")  # fmt: skip

    def batch(self, batch_size: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        ix = torch.randint(len(self.tokens) - self.context - 1, (batch_size,), generator=g).tolist()
        rows = np.stack([self.tokens[i : i + self.context + 1] for i in ix]).astype(np.int64)
        t = torch.from_numpy(rows)
        x, y = t[:, :-1], t[:, 1:]
        if device.type == "cuda":
            return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        return x.to(device), y.to(device)


def step_seed(seed: int, step: int, micro: int) -> int:
    return (seed * 1_000_003 + step) * 1009 + micro


def lr_at(step: int, tc: TrainConfig) -> float:
    """Linear warmup, then cosine decay from lr to min_lr at max_steps."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    progress = (step - tc.warmup_steps) / max(1, tc.max_steps - tc.warmup_steps)
    return tc.min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (tc.lr - tc.min_lr)


def make_optimizer(model: torch.nn.Module, tc: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2), fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2))


@dataclass
class Checkpoint:
    step: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    model_config: dict[str, Any]
    rng: dict[str, Any]
    best_val: float | None


def save_checkpoint(path: Path, ck: Checkpoint) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(ck.__dict__, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> Checkpoint:
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
        return Checkpoint(**data)
    except Exception as e:
        raise StorygenError(
            f"{path}: unreadable checkpoint ({type(e).__name__}); delete it to start the run over"
        ) from None


def check_shape(ck: Checkpoint, mc: ModelConfig, path: Path) -> None:
    if ck.model_config != mc.to_dict():
        changed = sorted(k for k in mc.to_dict() if ck.model_config.get(k) != mc.to_dict()[k])
        raise StorygenError(f"{path}: made with another model shape ({', '.join(changed)}); use a new --out")


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@torch.no_grad()
def evaluate(
    model: StoryModel, data: TokenData, tc: TrainConfig, device: torch.device, amp: torch.dtype | None
) -> float:
    model.eval()
    losses = []
    for i in range(tc.eval_batches):
        x, y = data.batch(tc.batch_size, step_seed(tc.seed, -1, i), device)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            losses.append(model.loss(x, y, tc.loss_chunk).item())
    model.train()
    return float(np.mean(losses))


def train_loop(run: Path, config: RunConfig, vocab_size: int, stop_after: int | None = None,
               show_progress: bool = True) -> dict[str, Any]:  # fmt: skip
    from tqdm import tqdm

    tc = config.train
    device, amp = pick_device(tc)
    mc = model_config(tc, vocab_size)
    train_data = TokenData(run / "data" / "train.bin", tc.context)
    val_data = TokenData(run / "data" / "val.bin", tc.context)
    torch.manual_seed(tc.seed)
    model = StoryModel(mc).to(device)
    optimizer = make_optimizer(model, tc, device)
    step, best_val = 0, None
    ckpt_path = run / CKPT
    if ckpt_path.is_file():
        ck = load_checkpoint(ckpt_path)
        check_shape(ck, mc, ckpt_path)
        model.load_state_dict(ck.model)
        optimizer.load_state_dict(ck.optimizer)
        set_rng_state(ck.rng)
        step, best_val = ck.step, ck.best_val
    loss_fn = torch.compile(model.loss) if tc.compile else model.loss
    log = (run / "log.jsonl").open("a")
    tokens_per_step = tc.batch_size * tc.grad_accum * tc.context
    bar = tqdm(total=tc.max_steps, initial=step, unit="step", disable=not show_progress, mininterval=0.5)
    t_last, last_loss = time.perf_counter(), float("nan")

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, Checkpoint(step, model.state_dict(), optimizer.state_dict(), mc.to_dict(),
                                              rng_state(), best_val))  # fmt: skip

    try:
        while step < tc.max_steps:
            # ---- learning rate
            lr = lr_at(step, tc)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # ---- evaluate
            if step % tc.eval_interval == 0 and step > 0:
                val = evaluate(model, val_data, tc, device, amp)
                best_val = val if best_val is None else min(best_val, val)
                log.write(json.dumps({"step": step, "val_loss": round(val, 5)}) + "\n")
            # ---- forward / backward over micro-batches
            total = 0.0
            for micro in range(tc.grad_accum):
                x, y = train_data.batch(tc.batch_size, step_seed(tc.seed, step, micro), device)
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    loss = loss_fn(x, y, tc.loss_chunk)
                (loss / tc.grad_accum).backward()
                total += loss.item() / tc.grad_accum
            # ---- clip, step
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last_loss = total
            # ---- log and checkpoint
            if step % tc.log_interval == 0 or step == tc.max_steps:
                now = time.perf_counter()
                tps = tokens_per_step * tc.log_interval / (now - t_last) if step % tc.log_interval == 0 else 0.0
                t_last = now
                log.write(
                    json.dumps({"step": step, "loss": round(total, 5), "lr": lr, "tokens_per_s": round(tps)}) + "\n"
                )
                log.flush()
                bar.set_postfix(loss=f"{total:.3f}", tok_s=f"{tps:,.0f}")
            bar.update(1)
            if step % tc.ckpt_interval == 0 or step == tc.max_steps:
                checkpoint()
            if stop_after is not None and step >= stop_after:
                checkpoint()
                break
        if step >= tc.max_steps:
            val = evaluate(model, val_data, tc, device, amp)
            best_val = val if best_val is None else min(best_val, val)
            log.write(json.dumps({"step": step, "val_loss": round(val, 5)}) + "\n")
            checkpoint()
    finally:
        bar.close()
        log.close()
    plot_losses(run)
    return {"step": step, "train_loss": last_loss, "best_val_loss": best_val, "params": model.num_params()}


def plot_losses(run: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", color="#4c72b0")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation", color="#c44e52")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/token)", title=f"{run.name}: loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(run / "loss.png", dpi=110)
    plt.close(fig)


def train(data: str, run: Path, config: RunConfig, stop_after: int | None = None, show_progress: bool = True) -> dict:
    """The whole `storygen train` command: everything it makes is reused when it already exists."""
    from storygen.train.data import load_text_dataset
    from storygen.train.pretokenize import pretokenize
    from storygen.train.tokenizer import load_tokenizer, train_tokenizer

    tc = config.train
    pick_device(tc)
    model_config(tc, tc.vocab_size)  # shape errors before any work
    if (run / CKPT).is_file():  # resuming: refuse another model shape before writing anything
        ck = load_checkpoint(run / CKPT)
        check_shape(ck, model_config(tc, ck.model_config["vocab_size"]), run / CKPT)
    run.mkdir(parents=True, exist_ok=True)
    save_config(config, run / "config.yaml")
    tok_dir = run / "tokenizer"
    dataset = None
    if not (tok_dir / "tokenizer.json").is_file():
        if tc.tokenizer is not None:
            tokenizer = load_tokenizer(tc.tokenizer)
            tokenizer.save_pretrained(str(tok_dir))
        else:
            dataset = load_text_dataset(data)
            train_tokenizer(iter(dataset["train"]["text"]), tc.vocab_size, tok_dir)
    tokenizer = load_tokenizer(tok_dir)
    if not (run / "data" / "meta.json").is_file():
        dataset = dataset or load_text_dataset(data)
        pretokenize(dataset, tokenizer, run / "data", tc.val_share, show_progress)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return train_loop(run, config, len(tokenizer), stop_after, show_progress)
