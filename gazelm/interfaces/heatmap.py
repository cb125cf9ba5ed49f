"""Heatmaps over an interface page: the person's dwell and the model's relevance per slot, side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from PIL import Image, ImageDraw

from gazelm.interfaces.render import font


def shade_slots(image: Image.Image, boxes: Sequence[Sequence[float]], values: Sequence[float],
                colour=(230, 30, 30)) -> Image.Image:
    """``image`` with each slot filled by ``colour`` at an opacity ∝ its value (max-scaled) and the value printed."""
    top = max((abs(float(v)) for v in values), default=0.0)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for box, value in zip(boxes, values):
        alpha = int(200 * abs(float(value)) / top) if top > 0 else 0
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=(*colour, alpha), outline=(*colour, 255), width=2)
        draw.text((x1 + 4, y2 - 16), f"{float(value):.2f}", fill=(255, 255, 255, 255), font=font(12))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def write_page_heatmap(path: str | Path, image_path: str | Path, boxes: Sequence[Sequence[float]],
                       rows: Mapping[str, Sequence[float]], title: str = "", width: int = 560, columns: int = 2) -> Path:
    """One panel per row (``{"participant dwell": g, "FixATE (after)": a, …}``), each the page shaded by
    its values, ``columns`` panels a line, written as a PNG (panels scaled to ``width`` px)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(image_path) as page:
        page = page.convert("RGB")
    height = int(round(page.height * width / page.width))
    panels = [shade_slots(page, boxes, values).resize((width, height)) for values in rows.values()]
    head, top = 22, 18 if title else 0
    columns = max(1, min(columns, len(panels)))
    lines = -(-len(panels) // columns)
    sheet = Image.new("RGB", (width * columns, top + lines * (height + head)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((4, 2), title, fill=(0, 0, 0), font=font(12))
    for i, (name, panel) in enumerate(zip(rows, panels)):
        x, y = (i % columns) * width, top + (i // columns) * (height + head)
        draw.text((x + 4, y + 3), name, fill=(0, 0, 0), font=font(14))
        sheet.paste(panel, (x, y + head))
    sheet.save(path)
    return path
