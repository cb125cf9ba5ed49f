"""``grad_x_attention``: attention weighted by its gradient, summed over layers.

``r_j = Σ_l E_h[(A_l ⊙ ∂s/∂A_l)⁺]_{q j}`` at the explained query row ``q`` — the gradient-
weighted attention of Grad-SAM (Barkan et al., CIKM 2021) and Chefer et al. (ICCV 2021), which
FixATE uses as a probing operator next to plain attention. ``positive=False`` keeps the signed
product (heads averaged) instead of its positive part.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import query_rows
from gazelm.attention.operators import register_operator
from gazelm.attention.operators._attention_grad import attention_and_gradient, gradient_weighted
from gazelm.attention.operators.self_attention import select_layers
from gazelm.attention.target import Target, resolve_target


def grad_x_attention_rows(attentions: list[Tensor], grads: list[Tensor], rows: Tensor,
                          key_mask: Tensor | None = None, **_: object) -> Tensor:
    """Row ``rows[b]`` of ``Σ_l E_h[(A_l ⊙ ∂s/∂A_l)⁺]`` over the given layers ``[B, N]`` (inside a training
    forward: only the explained rows are formed)."""
    index = torch.arange(rows.shape[0], device=rows.device)
    return sum(gradient_weighted(a[index, :, rows], g[index, :, rows]) for a, g in zip(attentions, grads))


@register_operator("grad_x_attention", differentiable=True, in_forward=grad_x_attention_rows, needs_gradient=True)
def grad_x_attention(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                     *, layer: int | str = "sum", positive: bool = True, create_graph: bool = False,
                     **_: object) -> Tensor:
    """``layer``: ``"sum"`` over all layers (default), or any :func:`select_layers` choice."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    attentions, grads, _ = attention_and_gradient(model, rt, target.score, create_graph)
    products = [a * g for a, g in zip(attentions, grads)]
    if positive:
        products = [p.clamp_min(0) for p in products]
    if layer == "sum":
        chosen = torch.stack(products).sum(dim=0)
    else:
        chosen = select_layers(products, layer)
    rows = query_rows(chosen, rt.positions, rt.weights, rt.src_len).mean(dim=1)
    return rt.restore(rows)
