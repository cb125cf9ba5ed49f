"""Attention-vs-human agreement: pooling, query/key restriction, targets, divergences (by hand)."""
from __future__ import annotations

import math

import pytest
import torch

from gazelm.objectives.attention_alignment import (
    attention_divergence,
    attention_over_keys,
    causal_query_mask,
    human_target,
    pool_heads_layers,
)


def test_pool_heads_layers_selects_and_averages():
    layer0 = torch.full((1, 2, 1, 2), 0.0)
    layer1 = torch.tensor([[[[1.0, 3.0]], [[5.0, 7.0]]]])  # heads 0 and 1
    assert pool_heads_layers((layer0, layer1), layers=[-1], heads=[1]).tolist() == [[[5.0, 7.0]]]
    assert pool_heads_layers((layer0, layer1), layers=[1]).tolist() == [[[3.0, 5.0]]]
    assert pool_heads_layers((layer0, layer1)).tolist() == [[[1.5, 2.5]]]
    with pytest.raises(ValueError, match="layer index 2"):
        pool_heads_layers((layer0, layer1), layers=[2])
    with pytest.raises(ValueError, match="eager"):
        pool_heads_layers(())


def test_causal_query_mask_marks_rows_that_predict_labels():
    labels = torch.tensor([[-100, -100, 4, 5, -100]])
    assert causal_query_mask(labels).tolist() == [[False, True, True, False, False]]


def test_attention_over_keys_restricts_and_renormalises():
    attn = torch.tensor([[[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.5, 0.5, 0.0]]])
    queries = torch.tensor([[True, True, False]])
    keys = torch.tensor([[True, True, False]])
    p, valid = attention_over_keys(attn, queries, keys)
    # mean of rows 0, 1 = [0.2, 0.25, 0.55]; keep keys 0, 1 → [0.2, 0.25] / 0.45
    assert p[0].tolist() == pytest.approx([0.2 / 0.45, 0.25 / 0.45, 0.0])
    assert valid.tolist() == [True]
    _, none = attention_over_keys(attn, torch.zeros_like(queries), keys)
    assert none.tolist() == [False]


def test_human_target_sources():
    keys = torch.tensor([[True, True, True, False], [True, True, False, False]])
    batch = {"gaze_mask": torch.tensor([[True, False, True, True], [False, True, False, False]]),
             "human_attention": torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.6, 0.2, 0.2, 0.0]])}
    q, valid = human_target(batch, keys, "gaze_mask")
    assert q.tolist() == [[0.5, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0]]
    q, valid = human_target(batch, keys, "auto")  # example 0 has no measured attention → its scanpath
    assert q[0].tolist() == [0.5, 0.0, 0.5, 0.0]
    assert q[1].tolist() == pytest.approx([0.75, 0.25, 0.0, 0.0])
    q, valid = human_target(batch, keys, "human_attention")
    assert valid.tolist() == [False, True]
    with pytest.raises(ValueError, match="no `human_attention`"):
        human_target({"gaze_mask": batch["gaze_mask"]}, keys, "human_attention")


def test_divergences_by_hand():
    q = torch.tensor([[0.5, 0.5, 0.0]])
    p = torch.tensor([[0.25, 0.75, 0.0]])
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert attention_divergence(q, p, "kl", eps=0.0).item() == pytest.approx(kl, rel=1e-6)
    cos = 0.5 / math.sqrt(0.5 * 0.625)
    assert attention_divergence(q, p, "cosine").item() == pytest.approx(1 - cos, rel=1e-6)
    assert attention_divergence(q, q, "kl").item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown divergence"):
        attention_divergence(q, p, "js")
