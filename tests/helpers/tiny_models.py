"""Tiny random-weight models for operator tests, built by gazelm's one builder (no tokenizer needed)."""
from __future__ import annotations

import torch

from gazelm.models.backbones import model_from_config, tiny_config


def _tiny(kind: str, vocab_size: int, hidden_size: int, layers: int, heads: int, seed: int,
          dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = model_from_config(kind, tiny_config(kind, hidden_size, layers, heads), vocab_size=vocab_size,
                              pad_token_id=0, eos_token_id=2, bos_token_id=1, attn_implementation="eager", dtype=dtype)
    return model.eval()


def tiny_causal_lm(vocab_size: int, *, hidden_size: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A ``LlamaForCausalLM`` (eval mode, eager attention), seeded."""
    return _tiny("causal", vocab_size, hidden_size, layers, heads, seed, dtype)


def tiny_seq2seq_lm(vocab_size: int, *, d_model: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                    dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A ``T5ForConditionalGeneration`` (eval mode), seeded."""
    return _tiny("seq2seq", vocab_size, d_model, layers, heads, seed, dtype)
