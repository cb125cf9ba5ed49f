"""One visual multiple-choice example → model features; a list of them → a padded batch.

An example is an interface image with slots (rectangles on the image), a prompt, and the
answer letter of the slot the person chose. :func:`encode_visual` runs the backbone family's
processor (the chat template places the image before the prompt; the processor expands the
image placeholder into the visual tokens), appends the answer letter **as a token id** (so a
tokenizer never merges it with the text before it) and computes, from the family's token
layout and the slot boxes, the patch-to-slot matrix of :mod:`gazelm.attention.patch_slots`.

Per-example features (tensors):

- per token (``[L]``): ``input_ids`` (prompt + answer letter), ``labels`` (``-100`` but the
  answer), the family's other token keys (Qwen: ``mm_token_type_ids``);
- per image: the processor's image tensors (``pixel_values``, Qwen's ``image_grid_thw``);
- ``answer_position`` (the row whose logits predict the answer), ``answer_id``, ``choice_index``
  (the chosen slot, ``-1`` = no answer: no label, the answer token is a placeholder);
- ``option_ids`` ``[S]`` (the letter token of every slot) and ``slot_matrix`` ``[S, N]``
  (patches of each visual token inside each slot, first slot wins);
- added by the DataModule: ``gaze_target`` ``[S]`` (the person's dwell share per slot),
  ``dwell_ms`` / ``cursor_ms`` ``[S]``, ``user_index``, ``correct_index``, ``adapt_only``,
  ``example_index``.

:func:`collate_visual` pads token keys on the right, concatenates image tensors, pads slots to
the batch's largest page (``slot_mask``), and spreads each ``slot_matrix`` over the sequence
positions of that example's image tokens: ``batch["slot_matrix"]`` is ``[B, S_max, L]``, so a
loss maps relevance over positions ``[B, L]`` to slots with one batched matmul.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from gazelm.attention.patch_slots import assign_patches, patch_slot_matrix
from gazelm.errors import GazelmInputError

IGNORE_INDEX = -100
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
INDEX_KEYS = ("answer_position", "answer_id", "choice_index", "correct_index", "user_index", "example_index")
SLOT_KEYS = ("gaze_target", "dwell_ms", "cursor_ms")  # per slot, zero-padded


def letter_token_ids(tokenizer, n: int) -> list[int]:
    """Token ids of ``A``, ``B``, …: each letter must be one token of ``tokenizer``."""
    if n > len(LETTERS):
        raise GazelmInputError(f"{n} answer options but only {len(LETTERS)} letters")
    ids = []
    for letter in LETTERS[:n]:
        enc = tokenizer(letter, add_special_tokens=False)["input_ids"]
        if len(enc) != 1:
            raise GazelmInputError(f"the answer letter {letter!r} is {len(enc)} tokens for this tokenizer; "
                                   "FixATE scores one-token answers")
        ids.append(int(enc[0]))
    return ids


def encode_visual(adapter, image, prompt: str, boxes: Sequence[Sequence[float]], answer: int | None,
                  option_ids: Sequence[int], system: str | None = None) -> dict[str, Any]:
    """Features of one example (see the module docstring); ``answer`` is the chosen slot's index."""
    enc = adapter.encode(image, prompt, system)
    n_slots = len(boxes)
    if n_slots == 0:
        raise GazelmInputError("an interface page without slots")
    ids = enc.input_ids
    answer_id = int(option_ids[answer]) if answer is not None else int(adapter.processor.tokenizer.pad_token_id)
    features: dict[str, Any] = {"input_ids": torch.cat([ids, ids.new_tensor([answer_id])])}
    for key, value in enc.tokens.items():
        if key != "input_ids":
            features[key] = torch.cat([value, value.new_zeros(1)])
    labels = torch.full_like(features["input_ids"], IGNORE_INDEX)
    if answer is not None:
        labels[-1] = answer_id
    features["labels"] = labels
    features.update(enc.images)
    index = assign_patches(enc.layout.grid, image.size, boxes)
    features["slot_matrix"] = patch_slot_matrix(enc.layout, index, n_slots)
    features["answer_position"] = int(ids.shape[0] - 1)
    features["answer_id"] = answer_id
    features["choice_index"] = -1 if answer is None else int(answer)
    features["option_ids"] = torch.tensor(list(option_ids[:n_slots]), dtype=torch.long)
    return features


def _pad(rows: Sequence[Tensor], width: int, fill: float | int, dtype=None) -> Tensor:
    out = torch.full((len(rows), width), fill, dtype=dtype or rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, :r.shape[0]] = r
    return out


def collate_visual(rows: Sequence[Mapping[str, Any]], pad_token_id: int, token_keys: Sequence[str] = ("input_ids",),
                   image_keys: Sequence[str] = ("pixel_values",), image_token_id: int | None = None,
                   pad_to_multiple_of: int | None = None) -> dict[str, Tensor]:
    """Pad a list of :func:`encode_visual` features into one batch (right padding)."""
    width = max(int(r["input_ids"].shape[0]) for r in rows)
    if pad_to_multiple_of:
        width = math.ceil(width / pad_to_multiple_of) * pad_to_multiple_of
    batch: dict[str, Tensor] = {}
    for key in token_keys:
        batch[key] = _pad([r[key] for r in rows], width, pad_token_id if key == "input_ids" else 0)
    batch["labels"] = _pad([r["labels"] for r in rows], width, IGNORE_INDEX)
    lengths = torch.tensor([int(r["input_ids"].shape[0]) for r in rows])
    batch["attention_mask"] = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
    for key in image_keys:
        batch[key] = torch.cat([r[key] for r in rows])
    n_slots = max(int(r["slot_matrix"].shape[0]) for r in rows)
    batch["slot_mask"] = _pad([torch.ones(r["slot_matrix"].shape[0], dtype=torch.bool) for r in rows], n_slots, False)
    batch["option_ids"] = _pad([r["option_ids"] for r in rows], n_slots, -1)
    matrix = torch.zeros(len(rows), n_slots, width)
    for b, r in enumerate(rows):
        positions = (r["input_ids"] == image_token_id).nonzero().flatten() if image_token_id is not None else None
        m = r["slot_matrix"]
        if positions is None or positions.numel() != m.shape[1]:
            raise ValueError(f"example {b}: {m.shape[1]} visual tokens in the slot matrix, "
                             f"{0 if positions is None else positions.numel()} image tokens in input_ids")
        matrix[b, :m.shape[0], positions] = m
    batch["slot_matrix"] = matrix
    for key in INDEX_KEYS:
        if key in rows[0]:
            batch[key] = torch.tensor([int(r[key]) for r in rows], dtype=torch.long)
    if "adapt_only" in rows[0]:
        batch["adapt_only"] = torch.tensor([bool(r["adapt_only"]) for r in rows])
    for key in SLOT_KEYS:
        if key in rows[0]:
            batch[key] = _pad([torch.as_tensor(r[key], dtype=torch.float32) for r in rows], n_slots, 0.0,
                              dtype=torch.float32)
    return batch
