"""Draw interface pages with Pillow, cached on disk.

A :class:`~gazelm.interfaces.page.Page` carries everything needed to draw it:

- ``render["kind"] == "carousel"`` (RecGaze): a dark page with the row headings (genres),
  the swipe buttons, and a tile per slot — the poster from ``poster_dir/<image>.jpg|jpeg|png``
  when that file exists (``image`` is the slot's poster stem, the TMDB movie id for RecGaze),
  otherwise a text tile with the title and genres — and the slot's letter under it;
- ``render["kind"] == "screenshot"`` (AdSERP): the region ``crop`` of the screenshot at
  ``path`` (padded with white below the end of the page), with each slot's letter in a
  yellow tag at its top-left corner; without the screenshot file, a plain page with each
  slot drawn as a text block (``render["fallback"]``).

Text uses Pillow's bundled scalable font (``ImageFont.load_default(size)``), so a page renders
identically on every machine with the same Pillow. :func:`rendered_page` writes the PNG once,
under ``<cache_dir>/interfaces/<sha1>.png`` keyed by the page description, the poster and
screenshot files used (path, size, mtime), the renderer version and Pillow's version.
"""
from __future__ import annotations

import hashlib
import json
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from gazelm.interfaces.page import Page, Slot

RENDER_VERSION = 1
POSTER_SUFFIXES = (".jpg", ".jpeg", ".png")
TEXT = (220, 220, 220)
TILE, TILE_EDGE = (60, 60, 60), (120, 120, 120)


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def poster_file(poster_dir: str | Path | None, stem: str) -> Path | None:
    if not poster_dir or not stem:
        return None
    for suffix in POSTER_SUFFIXES:
        path = Path(poster_dir) / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _box(box) -> list[int]:
    x1, y1, x2, y2 = box
    return [int(round(x1)), int(round(y1)), int(round(x2)) - 1, int(round(y2)) - 1]


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int, max_lines: int) -> list[str]:
    chars = max(4, int(width / (0.55 * size)))
    lines = textwrap.wrap(text, chars) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, chars - 1)] + "…"
    return lines


def _text_tile(draw: ImageDraw.ImageDraw, slot: Slot, fill=TILE, edge=TILE_EDGE, colour=TEXT) -> None:
    x1, y1, x2, y2 = _box(slot.box)
    draw.rectangle([x1, y1, x2, y2], fill=fill, outline=edge)
    title, sub = slot.text.get("title", ""), slot.text.get("genres", "") or slot.text.get("site", "")
    size = max(8, min(14, (y2 - y1) // 6))
    y = y1 + 4
    for line in _fit_text(draw, title, x2 - x1 - 8, size, 3):
        draw.text((x1 + 5, y), line, fill=colour, font=font(size))
        y += size + 2
    for line in _fit_text(draw, sub, x2 - x1 - 8, size - 2, 2):
        draw.text((x1 + 5, y + 2), line, fill=colour, font=font(size - 2))
        y += size


def _arrow(draw: ImageDraw.ImageDraw, box, direction: str) -> None:
    x1, y1, x2, y2 = _box(box)
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, max(4, (x2 - x1) / 2 + 2)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(70, 70, 70))
    s = r / 2
    points = ([(cx + s / 2, cy - s), (cx - s / 2, cy), (cx + s / 2, cy + s)] if direction == "left"
              else [(cx - s / 2, cy - s), (cx + s / 2, cy), (cx - s / 2, cy + s)])
    draw.line(points, fill=(255, 255, 255), width=2)


def _label_below(draw: ImageDraw.ImageDraw, slot: Slot, size: int, limit: int) -> None:
    x1, _, x2, y2 = slot.box
    bbox = draw.textbbox((0, 0), slot.letter, font=font(size))
    x = (x1 + x2) / 2 - (bbox[2] - bbox[0]) / 2 - bbox[0]
    y = min(y2 + 3, limit - size - 2)
    draw.text((x, y), slot.letter, fill=(255, 255, 255), font=font(size))


def _label_tag(draw: ImageDraw.ImageDraw, slot: Slot, size: int) -> None:
    x1, y1 = slot.box[0], slot.box[1]
    bbox = draw.textbbox((0, 0), slot.letter, font=font(size))
    w, h = bbox[2] - bbox[0] + 8, bbox[3] - bbox[1] + 6
    draw.rectangle([x1, y1, x1 + w, y1 + h], fill=(255, 214, 0), outline=(0, 0, 0))
    draw.text((x1 + 4 - bbox[0], y1 + 3 - bbox[1]), slot.letter, fill=(0, 0, 0), font=font(size))


def render_page(page: Page, poster_dir: str | Path | None = None) -> Image.Image:
    """The page as an RGB image of ``page.size``."""
    spec = page.render
    kind = spec.get("kind", "carousel")
    screenshot = Path(spec["path"]) if kind == "screenshot" and spec.get("path") else None
    if screenshot is not None and screenshot.is_file():
        with Image.open(screenshot) as shot:
            image = Image.new("RGB", page.size, (255, 255, 255))
            x1, y1, x2, y2 = (int(round(v)) for v in spec["crop"])
            x2, y2 = min(x2, shot.width), min(y2, shot.height)  # beyond the page: white, not black
            if x2 > x1 and y2 > y1:
                image.paste(shot.convert("RGB").crop((x1, y1, x2, y2)), (0, 0))
        tiles = False
    else:
        image = Image.new("RGB", page.size, tuple(spec.get("background", (255, 255, 255))))
        tiles = spec.get("tiles", True) or kind == "screenshot"
    draw = ImageDraw.Draw(image)
    for text in spec.get("texts", []):
        x1, y1, *_ = text["box"]
        draw.text((x1, y1), text["text"], fill=(255, 255, 255), font=font(int(text.get("size", 16))))
    for arrow in spec.get("arrows", []):
        _arrow(draw, arrow["box"], arrow["direction"])
    for slot in page.slots:
        if not tiles:
            continue
        poster = poster_file(poster_dir, slot.text.get("image", ""))
        if poster is not None:
            x1, y1, x2, y2 = _box(slot.box)
            with Image.open(poster) as im:
                image.paste(im.convert("RGB").resize((x2 - x1 + 1, y2 - y1 + 1)), (x1, y1))
        elif kind == "screenshot":
            _text_tile(draw, slot, fill=(245, 245, 245), edge=(190, 190, 190), colour=(30, 30, 30))
        else:
            _text_tile(draw, slot)
    size = int(spec.get("label_size", 15))
    for slot in page.slots:
        if spec.get("labels", "below") == "below":
            _label_below(draw, slot, size, page.size[1])
        else:
            _label_tag(draw, slot, size)
    return image


def _file_stamp(path: Path | None) -> list[Any] | None:
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, int(stat.st_mtime)]


def page_key(page: Page, poster_dir: str | Path | None = None) -> str:
    """The cache key of a rendered page (what it shows and which files it uses)."""
    import PIL

    spec = dict(page.render)
    files = {"screenshot": _file_stamp(Path(spec["path"])) if spec.get("path") else None,
             "posters": [_file_stamp(poster_file(poster_dir, s.text.get("image", ""))) for s in page.slots]}
    payload = {"v": RENDER_VERSION, "pillow": PIL.__version__, "size": list(page.size), "render": spec,
               "slots": [[list(s.box), s.letter, s.kind, s.key, sorted(s.text.items())] for s in page.slots],
               "files": files}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def rendered_page(page: Page, cache_dir: str | Path, poster_dir: str | Path | None = None) -> Path:
    """The page's PNG in the cache (drawn once)."""
    path = Path(cache_dir) / "interfaces" / f"{page_key(page, poster_dir)}.png"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(page)}.tmp")
        render_page(page, poster_dir).save(tmp, format="PNG")
        tmp.replace(path)
    return path


def draw_slot_boxes(image: Image.Image, page: Page, colour=(255, 64, 64)) -> Image.Image:
    """A copy of ``image`` with every slot's box outlined and lettered (for documentation and checks)."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    for slot in page.slots:
        x1, y1, x2, y2 = _box(slot.box)
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        draw.text((x2 - 12, y2 - 17), slot.letter, fill=colour, font=font(14))
    return out
