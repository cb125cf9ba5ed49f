"""Shared pieces of the gradient operators: embedding gradients and the reduction over ``d``."""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import embed, forward_args, score_function
from gazelm.attention.target import ResolvedTarget

REDUCTIONS = ("l2", "sum", "abs_sum")


def reduce_embedding(values: Tensor, how: str = "l2") -> Tensor:
    """``[B, S, d] → [B, S]``: L2 norm (inseq's default), signed sum, or sum of absolute values."""
    if how == "l2":
        return values.norm(dim=-1)
    if how == "sum":
        return values.sum(dim=-1)
    if how == "abs_sum":
        return values.abs().sum(dim=-1)
    raise ValueError(f"unknown embedding reduction {how!r}; expected one of {REDUCTIONS}")


def embedding_gradient(model, rt: ResolvedTarget, score: str = "logit",
                       create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """``(e, ∂s/∂e)`` for the prompt embeddings ``e`` and the explained score ``s``.

    ``create_graph=True`` keeps the graph so the result can be differentiated again (used when
    an operator sits inside a training loss); otherwise the embeddings are detached leaves.
    """
    embeds = embed(model, rt.input_ids)
    if not create_graph:
        embeds = embeds.detach().requires_grad_(True)
    elif not embeds.requires_grad:
        embeds = embeds.requires_grad_(True)
    with torch.enable_grad():
        value = score_function(model, rt, score)(embeds, *forward_args(rt))
        (grad,) = torch.autograd.grad(value.sum(), embeds, create_graph=create_graph)
    return embeds, grad
