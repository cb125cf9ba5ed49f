"""Operators on vision-language backbones: values by each operator's definition, computed here from
the model's own attention weights; differentiable in a soft prompt; attnlrp where lxt covers the
decoder, a clear error elsewhere."""
from __future__ import annotations

import pytest
import torch

from gazelm.attention.operators.attnlrp import UnsupportedModelError
from gazelm.attention.visual import visual_token_relevance, vlm_relevance
from tests.helpers.vlm import TINY_VLMS, page_batch, tiny_vlm

K = 2


@pytest.fixture(params=TINY_VLMS)
def backbone(request, shared_cache):
    return tiny_vlm(request.param, str(shared_cache))


def answer_target(batch):
    return {"positions": batch["answer_position"], "tokens": batch["answer_id"]}


def by_hand(backbone, batch, prefix=None):
    """Attentions of the last K layers, their gradient w.r.t. the answer logit, and the query rows."""
    p = 0 if prefix is None else prefix.shape[1]
    with torch.enable_grad():
        inputs = backbone.model_inputs(batch, prefix)
        inputs["inputs_embeds"].requires_grad_(True)  # the backbone is frozen
        out = backbone.model(**inputs, output_attentions=True)
        rows = batch["answer_position"] + p
        score = out.logits[torch.arange(2), rows, batch["answer_id"]].sum()
        layers = list(out.attentions[-K:])
        grads = torch.autograd.grad(score, layers)
    return [a.detach() for a in layers], grads, rows, p


def test_rollout_is_the_product_of_residual_mean_head_attention(backbone):
    """FixATE's ``_op_rollout_R``: Â = rownorm(0.5·mean_h A + 0.5·I), R = Â_L ⋯ Â_{L−K+1}, row at the answer source."""
    batch, _ = page_batch(backbone)
    prefix = torch.randn(2, 4, backbone.hidden_size) * 0.02
    layers, _, rows, p = by_hand(backbone, batch, prefix)
    ours = vlm_relevance(backbone, batch, "rollout", **answer_target(batch), prefix_embeds=prefix, last_k=K)
    for b in range(2):
        r = None
        for attn in layers:
            a = 0.5 * attn[b].mean(0) + 0.5 * torch.eye(attn.shape[-1])
            a = a / a.sum(-1, keepdim=True)
            r = a if r is None else a @ r
        torch.testing.assert_close(ours[b], r[rows[b], p:], rtol=1e-5, atol=1e-6)
    assert ours.shape == batch["input_ids"].shape  # the prefix's columns are never counted


def test_grad_x_attention_by_definition(backbone):
    batch, _ = page_batch(backbone)
    layers, grads, rows, _ = by_hand(backbone, batch)
    ours = vlm_relevance(backbone, batch, "grad_x_attention", **answer_target(batch), last_k=K)
    expected = sum((a * g).clamp_min(0).mean(1) for a, g in zip(layers, grads))  # [B, N, N]
    torch.testing.assert_close(ours, expected[torch.arange(2), rows], rtol=1e-5, atol=1e-7)


def test_glimpse_by_definition(backbone):
    """gazelm's GLIMPSE: Ā_l = E_h[(A⊙∂s/∂A)⁺], α_l = mass share, R ← R + L·α_l·Ā_l R from I, minus I."""
    batch, _ = page_batch(backbone)
    layers, grads, rows, _ = by_hand(backbone, batch)
    ours = vlm_relevance(backbone, batch, "glimpse", **answer_target(batch), last_k=K)
    for b in range(2):
        weighted = [(a[b] * g[b]).clamp_min(0).mean(0) for a, g in zip(layers, grads)]
        mass = torch.stack([w.sum() for w in weighted])
        alpha = mass / mass.sum()
        eye = torch.eye(weighted[0].shape[0])
        r = eye.clone()
        for l, w in enumerate(weighted):
            r = r + len(weighted) * alpha[l] * (w @ r)
        torch.testing.assert_close(ours[b], (r - eye)[rows[b]], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("operator", ["rollout", "glimpse", "grad_x_attention", "glimpse_fixate", "attnlrp_fixate"])
def test_relevance_over_visual_tokens_is_differentiable_in_the_soft_prompt(backbone, operator):
    batch, rows = page_batch(backbone)
    prefix = (torch.randn(2, 4, backbone.hidden_size) * 0.02).requires_grad_(True)
    relevance = vlm_relevance(backbone, batch, operator, **answer_target(batch), prefix_embeds=prefix, last_k=K,
                              create_graph=True)
    visual = visual_token_relevance(relevance, batch["input_ids"], backbone.adapter.image_token_id)
    assert [v.shape[0] for v in visual] == [r["slot_matrix"].shape[1] for r in rows]
    slots = torch.einsum("bsl,bl->bs", batch["slot_matrix"], relevance.abs())
    (grad,) = torch.autograd.grad(slots[:, 0].sum(), prefix)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    detached = vlm_relevance(backbone, batch, operator, **answer_target(batch), prefix_embeds=prefix, last_k=K)
    assert not detached.requires_grad
    torch.testing.assert_close(detached, relevance.detach())


def test_attnlrp_where_lxt_covers_the_decoder(backbone):
    pytest.importorskip("lxt")
    batch, _ = page_batch(backbone)
    if backbone.model.config.model_type == "internvl":  # a Qwen3 decoder: lxt's qwen3 rules apply
        relevance = vlm_relevance(backbone, batch, "attnlrp", **answer_target(batch))
        assert relevance.shape == batch["input_ids"].shape and torch.isfinite(relevance).all()
        visual = visual_token_relevance(relevance, batch["input_ids"], backbone.adapter.image_token_id)
        assert all(v.abs().sum() > 0 for v in visual)
    else:
        with pytest.raises(UnsupportedModelError, match="'qwen3_vl_text' inside 'qwen3_vl'"):
            vlm_relevance(backbone, batch, "attnlrp", **answer_target(batch))


def test_operators_without_a_visual_form_are_refused(shared_cache):
    backbone = tiny_vlm(TINY_VLMS[0], str(shared_cache))
    batch, _ = page_batch(backbone)
    with pytest.raises(ValueError, match="does not run on vision-language backbones.*rollout"):
        vlm_relevance(backbone, batch, "saliency", **answer_target(batch))
