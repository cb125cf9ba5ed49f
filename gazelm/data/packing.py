"""Packing for causal models (``data.packing: true``): several examples per row, each attending
only to itself.

A training batch is still the sampler's ``batch_size`` examples (so the optimisation is the
same as unpacked: same examples per step, same loss, same gradients); the collator places them
into as few rows as first-fit-decreasing allows, up to ``capacity`` tokens a row, instead of one
padded row each. The packed batch carries, besides the usual per-token keys laid out in rows:

- ``position_ids`` [R, L]: 0, 1, … restarting at every example (and at a row's padding tail),
  from which Hugging Face builds the block-diagonal causal mask (eager / SDPA) or the varlen
  FlashAttention-2 boundaries; no 2-D ``attention_mask`` goes to the model;
- ``attention_mask`` [R, L]: 1 on the examples' tokens, 0 on padding (for counting only);
- ``segment_ids`` [R, L]: the example (0 … N-1, batch order) each token belongs to, -1 on padding;
- ``example_index`` [N]: the examples' indices, in batch order.

Labels at each example's first position are -100 (the previous example's last token must not
predict them; an unpacked row never scores its first position either). Per-example quantities
(EyeMulator's example weights, the accumulation counts) use :func:`segment_ids` and
:func:`example_starts`, which describe unpacked batches too (one example per row), so
objectives and counts are written once for both layouts.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch

from gazelm.data.collate import (PAD_VALUES, SEQUENCE_KEYS, columns, destinations, example_indices, key_dtype,
                                 place, positions_within)

IGNORE_INDEX = -100


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Rows of item positions (longest item first; each row's lengths sum to ≤ ``capacity``,
    an item longer than ``capacity`` gets a row of its own)."""
    rows: list[list[int]] = []
    free: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: (-lengths[k], k)):
        n = lengths[i]
        row = next((r for r, room in enumerate(free) if room >= n), None)
        if row is None:
            rows.append([i])
            free.append(capacity - n)
        else:
            rows[row].append(i)
            free[row] -= n
    return rows


def pack_batch(features: Sequence[Mapping[str, Any]], pad_token_id: int, capacity: int,
               pad_to_multiple_of: int | None = None) -> dict[str, torch.Tensor]:
    """Pack one batch of causal features (rows as :func:`gazelm.data.collate.pad_batch` takes them)."""
    _, lengths = columns(features, "input_ids")
    rows = first_fit_decreasing(lengths.tolist(), max(capacity, int(lengths.max())))
    row, col = torch.zeros_like(lengths), torch.zeros_like(lengths)
    used = torch.zeros(len(rows), dtype=torch.long)
    for r, members in enumerate(rows):  # the packing plan: a few integers per example
        for i in members:
            row[i], col[i] = r, used[r]
            used[r] += lengths[i]
    width = int(used.max())
    if pad_to_multiple_of:
        width = math.ceil(width / pad_to_multiple_of) * pad_to_multiple_of
    shape = (len(rows), width)

    dest = destinations(lengths, row, col, width)
    batch: dict[str, torch.Tensor] = {}
    for key in SEQUENCE_KEYS:
        column = columns(features, key)
        if column is not None:
            fill = pad_token_id if key == "input_ids" else PAD_VALUES[key]
            batch[key] = place(column[0], dest, shape, fill, key_dtype(key))
    batch["labels"].view(-1)[row * width + col] = IGNORE_INDEX
    tail = (torch.arange(width)[None, :] - used[:, None]).clamp(min=0)  # padding: its own 0, 1, … run
    within = place(positions_within(lengths), dest, shape, -1, torch.long)
    batch["position_ids"] = torch.where(within >= 0, within, tail)
    segments = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    batch["segment_ids"] = place(segments, dest, shape, -1, torch.long)
    batch["attention_mask"] = (batch["segment_ids"] >= 0).long()
    batch["example_index"] = example_indices(features)
    return batch


def is_packed(batch: Mapping[str, torch.Tensor]) -> bool:
    return "segment_ids" in batch


def number_of_examples(batch: Mapping[str, torch.Tensor]) -> int:
    """Examples in the batch (rows when unpacked); known on the host, no device sync."""
    return int(batch["example_index"].shape[0]) if is_packed(batch) else int(batch["labels"].shape[0])


def segment_ids(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """[B, T] example number of every token: the row when unpacked; -1 on packed padding."""
    if is_packed(batch):
        return batch["segment_ids"]
    b, t = batch["input_ids"].shape
    return torch.arange(b, device=batch["input_ids"].device)[:, None].expand(b, t)


def example_starts(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """[B, T] True at the first token of every example (column 0 when unpacked)."""
    if is_packed(batch):
        return (batch["position_ids"] == 0) & (batch["segment_ids"] >= 0)
    starts = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
    starts[:, 0] = True
    return starts


def per_example(values: torch.Tensor, mask: torch.Tensor, batch: Mapping[str, torch.Tensor], reduce: str,
                empty: float = 1.0) -> torch.Tensor:
    """[N] max or mean of ``values`` over each example's ``mask`` positions (``empty`` if none)."""
    n = number_of_examples(batch)
    seg = segment_ids(batch)
    mask = mask.bool() & (seg >= 0)
    index = seg.clamp(min=0).reshape(-1)
    flat, keep = values.float().reshape(-1), mask.reshape(-1)
    count = torch.zeros(n, device=values.device).index_add_(0, index, keep.float())
    if reduce == "max":
        per = torch.full((n,), float("-inf"), device=values.device).scatter_reduce_(
            0, index, flat.masked_fill(~keep, float("-inf")), "amax")
    elif reduce == "mean":
        per = torch.zeros(n, device=values.device).index_add_(0, index, flat * keep) / count.clamp(min=1)
    else:
        raise ValueError(f"unknown reduce {reduce!r}; expected max or mean")
    return torch.where(count > 0, per, torch.full_like(per, empty))


def example_values_per_token(values: torch.Tensor, batch: Mapping[str, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """[N] per-example values spread over the tokens of ``like`` (e.g. the labels: decoder-side
    for encoder-decoder models): each example's value on its tokens."""
    if is_packed(batch):
        return values[batch["segment_ids"].clamp(min=0)]
    return values[:, None].expand_as(like)
