"""The trainer on a tiny corpus, on CPU: tokenizer, shards, learning, exact resume, sampling, export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from storygen.config import load_config
from storygen.paths import PROJECT_ROOT
from storygen.testing.corpus import CorpusMaker
from storygen.train.model import ModelConfig, StoryModel, linear_cross_entropy
from storygen.train.sample import generate, load_run, sample
from storygen.train.tokenizer import load_tokenizer
from storygen.train.trainer import CKPT, train

TINY = PROJECT_ROOT / "storygen" / "train" / "configs" / "tiny.yaml"


def tiny_config(**overrides):
    return load_config(TINY, {f"train.{k}": v for k, v in overrides.items()})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "stories.jsonl"
    maker = CorpusMaker(11)
    path.write_text("".join(json.dumps({"text": maker.story(40, 90)}) + "\n" for _ in range(600)))
    return path


@pytest.fixture(scope="module")
def run(corpus: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(str(corpus), out, tiny_config(max_steps=300), show_progress=False)
    return out


def test_fused_loss_equals_cross_entropy_with_gradients():
    torch.manual_seed(0)
    h = torch.randn(300, 16, requires_grad=True)
    w = torch.randn(50, 16, requires_grad=True)
    y = torch.randint(0, 50, (300,))
    fused = linear_cross_entropy(h, w, y, chunk=64)
    fused.backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    plain = F.cross_entropy(h @ w.t(), y)
    plain.backward()
    assert torch.allclose(fused, plain, atol=1e-6)
    assert torch.allclose(gh, h.grad, atol=1e-6) and torch.allclose(gw, w.grad, atol=1e-6)


def test_tokenizer_round_trip_and_hf_format(run: Path, corpus: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(run / "tokenizer"))
    assert tok.eos_token == "<|endoftext|>" and len(tok) == 512
    for line in corpus.read_text().splitlines()[:20]:
        text = json.loads(line)["text"]
        assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_pretokenized_shards_decode_back(run: Path):
    tok = load_tokenizer(run / "tokenizer")
    meta = json.loads((run / "data/meta.json").read_text())
    ids = np.fromfile(run / "data/train.bin", dtype=np.uint16)
    assert len(ids) == meta["train_tokens"] and meta["train_stories"] + meta["val_stories"] == 600
    eot = meta["eot"]
    stories = np.split(ids, np.flatnonzero(ids == eot) + 1)
    assert len([s for s in stories if len(s)]) == meta["train_stories"]
    first = tok.decode(stories[0][:-1].tolist())
    assert first.startswith(tuple('ABCDEFGHIJKLMNOPQRSTUVWXYZ"')) and first.rstrip()[-1] in '.!?"'


def test_loss_falls_clearly(run: Path):
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    train_losses = [r["loss"] for r in rows if "loss" in r]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert train_losses[0] > 5.0  # ~ln(512) at the start
    assert train_losses[-1] < train_losses[0] - 2.0 and val[-1] < 3.5
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_ends_with_the_same_weights(corpus: Path, tmp_path: Path):
    cfg = tiny_config(max_steps=16, ckpt_interval=100, eval_interval=5, log_interval=4)
    train(str(corpus), tmp_path / "straight", cfg, show_progress=False)
    train(str(corpus), tmp_path / "resumed", cfg, stop_after=7, show_progress=False)
    assert torch.load(tmp_path / "resumed" / CKPT, weights_only=False)["step"] == 7
    train(str(corpus), tmp_path / "resumed", cfg, show_progress=False)
    a = torch.load(tmp_path / "straight" / CKPT, weights_only=False)
    b = torch.load(tmp_path / "resumed" / CKPT, weights_only=False)
    assert a["step"] == b["step"] == 16
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_sampling_is_deterministic_under_a_seed(run: Path):
    a = sample(run, "Once upon a time", max_new=30, seed=3)
    assert a == sample(run, "Once upon a time", max_new=30, seed=3)
    assert a[0].startswith("Once upon a time") and len(a[0]) > len("Once upon a time")
    model, tok = load_run(run)
    greedy = generate(model, tok.encode("Lily", add_special_tokens=False), 10, temperature=0)
    assert greedy == generate(model, tok.encode("Lily", add_special_tokens=False), 10, temperature=0, seed=9)


def test_export_gives_the_same_logits_in_transformers(run: Path, tmp_path: Path):
    from transformers import AutoModelForCausalLM

    from storygen.train.export import export

    export(run, tmp_path / "hf")
    hf = AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    model, _ = load_run(run)
    ids = torch.randint(0, 512, (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert (ours - theirs).abs().max().item() < 1e-4
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in (tmp_path / "hf").iterdir()}


def test_model_refuses_sequences_longer_than_its_context():
    model = StoryModel(ModelConfig(vocab_size=64, d_model=32, n_head=4, context=16))
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 17, dtype=torch.long))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storygen", *args], capture_output=True, text=True)


def test_bad_input(tmp_path: Path, corpus: Path, run: Path):
    r = cli(
        "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r"), "--config", str(TINY), "--no-progress"
    )
    assert r.returncode == 2 and "dataset not found" in r.stderr
    (tmp_path / "story.jsonl").write_text('{"story": "no text column"}\n')
    r = cli(
        "train",
        "--data",
        str(tmp_path / "story.jsonl"),
        "--out",
        str(tmp_path / "r"),
        "--config",
        str(TINY),
        "--no-progress",
    )
    assert r.returncode == 2 and "has no 'text' column" in r.stderr
    r = cli(
        "train",
        "--data",
        str(corpus),
        "--out",
        str(run),
        "--config",
        str(TINY),
        "--set",
        "train.context=128",
        "--no-progress",
    )
    assert r.returncode == 2 and "another model shape (context)" in r.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / CKPT).write_bytes(b"not a checkpoint")
    r = cli("sample", str(broken))
    assert r.returncode == 2 and "unreadable checkpoint" in r.stderr
    r = cli("sample", str(tmp_path))
    assert r.returncode == 2 and "no ckpt.pt" in r.stderr
    for res in (r,):
        assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
