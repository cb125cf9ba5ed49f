"""One forward pass for every operator: embeddings in, explained score (and attentions) out."""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Callable

import torch
from torch import Tensor

from gazelm.attention.target import ResolvedTarget


def embed(model, ids: Tensor) -> Tensor:
    """Input embeddings ``[B, S, d]`` of token ids (the tensor gradient operators differentiate)."""
    return model.get_input_embeddings()(ids)


@lru_cache(maxsize=None)
def _keeps_logits(cls: type) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):
        return False


def run_model(model, rt: ResolvedTarget, prompt_embeds: Tensor | None = None, *,
              output_attentions: bool = False):
    """Run ``model`` on the resolved target; ``prompt_embeds`` replaces the prompt's embeddings."""
    return _run(model, rt, prompt_embeds, output_attentions, False)[0]


def target_logits(model, rt: ResolvedTarget, prompt_embeds: Tensor | None = None, *,
                  output_attentions: bool = False):
    """``(outputs, logits [B, T, V] at rt.positions)``.

    Causal LMs whose forward takes ``logits_to_keep`` project only the explained positions onto
    the vocabulary (the largest matmul of a small model, and of the backward pass).
    """
    outputs, kept = _run(model, rt, prompt_embeds, output_attentions, True)
    logits = outputs.logits
    if not kept:
        logits = logits.gather(1, rt.positions.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
    return outputs, logits


def _run(model, rt: ResolvedTarget, prompt_embeds: Tensor | None, output_attentions: bool, keep: bool):
    if prompt_embeds is None:
        prompt_embeds = embed(model, rt.input_ids)
    if rt.is_encoder_decoder:
        return model(inputs_embeds=prompt_embeds, attention_mask=rt.attention_mask,
                     decoder_input_ids=rt.cont_ids, decoder_attention_mask=rt.cont_mask,
                     output_attentions=output_attentions), False
    embeds = torch.cat([prompt_embeds, embed(model, rt.cont_ids).to(prompt_embeds.dtype)], dim=1)
    keep = keep and _keeps_logits(type(model))
    extra = {"logits_to_keep": rt.positions} if keep else {}
    return model(inputs_embeds=embeds, attention_mask=rt.full_mask(), output_attentions=output_attentions,
                 **extra), keep


def select_score(rows: Tensor, tokens: Tensor, weights: Tensor, kind: str) -> Tensor:
    """``Σ_t w_t · s(rows[b, t])[tok_t]`` per row; ``rows`` ``[B, T, V]``, ``s`` = identity or log-softmax."""
    if kind == "logprob":
        rows = torch.log_softmax(rows, dim=-1)
    picked = rows.gather(2, tokens.unsqueeze(-1)).squeeze(-1)  # [B, T]
    return (picked * weights.to(picked.dtype)).sum(dim=1)


def score_function(model, rt: ResolvedTarget, kind: str = "logit") -> Callable[..., Tensor]:
    """A captum-style forward ``f(prompt_embeds, mask, cont, cont_mask, pos, tok, w) -> [B]``.

    Every argument is a per-example tensor so captum can expand them alongside the inputs
    (integrated-gradient steps, occlusion and SHAP perturbations all run as one batch).
    """

    def forward(prompt_embeds: Tensor, attention_mask: Tensor, cont_ids: Tensor, cont_mask: Tensor,
                positions: Tensor, tokens: Tensor, weights: Tensor) -> Tensor:
        expanded = ResolvedTarget(
            input_ids=rt.input_ids, attention_mask=attention_mask, cont_ids=cont_ids, cont_mask=cont_mask,
            positions=positions, tokens=tokens, weights=weights, is_encoder_decoder=rt.is_encoder_decoder,
            src_index=rt.src_index, caller_mask=rt.caller_mask)
        _, rows = target_logits(model, expanded, prompt_embeds)
        return select_score(rows, tokens, weights, kind)

    return forward


def forward_args(rt: ResolvedTarget) -> tuple[Tensor, ...]:
    """The per-example tensors :func:`score_function` takes after the embeddings."""
    return (rt.attention_mask, rt.cont_ids, rt.cont_mask, rt.positions, rt.tokens, rt.weights)


def query_rows(attention: Tensor, positions: Tensor, weights: Tensor, src_len: int) -> Tensor:
    """Weighted mean of attention rows at ``positions``: ``[B, H, Q, K] → [B, H, src_len]``."""
    idx = positions[:, None, :, None].expand(-1, attention.shape[1], -1, attention.shape[-1])
    rows = attention.gather(2, idx)[..., :src_len]  # [B, H, T, S]
    w = weights.to(rows.dtype)
    w = w / w.sum(dim=1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)
    return (rows * w[:, None, :, None]).sum(dim=2)


def probe_attentions(outputs, rt: ResolvedTarget) -> tuple[Tensor, ...]:
    """Attentions that read the prompt: decoder self-attention (causal) or cross-attention."""
    attentions = outputs.cross_attentions if rt.is_encoder_decoder else outputs.attentions
    if not attentions or attentions[0] is None:
        raise RuntimeError("the model returned no attention weights; it must support eager attention")
    return tuple(attentions)
