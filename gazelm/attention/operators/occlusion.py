"""``occlusion`` (Zeiler & Fergus, 2014) through captum: zero one token's embedding at a time.

Relevance of token ``i`` = ``s(x) − s(x with e_i = 0)``; ``perturbations_per_eval`` occluded
copies run per forward batch.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import embed, forward_args, score_function
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, resolve_target


@register_operator("occlusion")
def occlusion(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
              *, window: int = 1, perturbations_per_eval: int = 16, **_: object) -> Tensor:
    """Score drop when ``window`` consecutive token embeddings are replaced by zeros."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    embeds = embed(model, rt.input_ids).detach()
    from captum.attr import Occlusion  # imported here: only this operator needs captum

    occ = Occlusion(score_function(model, rt, target.score))
    with torch.no_grad():
        attributions = occ.attribute(embeds, sliding_window_shapes=(window, embeds.shape[-1]), baselines=0.0,
                                     additional_forward_args=forward_args(rt),
                                     perturbations_per_eval=perturbations_per_eval)
    return rt.restore(attributions.mean(dim=-1))
