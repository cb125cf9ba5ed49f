"""Gaze-path preference: loss by hand, gradient signs, reference model (LoRA and copy)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from gazelm.objectives.base import Objective
from gazelm.objectives.preference import GazePreference, preference_loss
from gazelm.objectives.tokens import token_log_probs
from tests.helpers.objectives import fake_module


class Zero(Objective):
    """SFT stand-in contributing nothing, to isolate the preference term."""

    def loss(self, batch, outputs, module):
        return outputs.logits.sum() * 0.0, {}


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_preference_loss_by_hand():
    r = torch.tensor([[1.0, 3.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    path = torch.tensor([[True, True, False, False], [True, True, True, True]])
    off = torch.tensor([[False, False, True, True], [False, False, False, False]])
    loss, margin, valid = preference_loss(r, path, off, beta=0.1)
    assert margin[0].item() == pytest.approx(1.0)  # mean(1, 3) − mean(0, 2)
    assert loss[0].item() == pytest.approx(softplus(-0.1), rel=1e-6)  # −log σ(0.1)
    assert valid.tolist() == [True, False] and loss[1].item() == 0.0


def test_preference_gradient_signs_by_hand():
    r = torch.tensor([[1.0, 3.0, 0.0, 2.0, 5.0]], requires_grad=True)
    path = torch.tensor([[True, True, False, False, False]])
    off = torch.tensor([[False, False, True, True, False]])
    loss, _, _ = preference_loss(r, path, off, beta=0.1)
    loss.sum().backward()
    g = 0.1 * torch.sigmoid(torch.tensor(-0.1)).item()  # d/dm of −log σ(βm) is −β σ(−βm)
    assert r.grad[0].tolist() == pytest.approx([-g / 2, -g / 2, g / 2, g / 2, 0.0], rel=1e-6)


def hand_batch() -> dict[str, torch.Tensor]:
    # ids [9, 1, 2, 0, 2]: code tokens at 1, 2, 3 (3 is in the prompt), path = {1}; label at 4
    return {
        "input_ids": torch.tensor([[9, 1, 2, 0, 2]]),
        "attention_mask": torch.ones(1, 5, dtype=torch.long),
        "labels": torch.tensor([[-100, -100, -100, -100, 2]]),
        "label_weights": torch.tensor([[1.0, 1.0, 1.0, 1.0, 2.0]]),
        "input_weights": torch.tensor([[1.0, 3.0, 1.0, 1.0, 2.0]]),
        "code_token_mask": torch.tensor([[False, True, True, True, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False, False]]),
    }


def test_total_loss_by_hand_with_given_reference():
    policy = torch.tensor([[[0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4], [1 / 3] * 3]]).log()
    ref = torch.tensor([[[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.25, 0.5, 0.25], [1 / 3] * 3, [1 / 3] * 3]]).log()
    objective = GazePreference(gamma=0.5, beta=2.0)
    objective.reference_logits = lambda batch, module: ref  # the hand-made reference model
    loss, logs = objective.loss(hand_batch(), SimpleNamespace(logits=policy), fake_module(objective))
    sft = -2.0 * math.log(0.4) / 1  # EyeMulator token scope: weight 2 on the one label, / 1 label
    r_path = math.log(0.6 / 0.3)  # token 1 predicted from row 0
    r_off = (math.log(0.8 / 0.8) + math.log(0.5 / 0.25)) / 2  # tokens 2, 0 from rows 1, 2
    assert logs["pref_margin"].item() == pytest.approx(r_path - r_off, rel=1e-5)
    assert loss.item() == pytest.approx(sft + 0.5 * softplus(-2.0 * (r_path - r_off)), rel=1e-5)


def test_encoder_decoder_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="needs a causal model"):
        GazePreference().setup(fake_module(causal=False))


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    return LlamaForCausalLM(config)


def random_batch(seed: int = 0, b: int = 4, t: int = 12) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 40, (b, t), generator=g)
    pos = torch.arange(t)[None].expand(b, t)
    code = (pos >= 1) & (pos < 8)
    return {"input_ids": ids, "attention_mask": torch.ones(b, t, dtype=torch.long),
            "labels": ids.masked_fill(pos < 8, -100), "label_weights": torch.ones(b, t),
            "input_weights": torch.ones(b, t), "code_token_mask": code,
            "gaze_mask": code & (pos % 2 == 1)}


def margin_of(model, reference, batch) -> float:
    objective = GazePreference(sft=Zero())
    objective.reference_logits = lambda b, m: reference
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return objective.loss(batch, out, fake_module(objective, model=model))[1]["pref_margin"].item()


def test_copy_reference_is_frozen_and_a_step_moves_probability_onto_the_path():
    model = tiny_llama()
    objective = GazePreference(gamma=1.0, beta=0.1, sft=Zero())
    module = fake_module(objective, model=model)
    objective.setup(module)
    assert objective._reference is not model
    assert all(not p.requires_grad for p in objective._reference.parameters())
    batch = random_batch()
    ref_before = objective.reference_logits(batch, module)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    loss, logs = objective.loss(batch, out, module)
    assert logs["pref_margin"].item() == pytest.approx(0.0, abs=1e-6)  # policy = reference at the start
    assert loss.item() == pytest.approx(math.log(2), rel=1e-5)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 1.0 * p.grad
    assert torch.equal(objective.reference_logits(batch, module), ref_before)
    assert margin_of(model, ref_before, batch) > 0  # descending L_pref raises path log-ratios


def test_lora_reference_uses_disabled_adapters_without_a_copy():
    from peft import LoraConfig, get_peft_model

    base = tiny_llama()
    batch = random_batch(1)
    with torch.no_grad():
        base_logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            lora_dropout=0.0))
    with torch.no_grad():  # move the adapters away from their zero init
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    objective = GazePreference(gamma=1.0, sft=Zero())
    module = fake_module(objective, model=model)
    objective.setup(module)
    assert objective._reference is None
    ref = objective.reference_logits(batch, module)
    assert torch.allclose(ref, base_logits, atol=1e-6)
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert not torch.allclose(out.logits, base_logits, atol=1e-4)
    loss, logs = objective.loss(batch, out, module)
    assert logs["pref_margin"].abs().item() > 0
    loss.backward()
    lora_grads = [p.grad for n, p in model.named_parameters() if "lora_" in n]
    assert lora_grads and all(g is not None for g in lora_grads)


def test_code_token_log_probs_match_full_log_softmax_on_code_tokens_only():
    from gazelm.objectives.eyemulator import input_code_labels
    from gazelm.objectives.preference import code_token_log_probs

    batch = hand_batch()
    logits = torch.randn(1, 5, 3, generator=torch.Generator().manual_seed(0))
    logp, mask = code_token_log_probs(logits, batch)
    full, full_mask = token_log_probs(logits, input_code_labels(batch), causal=True)
    assert mask.tolist() == full_mask.tolist() == [[True, True, True, False]]
    assert torch.allclose(logp, full)
