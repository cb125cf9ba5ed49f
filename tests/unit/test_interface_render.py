"""Pillow rendering of interface pages: posters or text tiles, letters, screenshot crops, the cache."""
from __future__ import annotations

import os

from PIL import Image

from gazelm.interfaces.page import Page, Slot
from gazelm.interfaces.render import draw_slot_boxes, page_key, render_page, rendered_page

BACKGROUND = (16, 16, 16)


def carousel(image_stems=("", "")) -> Page:
    slots = (Slot((10, 10, 110, 70), "A", "movie", "1", {"title": "First film", "genres": "Drama", "image": image_stems[0]}),
             Slot((130, 10, 230, 70), "B", "movie", "2", {"title": "Second film", "genres": "Horror", "image": image_stems[1]}))
    return Page((240, 100), slots, {"kind": "carousel", "background": list(BACKGROUND), "labels": "below",
                                    "texts": [{"box": (10, 0, 60, 8), "text": "Drama", "size": 8}], "arrows": []})


def test_text_tiles_letters_and_background():
    image = render_page(carousel())
    assert image.size == (240, 100) and image.mode == "RGB"
    assert image.getpixel((235, 95)) == BACKGROUND
    assert image.getpixel((60, 65)) == (60, 60, 60)  # the text tile's fill, inside slot A
    label = image.crop((40, 72, 80, 95))  # the letter under slot A
    assert any(px != BACKGROUND for px in label.getdata())


def test_poster_files_replace_tiles_and_change_the_cache_key(tmp_path):
    page = carousel(("42", "43"))
    before = page_key(page, tmp_path)
    Image.new("RGB", (30, 20), (200, 10, 10)).save(tmp_path / "42.png")
    after = page_key(page, tmp_path)
    assert before != after
    image = render_page(page, tmp_path)
    assert image.getpixel((60, 40)) == (200, 10, 10)      # poster pasted, stretched over the slot
    assert image.getpixel((180, 65)) == (60, 60, 60)      # no 43.*: a text tile


def test_rendering_is_cached_and_deterministic(tmp_path):
    page = carousel()
    first = rendered_page(page, tmp_path)
    stamp = first.stat().st_mtime_ns
    os.utime(first, ns=(stamp - 10**9, stamp - 10**9))
    again = rendered_page(page, tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp - 10**9  # not drawn again
    assert render_page(page).tobytes() == Image.open(first).convert("RGB").tobytes()


def test_screenshot_crop_with_tags_and_white_below_the_page(tmp_path):
    shot = Image.new("RGB", (200, 300), (255, 255, 255))
    for y in range(300):
        shot.putpixel((150, y), (y % 256, 0, 0))
    shot.save(tmp_path / "trial.png")
    slots = (Slot((20, 20, 120, 60), "A", "native_ad"),)
    page = Page((200, 120), slots, {"kind": "screenshot", "path": str(tmp_path / "trial.png"),
                                    "crop": [0, 250, 200, 370], "labels": "tag", "label_size": 10})
    image = render_page(page)
    assert image.getpixel((150, 10)) == (260 % 256, 0, 0)      # row 260 of the screenshot
    assert image.getpixel((150, 100)) == (255, 255, 255)       # below the end of the page
    assert image.getpixel((22, 22)) == (255, 214, 0)           # the letter tag at the area's corner
    missing = Page((200, 120), slots, {**page.render, "path": str(tmp_path / "none.png")})
    assert render_page(missing).getpixel((60, 50)) == (245, 245, 245)  # drawn as a block without the file


def test_slot_box_overlay():
    page = carousel()
    image = draw_slot_boxes(render_page(page), page)
    assert image.getpixel((10, 40)) == (255, 64, 64) and image.getpixel((110 - 1, 40)) == (255, 64, 64)
