"""Vision-language backbones: tiny models from the real configs, soft-prompt prefixes with correct
(multimodal) position ids, every family, loading by path, and the processor's token layout."""
from __future__ import annotations

import pytest
import torch

from gazelm.attention.patch_slots import assign_patches
from gazelm.errors import GazelmInputError
from gazelm.models.backbones import build_backbone
from gazelm.models.vlm import VLMBackbone
from gazelm.models.vlm.adapters import ADAPTERS
from gazelm.registry import UnknownNameError
from tests.helpers.vlm import BACKGROUND, PALETTE, SLOT_BOXES, TINY_VLMS, page_batch, slot_page, tiny_vlm


@pytest.fixture(params=TINY_VLMS)
def backbone(request, shared_cache) -> VLMBackbone:
    return tiny_vlm(request.param, str(shared_cache))


def native_inputs(batch) -> dict:
    """What the processor returns, as a user would pass it to the HF model."""
    keys = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")
    return {k: batch[k] for k in keys if k in batch}


def test_zero_length_prompt_gives_the_native_logits(backbone):
    batch, _ = page_batch(backbone)
    native = backbone.model(**native_inputs(batch)).logits
    empty = torch.zeros(batch["input_ids"].shape[0], 0, backbone.hidden_size)
    mask = batch["attention_mask"].bool()
    for prefix in (None, empty):
        ours = backbone(batch, prefix_embeds=prefix).logits
        torch.testing.assert_close(ours[mask], native[mask], rtol=1e-5, atol=1e-5)


def test_prefix_shifts_every_position_and_keeps_the_image_ids(backbone):
    """A prefix that nothing attends to leaves the sequence's logits unchanged: RoPE depends on
    relative positions only, so this holds exactly when every id (3-D ones of the image tokens
    included) is shifted by P. Giving the image tokens text positions instead changes them."""
    batch, _ = page_batch(backbone)
    plain = backbone(batch).logits
    p = 5
    inputs = backbone.model_inputs(batch, prefix_embeds=torch.randn(2, p, backbone.hidden_size))
    inputs["attention_mask"][:, :p] = 0
    shifted = backbone.model(**inputs).logits[:, p:]
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(shifted[mask], plain[mask], rtol=1e-4, atol=1e-5)
    if "position_ids" in inputs:  # Qwen-VL: the ids are 3-D; text-only ids would be wrong
        positions = inputs["position_ids"]
        assert positions.shape == (3, 2, p + batch["input_ids"].shape[1])
        assert (positions[:, :, :p] == torch.arange(p)).all()
        base = backbone.adapter.position_ids(backbone.model, batch, 0)
        assert torch.equal(positions[:, :, p:][:, mask], base[:, mask] + p)
        image = batch["input_ids"] == backbone.adapter.image_token_id
        assert not torch.equal(base[0][image], base[1][image])  # height and width ids differ on the image
        wrong = dict(inputs, position_ids=torch.arange(positions.shape[-1]).expand(3, 2, -1))
        assert (backbone.model(**wrong).logits[:, p:][mask] - plain[mask]).abs().max() > 1e-3


def test_padded_rows_match_single_examples(backbone):
    batch, rows = page_batch(backbone)
    logits = backbone(batch).logits
    for b, row in enumerate(rows):
        single = {k: (v.unsqueeze(0) if k in ("input_ids", "mm_token_type_ids") else v) for k, v in row.items()
                  if k in ("input_ids", "mm_token_type_ids", "pixel_values", "image_grid_thw")}
        single["attention_mask"] = torch.ones_like(single["input_ids"])
        n = row["input_ids"].shape[0]
        torch.testing.assert_close(logits[b, :n], backbone(single).logits[0], rtol=1e-4, atol=1e-5)


def test_answer_letter_is_the_last_token_and_its_label(backbone):
    batch, rows = page_batch(backbone)
    for b, row in enumerate(rows):
        pos = int(batch["answer_position"][b])
        assert int(batch["input_ids"][b, pos + 1]) == int(batch["answer_id"][b]) == int(batch["option_ids"][b, [2, 11][b]])
        assert (batch["labels"][b] != -100).nonzero().flatten().tolist() == [pos + 1]
    assert backbone.tokenizer.decode(batch["option_ids"][0]).replace(" ", "") == "ABCDEFGHIJKLMNO"


def test_processor_layout_matches_the_pixels_the_model_sees(backbone):
    """The page (1100x600) is resized by the processor; every patch that lies inside one slot box
    (boxes on the original image) must carry that slot's colour in ``pixel_values``."""
    _, rows = page_batch(backbone)
    row = rows[0]
    enc = backbone.adapter.encode(slot_page(), "x")
    grid = enc.layout.grid
    index = assign_patches(grid, (1100, 600), SLOT_BOXES)
    colours = patch_colours(backbone, enc)  # [H_p, W_p, 3] in 0..255
    palette = torch.tensor([BACKGROUND, *PALETTE], dtype=torch.float)
    nearest = ((colours.unsqueeze(-2) - palette) ** 2).sum(-1).argmin(-1) - 1  # -1 = background
    inside = fully_inside(grid, (1100, 600), SLOT_BOXES)
    checked = inside >= 0
    assert checked.sum() >= 15
    assert torch.equal(nearest[inside >= -1], inside[inside >= -1])
    assert torch.equal(index[checked], inside[checked])
    # every slot's patches reach the slot matrix, each counted once
    assert row["slot_matrix"].sum() == (index >= 0).sum()
    assert (row["slot_matrix"].sum(dim=1) > 0).all()


def patch_colours(backbone, enc) -> torch.Tensor:
    """Mean RGB (0..255) of every patch of the unmerged grid, read back from ``pixel_values``."""
    ip = backbone.processor.image_processor
    mean = torch.tensor(ip.image_mean).view(3, 1)
    std = torch.tensor(ip.image_std).view(3, 1)
    h, w = enc.layout.grid
    out = torch.zeros(h, w, 3)
    pv = enc.images["pixel_values"]
    tp = enc.layout.token_patches
    if "image_grid_thw" in enc.images:  # Qwen: one row per patch, in token order, [C, T, p, p]
        flat = tp.reshape(-1, 2)
        for row_index, (i, j) in enumerate(flat.tolist()):
            values = pv[row_index].view(3, -1) * std + mean
            out[i, j] = values.mean(dim=1) * 255
    else:  # InternVL: tiles [n, 3, s, s]
        size = pv.shape[-1]
        patch = backbone.model.config.vision_config.patch_size
        patch = patch[0] if isinstance(patch, (list, tuple)) else patch
        per_tile = size // patch
        columns = w // per_tile
        for i in range(h):
            for j in range(w):
                tile = (i // per_tile) * columns + j // per_tile
                y, x = (i % per_tile) * patch, (j % per_tile) * patch
                values = pv[tile, :, y:y + patch, x:x + patch].reshape(3, -1) * std + mean
                out[i, j] = values.mean(dim=1) * 255
    return out


def fully_inside(grid, size, boxes) -> torch.Tensor:
    """Slot of each patch whose whole footprint (plus a quarter patch of margin for the resampling
    filter) lies in one box, -1 for patches entirely on the background, -2 near an edge (not checked)."""
    h, w = grid
    pw, ph = size[0] / w, size[1] / h
    out = torch.full((h, w), -2, dtype=torch.long)
    for i in range(h):
        for j in range(w):
            x0, y0, x1, y1 = (j - 0.25) * pw, (i - 0.25) * ph, (j + 1.25) * pw, (i + 1.25) * ph
            hits = [s for s, (a, b, c, d) in enumerate(boxes) if a <= x0 and x1 <= c and b <= y0 and y1 <= d]
            touches = [s for s, (a, b, c, d) in enumerate(boxes) if x0 < c and a < x1 and y0 < d and b < y1]
            if hits:
                out[i, j] = hits[0]
            elif not touches:
                out[i, j] = -1
    return out


TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}}
QWEN2_FAMILIES = {
    "qwen2_vl": {"model_type": "qwen2_vl", "text_config": TEXT, "vision_config": {
        "depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2, "patch_size": 14,
        "spatial_merge_size": 2, "temporal_patch_size": 2}},
    "qwen2_5_vl": {"model_type": "qwen2_5_vl", "text_config": TEXT, "vision_config": {
        "depth": 2, "hidden_size": 32, "intermediate_size": 64, "out_hidden_size": 64, "num_heads": 2,
        "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
        "fullatt_block_indexes": [1]}},
}


@pytest.mark.parametrize("family", sorted(QWEN2_FAMILIES))
def test_qwen2_families_build_and_keep_positions(family, shared_cache):
    torch.manual_seed(0)
    bb = build_backbone(kind="vlm", config=QWEN2_FAMILIES[family], processor={"max_pixels": 28 * 28 * 40},
                        cache_dir=str(shared_cache), attn_implementation="eager", corpus=["Which poster?"])
    assert bb.model.config.model_type == family
    batch, _ = page_batch(bb)
    plain = bb(batch).logits
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(plain[mask], bb.model(**native_inputs(batch)).logits[mask], rtol=1e-5, atol=1e-5)
    inputs = bb.model_inputs(batch, prefix_embeds=torch.randn(2, 3, bb.hidden_size))
    inputs["attention_mask"][:, :3] = 0
    torch.testing.assert_close(bb.model(**inputs).logits[:, 3:][mask], plain[mask], rtol=1e-4, atol=1e-5)


def test_every_family_is_registered():
    assert {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "internvl"} <= set(ADAPTERS.names())


@pytest.mark.parametrize("name", TINY_VLMS)
def test_save_and_load_by_path(name, shared_cache, tmp_path):
    saved = tiny_vlm(name, str(shared_cache))
    saved.save_pretrained(tmp_path / "ckpt")
    loaded = build_backbone(kind="vlm", name_or_path=str(tmp_path / "ckpt"), attn_implementation="eager")
    assert type(loaded.model) is type(saved.model) and loaded.identity == str(tmp_path / "ckpt")
    batch, _ = page_batch(saved)
    again, _ = page_batch(loaded)
    assert torch.equal(batch["input_ids"], again["input_ids"])
    torch.testing.assert_close(loaded(again).logits, saved(batch).logits)


def test_bad_model_specs(shared_cache):
    with pytest.raises(UnknownNameError, match="qwen3_vl"):
        build_backbone(kind="vlm", config={"model_type": "llava"}, cache_dir=str(shared_cache))
    with pytest.raises(GazelmInputError, match="LoRA"):
        build_backbone(kind="vlm", config={"model_type": "qwen3_vl"}, lora={"enabled": True})
    with pytest.raises(GazelmInputError, match="name_or_path"):
        build_backbone(kind="vlm")
    with pytest.raises(GazelmInputError, match="cannot load model"):
        build_backbone(kind="vlm", name_or_path="/nonexistent/vlm")
    with pytest.raises(GazelmInputError, match="unexpected model options"):
        build_backbone(kind="causal", config={"model_type": "llama"}, processor={"max_pixels": 1})


def test_internvl_token_order_is_its_pixel_shuffle():
    """InternVL's tokens: ``pixel_shuffle`` of a tile's patch features (row-major), as the layout says.
    (The tile order is checked against the pixels in the test above.)"""
    from transformers.models.internvl.modeling_internvl import InternVLModel

    from gazelm.models.vlm.layout import merged_grid_layout

    n = 8
    features = torch.arange(n * n, dtype=torch.float).view(1, n, n, 1)  # value = row * n + col
    tokens = InternVLModel.pixel_shuffle(None, features, 0.5).reshape(-1, 4)
    patches = torch.stack([tokens // n, tokens % n], dim=-1).long()
    assert torch.equal(patches, merged_grid_layout(n, n, 2))

