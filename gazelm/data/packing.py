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
- ``segment_ids`` [R, L]: the example (0 … N-1) each token belongs to, -1 on padding;
- ``example_index`` [N]: the examples in packing order.

Labels at each example's first position are -100 (the previous example's last token must not
predict them; an unpacked row never scores its first position either). Per-example quantities
(EyeMulator's example weights, the accumulation counts) use :func:`segment_ids` and
:func:`example_starts`, which describe unpacked batches too (one example per row), so
objectives and counts are written once for both layouts.
"""
from __future__ import annotations

import math
from itertools import accumulate
from typing import Any, Mapping, Sequence

import torch

from gazelm.data.collate import BOOL_KEYS, FLOAT_KEYS, PAD_VALUES, SEQUENCE_KEYS

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
    """Pack one batch of causal features (rows as in :func:`gazelm.data.collate.pad_batch`)."""
    lengths = [len(f["input_ids"]) for f in features]
    rows = first_fit_decreasing(lengths, max(capacity, max(lengths)))
    order = [i for row in rows for i in row]
    n_rows = len(rows)
    used = torch.tensor([sum(lengths[i] for i in row) for row in rows])
    width = int(used.max())
    if pad_to_multiple_of:
        width = math.ceil(width / pad_to_multiple_of) * pad_to_multiple_of

    # where each example starts in the flattened [R·L] grid, then one destination index per token
    row_of = torch.tensor([r for r, row in enumerate(rows) for _ in row])
    length = torch.tensor([lengths[i] for i in order])
    before = length.cumsum(0) - length                                   # tokens before each example
    first = torch.tensor([0, *accumulate(len(row) for row in rows)][:-1])  # each row's first example
    col = before - before[first][row_of]
    starts = row_of * width + col
    offset_in_example = torch.arange(int(length.sum())) - torch.repeat_interleave(length.cumsum(0) - length, length)
    dest = torch.repeat_interleave(starts, length) + offset_in_example

    def grid(values: torch.Tensor, fill, dtype) -> torch.Tensor:
        out = torch.full((n_rows * width,), fill, dtype=dtype)
        out[dest] = values.to(dtype)
        return out.view(n_rows, width)

    batch: dict[str, torch.Tensor] = {}
    for key in SEQUENCE_KEYS:
        if key not in features[0]:
            continue
        flat = torch.cat([torch.as_tensor(features[i][key]) for i in order])
        fill = pad_token_id if key == "input_ids" else PAD_VALUES[key]
        dtype = torch.float32 if key in FLOAT_KEYS else torch.bool if key in BOOL_KEYS else torch.long
        batch[key] = grid(flat, fill, dtype)
    batch["labels"].view(-1)[starts] = IGNORE_INDEX
    tail = (torch.arange(width)[None, :] - used[:, None]).clamp(min=0)  # padding: its own 0, 1, … run
    batch["position_ids"] = tail.reshape(-1).index_put((dest,), offset_in_example).view(n_rows, width)
    batch["segment_ids"] = grid(torch.repeat_interleave(torch.arange(len(order)), length), -1, torch.long)
    batch["attention_mask"] = (batch["segment_ids"] >= 0).long()
    batch["example_index"] = torch.tensor([int(features[i]["example_index"]) for i in order], dtype=torch.long)
    return batch


def is_packed(batch: Mapping[str, torch.Tensor]) -> bool:
    return "segment_ids" in batch


def example_count(batch: Mapping[str, torch.Tensor]) -> int:
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
    n = example_count(batch)
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
