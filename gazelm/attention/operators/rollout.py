"""``rollout``: attention rollout (Abnar & Zuidema, ACL 2020, "Quantifying Attention Flow").

Per layer ``Â = rownorm(0.5 · mean_h A + 0.5 · I)``; the rollout over the last ``K`` layers is
``R = Â_L · Â_{L-1} ⋯ Â_{L-K+1}`` and relevance is ``R``'s row at the explained position.
For encoder-decoders: the decoder's last-layer mean-head cross-attention row times the encoder's
self-attention rollout.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import probe_attentions, query_rows, run_model
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, eager_attention, resolve_target


def rollout_matrix(attentions: list[Tensor] | tuple[Tensor, ...], last_k: int | None = None,
                   residual: float = 0.5) -> Tensor:
    """``[B, H, N, N]`` per layer → rollout ``[B, N, N]`` over the last ``last_k`` layers (all if None).

    Each factor is row-normalised, so every row of the result sums to 1.
    """
    layers = list(attentions)
    if last_k is not None:
        if last_k < 1:
            raise ValueError("last_k must be >= 1")
        layers = layers[-last_k:]
    result = None
    for attention in layers:  # first to last; later layers multiply on the left
        a = layer_factor(attention, residual)
        result = a if result is None else a @ result
    return result


def layer_factor(attention: Tensor, residual: float = 0.5) -> Tensor:
    """``Â = rownorm((1 − residual) · mean_h A + residual · I)`` ``[B, N, N]``."""
    eye = torch.eye(attention.shape[-1], dtype=attention.dtype, device=attention.device)
    a = (1.0 - residual) * attention.mean(dim=1) + residual * eye
    return a / a.sum(dim=-1, keepdim=True)


def rollout_rows(attentions, grads, rows: Tensor, key_mask: Tensor | None = None, residual: float = 0.5) -> Tensor:
    """Row ``rows[b]`` of the rollout of ``attentions`` (already the last K layers): ``[B, N]``.

    Vector–matrix products from the last layer down (``e_r^T Â_L ⋯ Â_1``): the same row as
    :func:`rollout_matrix` without forming the ``N × N`` product (used inside training losses).
    """
    from gazelm.attention.in_forward import one_hot_rows

    v = one_hot_rows(rows, attentions[0].shape[-1], attentions[0].dtype)
    for attention in reversed(list(attentions)):
        v = torch.bmm(v.unsqueeze(1), layer_factor(attention, residual)).squeeze(1)
    return v


@register_operator("rollout", differentiable=True, in_forward=rollout_rows, needs_gradient=False)
def rollout(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
            *, last_k: int | None = None, residual: float = 0.5, **_: object) -> Tensor:
    """Rollout relevance of the prompt tokens for the explained position(s)."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    with eager_attention(model):
        outputs = run_model(model, rt, output_attentions=True)
    if rt.is_encoder_decoder:
        enc = rollout_matrix(outputs.encoder_attentions, last_k, residual)  # [B, S, S]
        cross = query_rows(probe_attentions(outputs, rt)[-1], rt.positions, rt.weights, rt.src_len).mean(dim=1)
        relevance = torch.einsum("bs,bst->bt", cross, enc)
    else:
        matrix = rollout_matrix(probe_attentions(outputs, rt), last_k, residual)
        relevance = query_rows(matrix.unsqueeze(1), rt.positions, rt.weights, rt.src_len).squeeze(1)
    return rt.restore(relevance)
