"""``input_x_gradient``: ``‖e_i ⊙ ∂s/∂e_i‖₂`` per input token (Shrikumar et al., 2016; Kou et al.)."""
from __future__ import annotations

from torch import Tensor

from gazelm.attention.operators import register_operator
from gazelm.attention.operators._gradient import embedding_gradient, reduce_embedding
from gazelm.attention.target import Target, resolve_target


@register_operator("input_x_gradient", differentiable=True)
def input_x_gradient(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                     *, reduce: str = "l2", create_graph: bool = False, **_: object) -> Tensor:
    """``reduce`` over the embedding dimension: ``l2`` (default), ``sum``, ``abs_sum``."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    embeds, grad = embedding_gradient(model, rt, target.score, create_graph)
    return rt.restore(reduce_embedding(embeds * grad, reduce))
