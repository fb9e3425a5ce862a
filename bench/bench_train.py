"""Training throughput: the storygen step versus a plain nanoGPT-style step (bench/nanogpt_ref.py)
at the same one-block shape (~8M parameters: d_model 640, vocab 4096, context 512), measured in
the same run, each in its own process (so peak memory is its own), at two batch sizes.

On CPU a step on 4k tokens takes seconds, so the run is short: 1 warm-up step, then `--steps`.
On a GPU (bf16 autocast, optional torch.compile) pass --device cuda and larger shapes.
Writes bench/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(kind: str, a: argparse.Namespace, batch: int) -> dict:
    """Run in a child process: build the model, time `steps` optimizer steps."""
    import torch

    sys.path.insert(0, str(HERE))
    torch.manual_seed(0)
    device = torch.device(a.device)
    amp = torch.bfloat16 if device.type == "cuda" else None
    if kind == "storygen":
        from storygen.train.model import ModelConfig, StoryModel

        model = StoryModel(
            ModelConfig(vocab_size=a.vocab, n_layer=a.layers, d_model=a.d_model, n_head=a.heads, context=a.context)
        )
        loss_fn = model.loss
    else:
        from nanogpt_ref import GPT

        model = GPT(a.vocab, a.d_model, a.heads, a.layers, a.context)
        loss_fn = model.loss
    model.to(device)
    if a.compile:
        loss_fn = torch.compile(loss_fn)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    x = torch.randint(0, a.vocab, (batch, a.context), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = loss_fn(x, x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    base = _rss_mb()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:  # growth of the process while training: activations, gradients, optimizer state
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    n_params = sum(p.numel() for p in model.parameters())
    return {"kind": kind, "batch": batch, "params": n_params, "tokens_per_s": a.steps * batch * a.context / seconds,
            "peak_mb": round(peak, 1)}  # fmt: skip


def loss_only(kind: str, a: argparse.Namespace, batch: int) -> dict:
    """The head and loss alone (hidden states -> vocabulary logits -> cross-entropy -> backward):
    the part of a one-block model that the fused loss changes. Memory growth while it runs."""
    import torch
    import torch.nn.functional as F

    from storygen.train.model import linear_cross_entropy

    torch.manual_seed(0)
    n = batch * a.context
    # realistic scales: unit-scale hidden states (as after RMSNorm) and weights at the init std;
    # unit-scale weights would give logits of +-100 and denormal softmax values, slow on any CPU
    w = (0.02 * torch.randn(a.vocab, a.d_model)).requires_grad_()
    h = torch.randn(n, a.d_model, requires_grad=True)
    y = torch.randint(0, a.vocab, (n,))
    base = _rss_mb()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = linear_cross_entropy(h, w, y) if kind == "storygen" else F.cross_entropy((h @ w.t()).float(), y)
        loss.backward()
        h.grad = w.grad = None
    seconds = time.perf_counter() - t0
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"kind": kind, "batch": batch, "tokens_per_s": a.steps * n / seconds, "peak_mb": round(grown, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--d-model", dest="d_model", type=int, default=640)
    p.add_argument("--heads", type=int, default=10)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--batches", default="8,16", help="comma list of batch sizes")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=HERE / "results" / "train.json")
    a = p.parse_args()
    if a.child:
        kind, batch = a.child.split(":")
        fn = loss_only if kind.endswith("-loss") else one
        print(json.dumps(fn(kind.removesuffix("-loss"), a, int(batch))))
        return
    rows = []
    args = [a for a in sys.argv[1:] if not a.startswith("--out")]
    for batch in (int(b) for b in a.batches.split(",")):
        pair = {}
        for kind in ("reference", "storygen"):
            out = subprocess.run([sys.executable, __file__, *args, "--child", f"{kind}:{batch}"], capture_output=True,
                                 text=True, check=True)  # fmt: skip
            pair[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = pair["storygen"]["tokens_per_s"] / pair["reference"]["tokens_per_s"]
        rows.append({"batch": batch, **pair, "speedup": round(ratio, 3)})
        print(f"batch {batch:3d}: reference {pair['reference']['tokens_per_s']:8.0f} tok/s "
              f"({pair['reference']['params'] / 1e6:.1f}M params, +{pair['reference']['peak_mb']:.0f} MB) | "
              f"storygen {pair['storygen']['tokens_per_s']:8.0f} tok/s ({pair['storygen']['params'] / 1e6:.1f}M, "
              f"+{pair['storygen']['peak_mb']:.0f} MB) | {ratio:.2f}x", flush=True)  # fmt: skip
    loss_rows = []
    for batch in (int(b) for b in a.batches.split(",")):
        pair = {}
        for kind in ("reference", "storygen"):
            child = [sys.executable, __file__, *args, "--child", f"{kind}-loss:{batch}"]
            out = subprocess.run(child, capture_output=True, text=True, check=True)
            pair[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        loss_rows.append({"batch": batch, **pair})
        print(f"head + loss only, batch {batch:3d}: reference {pair['reference']['tokens_per_s']:8.0f} tok/s "
              f"+{pair['reference']['peak_mb']:.0f} MB | fused {pair['storygen']['tokens_per_s']:8.0f} tok/s "
              f"+{pair['storygen']['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps({"benchmark": "train", "device": a.device, "cores": os.cpu_count(), "rows": rows}, indent=2) + "\n"
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
