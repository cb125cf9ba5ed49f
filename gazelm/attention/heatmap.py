"""Heatmaps of per-token values over code or a prompt, laid out as in the source (HTML and PNG).

The text keeps its lines: one row per source line, each token a coloured box at its columns
(a token that spans a line break gets one box per line), and every panel has a colour bar
with the values' range. Several panels (e.g. ``{"human": g, "model (rollout)": a}``) share the
layout, one under the other. Used by the alignment callback and by ``gazelm gaze heatmap``.

Tokens are half-open character spans of the text with one value each; characters outside every
token are drawn uncoloured. Tabs count as one column.
"""
from __future__ import annotations

import bisect
import html
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

Span = tuple[int, int]
FONT = {"family": "DejaVu Sans Mono", "size": 8.0}
CELL_H = 1.35 * FONT["size"] / 72  # inches per line
CMAP = "Reds"


@dataclass(frozen=True)
class Box:
    """The part of token ``token`` on ``line`` (0-based), columns ``[start, end)``."""

    token: int
    line: int
    start: int
    end: int


def token_boxes(text: str, spans: Sequence[Span]) -> list[Box]:
    """Each token's span cut at line breaks into one box per line it covers (empty parts dropped)."""
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    boxes = []
    for index, (a, b) in enumerate(spans):
        a, b = max(0, int(a)), min(len(text), int(b))
        line = _line_of(line_starts, a)
        while a < b:
            line_end = line_starts[line + 1] - 1 if line + 1 < len(line_starts) else len(text)  # the "\n"
            end = min(b, line_end)
            if end > a:
                boxes.append(Box(index, line, a - line_starts[line], end - line_starts[line]))
            line += 1
            if line >= len(line_starts):
                break
            a = max(a, line_starts[line])
    return boxes


def _line_of(line_starts: list[int], pos: int) -> int:
    return bisect.bisect_right(line_starts, pos) - 1


def text_from_pieces(tokens: Sequence[tuple[str, float, Span]]) -> str:
    """The text under ``(piece, value, (start, end))`` tokens; characters no token covers are spaces."""
    size = max((end for _, _, (_, end) in tokens), default=0)
    chars = [" "] * size
    for piece, _, (a, b) in tokens:
        if b - a == len(piece):
            chars[a:b] = piece
    return "".join(chars)


def value_range(values: Sequence[float], vmin: float | None = 0.0) -> tuple[float, float]:
    """Colour scale ``(low, high)``: ``vmin`` (``None``: the smallest value) to the largest value."""
    values = [float(v) for v in values]
    low = min(values, default=0.0) if vmin is None else float(vmin)
    high = max(values, default=low)
    return (low, high) if high > low else (low, low + 1.0)


@lru_cache(maxsize=8)
def colour_map(name: str = CMAP):
    """The lower three quarters of matplotlib's ``name`` map: dark enough to see, light enough to read text on."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import ListedColormap

    return ListedColormap(matplotlib.colormaps[name](np.linspace(0.0, 0.75, 256)), name=f"{name}_light")


def _colours(values: Sequence[float], low: float, high: float, cmap: str = CMAP) -> list[str]:
    from matplotlib.colors import Normalize, to_hex

    norm, colours = Normalize(low, high, clip=True), colour_map(cmap)
    return [to_hex(colours(norm(float(v)))) for v in values]


def heatmap_html(text: str, spans: Sequence[Span], rows: Mapping[str, Sequence[float]], title: str = "",
                 vmin: float | None = 0.0, cmap: str = CMAP) -> str:
    """One ``<pre>`` per row with the text as in the source, tokens coloured, and a colour bar."""
    parts = ["<div class='gazelm-heatmap' style='font-family:sans-serif'>"]
    if title:
        parts.append(f"<h3>{html.escape(title)}</h3>")
    order = sorted((a, b, i) for i, (a, b) in enumerate(spans) if b > a)
    for name, values in rows.items():
        low, high = value_range(values, vmin)
        colours = _colours(values, low, high, cmap)
        cells, cursor = [], 0
        for a, b, i in order:
            if a < cursor:  # overlapping spans: the first one wins
                continue
            cells.append(html.escape(text[cursor:a]))
            cells.append(f"<span class='token' title='{float(values[i]):.4g}' style='background:{colours[i]}'>"
                         f"{html.escape(text[a:b])}</span>")
            cursor = b
        cells.append(html.escape(text[cursor:]))
        gradient = ", ".join(_colours([low + (high - low) * s / 10 for s in range(11)], low, high, cmap))
        parts.append(
            f"<figure class='row' style='margin:0 0 1em 0'><figcaption><b>{html.escape(name)}</b></figcaption>"
            f"<pre class='code' style='font-family:monospace;margin:0.3em 0'>{''.join(cells)}</pre>"
            f"<div class='colorbar' style='display:flex;justify-content:space-between;width:20em;font-size:small;"
            f"background:linear-gradient(to right, {gradient})'><span>{low:.3g}</span><span>{high:.3g}</span></div>"
            "</figure>")
    parts.append("</div>")
    return "\n".join(parts)


@lru_cache(maxsize=8)
def column_width(dpi: int) -> float:
    """Inches per monospace column as rendered at ``dpi`` (hinting rounds glyph advances to pixels,
    so 0.6 em is not exact): measured on a line of 200 characters."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(dpi=dpi)
    renderer = FigureCanvasAgg(fig).get_renderer()
    extent = fig.text(0, 0, "x" * 200, fontfamily=FONT["family"], fontsize=FONT["size"]).get_window_extent(renderer)
    return extent.width / 200 / dpi


def heatmap_figure(text: str, spans: Sequence[Span], rows: Mapping[str, Sequence[float]], title: str = "",
                   vmin: float | None = 0.0, cmap: str = CMAP, max_lines: int = 200, dpi: int = 100):
    """A matplotlib figure (at ``dpi``): per row a panel with the text on a monospace grid and a colour bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    lines = text.split("\n")[:max_lines]
    width = max(max((len(line) for line in lines), default=0), 20)
    boxes = [box for box in token_boxes(text, spans) if box.line < len(lines)]
    units = max(len(lines) + 1, 3)  # panel height in lines (half a line of margin above and below)
    grid_w, panel_h = (width + 2) * column_width(dpi), units * CELL_H
    head, caption, gap, bar_pad, bar_w, bar_labels = (0.35 if title else 0.1), 0.22, 0.15, 0.15, 0.12, 0.6
    fig_w = grid_w + bar_pad + bar_w + bar_labels
    fig_h = head + len(rows) * (caption + panel_h + gap)
    fig = plt.figure(figsize=(fig_w, fig_h), dpi=dpi)
    colours = colour_map(cmap)
    for r, (name, values) in enumerate(rows.items()):
        bottom = fig_h - head - (r + 1) * (caption + panel_h + gap) + gap
        ax = fig.add_axes((0, bottom / fig_h, grid_w / fig_w, panel_h / fig_h))
        ax.set_xlim(-1, width + 1)
        ax.set_ylim(units - 1, -1)
        ax.axis("off")
        ax.set_title(name, loc="left", fontsize=FONT["size"])
        low, high = value_range(values, vmin)
        norm = Normalize(low, high, clip=True)
        for box in boxes:
            ax.add_patch(plt.Rectangle((box.start, box.line - 0.5), box.end - box.start, 1.0,
                                       color=colours(norm(float(values[box.token]))), lw=0))
        for row, line in enumerate(lines):
            ax.text(0, row, line.replace("\t", " "), fontfamily=FONT["family"], fontsize=FONT["size"], va="center",
                    ha="left")
        cax = fig.add_axes(((grid_w + bar_pad) / fig_w, bottom / fig_h, bar_w / fig_w, panel_h / fig_h))
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=colours), cax=cax)
        bar.ax.tick_params(labelsize=FONT["size"] - 2)
    if title:
        fig.text(0.01, 1 - 0.2 / fig_h, title, fontsize=FONT["size"] + 1, va="center", ha="left")
    return fig


def save_heatmap(path: str | Path, text: str, spans: Sequence[Span], rows: Mapping[str, Sequence[float]],
                 title: str = "", vmin: float | None = 0.0, dpi: int = 100) -> Path:
    """Write ``path`` as HTML (``.html``) or an image (any suffix matplotlib writes: png, pdf, svg)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".html", ".htm"):
        path.write_text(f"<html><body>{heatmap_html(text, spans, rows, title, vmin)}</body></html>\n",
                        encoding="utf-8")
        return path
    import matplotlib.pyplot as plt

    fig = heatmap_figure(text, spans, rows, title, vmin, dpi=dpi)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_heatmap(path_stem: str | Path, text: str, spans: Sequence[Span], rows: Mapping[str, Sequence[float]],
                  title: str = "", vmin: float | None = 0.0) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.png``."""
    stem = Path(path_stem)
    return (save_heatmap(stem.with_suffix(".html"), text, spans, rows, title, vmin),
            save_heatmap(stem.with_suffix(".png"), text, spans, rows, title, vmin))
