"""Relevance over positions → a distribution over *slots* (areas of interest, lines, image regions).

A slot is any set of positions: the subwords of one ``.ias`` area or of one code line, or the
image patches inside one interface rectangle. Slots are given per example as a position → slot
map (``slot_index[b, i]``: the slot of position ``i``, ``-1`` for none), which every modality can
produce; :func:`slot_index_from_spans` builds it from character spans with
:func:`gazelm.attention.pooling.membership`.

FixATE's pooling: relevance magnitude ``|r_i|`` summed per slot, ReLU, then
``a = s / (Σ s + eps)`` with ``eps = 1e-4`` — differentiable, and 0 on slots no position reaches.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from gazelm.attention.pooling import membership

Span = tuple[int, int]


def slot_index_from_spans(offsets: Sequence[Span], spans: Sequence[Span]) -> list[int]:
    """Per subword (character ``offsets``), the first slot span it overlaps, ``-1`` if none.

    A subword that straddles two slots counts for the first (as a patch centre counts for the
    first rectangle that contains it); subwords with empty offsets (special tokens) count for none.
    """
    if not offsets:
        return []
    if not spans:
        return [-1] * len(offsets)
    member = membership(offsets, spans)  # [U, S]
    hit = member.any(dim=0)
    first = member.float().argmax(dim=0)  # the first True (argmax of a 0/1 column)
    return torch.where(hit, first, torch.full_like(first, -1)).tolist()


def slot_sums(values: Tensor, slot_index: Tensor, n_slots: int) -> Tensor:
    """``Σ_{i: slot(i) = s} values[b, i]`` ``[B, n_slots]`` (positions with slot ``-1`` dropped)."""
    index = slot_index.long().clamp(min=0)
    keep = (slot_index >= 0).to(values.dtype)
    out = values.new_zeros(values.shape[0], n_slots + 1)
    out = out.scatter_add(1, torch.where(slot_index >= 0, index, torch.full_like(index, n_slots)), values * keep)
    return out[:, :n_slots]


def slot_relevance(relevance: Tensor, slot_index: Tensor, n_slots: int, eps: float = 1e-4,
                   magnitude: bool = True) -> Tensor:
    """FixATE's slot attention ``[B, n_slots]``: ``|r|`` per position summed per slot, ReLU,
    ``s / (Σ s + eps)``. ``relevance`` and ``slot_index`` are ``[B, N]`` over the same positions
    (prepend ``-1`` for soft-prompt positions, so they are never counted).

    ``slot_index`` may instead be slot *weights* ``[B, n_slots, N]``: image patches, where a visual
    token covers several patches that can fall in different slots
    (:func:`gazelm.attention.patch_slots.patch_slot_matrix`); the sum per slot is then the weighted one.
    """
    values = relevance.abs() if magnitude else relevance
    if slot_index.dim() == 3:
        sums = torch.einsum("bsn,bn->bs", slot_index.to(values.dtype), values)
    else:
        sums = slot_sums(values, slot_index, n_slots)
    s = torch.relu(sums)
    return s / (s.sum(dim=-1, keepdim=True) + eps)
