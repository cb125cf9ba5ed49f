"""``glimpse_fixate``: GLIMPSE as FixATE's released code computes it (not gazelm's ``glimpse``).

From ``train_fixate_recgaze.py`` (``_op_glimpse_layer_relevance`` / ``_op_glimpse_propagation``,
constants ``GLIMPSE_HEAD_TEMP = 0.5``, ``GLIMPSE_DEPTH_TEMP = 0.2``, ``eps = 1e-4``), per example and
for each of the last ``K`` layers ``l`` (``A``, ``∇ = ∂s/∂A`` of shape ``[H, N, N]``):

1. ``G_h = ReLU(∇_h ⊙ A_h)``; head score ``c_h = Σ G_h / (Σ ReLU(∇_h) + eps)``; head weights
   ``w = softmax(c / 0.5)``; ``E_l = Σ_h w_h G_h``, row-normalised: ``E_l / (Σ_j E_l[:, j] + eps)``;
2. layer weights ``α_l ∝ g_l · softmax(0.2 · [1, …, L])_l`` with ``g_l = Σ |Σ_h ∇_h|``,
   ``α = raw / (Σ raw + eps)``;
3. ``R ← R + (α_l E_l) R`` from ``R = I``, layers first to last; relevance = ``R``'s explained row.

Differences from the reference are only in how much is computed: the explained row of ``R`` is
obtained by vector–matrix products from the last layer down (``e_r^T Π (I + α_l E_l)``), which equals
the full ``N × N`` product's row, and the gradient entries of padded key positions (which do not
exist in the reference's one-example-at-a-time computation) are excluded from ``c_h`` and ``g_l``.
Tests compare against the reference definitions on a tiny model.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from gazelm.attention.in_forward import causal_operator, one_hot_rows
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target

HEAD_TEMPERATURE = 0.5
DEPTH_TEMPERATURE = 0.2
EPS = 1e-4


def _key_sum(values: Tensor, key_mask: Tensor | None) -> Tensor:
    """``Σ_k mask_k · values[..., k]`` (values already summed over the query axis)."""
    if key_mask is None:
        return values.sum(dim=-1)
    return (values * key_mask.view(key_mask.shape[0], *([1] * (values.dim() - 2)), -1).to(values.dtype)).sum(dim=-1)


def _layer_parts(attention: Tensor, grad: Tensor, key_mask: Tensor | None, head_temperature: float,
                 eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``G`` ``[B, H, N, N]``, head weights ``w`` ``[B, H]`` and the row sums of ``Σ_h w_h G_h`` ``[B, N]``.

    ``G = ReLU(∇ ⊙ A) = A ⊙ ReLU(∇)`` (``A ≥ 0``), so one ReLU serves both terms; ``G`` needs no mask
    (``A`` is 0 at padded keys); the positive-gradient mass is reduced over the queries first and then
    masked over the keys, so no full-size masked copy is made.
    """
    positive_grad = torch.relu(grad)
    g = attention * positive_grad
    rows = g.sum(dim=-1)  # [B, H, N]
    score = rows.sum(dim=-1) / (_key_sum(positive_grad.sum(dim=2), key_mask) + eps)
    w = torch.softmax(score / head_temperature, dim=1)
    return g, w, (w.unsqueeze(-1) * rows).sum(dim=1)


def layer_relevance(attention: Tensor, grad: Tensor, key_mask: Tensor | None = None,
                    head_temperature: float = HEAD_TEMPERATURE, eps: float = EPS) -> Tensor:
    """``E_l`` ``[B, N, N]`` from one layer's ``A`` and ``∂s/∂A`` (``[B, H, N, N]``); :func:`relevance_rows`
    uses the same quantities without forming ``E_l``."""
    g, w, row_sums = _layer_parts(attention, grad, key_mask, head_temperature, eps)
    e = torch.bmm(w.unsqueeze(1), g.flatten(2)).view(g.shape[0], g.shape[2], g.shape[3])  # Σ_h w_h G_h
    return e / (row_sums.unsqueeze(-1) + eps)


def layer_weights(grads: Sequence[Tensor], key_mask: Tensor | None = None,
                  depth_temperature: float = DEPTH_TEMPERATURE, eps: float = EPS) -> Tensor:
    """``α`` ``[B, L]``: gradient mass ``Σ|Σ_h ∇|`` per layer × softmax(0.2·depth), normalised."""
    mass = torch.stack([_key_sum(grad.sum(dim=1).abs().sum(dim=1), key_mask) for grad in grads], dim=1)  # [B, L]
    depth = depth_temperature * torch.arange(1, mass.shape[1] + 1, device=mass.device, dtype=mass.dtype)
    raw = mass * torch.softmax(depth, dim=0)
    return raw / (raw.sum(dim=1, keepdim=True) + eps)


def relevance_rows(attentions: Sequence[Tensor], grads: Sequence[Tensor], rows: Tensor, key_mask: Tensor,
                   head_temperature: float = HEAD_TEMPERATURE, depth_temperature: float = DEPTH_TEMPERATURE,
                   eps: float = EPS) -> Tensor:
    """Row ``rows[b]`` of ``Π_l (I + α_l E_l)`` (last layer leftmost) per example: ``[B, N]``.

    ``v E_l = Σ_h w_h (u G_h)`` with ``u = v / (row sums + eps)``: ``E_l`` itself is never formed.
    """
    parts = [_layer_parts(a, g, key_mask, head_temperature, eps) for a, g in zip(attentions, grads)]
    alpha = layer_weights(grads, key_mask, depth_temperature, eps)
    g0 = parts[0][0]
    b, h, n = g0.shape[0], g0.shape[1], g0.shape[-1]
    v = one_hot_rows(rows, n, g0.dtype)
    for l in range(len(parts) - 1, -1, -1):
        g, w, row_sums = parts[l]
        u = (v / (row_sums + eps)).unsqueeze(1) * w.unsqueeze(-1)  # [B, H, N]
        ve = torch.bmm(u.reshape(b * h, 1, n), g.reshape(b * h, n, n)).view(b, h, n).sum(dim=1)
        v = v + alpha[:, l:l + 1] * ve
    return v


@register_operator("glimpse_fixate", differentiable=True, in_forward=relevance_rows, needs_gradient=True)
def glimpse_fixate(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                   *, last_k: int | None = 6, create_graph: bool = False, head_temperature: float = HEAD_TEMPERATURE,
                   depth_temperature: float = DEPTH_TEMPERATURE, eps: float = EPS, **_: object) -> Tensor:
    """FixATE's GLIMPSE relevance of each prompt token (causal LMs); ``last_k`` layers (FixATE: 6)."""
    return causal_operator(model, input_ids, attention_mask, target, relevance_rows, last_k=last_k,
                           create_graph=create_graph, needs_gradient=True, head_temperature=head_temperature,
                           depth_temperature=depth_temperature, eps=eps)
