"""The reference log-probs computed on code positions only equal those from full logits."""
from __future__ import annotations

from types import SimpleNamespace

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from gazelm.objectives.preference import GazePreference, code_token_log_probs


def test_reference_on_code_positions_only_equals_full_logits() -> None:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2)).eval()
    B, T = 3, 9
    code = torch.zeros(B, T, dtype=torch.bool)
    code[0, 2:5] = True
    code[1, 4:8] = True  # rows need different positions: the union goes through the head
    batch = {"input_ids": torch.randint(0, 50, (B, T)), "attention_mask": torch.ones(B, T, dtype=torch.long),
             "code_token_mask": code, "labels": torch.full((B, T), -100)}
    module = SimpleNamespace(backbone=SimpleNamespace(model=model, has_lora=False, is_causal=True))
    objective = GazePreference()
    objective._reference = model
    fast = objective.reference_code_log_probs(batch, module)
    with torch.no_grad():
        full, mask = code_token_log_probs(model(input_ids=batch["input_ids"]).logits, batch)
    assert mask.sum() == 7 and mask[2].sum() == 0
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
