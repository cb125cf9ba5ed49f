"""Patch-to-slot pooling: relevance over a VLM's visual tokens → one share per interface slot.

FixATE's aggregation for images (its ``aggregate_patch_saliency_to_slots_torch``), with the
token layout made explicit:

1. visual-token relevance → the unmerged patch grid ``H_p × W_p`` (every patch a token covers
   gets the token's value: Qwen's 2×2 patch merger and InternVL's 2×2 pixel shuffle undone,
   InternVL's tiles put back in place; :class:`~gazelm.models.vlm.layout.TokenLayout`);
2. each patch centre, in the coordinates of the original image, goes to the **first** slot
   rectangle that contains it (half-open ``[x1, x2) × [y1, y2)``; later overlapping slots get
   nothing of it, patches outside every slot count for none);
3. slot score ``s`` = sum over its patches, then ReLU;
4. ``a = s / (Σ s + ε)``, ``ε = 1e-4``.

FixATE applies the ReLU to each patch before summing and feeds it ``|r|``; on non-negative
relevance both orders agree. Steps 1–3 are linear in the relevance, so they are also available
as a matrix (:func:`patch_slot_matrix`, ``[S, N]`` patch counts) that maps a whole sequence's
relevance to slots in one matmul inside a loss.

FixATE's InternVL path reads the tile-major tokens as one row-major grid (and swaps the tile
grid's rows and columns); the layout here keeps each tile's tokens in place.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from gazelm.models.vlm.layout import TokenLayout

EPS = 1e-4
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 (x2, y2 exclusive)


def scale_boxes(boxes: Sequence[Box] | Tensor, from_size: tuple[float, float], to_size: tuple[float, float]) -> Tensor:
    """Boxes drawn on a ``from_size = (W, H)`` image, in the coordinates of the same image resized to ``to_size``."""
    b = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return b * torch.tensor([sx, sy, sx, sy], dtype=torch.float64)


def patch_centres(grid: tuple[int, int], image_size: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Patch centres ``x, y`` (``[H_p, W_p]``) on the original ``image_size = (W, H)`` image."""
    h, w = grid
    ys = (torch.arange(h, dtype=torch.float64) + 0.5) * (float(image_size[1]) / h)
    xs = (torch.arange(w, dtype=torch.float64) + 0.5) * (float(image_size[0]) / w)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return x, y


def assign_patches(grid: tuple[int, int], image_size: tuple[float, float], boxes: Sequence[Box] | Tensor) -> Tensor:
    """``[H_p, W_p]``: the index of the first box containing each patch centre, ``-1`` for none."""
    x, y = patch_centres(grid, image_size)
    b = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    index = torch.full(x.shape, -1, dtype=torch.long)
    for s in range(b.shape[0]):  # first box wins: only still-unassigned patches
        x1, y1, x2, y2 = b[s].tolist()
        inside = (x >= x1) & (x < x2) & (y >= y1) & (y < y2) & (index < 0)
        index[inside] = s
    return index


def unmerge(token_relevance: Tensor, layout: TokenLayout) -> Tensor:
    """``[N]`` visual-token relevance → ``[H_p, W_p]`` patch relevance (a patch gets its token's value)."""
    if token_relevance.shape[-1] != layout.n_tokens:
        raise ValueError(f"{token_relevance.shape[-1]} token scores for a layout of {layout.n_tokens} visual tokens")
    h, w = layout.grid
    tp = layout.token_patches.to(token_relevance.device)
    real = tp[..., 0] >= 0  # [N, k]
    values = token_relevance.unsqueeze(-1).expand(-1, tp.shape[1])[real]
    flat = (tp[..., 0] * w + tp[..., 1])[real]
    out = token_relevance.new_zeros(h * w)
    return out.index_put((flat,), values, accumulate=True).view(h, w)


def pool_patches_to_slots(patch_relevance: Tensor, slot_index: Tensor, n_slots: int, eps: float = EPS) -> Tensor:
    """``[H_p, W_p]`` patch relevance → slot shares ``a`` ``[n_slots]`` (sum per slot, ReLU, normalise)."""
    idx = slot_index.to(patch_relevance.device).reshape(-1)
    keep = idx >= 0
    sums = patch_relevance.new_zeros(n_slots).index_add(0, idx[keep], patch_relevance.reshape(-1)[keep])
    scores = torch.relu(sums)
    return scores / (scores.sum() + eps)


def slot_attention(token_relevance: Tensor, layout: TokenLayout, image_size: tuple[float, float],
                   boxes: Sequence[Box] | Tensor, eps: float = EPS) -> Tensor:
    """The whole pipeline for one image: visual-token relevance → slot shares ``[len(boxes)]``."""
    n_slots = torch.as_tensor(boxes).reshape(-1, 4).shape[0]
    index = assign_patches(layout.grid, image_size, boxes)
    return pool_patches_to_slots(unmerge(token_relevance, layout), index, n_slots, eps)


def patch_slot_matrix(layout: TokenLayout, slot_index: Tensor, n_slots: int) -> Tensor:
    """``[n_slots, N]``: how many of token ``t``'s patches have their centre in slot ``s``.

    ``relu(M @ r)`` equals the slot scores of :func:`pool_patches_to_slots` on ``unmerge(r)``.
    """
    h, w = layout.grid
    tp = layout.token_patches
    real = tp[..., 0] >= 0
    slots = torch.full(tp.shape[:2], -1, dtype=torch.long)
    slots[real] = slot_index.reshape(-1)[(tp[..., 0] * w + tp[..., 1])[real]]
    matrix = torch.zeros(n_slots, layout.n_tokens)
    token = torch.arange(layout.n_tokens).unsqueeze(-1).expand_as(slots)
    hit = slots >= 0
    return matrix.index_put((slots[hit], token[hit]), torch.ones(int(hit.sum())), accumulate=True)
