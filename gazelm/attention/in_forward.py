"""Relevance computed inside a training forward: one forward, attentions and one scalar in.

Prompt tuning against fixations (FixATE) needs the relevance of every position for one row per
example (the row that predicts the answer), differentiable with respect to the inputs, from the
*same* forward that gives the loss's logits. Operators that can do this register a pure function
under the registry metadata ``in_forward``::

    fn(attentions: list[Tensor[B, H, N, N]],   # the last K layers, first to last
       grads: list[Tensor[B, H, N, N]] | None, # ∂score/∂A_l (None for operators without ``needs_gradient``)
       rows: Tensor[B],                         # the explained row of each example
       key_mask: Tensor[B, N],                  # real positions (padding excluded)
       **params) -> Tensor[B, N]

:func:`relevance_in_forward` selects the last ``last_k`` layers, takes the gradients of ``score``
(``create_graph=True`` keeps them differentiable, as FixATE's training does) and calls it. Nothing
here knows the model: attentions can come from a text LM or from the language model of a
vision-language model.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from gazelm.attention.operators import OPERATORS


def in_forward_operators() -> list[str]:
    """Names of the registered operators that can run inside a training forward."""
    return [name for name in OPERATORS.names() if OPERATORS.meta(name).get("in_forward") is not None]


def check_in_forward(name: str) -> None:
    """A clear error for an operator that cannot be computed from one forward."""
    if OPERATORS.meta(name).get("in_forward") is None:
        raise ValueError(f"operator {name!r} cannot be computed inside a training forward; "
                         f"use one of: {', '.join(in_forward_operators())}")


def last_layers(attentions: Sequence[Tensor], last_k: int | None) -> list[Tensor]:
    """The last ``last_k`` layers (all when ``None`` or larger than the model)."""
    layers = list(attentions)
    if not layers or layers[0] is None:
        raise RuntimeError("the model returned no attention weights; build it with eager attention "
                           "and call it with output_attentions=True")
    if last_k is not None:
        if int(last_k) < 1:
            raise ValueError("last_k must be >= 1")
        layers = layers[-int(last_k):]
    return layers


def relevance_in_forward(operator: str, attentions: Sequence[Tensor], score: Tensor | None, rows: Tensor,
                         key_mask: Tensor | None = None, *, last_k: int | None = None, create_graph: bool = True,
                         grad_scale: float = 1.0, **params: Any) -> Tensor:
    """Relevance ``[B, N]`` of every position for row ``rows[b]`` of example ``b``.

    ``score``: a scalar (the sum over the batch of each example's explained logit); needed by
    operators registered with ``needs_gradient=True``. ``grad_scale`` multiplies ``∂score/∂A``
    before the operator sees it (FixATE's batched training step uses 0.1).
    """
    check_in_forward(operator)
    meta = OPERATORS.meta(operator)
    layers = last_layers(attentions, last_k)
    if key_mask is None:
        key_mask = torch.ones(layers[0].shape[0], layers[0].shape[-1], dtype=torch.bool, device=layers[0].device)
    grads = None
    if meta.get("needs_gradient"):
        if score is None:
            raise ValueError(f"operator {operator!r} needs the explained score to differentiate")
        # ∂(c·s)/∂A = c·∂s/∂A: the scale goes on the scalar, not on K full-size gradient tensors
        scaled = score * grad_scale if grad_scale != 1.0 else score
        found = torch.autograd.grad(scaled, layers, create_graph=create_graph, retain_graph=True, allow_unused=True)
        grads = [torch.zeros_like(a) if g is None else g for a, g in zip(layers, found)]
    return meta["in_forward"](layers, grads, rows, key_mask.bool(), **params)


def one_hot_rows(rows: Tensor, size: int, dtype: torch.dtype) -> Tensor:
    """``[B, N]`` with a 1 at ``rows[b]``."""
    out = torch.zeros(rows.shape[0], size, dtype=dtype, device=rows.device)
    return out.scatter(1, rows.long().view(-1, 1), 1.0)


def causal_operator(model, input_ids: Tensor, attention_mask: Tensor | None, target, in_forward, *,
                    last_k: int | None, create_graph: bool, needs_gradient: bool, **params: Any) -> Tensor:
    """The registered-operator call (``op(model, ids, mask, target)``) for an ``in_forward`` function.

    As FixATE does, the explained token is part of the input (teacher forcing: prompt, continuation,
    then the last explained token), and the explained row is the position that predicts it.
    Causal LMs only: the propagation needs square self-attention over the whole sequence.
    """
    from gazelm.attention.forward import embed, select_score
    from gazelm.attention.target import eager_attention, is_encoder_decoder, resolve_target

    if is_encoder_decoder(model):
        raise ValueError("this operator propagates relevance through self-attention over the whole "
                         "sequence; it supports causal language models only")
    rt = resolve_target(model, input_ids, attention_mask, target)
    last = (rt.weights > 0).long().cumsum(1).argmax(1)  # index of the last explained token
    rows = rt.positions.gather(1, last.view(-1, 1)).squeeze(1)
    final = rt.tokens.gather(1, last.view(-1, 1))
    ids = torch.cat([rt.input_ids, rt.cont_ids, final], dim=1)
    mask = torch.cat([rt.full_mask(), torch.ones_like(final)], dim=1)
    with eager_attention(model), torch.enable_grad():
        embeds = embed(model, ids)
        if needs_gradient and not embeds.requires_grad:
            embeds = embeds.detach().requires_grad_(True)
        outputs = model(inputs_embeds=embeds, attention_mask=mask, output_attentions=True, use_cache=False)
        layers = last_layers(outputs.attentions, last_k)
        grads = None
        if needs_gradient:
            logits = outputs.logits.gather(1, rt.positions.unsqueeze(-1).expand(-1, -1, outputs.logits.shape[-1]))
            score = select_score(logits, rt.tokens, rt.weights, target.score).sum()
            found = torch.autograd.grad(score, layers, create_graph=create_graph, retain_graph=create_graph,
                                        allow_unused=True)
            grads = [torch.zeros_like(a) if g is None else g for a, g in zip(layers, found)]
        relevance = in_forward(layers, grads, rows, mask.bool(), **params)
    relevance = relevance[:, : rt.src_len]
    if not create_graph:
        relevance = relevance.detach()
    return rt.restore(relevance)
