#!/usr/bin/env python3
"""Makes the HuggingFace fixtures of the import test (tests/Bmojo.Cli.Tests/HfImportTests.cs).

Two small randomly initialised models, saved as HuggingFace saves them, with their logits on fixed tokens:

  OUT/mamba/{config.json, model.safetensors, reference.json}   MambaForCausalLM
  OUT/llama/{config.json, model.safetensors, reference.json}   LlamaForCausalLM

Their configurations are ones our layers express exactly (the matching specs are in HfFixtureSpecs in the test):
  Mamba: d_model 64, 2 layers, d_state 16, expand 2, d_conv 4, dt_rank auto (4), conv bias, no in/out bias,
         RMSNorm eps 1e-5, tied embeddings, vocab 512.
  Llama: d_model 64, 2 layers, 4 heads of 16, 2 key/value heads (GQA), SwiGLU MLP of 128 (our mlp gated, silu),
         RMSNorm eps 1e-5, RoPE base 10000 (rotate_half), no biases, separate lm_head, vocab 512.

Weights are drawn at a larger scale than HF's init (std 0.02 would leave every layer near the identity and the test
weak): every matrix N(0, 1/fan_in), the embedding N(0, 1), norms 1 + N(0, 0.2), the Mamba A_log, D, dt and conv
biases perturbed. Logits are computed on the CPU in float32 (eager attention, Mamba's sequential reference path).

Usage: python3 make_fixtures.py OUT     (needs torch, transformers, safetensors)
"""
import json
import math
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM, MambaConfig, MambaForCausalLM

SEED = 1234
BATCH, LENGTH = 2, 24
PROMPT_LENGTH, GREEDY_TOKENS = 8, 8
VOCAB = 512


def randomise(model):
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = lambda scale: torch.randn(p.shape, generator=g, dtype=p.dtype) * scale
            if "embed" in name or "embeddings" in name:
                p.copy_(noise(1.0))
            elif name.endswith("norm.weight") or "layernorm" in name or name.endswith("norm_f.weight"):
                p.copy_(1.0 + noise(0.2))
            elif name.endswith("A_log"):
                p.add_(noise(0.1))
            elif name.endswith(".D"):
                p.copy_(1.0 + noise(0.5))
            elif name.endswith("dt_proj.bias"):
                p.add_(noise(0.2))
            elif name.endswith("conv1d.weight"):
                p.copy_(noise(1.0 / math.sqrt(p.shape[-1])))
            elif name.endswith("bias"):
                p.copy_(noise(0.1))
            elif p.dim() == 2:
                p.copy_(noise(1.0 / math.sqrt(p.shape[1])))
            else:
                raise SystemExit(f"make_fixtures: no rule for parameter {name} {tuple(p.shape)}")


def save(model, out, name):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    extra = os.path.join(folder, "generation_config.json")
    if os.path.exists(extra):
        os.remove(extra)

    g = torch.Generator().manual_seed(SEED + 1)
    tokens = torch.randint(0, VOCAB, (BATCH, LENGTH), generator=g)
    with torch.no_grad():
        logits = model(input_ids=tokens).logits.float()                       # (B, L, V)
        prompt = tokens[:1, :PROMPT_LENGTH]
        greedy = prompt                                                       # greedy by full forwards
        for _ in range(GREEDY_TOKENS):
            following = model(input_ids=greedy).logits[:, -1].argmax(-1, keepdim=True)
            greedy = torch.cat([greedy, following], dim=1)
    reference = {
        "model": type(model).__name__,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "tokens": tokens.tolist(),
        "logits_shape": list(logits.shape),
        "logits": [float(f"{v:.9g}") for v in logits.reshape(-1).tolist()],
        "greedy_prompt": prompt[0].tolist(),
        "greedy_continuation": greedy[0, PROMPT_LENGTH:].tolist(),
        "parameter_count": sum(p.numel() for p in model.parameters()),
    }
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, separators=(",", ":"))
    print(f"{name}: {reference['parameter_count']} parameters, logits {tuple(logits.shape)}, "
          f"max |logit| {logits.abs().max().item():.3f}, files {sorted(os.listdir(folder))}")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_fixtures.py OUT")
    out = sys.argv[1]
    torch.manual_seed(SEED)
    torch.set_default_dtype(torch.float32)

    mamba = MambaForCausalLM(MambaConfig(
        vocab_size=VOCAB, hidden_size=64, state_size=16, num_hidden_layers=2, expand=2, conv_kernel=4,
        time_step_rank="auto", use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5,
        residual_in_fp32=True, tie_word_embeddings=True, pad_token_id=0, bos_token_id=0, eos_token_id=0,
        use_mambapy=False)).float().eval()
    randomise(mamba)
    mamba.tie_weights()
    save(mamba, out, "mamba")

    llama_config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256, rms_norm_eps=1e-5,
        rope_theta=10000.0, attention_bias=False, mlp_bias=False, tie_word_embeddings=False,
        pad_token_id=0, bos_token_id=0, eos_token_id=0)
    llama_config._attn_implementation = "eager"                               # plain softmax(q k^T) v
    llama = LlamaForCausalLM(llama_config).float().eval()
    randomise(llama)
    save(llama, out, "llama")


if __name__ == "__main__":
    main()
