"""RecGaze's carousel geometry (``aoi_data.csv``) and the 3×5 page a model is shown.

``aoi_data.csv`` gives the study's AOI rectangles in screen pixels of a 1920-px-wide viewport
laid out as three horizontal pages side by side (``Page`` 1–3, x up to 5760): per carousel row
(``Row_num`` 1–10) the genre heading (``Genre_text``), five posters per page (``Movie``,
``Row_position`` 1–15) and the swipe buttons (``Backward_swipe``, ``Forward_swipe``). The public
file holds one layout (``task_id`` 01, ``Hardware_Setup`` Pilot_Study) that every screen shares,
plus the browser and Windows bars (rows without a ``task_id``), which are skipped.

:func:`carousel_page` places three consecutive carousel rows — as they appear on screen when
scrolled to them — on a 1100×600 image (FixATE's page: 15 poster slots, 3 rows × 5 columns,
letters A–O under the posters, row by row), scaling the real geometry uniformly by
``1100 / 1920`` and centring it vertically.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gazelm.errors import GazelmInputError
from gazelm.interfaces.page import Box, Page, Slot

AOI_COLUMNS = ("task_id", "AOI_type", "Row_num", "Row_genre", "Row_position", "Page",
               "AOI_min_x", "AOI_max_x", "AOI_min_y", "AOI_max_y")
VIEWPORT_WIDTH = 1920
PAGE_SIZE = (1100, 600)
ROWS_SHOWN, COLUMNS = 3, 5
LABEL_HEIGHT = 34  # screen px below a poster for its letter (FixATE: 4 px gap + 26 px font)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class CarouselGeometry:
    """Screen rectangles of page 1 (the posters shown before any swipe), by carousel row."""

    posters: dict[tuple[int, int], Box]   # (row 1-10, column 1-5) → box
    headings: dict[int, Box]              # row → genre heading box
    backward: dict[int, Box]
    forward: dict[int, Box]
    genres: dict[int, str]                # row → the genre in the geometry file (pilot screen)

    @property
    def rows(self) -> list[int]:
        return sorted({r for r, _ in self.posters})


def _float(value: str, path: Path, row: int, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise GazelmInputError(f"not a number: {value!r}", path=path, row=row, field=field) from None


def read_carousel_geometry(path: str | Path) -> CarouselGeometry:
    """Read ``aoi_data.csv`` (RecGaze's column layout); bad rows name file, row and field."""
    path = Path(path)
    if not path.exists():
        raise GazelmInputError("RecGaze AOI geometry not found: put aoi_data.csv of github.com/santideleon/"
                               "RecGaze_Dataset beside the Zenodo CSVs (data.source.path) or set "
                               "data.source.geometry", path=path)
    posters, headings, backward, forward, genres = {}, {}, {}, {}, {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in AOI_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GazelmInputError(f"missing columns {', '.join(missing)}", path=path, row=1)
        for lineno, rec in enumerate(reader, start=2):
            if not rec["task_id"].strip():  # browser / Windows bars: not part of any screen
                continue
            if rec["Page"].strip() != "1":
                continue
            box = tuple(_float(rec[c], path, lineno, c) for c in ("AOI_min_x", "AOI_min_y", "AOI_max_x", "AOI_max_y"))
            box = (box[0], box[1], box[2], box[3])
            try:
                row = int(rec["Row_num"])
            except ValueError:
                raise GazelmInputError(f"not a row number: {rec['Row_num']!r}", path=path, row=lineno,
                                       field="Row_num") from None
            kind = rec["AOI_type"].strip()
            if kind == "Movie":
                column = int(_float(rec["Row_position"], path, lineno, "Row_position"))
                posters[(row, column)] = box
                genres[row] = rec["Row_genre"].strip()
            elif kind == "Genre_text":
                headings[row] = box
            elif kind == "Backward_swipe":
                backward[row] = box
            elif kind == "Forward_swipe":
                forward[row] = box
    rows = sorted({r for r, _ in posters})
    incomplete = [r for r in rows if any((r, c) not in posters for c in range(1, COLUMNS + 1))
                  or r not in headings]
    if not rows or incomplete:
        raise GazelmInputError(f"page 1 lacks posters or headings for rows {incomplete or 'all'}", path=path)
    return CarouselGeometry(posters, headings, backward, forward, genres)


def carousel_page(geometry: CarouselGeometry, first_row: int, items: list[dict[str, str]], genres: list[str],
                  size: tuple[int, int] = PAGE_SIZE) -> Page:
    """Rows ``first_row … first_row + 2`` on a ``size`` image; ``items`` are the 15 posters shown
    (row by row: ``title``, ``genres``, ``image`` (a poster file stem), ``key``); ``genres`` the rows'."""
    rows = list(range(first_row, first_row + ROWS_SHOWN))
    if any(r not in geometry.headings for r in rows):
        raise ValueError(f"rows {rows} are not all in the carousel geometry ({geometry.rows})")
    if len(items) != ROWS_SHOWN * COLUMNS or len(genres) != ROWS_SHOWN:
        raise ValueError("a carousel page shows 3 rows of 5 posters")
    top = geometry.headings[rows[0]][1]
    shift = geometry.posters[(rows[0], 1)][1] - geometry.posters[(1, 1)][1]  # as if scrolled to the first row
    bottom = geometry.posters[(rows[-1], 1)][3] + LABEL_HEIGHT
    scale = size[0] / VIEWPORT_WIDTH
    height = (bottom - top) * scale
    if height > size[1]:
        raise ValueError(f"three carousel rows need {height:.0f} px at width {size[0]}; the page is {size[1]} px high")
    y0 = top - shift - (size[1] / scale - (bottom - top)) / 2  # centre the three rows vertically

    def place(box: Box) -> Box:
        x1, y1, x2, y2 = box
        return (round(x1 * scale, 2), round((y1 - shift - y0) * scale, 2),
                round(x2 * scale, 2), round((y2 - shift - y0) * scale, 2))

    slots, texts, arrows = [], [], []
    for i, row in enumerate(rows):
        texts.append({"box": place(geometry.headings[row]), "text": genres[i], "size": 20})
        for direction, boxes in (("left", geometry.backward), ("right", geometry.forward)):
            if row in boxes:
                arrows.append({"box": place(boxes[row]), "direction": direction})
        for column in range(1, COLUMNS + 1):
            k = i * COLUMNS + column - 1
            item = items[k]
            slots.append(Slot(place(geometry.posters[(row, column)]), LETTERS[k], "movie", str(item.get("key", "")),
                              {key: str(item.get(key, "")) for key in ("title", "genres", "image")}))
    render = {"kind": "carousel", "background": [16, 16, 16], "texts": texts, "arrows": arrows,
              "tiles": True, "labels": "below", "label_size": 15}
    return Page(tuple(size), tuple(slots), render)
