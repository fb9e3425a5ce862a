"""`storygen export`: a run -> a LlamaForCausalLM folder (safetensors, config.json, tokenizer) that
transformers' AutoModelForCausalLM, `vllm serve` and the vllm backend load. The native model was
built to Llama's layout, so export renames nothing inside a layer: it only prefixes `model.`."""

from __future__ import annotations

from pathlib import Path

import torch

from storygen.errors import StorygenError
from storygen.train.sample import load_run


def llama_config(model, tokenizer):  # type: ignore[no-untyped-def]
    from transformers import LlamaConfig

    c = model.cfg
    eot = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    return LlamaConfig(
        vocab_size=c.vocab_size, hidden_size=c.d_model, intermediate_size=c.ffn_hidden,
        num_hidden_layers=c.n_layer, num_attention_heads=c.n_head, num_key_value_heads=c.n_head,
        hidden_act="silu", max_position_embeddings=c.context,
        rms_norm_eps=c.norm_eps, tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta}, bos_token_id=eot, eos_token_id=eot,
        architectures=["LlamaForCausalLM"],
    )  # fmt: skip


def export(run: Path, out: Path) -> Path:
    from transformers import LlamaForCausalLM

    if out.exists() and any(out.iterdir()):
        raise StorygenError(f"--out {out}: exists and is not empty; choose a new folder")
    model, tokenizer = load_run(run)
    hf = LlamaForCausalLM(llama_config(model, tokenizer))
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state["lm_head.weight"] = model.embed_tokens.weight
    missing, unexpected = hf.load_state_dict(state, strict=False)
    missing = [k for k in missing if "rotary" not in k]
    if missing or unexpected:
        raise StorygenError(
            f"export: tensors do not map onto Llama (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    hf.to(torch.float32).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out
