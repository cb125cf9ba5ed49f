"""Patch-to-slot pooling on a hand-built grid (values worked out by hand) and token layouts."""
from __future__ import annotations

import pytest
import torch

from gazelm.attention.patch_slots import (assign_patches, patch_centres, patch_slot_matrix, pool_patches_to_slots,
                                          scale_boxes, slot_attention, unmerge)
from gazelm.models.vlm.layout import TokenLayout, merged_grid_layout, qwen_layout, tiled_layout

# A 60x40 image, 4x6 patches of 10 px, merged 2x2 into 2x3 tokens:
#   t0 t1 t2      token t = (a, b) covers patch rows 2a..2a+1, cols 2b..2b+1
#   t3 t4 t5
# Patch centres: x = 5, 15, ..., 55; y = 5, 15, 25, 35.
GRID, SIZE = (4, 6), (60, 40)
BOXES = [(0, 0, 30, 20),    # S0: rows 0-1, cols 0-2  → t0 ×4 patches, t1 ×2
         (20, 0, 50, 40),   # S1: cols 2-4 minus S0's (rows 0-1, col 2) → t1 ×2, t2 ×2, t4 ×4, t5 ×2
         (0, 20, 20, 40),   # S2: rows 2-3, cols 0-1 → t3 ×4
         (0, 0, 10, 10)]    # S3: inside S0, gets nothing (first slot wins); column 5 is in no slot
R = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def layout() -> TokenLayout:
    return qwen_layout((1, 4, 6), merge=2)


def test_merged_grid_layout_is_row_major_blocks():
    tp = merged_grid_layout(4, 6, 2)
    assert tp.shape == (6, 4, 2)
    assert tp[0].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert tp[2].tolist() == [[0, 4], [0, 5], [1, 4], [1, 5]]
    assert tp[4].tolist() == [[2, 2], [2, 3], [3, 2], [3, 3]]


def test_patch_centres_on_the_original_image():
    x, y = patch_centres(GRID, SIZE)
    assert x[0].tolist() == [5, 15, 25, 35, 45, 55]
    assert y[:, 0].tolist() == [5, 15, 25, 35]


def test_first_slot_that_contains_a_patch_centre_wins():
    index = assign_patches(GRID, SIZE, BOXES)
    assert index.tolist() == [[0, 0, 0, 1, 1, -1],
                              [0, 0, 0, 1, 1, -1],
                              [2, 2, 1, 1, 1, -1],
                              [2, 2, 1, 1, 1, -1]]


def test_unmerge_gives_each_patch_its_token_value():
    patches = unmerge(R, layout())
    assert patches.tolist() == [[1, 1, 2, 2, 3, 3], [1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6], [4, 4, 5, 5, 6, 6]]


def test_slot_scores_by_hand():
    # s0 = 4·1 + 2·2 = 8; s1 = 2·2 + 2·3 + 4·5 + 2·6 = 42; s2 = 4·4 = 16; s3 = 0
    a = slot_attention(R, layout(), SIZE, BOXES)
    expected = torch.tensor([8.0, 42.0, 16.0, 0.0]) / (66.0 + 1e-4)
    torch.testing.assert_close(a, expected)


def test_relu_after_the_slot_sum():
    r = torch.tensor([-3.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # s0 = 4·(−3) + 2·2 = −8 → 0
    a = slot_attention(r, layout(), SIZE, BOXES)
    torch.testing.assert_close(a, torch.tensor([0.0, 42.0, 16.0, 0.0]) / (58.0 + 1e-4))


def test_all_zero_relevance_gives_zeros_not_nan():
    a = slot_attention(torch.zeros(6), layout(), SIZE, BOXES)
    assert a.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_matrix_form_equals_the_pipeline_and_counts_patches():
    index = assign_patches(GRID, SIZE, BOXES)
    m = patch_slot_matrix(layout(), index, 4)
    assert m.tolist() == [[4, 2, 0, 0, 0, 0], [0, 2, 2, 0, 4, 2], [0, 0, 0, 4, 0, 0], [0, 0, 0, 0, 0, 0]]
    r = torch.randn(6)
    scores = torch.relu(m @ r)
    torch.testing.assert_close(scores / (scores.sum() + 1e-4), pool_patches_to_slots(unmerge(r, layout()), index, 4))


def test_pooling_is_differentiable():
    r = R.clone().requires_grad_(True)
    a = slot_attention(r, layout(), SIZE, BOXES)
    a[2].backward()
    # a2 = s2 / S with S = 66 + ε: ∂a2/∂r3 = 4/S − s2·4/S² (t3 is all of S2), ∂a2/∂r0 = −s2·4/S²
    s = 66.0 + 1e-4
    assert r.grad[3].item() == pytest.approx(4 / s - 16 * 4 / s ** 2)
    assert r.grad[0].item() == pytest.approx(-16 * 4 / s ** 2)
    assert r.grad[5].item() == pytest.approx(-16 * 2 / s ** 2)  # t5: 2 patches in S1, 2 in no slot


def test_tiled_layout_puts_each_tile_in_place_and_drops_the_thumbnail():
    lay = tiled_layout(columns=2, rows=1, tile_patches=4, merge=2, thumbnail=True)
    assert lay.grid == (4, 8) and lay.n_tokens == 12
    assert lay.token_patches[4].tolist() == [[0, 4], [0, 5], [1, 4], [1, 5]]  # first token of tile 1
    assert lay.token_patches[7].tolist() == [[2, 6], [2, 7], [3, 6], [3, 7]]  # last token of tile 1
    assert (lay.token_patches[8:] == -1).all()  # thumbnail
    r = torch.arange(12, dtype=torch.float)
    patches = unmerge(r, lay)
    assert patches[0].tolist() == [0, 0, 1, 1, 4, 4, 5, 5]
    assert patches[3].tolist() == [2, 2, 3, 3, 6, 6, 7, 7]


def test_scale_boxes_with_the_image():
    b = scale_boxes([(100, 50, 300, 150)], (1000, 500), (500, 200))
    assert b.tolist() == [[50.0, 20.0, 150.0, 60.0]]


def test_layout_checks():
    with pytest.raises(ValueError, match="cannot be merged"):
        merged_grid_layout(3, 4, 2)
    with pytest.raises(ValueError, match="token scores"):
        unmerge(torch.zeros(5), layout())
    with pytest.raises(ValueError, match="one temporal patch"):
        qwen_layout((2, 4, 6), merge=2)
