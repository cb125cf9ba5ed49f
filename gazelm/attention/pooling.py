"""Aggregation: subword relevance → words, code tokens, lines, spans or slots; normalisation.

The third part of (operator, target, aggregation). Units are half-open character spans of the
text; a subword belongs to every unit its offset span overlaps (special tokens, with empty
offsets, belong to none). Pooling is ``sum``, ``mean``, ``max`` or ``absmax`` (the value of
largest magnitude, sign kept) and stays differentiable. A unit no subword touches gets 0.
"""
from __future__ import annotations

import re
from typing import Sequence

import torch
from torch import Tensor

POOLINGS = ("sum", "mean", "max", "absmax")
NORMALISATIONS = ("l1", "softmax", "none")
Span = tuple[int, int]


def word_spans(text: str, pattern: str = r"\w+") -> list[Span]:
    """Spans of the words of ``text`` (``\\w+`` runs: identifiers stay whole)."""
    return [m.span() for m in re.finditer(pattern, text)]


def code_token_spans(text: str) -> list[Span]:
    """Spans of lexical code tokens: identifiers/numbers (``\\w+``) and single punctuation marks."""
    return word_spans(text, r"\w+|[^\w\s]")


def line_spans(text: str) -> list[Span]:
    """Spans of the lines of ``text`` (without the newline); empty lines included."""
    spans, start = [], 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def membership(offsets: Sequence[Span], units: Sequence[Span]) -> Tensor:
    """``[U, S]`` boolean: subword ``s`` (offset span) overlaps unit ``u``."""
    tok = torch.tensor([tuple(o) for o in offsets], dtype=torch.long).reshape(-1, 2)
    uni = torch.tensor([tuple(u) for u in units], dtype=torch.long).reshape(-1, 2)
    nonempty = (tok[:, 1] > tok[:, 0]).unsqueeze(0)
    overlap = (tok[None, :, 0] < uni[:, None, 1]) & (uni[:, None, 0] < tok[None, :, 1])
    return overlap & nonempty


def pool(scores: Tensor | Sequence[float], offsets: Sequence[Span], units: Sequence[Span], how: str = "sum") -> Tensor:
    """Pool per-subword ``scores`` ``[S]`` into per-unit values ``[U]``."""
    scores = torch.as_tensor(scores)
    if not scores.is_floating_point():
        scores = scores.float()
    if len(offsets) != scores.shape[-1]:
        raise ValueError(f"{scores.shape[-1]} scores but {len(offsets)} offsets")
    member = membership(offsets, units).to(scores.device)
    weights = member.to(scores.dtype)
    if how == "sum":
        return weights @ scores
    if how == "mean":
        return (weights @ scores) / weights.sum(dim=1).clamp_min(1.0)
    if how in ("max", "absmax"):
        if len(units) == 0:
            return scores.new_zeros(0)
        values = scores.abs() if how == "absmax" else scores
        masked = values.unsqueeze(0).masked_fill(~member, float("-inf"))
        best, index = masked.max(dim=1)
        picked = scores.gather(0, index) if how == "absmax" else best
        return torch.where(member.any(dim=1), picked, torch.zeros_like(picked))
    raise ValueError(f"unknown pooling {how!r}; expected one of {POOLINGS}")


def normalise(values: Tensor, how: str = "l1", mask: Tensor | None = None) -> Tensor:
    """``l1``: ``x / Σ|x|`` (zeros stay zeros); ``softmax``; ``none``. ``mask`` excludes entries."""
    values = torch.as_tensor(values).float() if not torch.is_tensor(values) else values
    if mask is not None:
        mask = mask.bool()
    if how == "none":
        return values if mask is None else values * mask
    if how == "l1":
        v = values if mask is None else values * mask
        total = v.abs().sum(dim=-1, keepdim=True)
        return torch.where(total > 0, v / total.clamp_min(torch.finfo(v.dtype).tiny), v)
    if how == "softmax":
        v = values if mask is None else values.masked_fill(~mask, float("-inf"))
        out = torch.softmax(v, dim=-1)
        return out if mask is None else torch.nan_to_num(out, nan=0.0)
    raise ValueError(f"unknown normalisation {how!r}; expected one of {NORMALISATIONS}")
