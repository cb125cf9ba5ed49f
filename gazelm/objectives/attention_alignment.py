"""Differentiable agreement between a model's attention over the source and a human target.

Pure tensor functions, kept apart so that reward-guided SFT (``attention_motif`` reward,
:mod:`gazelm.objectives.rewards`) and prompt tuning against fixations can share them.

The pipeline is explicit (as inseq keeps attribution and aggregation apart):

1. :func:`pool_heads_layers` – mean over the chosen layers and heads → ``[B, Tq, Tk]``;
2. :func:`attention_over_keys` – mean over the chosen query rows, restricted to the key
   positions of the source and renormalised → one distribution ``p`` per example;
3. :func:`human_target` – the human distribution ``q`` over the same positions, from the
   gaze provider's ``human_attention`` or from the (pseudo-)scanpath ``gaze_mask``;
4. :func:`attention_divergence` – ``KL(q ‖ p)`` or ``1 − cos(q, p)`` per example.

Which rows are queries: for encoder-decoder models the decoder positions that carry a
label (cross-attention); for causal models the positions whose logits predict a label
token, i.e. the last prompt position and the target positions but the last
(:func:`causal_query_mask`).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
TARGETS = ("auto", "human_attention", "gaze_mask")
DIVERGENCES = ("kl", "cosine")


def _select(n: int, chosen: Sequence[int] | None, what: str) -> list[int]:
    if chosen is None:
        return list(range(n))
    picked = []
    for i in chosen:
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise ValueError(f"{what} index {i} is out of range for a model with {n} {what}s")
        picked.append(j)
    if not picked:
        raise ValueError(f"no {what}s chosen")
    return picked


def pool_heads_layers(attentions: Sequence[torch.Tensor], layers: Sequence[int] | None = None,
                      heads: Sequence[int] | None = None) -> torch.Tensor:
    """Mean over chosen ``layers`` (negative = from the end) and ``heads`` (None = all).

    ``attentions`` is the Hugging Face tuple of per-layer ``[B, H, Tq, Tk]`` tensors
    (``attentions`` or ``cross_attentions``); returns ``[B, Tq, Tk]`` in float32.
    """
    if attentions is None or len(attentions) == 0:
        raise ValueError("the model returned no attentions: build it with attn_implementation='eager' "
                         "and call it with output_attentions=True")
    layer_ids = _select(len(attentions), layers, "layer")
    n_heads = attentions[layer_ids[0]].shape[1]
    head_ids = _select(n_heads, heads, "head")
    stacked = torch.stack([attentions[i][:, head_ids].float() for i in layer_ids])  # [L, B, H', Tq, Tk]
    return stacked.mean(dim=(0, 2))


def causal_query_mask(labels: torch.Tensor) -> torch.Tensor:
    """Rows of a causal model that predict a label token: ``q[:, t] = labels[:, t+1] != -100``."""
    mask = torch.zeros_like(labels, dtype=torch.bool)
    mask[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return mask


def attention_over_keys(attn: torch.Tensor, query_mask: torch.Tensor, key_mask: torch.Tensor,
                        eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean attention of the chosen query rows, restricted to ``key_mask`` and renormalised.

    ``attn`` [B, Tq, Tk], ``query_mask`` [B, Tq], ``key_mask`` [B, Tk]. Returns the
    distribution ``p`` [B, Tk] (zero outside ``key_mask``) and ``valid`` [B]: the example has
    at least one query row and some attention mass on the keys.
    """
    q = query_mask.to(attn.dtype)
    rows = (attn * q.unsqueeze(-1)).sum(1) / q.sum(1, keepdim=True).clamp(min=1.0)  # [B, Tk]
    rows = rows * key_mask.to(attn.dtype)
    mass = rows.sum(-1, keepdim=True)
    valid = (query_mask.any(-1)) & (mass.squeeze(-1) > eps)
    return rows / mass.clamp(min=eps), valid


def human_target(batch: dict[str, torch.Tensor], key_mask: torch.Tensor, source: str = "auto"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The human distribution over ``key_mask`` positions and which examples have one.

    ``source``: ``human_attention`` (measured attention from the gaze provider),
    ``gaze_mask`` (uniform over the (pseudo-)scanpath positions) or ``auto`` (per example:
    ``human_attention`` where the batch has it with positive mass, else ``gaze_mask``).
    """
    if source not in TARGETS:
        raise ValueError(f"unknown attention target {source!r}; expected one of {', '.join(TARGETS)}")
    keys = key_mask.float()
    from_mask = batch["gaze_mask"].float() * keys if "gaze_mask" in batch else torch.zeros_like(keys)
    if source == "gaze_mask":
        raw = from_mask
    elif "human_attention" not in batch:
        if source == "human_attention":
            raise ValueError("attention target 'human_attention' but the batch has no `human_attention` "
                             "(the gaze provider gives none); use target: gaze_mask or auto")
        raw = from_mask
    else:
        human = batch["human_attention"].float() * keys
        if source == "human_attention":
            raw = human
        else:
            has_human = human.sum(-1, keepdim=True) > 0
            raw = torch.where(has_human, human, from_mask)
    mass = raw.sum(-1, keepdim=True)
    return raw / mass.clamp(min=1e-12), mass.squeeze(-1) > 0


def attention_divergence(target: torch.Tensor, model: torch.Tensor, kind: str = "kl",
                         eps: float = 1e-8) -> torch.Tensor:
    """Per-example ``KL(target ‖ model) = Σ q log(q / (p + eps))`` or ``1 − cos(q, p)``.

    Terms with ``q = 0`` contribute 0 to the KL (``xlogy``); ``eps`` keeps ``log p`` finite
    where the model puts no mass on a position the human looked at.
    """
    if kind == "kl":
        return (torch.special.xlogy(target, target) - torch.special.xlogy(target, model + eps)).sum(-1)
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(target, model, dim=-1, eps=eps)
    raise ValueError(f"unknown divergence {kind!r}; expected one of {', '.join(DIVERGENCES)}")
