"""``glimpse``: GLIMPSE (Shen, 2025, arXiv:2506.18985) for text-only language models.

GLIMPSE fuses (1) gradient-weighted attention, (2) adaptive layer propagation and
(3) relevance-weighted aggregation over the explained tokens. Here, following that recipe:

1. ``Ā_l = E_h[(A_l ⊙ ∂s/∂A_l)⁺]`` per layer;
2. adaptive layer weights ``α_l = m_l / Σ_k m_k`` with ``m_l`` the gradient-weighted mass
   ``Σ Ā_l``; propagation ``R ← R + L·α_l · Ā_l R`` from ``R = I`` (Chefer et al., 2021's rule
   with layers weighted by their share), relevance = ``(R − I)`` at the explained row;
3. rows of several explained tokens (``stage="sequence"``) averaged with weights
   ``w_t · p(token_t)``, the model's confidence in each.

Encoder-decoders use the decoder's cross-attention with steps 1 and 3 and layer weights ``α_l``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import query_rows
from gazelm.attention.operators import register_operator
from gazelm.attention.operators._attention_grad import attention_and_gradient, gradient_weighted
from gazelm.attention.target import Target, resolve_target


def weighted_layers(attentions: list[Tensor], grads: list[Tensor]) -> tuple[list[Tensor], Tensor]:
    """Step 1 and the adaptive layer weights: ``Ā_l`` ``[B, Q, K]`` per layer and ``α`` ``[B, L]``."""
    weighted = [gradient_weighted(a, g) for a, g in zip(attentions, grads)]  # [B, Q, K]
    mass = torch.stack([w.flatten(1).sum(dim=1) for w in weighted], dim=1)  # [B, L]
    return weighted, mass / mass.sum(dim=1, keepdim=True).clamp_min(torch.finfo(mass.dtype).tiny)


def glimpse_relevance(attentions: list[Tensor], grads: list[Tensor], **_: object) -> Tensor:
    """Steps 1–2 on per-layer ``A_l``, ``∂s/∂A_l`` ``[B, H, N, N]``: ``R − I`` ``[B, N, N]``, row = query."""
    weighted, alpha = weighted_layers(attentions, grads)
    n_layers = len(weighted)
    size = weighted[0].shape[-1]
    eye = torch.eye(size, dtype=weighted[0].dtype, device=weighted[0].device).expand(weighted[0].shape[0], -1, -1)
    relevance = eye
    for l in range(n_layers):
        relevance = relevance + n_layers * alpha[:, l, None, None] * (weighted[l] @ relevance)
    return relevance - eye


def glimpse_rows(attentions: list[Tensor], grads: list[Tensor], rows: Tensor, key_mask: Tensor | None = None,
                 **_: object) -> Tensor:
    """Row ``rows[b]`` of :func:`glimpse_relevance` ``[B, N]``, by vector–matrix products from the last
    layer down (``e_r^T Π_l (I + L·α_l Ā_l) − e_r``), for relevance inside a training forward."""
    from gazelm.attention.in_forward import one_hot_rows

    weighted, alpha = weighted_layers(attentions, grads)
    n_layers = len(weighted)
    start = one_hot_rows(rows, weighted[0].shape[-1], weighted[0].dtype)
    v = start
    for l in range(n_layers - 1, -1, -1):
        v = v + n_layers * alpha[:, l:l + 1] * torch.bmm(v.unsqueeze(1), weighted[l]).squeeze(1)
    return v - start


@register_operator("glimpse", differentiable=True, in_forward=glimpse_rows, needs_gradient=True)
def glimpse(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
            *, create_graph: bool = False, **_: object) -> Tensor:
    """Relevance of each prompt token for the explained position(s)."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    attentions, grads, probs = attention_and_gradient(model, rt, target.score, create_graph)
    token_weights = rt.weights.to(probs.dtype) * probs
    if rt.is_encoder_decoder:
        weighted, alpha = weighted_layers(attentions, grads)
        fused = sum(alpha[:, l, None, None] * weighted[l] for l in range(len(weighted)))
        return rt.restore(query_rows(fused.unsqueeze(1), rt.positions, token_weights, rt.src_len).squeeze(1))
    relevance = glimpse_relevance(attentions, grads)
    return rt.restore(query_rows(relevance.unsqueeze(1), rt.positions, token_weights, rt.src_len).squeeze(1))
