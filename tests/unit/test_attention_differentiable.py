"""Differentiable mode: operator outputs pass torch.autograd.gradcheck (double precision)."""
from __future__ import annotations

import pytest
import torch

from transformers import GPT2Config, GPT2LMHeadModel

from gazelm.attention.operators import get_operator
from tests.helpers.tiny_models import tiny_causal_lm


IDS = torch.tensor([[5, 6, 7, 8]])


@pytest.mark.parametrize("name,params", [("input_x_gradient", {"create_graph": True}),
                                         ("saliency", {"create_graph": True}),
                                         ("grad_x_attention", {"create_graph": True, "positive": False}),
                                         ("rollout", {})])
def test_gradcheck_wrt_final_norm_weight(name, params):
    # GPT-2 rather than Llama: LlamaRMSNorm computes in float32 even for a float64 model
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=12, n_embd=8, n_layer=1, n_head=2, n_positions=16, attn_implementation="eager")
    model = GPT2LMHeadModel(config).double().eval()
    norm = model.transformer.ln_f
    weight = norm.weight.detach().clone().requires_grad_(True)
    del norm.weight  # make the weight an input of the function gradcheck differentiates

    def relevance(w):
        norm.weight = w
        return get_operator(name)(model, IDS, None, **params)

    assert torch.autograd.gradcheck(relevance, (weight,), eps=1e-6, atol=1e-5)


def test_without_create_graph_the_result_is_detached_from_parameters():
    model = tiny_causal_lm(12, hidden_size=8, layers=1, heads=2)
    assert not get_operator("saliency")(model, IDS, None).requires_grad
    assert get_operator("saliency")(model, IDS, None, create_graph=True).requires_grad
