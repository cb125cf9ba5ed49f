"""Operators on a linear toy model (analytic values) and on tiny Llama / T5 models."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gazelm.attention.operators import OPERATORS, get_operator
from gazelm.attention.operators.rollout import rollout_matrix
from gazelm.attention.target import Target, left_pad, resolve_target
from tests.helpers.tiny_models import tiny_causal_lm, tiny_seq2seq_lm


class LinearToy(nn.Module):
    """``logits[:, t] = (Σ_{s ≤ t} m_s e_s) A``: every gradient is known in closed form."""

    def __init__(self, vocab: int = 7, dim: int = 4):
        super().__init__()
        torch.manual_seed(0)
        self.config = SimpleNamespace(is_encoder_decoder=False, pad_token_id=0)
        self.emb = nn.Embedding(vocab, dim)
        self.A = nn.Parameter(torch.randn(dim, vocab))

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, **_):
        if inputs_embeds is None:
            inputs_embeds = self.emb(input_ids)
        hidden = torch.cumsum(inputs_embeds * attention_mask.unsqueeze(-1).to(inputs_embeds.dtype), dim=1)
        return SimpleNamespace(logits=hidden @ self.A)


IDS = torch.tensor([[3, 1, 4, 1], [0, 5, 2, 6]])
MASK = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]])


def _analytic(toy):
    e = toy.emb(IDS).detach()
    tok = (torch.cumsum(e * MASK.unsqueeze(-1), 1) @ toy.A)[:, -1].argmax(-1)
    grad = toy.A.detach()[:, tok].T.unsqueeze(1).expand_as(e) * MASK.unsqueeze(-1)  # ∂ logit / ∂ e_s
    return e, grad


def test_saliency_and_input_x_gradient_match_closed_form():
    toy = LinearToy()
    e, grad = _analytic(toy)
    torch.testing.assert_close(get_operator("saliency")(toy, IDS, MASK), grad.norm(dim=-1))
    torch.testing.assert_close(get_operator("input_x_gradient")(toy, IDS, MASK), (e * grad).norm(dim=-1))
    torch.testing.assert_close(get_operator("input_x_gradient")(toy, IDS, MASK, reduce="sum"), (e * grad).sum(-1))


def test_integrated_gradients_and_occlusion_are_exact_for_a_linear_model():
    toy = LinearToy()
    e, grad = _analytic(toy)
    contribution = (e * grad).sum(-1)  # e_s · A[:, tok], which is also s(x) − s(x without e_s)
    for batched in (True, False):
        ig = get_operator("integrated_gradients")(toy, IDS, MASK, reduce="sum", n_steps=5, batched=batched)
        torch.testing.assert_close(ig, contribution)
    torch.testing.assert_close(get_operator("occlusion")(toy, IDS, MASK), contribution)


def test_kernel_shap_recovers_additive_contributions():
    toy = LinearToy()
    e, grad = _analytic(toy)
    shap = get_operator("kernel_shap")(toy, IDS[:1], MASK[:1], n_samples=200)
    torch.testing.assert_close(shap, (e * grad).sum(-1)[:1], atol=1e-3, rtol=1e-3)


def test_rollout_matrix_rows_sum_to_one_and_hand_value():
    attn = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    matrix = rollout_matrix([attn, attn.flip(1)], last_k=None)
    torch.testing.assert_close(matrix.sum(-1), torch.ones(2, 5))
    one = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])  # 1 head: Â = 0.5 A + 0.5 I = [[1, 0], [.25, .75]]
    torch.testing.assert_close(rollout_matrix([one, one]), torch.tensor([[[1.0, 0.0], [0.4375, 0.5625]]]))
    torch.testing.assert_close(rollout_matrix([one, one], last_k=1), torch.tensor([[[1.0, 0.0], [0.25, 0.75]]]))


@pytest.fixture(scope="module")
def llama():
    return tiny_causal_lm(20, hidden_size=16, layers=2, heads=2)


def test_rollout_operator_sums_to_one_on_tiny_llama(llama):
    rel = get_operator("rollout")(llama, IDS + 3, MASK)
    torch.testing.assert_close(rel.sum(-1), torch.ones(2))
    assert rel[1, 0] == 0  # padding


def test_self_attention_layer_and_heads_selection(llama):
    ids = IDS[:1] + 3
    out = llama(input_ids=ids, output_attentions=True)
    rel = get_operator("self_attention")(llama, ids, None, layer=0, heads="first")
    torch.testing.assert_close(rel, out.attentions[0][:, 0, -1, :])
    rel = get_operator("self_attention")(llama, ids, None, layer="mean", heads="max")
    expected = torch.stack(out.attentions).mean(0)[:, :, -1, :].max(dim=1).values
    torch.testing.assert_close(rel, expected)
    with pytest.raises(ValueError, match="out of range"):
        get_operator("self_attention")(llama, ids, None, layer=5)


def test_padding_side_does_not_change_relevance(llama):
    right_ids = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    right_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    left_ids, left_mask, _ = left_pad(right_ids, right_mask)
    assert left_ids[0].tolist() == [0, 5, 6, 7]
    for name in ("saliency", "rollout"):
        op = get_operator(name)
        right = op(llama, right_ids, right_mask, Target("coding", max_new_tokens=2))
        left = op(llama, left_ids, left_mask, Target("coding", max_new_tokens=2))
        torch.testing.assert_close(right[0, :3], left[0, 1:])
        assert right[0, 3] == 0


def test_targets_resolve_positions(llama):
    rt = resolve_target(llama, IDS + 3, MASK, Target("coding", max_new_tokens=3))
    assert rt.cont_ids.shape == (2, 2) and rt.positions.tolist() == [[5], [5]]
    seq = torch.tensor([[4, 5, 6], [7, 8, 0]])
    rt = resolve_target(llama, IDS + 3, MASK, Target("sequence", sequence=seq, sequence_mask=(seq > 0).long()))
    assert rt.positions.tolist() == [[3, 4, 5], [3, 4, 5]] and rt.weights.tolist() == [[1, 1, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="needs the target token ids"):
        Target("sequence")


@pytest.mark.parametrize("builder", [tiny_causal_lm, tiny_seq2seq_lm])
@pytest.mark.parametrize("name", ["self_attention", "rollout", "saliency", "glimpse", "grad_x_attention"])
def test_operators_run_on_causal_and_encoder_decoder(builder, name):
    model = builder(20, layers=1)
    rel = get_operator(name)(model, IDS + 3, MASK, Target("coding", max_new_tokens=2))
    assert rel.shape == IDS.shape and torch.isfinite(rel).all() and rel[1, 0] == 0 and rel.abs().sum() > 0


def test_attnlrp_runs_on_llama_and_restores_the_model(llama):
    from transformers.models.llama import modeling_llama

    before = modeling_llama.LlamaMLP.forward, modeling_llama.eager_attention_forward
    rel = get_operator("attnlrp")(llama, IDS + 3, MASK)
    assert rel.shape == IDS.shape and torch.isfinite(rel).all() and rel[1, 0] == 0
    assert (modeling_llama.LlamaMLP.forward, modeling_llama.eager_attention_forward) == before



def test_attnlrp_approximately_conserves_the_explained_logit():
    # LRP's conservation: input relevances sum to (about) the explained logit; plain
    # Gradient × Input on the same model does not (0.168 vs 0.177 vs 0.007 here)
    model = tiny_causal_lm(20, hidden_size=16, layers=2, heads=2, dtype=torch.float64)
    ids = torch.tensor([[4, 5, 6, 7, 8, 9]])
    logit = model(input_ids=ids).logits[0, -1].max().item()
    lrp = get_operator("attnlrp")(model, ids, None).sum().item()
    plain = get_operator("input_x_gradient")(model, ids, None, reduce="sum").sum().item()
    assert abs(lrp - logit) < 0.1 * abs(logit) < abs(plain - logit)


def test_attnlrp_names_unsupported_architectures():
    from gazelm.attention.operators.attnlrp import UnsupportedModelError

    with pytest.raises(UnsupportedModelError, match="got 't5'"):
        get_operator("attnlrp")(tiny_seq2seq_lm(20, layers=1), IDS + 3, MASK)


def test_registry_lists_every_operator():
    assert set(OPERATORS.names()) >= {"self_attention", "saliency", "input_x_gradient", "integrated_gradients",
                                      "mask_fill", "occlusion", "kernel_shap", "rollout", "glimpse",
                                      "grad_x_attention", "attnlrp"}


def test_grad_x_attention_matches_its_formula(llama):
    ids = IDS[:1] + 3
    out = llama(input_ids=ids, output_attentions=True)
    logits = out.logits[0, -1]
    grads = torch.autograd.grad(logits.max(), out.attentions)
    expected = sum((a * g).clamp_min(0).mean(dim=1)[:, -1, :] for a, g in zip(out.attentions, grads))
    torch.testing.assert_close(get_operator("grad_x_attention")(llama, ids, None), expected.detach())
    last = (out.attentions[-1] * grads[-1]).mean(dim=1)[:, -1, :]
    torch.testing.assert_close(get_operator("grad_x_attention")(llama, ids, None, layer="last", positive=False),
                               last.detach())


def test_glimpse_single_layer_reduces_to_gradient_weighted_attention():
    # one layer: α = 1, R = I + Ā, relevance = Ā at the explained row (p(token) weights cancel)
    model = tiny_causal_lm(20, hidden_size=16, layers=1, heads=2)
    ids = IDS[:1] + 3
    out = model(input_ids=ids, output_attentions=True)
    (grad,) = torch.autograd.grad(out.logits[0, -1].max(), out.attentions)
    expected = (out.attentions[0] * grad).clamp_min(0).mean(dim=1)[:, -1, :]
    torch.testing.assert_close(get_operator("glimpse")(model, ids, None), expected.detach())
