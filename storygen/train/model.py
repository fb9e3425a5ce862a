"""A decoder-only transformer that maps one-to-one onto Hugging Face's LlamaForCausalLM.

Read top to bottom: config -> RMSNorm -> rotary positions -> attention -> SwiGLU MLP -> block ->
model -> loss. Shapes in comments: B batch, T time, C d_model, nh heads, hs head size, V vocab.

Choices, each the one Llama makes so export is a renaming of tensors: RMSNorm before attention and
MLP, rotary embeddings in the rotate-half layout, SwiGLU with hidden size ~8/3 C, no biases, and
the output head tied to the token embedding. The loss never materialises the (B*T, V) fp32 logits:
with a tiny model and a real vocabulary the embedding, head and cross-entropy are most of the cost,
so `linear_cross_entropy` computes loss and gradients chunk by chunk (see there).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    n_layer: int = 1
    d_model: int = 256
    n_head: int = 8
    context: int = 512
    ffn_hidden: int | None = None  # None: 8/3 * d_model rounded up to a multiple of 64
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})")
        if (self.d_model // self.n_head) % 2:
            raise ValueError("head size (d_model / n_head) must be even for rotary embeddings")
        if self.ffn_hidden is None:
            self.ffn_hidden = 64 * math.ceil(8 * self.d_model / 3 / 64)

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # computed in fp32 like Llama, then cast back
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


def rope_tables(head_size: int, context: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, (T, hs), in the rotate-half layout: frequencies repeated for both halves."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)
    angles = torch.outer(torch.arange(context, dtype=torch.float32), inv_freq)  # (T, hs/2)
    emb = torch.cat([angles, angles], dim=-1)  # (T, hs)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, nh, T, hs); rotate pairs (i, i + hs/2)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_size = cfg.n_head, cfg.d_model // cfg.n_head
        self.q_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.o_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)  # (B, nh, T, hs)
        k = self.k_proj(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_head, self.head_size).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.ffn_hidden is not None
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class StoryModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        cos, sin = rope_tables(cfg.d_model // cfg.n_head, cfg.context, cfg.rope_theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # scale the residual projections by depth (GPT-2)
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=cfg.init_std / math.sqrt(2 * cfg.n_layer))

    def _init(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=self.cfg.init_std)

    @property
    def lm_head_weight(self) -> torch.Tensor:
        return self.embed_tokens.weight  # tied

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) -> final normed hidden states (B, T, C)."""
        T = idx.shape[1]
        if self.cfg.context < T:
            raise ValueError(f"sequence of {T} tokens is longer than the model's context ({self.cfg.context})")
        x = self.embed_tokens(idx)
        cos, sin = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V); for sampling and evaluation. Training uses `loss`."""
        return self.hidden(idx) @ self.lm_head_weight.t()

    def loss(self, idx: torch.Tensor, targets: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Mean next-token cross-entropy without building the full logits."""
        h = self.hidden(idx)
        return linear_cross_entropy(h.reshape(-1, h.shape[-1]), self.lm_head_weight, targets.reshape(-1), chunk)


class _LinearCrossEntropy(torch.autograd.Function):
    """loss = mean_i CE(h_i @ W^T, y_i), computed over row chunks of h.

    The loss is a scalar, so its gradients are known as soon as each chunk's softmax is: the forward
    pass computes, per chunk, logits (in fp32), the log-sum-exp, and grad_logits = softmax - onehot,
    then accumulates grad_h and grad_W and drops the chunk. Peak memory is one chunk of logits, not
    B*T of them; backward only scales the stored gradients by the incoming grad.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, w: torch.Tensor, y: torch.Tensor, chunk: int) -> torch.Tensor:  # type: ignore[override]
        n = h.shape[0]
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros(w.shape, dtype=torch.float32, device=w.device)
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        for s in range(0, n, chunk):
            hc, yc = h[s : s + chunk], y[s : s + chunk]
            logits = (hc @ w.t()).float()  # (chunk, V)
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, yc[:, None]).squeeze(1)).sum()
            g = torch.softmax(logits, dim=-1)
            g[torch.arange(len(yc), device=g.device), yc] -= 1.0
            g /= n
            grad_h[s : s + chunk] = (g.to(w.dtype) @ w).to(h.dtype)
            grad_w += g.t() @ hc.float()
        ctx.save_for_backward(grad_h, grad_w.to(w.dtype))
        return total / n

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad_out, grad_w * grad_out, None, None


def linear_cross_entropy(h: torch.Tensor, w: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """h (N, C), w (V, C), y (N,) -> mean cross-entropy of h @ w^T against y."""
    if not torch.is_grad_enabled() or not (h.requires_grad or w.requires_grad):
        total = sum(
            F.cross_entropy((h[s : s + chunk] @ w.t()).float(), y[s : s + chunk], reduction="sum")
            for s in range(0, h.shape[0], chunk)
        )
        return total / h.shape[0]
    return _LinearCrossEntropy.apply(h, w, y, chunk)
