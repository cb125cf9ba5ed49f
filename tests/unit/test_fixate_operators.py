"""``glimpse_fixate`` / ``attnlrp_fixate`` / in-forward ``rollout`` against FixATE's definitions.

The reference functions below transcribe ``_op_glimpse_layer_relevance``, ``_op_glimpse_propagation``,
``attnlrp_layer_relevance``, ``attnlrp_propagation`` and ``_op_rollout_R`` of the released
``train_fixate_recgaze.py`` (one example at a time, full ``N × N`` matrices, eps = 1e-4,
GLIMPSE temperatures 0.5 / 0.2) and are run on a tiny Llama's real attentions and gradients.
"""
from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from gazelm.attention.in_forward import in_forward_operators, relevance_in_forward
from gazelm.attention.operators import get_operator
from gazelm.attention.operators.rollout import rollout_matrix, rollout_rows
from gazelm.attention.target import Target

EPS = 1e-4


# ----------------------------------------------------------------------------- FixATE's code, per example
def ref_glimpse_layer(attn_l, grad_l):
    G = torch.relu(grad_l * attn_l)
    g_pos = torch.relu(grad_l)
    score = G.sum(dim=(1, 2)) / (g_pos.sum(dim=(1, 2)) + EPS)
    w = torch.softmax(score / 0.5, dim=0)
    E = torch.zeros(G.shape[1], G.shape[2], dtype=G.dtype)
    for h in range(G.shape[0]):
        E = E + w[h] * G[h]
    return E / (E.sum(dim=-1, keepdim=True) + EPS)


def ref_glimpse_propagation(E_list, grad_list):
    L, N = len(E_list), E_list[0].shape[0]
    g_layers = torch.stack([torch.sum(torch.abs(g.sum(dim=0))) for g in grad_list])
    s = torch.softmax(0.2 * torch.arange(1, L + 1, dtype=g_layers.dtype), dim=0)
    alpha_raw = g_layers * s
    alpha = alpha_raw / (alpha_raw.sum() + EPS)
    R = torch.eye(N, dtype=E_list[0].dtype)
    for l in range(L):
        R = R + (alpha[l] * E_list[l]) @ R
    return R


def ref_attnlrp_layer(attn_l, grad_l):
    AW = attn_l * grad_l
    denom = AW.sum(dim=-1, keepdim=True)
    stable = denom + EPS * denom.sign()
    stable = torch.where(stable.abs() < EPS, torch.full_like(stable, EPS), stable)
    return (AW / stable).mean(dim=0)


def ref_attnlrp_propagation(E_list):
    L, N = len(E_list), E_list[0].shape[0]
    weights = torch.arange(1, L + 1, dtype=E_list[0].dtype)
    weights = weights / weights.sum()
    R = torch.zeros(N, N, dtype=E_list[0].dtype)
    for w, E in zip(weights, E_list):
        R = R + w * E
    return R + torch.eye(N, dtype=E_list[0].dtype)


def ref_rollout(attentions):
    R = None
    for layer in attentions:
        avg = layer.mean(dim=0)
        hat = 0.5 * avg + 0.5 * torch.eye(avg.shape[0])
        hat = hat / (hat.sum(dim=-1, keepdim=True) + 1e-12)
        R = hat if R is None else hat @ R
    return R


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      initializer_range=0.3, attn_implementation="eager")
    return LlamaForCausalLM(cfg).double().eval()


def reference(model, ids, answer, last_k, kind):
    """FixATE's relevance row over the prompt for one example (no padding)."""
    full = torch.cat([ids, answer.view(1, 1)], dim=1)
    with torch.enable_grad():
        embeds = model.get_input_embeddings()(full).detach().requires_grad_(True)
        out = model(inputs_embeds=embeds, output_attentions=True)
        pos = full.shape[1] - 2  # the row that predicts the answer token
        scalar = out.logits[0, pos, answer]
        layers = list(out.attentions)[-last_k:]
        if kind == "rollout":
            return ref_rollout([a[0] for a in layers])[pos, : ids.shape[1]]
        E_list, grad_list = [], []
        for attn in layers:
            g = torch.autograd.grad(scalar, attn, retain_graph=True)[0]
            A_l, g_l = attn[0], g[0]
            E_list.append(ref_glimpse_layer(A_l, g_l) if kind == "glimpse" else ref_attnlrp_layer(A_l, g_l))
            grad_list.append(g_l)
    R = ref_glimpse_propagation(E_list, grad_list) if kind == "glimpse" else ref_attnlrp_propagation(E_list)
    return R[pos, : ids.shape[1]]


@pytest.mark.parametrize("name,kind", [("glimpse_fixate", "glimpse"), ("attnlrp_fixate", "attnlrp"),
                                       ("rollout", "rollout")])
@pytest.mark.parametrize("last_k", [1, 3])
def test_operator_equals_released_definition(model, name, kind, last_k) -> None:
    torch.manual_seed(1)
    ids = torch.randint(3, 50, (1, 11))
    answer = torch.tensor([7])
    expected = reference(model, ids, answer, last_k, kind)
    target = Target("sequence", sequence=answer.view(1, 1))
    got = get_operator(name)(model, ids, torch.ones_like(ids), target, last_k=last_k)
    assert got.shape == (1, 11)
    torch.testing.assert_close(got[0], expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name,kind", [("glimpse_fixate", "glimpse"), ("attnlrp_fixate", "attnlrp")])
def test_in_forward_on_a_padded_batch_equals_one_example_at_a_time(model, name, kind) -> None:
    """Right padding (as in training) changes nothing: padded keys do not exist for FixATE."""
    torch.manual_seed(2)
    lengths, width = [9, 12], 12
    ids = torch.randint(3, 50, (2, width))
    answers = torch.tensor([5, 8])
    mask = torch.zeros(2, width + 1, dtype=torch.long)
    full = torch.zeros(2, width + 1, dtype=torch.long)
    for b, n in enumerate(lengths):
        full[b, :n] = ids[b, :n]
        full[b, n] = answers[b]
        mask[b, : n + 1] = 1
    with torch.enable_grad():
        embeds = model.get_input_embeddings()(full).detach().requires_grad_(True)
        out = model(inputs_embeds=embeds, attention_mask=mask, output_attentions=True)
        rows = torch.tensor([n - 1 for n in lengths])
        score = out.logits[torch.arange(2), rows, answers].sum()
        relevance = relevance_in_forward(name, out.attentions, score, rows, mask.bool(), last_k=2, create_graph=False)
    for b, n in enumerate(lengths):
        expected = reference(model, ids[b:b + 1, :n], answers[b], 2, kind)
        torch.testing.assert_close(relevance[b, :n], expected, rtol=1e-7, atol=1e-9)


def test_rollout_rows_equal_the_rollout_matrix() -> None:
    torch.manual_seed(3)
    attentions = [torch.softmax(torch.randn(2, 3, 7, 7), dim=-1) for _ in range(4)]
    rows = torch.tensor([6, 4])
    full = rollout_matrix(attentions, last_k=3)
    got = rollout_rows(attentions[-3:], None, rows)
    torch.testing.assert_close(got, full[torch.arange(2), rows])


def test_in_forward_operators_are_registered_by_metadata() -> None:
    assert {"rollout", "glimpse_fixate", "attnlrp_fixate"} <= set(in_forward_operators())
    with pytest.raises(ValueError, match="cannot be computed inside a training forward"):
        relevance_in_forward("saliency", [torch.zeros(1, 1, 2, 2)], None, torch.tensor([0]))


def test_relevance_is_differentiable_with_respect_to_the_inputs(model) -> None:
    ids = torch.randint(3, 50, (1, 8))
    embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    out = model(inputs_embeds=embeds, output_attentions=True)
    score = out.logits[0, -1, 4]
    r = relevance_in_forward("glimpse_fixate", out.attentions, score, torch.tensor([7]), last_k=2, create_graph=True)
    r[0, :4].abs().sum().backward()
    assert embeds.grad is not None and embeds.grad.abs().sum() > 0
