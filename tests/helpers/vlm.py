"""Tiny vision-language backbones from the real configs, a synthetic page and batches, for tests."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from hydra.utils import instantiate
from PIL import Image, ImageDraw

from gazelm.data.visual_batch import collate_visual, encode_visual, letter_token_ids
from tests.helpers.compose import compose_config

TINY_VLMS = ("tiny_vlm_qwen3", "tiny_vlm_internvl")
CORPUS = ["Top_genre: Action, Preferred_genres: Comedy, Drama", "Which poster will this user select?"]
# 15 slots (3 rows x 5 columns) on a 1100x600 page, each filled with its own colour.
SLOT_BOXES = [(40 + 210 * c, 40 + 185 * r, 40 + 210 * c + 180, 40 + 185 * r + 150) for r in range(3) for c in range(5)]
PALETTE = [((37 * i) % 256, (91 * i + 60) % 256, (157 * i + 120) % 256) for i in range(1, 16)]
BACKGROUND = (0, 0, 0)


@lru_cache(maxsize=None)
def tiny_vlm(name: str, cache_dir: str, seed: int = 0):
    """The backbone of ``conf/model/<name>.yaml`` (random weights, seeded), frozen and in eval mode."""
    cfg = compose_config([f"model={name}"], cache_dir=Path(cache_dir))
    torch.manual_seed(seed)
    backbone = instantiate(cfg.model, _partial_=True, _convert_="all")(corpus=CORPUS)
    backbone.eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    return backbone


def slot_page(size: tuple[int, int] = (1100, 600), boxes=SLOT_BOXES, colours=PALETTE) -> Image.Image:
    """A page whose slots are solid colour blocks on black (its size forces the processor to resize)."""
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    for (x1, y1, x2, y2), colour in zip(boxes, colours):
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=colour)
    return image


def page_batch(backbone, prompts=("Top_genre: Action. Which poster?", "Preferred_genres: Comedy. Pick one."),
               answers=(2, 11), boxes=SLOT_BOXES):
    """A batch of pages (the same image, different prompts and answers) through the real encode + collate."""
    options = letter_token_ids(backbone.tokenizer, len(boxes))
    rows = []
    for i, (prompt, answer) in enumerate(zip(prompts, answers)):
        row = encode_visual(backbone.adapter, slot_page(boxes=boxes), prompt, boxes, answer, options)
        row["example_index"] = i
        row["gaze_target"] = torch.full((len(boxes),), 1.0 / len(boxes))
        rows.append(row)
    adapter = backbone.adapter
    return collate_visual(rows, backbone.tokenizer.pad_token_id, adapter.token_keys, adapter.image_keys,
                          adapter.image_token_id), rows
