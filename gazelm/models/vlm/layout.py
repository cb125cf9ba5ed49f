"""Where each visual token of a vision-language model sits on the image.

A processor resizes the image, cuts it into square patches and merges neighbouring patches
into one language-model token (Qwen-VL: 2×2 patches per token through its patch merger;
InternVL: 448 px tiles whose 32×32 patches are pixel-shuffled 2×2 into 16×16 tokens, plus a
thumbnail tile). :class:`TokenLayout` undoes that: for every visual token, in the order the
image tokens appear in ``input_ids``, the patches (row, column of the unmerged patch grid
``H_p × W_p`` over the resized image) it covers. Tokens that cover no single place of the
image (InternVL's thumbnail) have no patches (rows of ``-1``).

The resize stretches the whole image onto the patch grid, so patch ``(i, j)`` is centred at
``((j + ½)·W/W_p, (i + ½)·H/H_p)`` in the coordinates of the original ``W × H`` image: slot
boxes drawn on the original image are scaled with it (:mod:`gazelm.attention.patch_slots`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TokenLayout:
    """``grid = (H_p, W_p)`` unmerged patches; ``token_patches`` ``[N, k, 2]`` (row, col), -1 = none."""

    grid: tuple[int, int]
    token_patches: Tensor

    @property
    def n_tokens(self) -> int:
        return int(self.token_patches.shape[0])

    def __post_init__(self) -> None:
        tp = self.token_patches
        if tp.dim() != 3 or tp.shape[-1] != 2:
            raise ValueError(f"token_patches must be [N, k, 2], got {tuple(tp.shape)}")
        h, w = self.grid
        real = tp[..., 0] >= 0
        if real.any() and (int(tp[..., 0][real].max()) >= h or int(tp[..., 1][real].max()) >= w):
            raise ValueError(f"token_patches outside the {h}x{w} patch grid")


def merged_grid_layout(grid_h: int, grid_w: int, merge: int, row0: int = 0, col0: int = 0) -> Tensor:
    """Tokens of a ``grid_h × grid_w`` patch grid merged ``merge × merge``, row-major over the
    merged grid (Qwen-VL's patch merger, InternVL's pixel shuffle); ``[N, merge², 2]``."""
    if grid_h % merge or grid_w % merge:
        raise ValueError(f"a {grid_h}x{grid_w} patch grid cannot be merged {merge}x{merge}")
    a, b = torch.meshgrid(torch.arange(grid_h // merge), torch.arange(grid_w // merge), indexing="ij")
    da, db = torch.meshgrid(torch.arange(merge), torch.arange(merge), indexing="ij")
    rows = a.reshape(-1, 1) * merge + da.reshape(1, -1) + row0
    cols = b.reshape(-1, 1) * merge + db.reshape(1, -1) + col0
    return torch.stack([rows, cols], dim=-1)


def qwen_layout(grid_thw: tuple[int, int, int] | Tensor, merge: int) -> TokenLayout:
    """Qwen2-VL / Qwen2.5-VL / Qwen3-VL: ``image_grid_thw = (1, h, w)`` patches, ``merge²`` per token."""
    t, h, w = (int(v) for v in grid_thw)
    if t != 1:
        raise ValueError(f"an image has one temporal patch; got grid {t}x{h}x{w} (a video?)")
    return TokenLayout((h, w), merged_grid_layout(h, w, merge))


def tiled_layout(columns: int, rows: int, tile_patches: int, merge: int, thumbnail: bool) -> TokenLayout:
    """InternVL: ``rows × columns`` tiles of ``tile_patches²`` patches (row-major tile order),
    each pixel-shuffled ``merge × merge``; the thumbnail's tokens (last) have no patches."""
    per_tile = [merged_grid_layout(tile_patches, tile_patches, merge, r * tile_patches, c * tile_patches)
                for r in range(rows) for c in range(columns)]
    tokens = torch.cat(per_tile)
    if thumbnail:
        tokens = torch.cat([tokens, torch.full_like(per_tile[0], -1)])
    return TokenLayout((rows * tile_patches, columns * tile_patches), tokens)

