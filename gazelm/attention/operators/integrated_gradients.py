"""``integrated_gradients`` (Sundararajan et al., 2017) through captum, on the prompt embeddings.

The baseline is the zero embedding. With ``batched=True`` all ``n_steps`` interpolation points
of all prompts run as ONE forward/backward batch; ``batched=False`` runs one step at a time
(captum's ``internal_batch_size`` = batch size), the loop a user would otherwise write.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import embed, forward_args, score_function
from gazelm.attention.operators import register_operator
from gazelm.attention.operators._gradient import reduce_embedding
from gazelm.attention.target import Target, resolve_target


@register_operator("integrated_gradients")
def integrated_gradients(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                         *, n_steps: int = 20, method: str = "gausslegendre", reduce: str = "l2",
                         batched: bool = True, **_: object) -> Tensor:
    """IG attributions reduced over the embedding dimension (``sum`` keeps completeness)."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    embeds = embed(model, rt.input_ids).detach()
    from captum.attr import IntegratedGradients  # imported here: only this operator needs captum

    ig = IntegratedGradients(score_function(model, rt, target.score))
    with torch.enable_grad():
        attributions = ig.attribute(embeds, baselines=torch.zeros_like(embeds), additional_forward_args=forward_args(rt),
                                    n_steps=n_steps, method=method,
                                    internal_batch_size=None if batched else embeds.shape[0])
    return rt.restore(reduce_embedding(attributions.detach(), reduce))
