"""Attention weights together with the gradient of the explained score with respect to them."""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import probe_attentions, select_score, target_logits
from gazelm.attention.target import ResolvedTarget, eager_attention


def attention_and_gradient(model, rt: ResolvedTarget, score: str = "logit", create_graph: bool = False
                           ) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Per layer ``A_l`` and ``∂s/∂A_l`` (``[B, H, Q, K]``) plus target-token probabilities ``[B, T]``.

    Causal LMs: decoder self-attention; encoder-decoders: cross-attention over the input.
    """
    with eager_attention(model), torch.enable_grad():
        outputs, rows = target_logits(model, rt, output_attentions=True)
        attentions = list(probe_attentions(outputs, rt))
        value = select_score(rows, rt.tokens, rt.weights, score)
        grads = torch.autograd.grad(value.sum(), attentions, create_graph=create_graph, allow_unused=True)
        probs = torch.softmax(rows, dim=-1).gather(2, rt.tokens.unsqueeze(-1)).squeeze(-1)
    grads = [torch.zeros_like(a) if g is None else g for a, g in zip(attentions, grads)]
    if not create_graph:
        attentions = [a.detach() for a in attentions]
        probs = probs.detach()
    return attentions, grads, probs


def gradient_weighted(attention: Tensor, grad: Tensor) -> Tensor:
    """``E_h[(A ⊙ ∂s/∂A)⁺]``: heads averaged after keeping positive contributions (Chefer et al., 2021)."""
    return (attention * grad).clamp_min(0).mean(dim=1)
