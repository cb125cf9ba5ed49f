"""``attnlrp_fixate``: the AttnLRP surrogate of FixATE's released code (not lxt's ``attnlrp``).

From ``train_fixate_recgaze.py`` (``attnlrp_layer_relevance`` / ``attnlrp_propagation``, ``eps =
1e-4``, ``ATTNLRP_RELU_RULE = False``), per example and for each of the last ``K`` layers ``l``::

    W_h = A_h ⊙ ∂s/∂A_h                                  (per head, [N, N])
    d   = Σ_j W_h[:, j];  d' = d + eps·sign(d);  d' = eps where |d'| < eps
    E_l = mean_h (W_h / d')                              (rows of each head normalised)
    R   = Σ_l w_l E_l + I,   w_l = l / Σ_k k  (l = 1 … L, deeper layers weigh more)

and relevance is ``R``'s explained row. Only that row of each ``E_l`` is needed, so only it is
computed (the result equals the full matrices' row).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from gazelm.attention.in_forward import causal_operator, one_hot_rows
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target

EPS = 1e-4


def stabilised(denominator: Tensor, eps: float = EPS) -> Tensor:
    """``d + eps·sign(d)``, replaced by ``eps`` where its magnitude is below ``eps``."""
    d = denominator + eps * denominator.sign()
    return torch.where(d.abs() < eps, torch.full_like(d, eps), d)


def layer_relevance(attention: Tensor, grad: Tensor, eps: float = EPS) -> Tensor:
    """``E_l`` ``[B, N, N]`` (the whole matrix; :func:`relevance_rows` computes one row only)."""
    w = attention * grad
    return (w / stabilised(w.sum(dim=-1, keepdim=True), eps)).mean(dim=1)


def depth_weights(n_layers: int, device=None, dtype=None) -> Tensor:
    """``w_l = l / Σ k`` for ``l = 1 … L``."""
    w = torch.arange(1, n_layers + 1, device=device, dtype=dtype)
    return w / w.sum()


def relevance_rows(attentions: Sequence[Tensor], grads: Sequence[Tensor], rows: Tensor,
                   key_mask: Tensor | None = None, eps: float = EPS) -> Tensor:
    """Row ``rows[b]`` of ``Σ_l w_l E_l + I`` per example: ``[B, N]``."""
    index = rows.long().view(-1, 1, 1, 1)
    out = None
    weights = depth_weights(len(attentions), attentions[0].device, attentions[0].dtype)
    for w_l, attention, grad in zip(weights, attentions, grads):
        idx = index.expand(-1, attention.shape[1], 1, attention.shape[-1])
        w = attention.gather(2, idx).squeeze(2) * grad.gather(2, idx).squeeze(2)  # [B, H, N]
        e = (w / stabilised(w.sum(dim=-1, keepdim=True), eps)).mean(dim=1)
        out = w_l * e if out is None else out + w_l * e
    return out + one_hot_rows(rows, out.shape[-1], out.dtype)


@register_operator("attnlrp_fixate", differentiable=True, in_forward=relevance_rows, needs_gradient=True)
def attnlrp_fixate(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                   *, last_k: int | None = 6, create_graph: bool = False, eps: float = EPS,
                   **_: object) -> Tensor:
    """FixATE's AttnLRP-surrogate relevance of each prompt token (causal LMs); ``last_k`` (FixATE: 6)."""
    return causal_operator(model, input_ids, attention_mask, target, relevance_rows, last_k=last_k,
                           create_graph=create_graph, needs_gradient=True, eps=eps)
