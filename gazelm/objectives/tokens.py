"""Per-token log-probabilities aligned with labels, for both backbone kinds."""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def align_for_causal(t: torch.Tensor, causal: bool) -> torch.Tensor:
    """Causal LMs predict position i+1 from logits at i: drop the first label position."""
    return t[:, 1:] if causal else t


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Log P(label_t | ...) per target position and the mask of positions with a label.

    For causal models logits at position t score labels at t+1 (as Hugging Face shifts
    internally); for encoder-decoder models they are already aligned. Returns tensors of
    shape [B, T'] (T' = T-1 for causal). Ignored positions have log-prob 0 and mask False.
    Causal labels are shifted instead of the logits (as transformers' ``ForCausalLMLoss``
    does), so the [B, T, V] logits are never copied.
    """
    if causal:
        labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
    mask = labels != IGNORE_INDEX
    safe = labels.masked_fill(~mask, 0)
    flat = logits.reshape(-1, logits.shape[-1]).float()  # [B·T, V] rows: the fast, contiguous kernel
    logp = -F.cross_entropy(flat, safe.reshape(-1), reduction="none").view_as(safe)
    logp = logp.masked_fill(~mask, 0.0)
    if causal:  # the last position predicts nothing
        return logp[:, :-1], mask[:, :-1]
    return logp, mask


def predicting_mask(labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Positions whose logits score a label: for causal models position t predicts labels[t+1]
    (the last position predicts nothing); for encoder-decoder models the label positions."""
    if causal:
        labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]
    return labels != IGNORE_INDEX


def kept_log_probs(kept_logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`token_log_probs` from logits computed only at ``predicting_mask(labels, causal)``
    ([n, V], row-major order, as ``logits_to_keep=<bool mask>`` returns them)."""
    mask = predicting_mask(labels, causal)
    targets = (F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:] if causal else labels)[mask]
    picked = -F.cross_entropy(kept_logits.float(), targets, reduction="none")
    # masked_scatter keeps the result connected to the model even when no position has a label
    logp = picked.new_zeros(mask.shape).masked_scatter(mask, picked)
    if causal:
        return logp[:, :-1], mask[:, :-1]
    return logp, mask


def output_log_probs(outputs, labels: torch.Tensor, causal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of ``labels`` from a backbone output: the ones the backbone computed when it was
    given these labels (:class:`gazelm.models.backbones.ScoredOutput`), else from the full logits."""
    if getattr(outputs, "log_probs", None) is not None:
        return outputs.log_probs, outputs.label_mask
    return token_log_probs(outputs.logits, labels, causal)
