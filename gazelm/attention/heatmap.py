"""Side-by-side heatmaps of human and model attention over a prompt's tokens (HTML and PNG)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence


def _scale(values: Sequence[float]) -> list[float]:
    top = max((abs(v) for v in values), default=0.0)
    return [abs(v) / top if top > 0 else 0.0 for v in values]


def heatmap_html(tokens: Sequence[str], rows: dict[str, Sequence[float]], title: str = "") -> str:
    """One line of coloured tokens per row (e.g. ``{"human": g, "model": a}``), max-scaled per row."""
    parts = [f"<h3>{html.escape(title)}</h3>" if title else "", "<table style='font-family:monospace'>"]
    for name, values in rows.items():
        cells = []
        for token, value, raw in zip(tokens, _scale(values), values):
            text = html.escape(token).replace("\n", "&#8629;<br>").replace(" ", "&nbsp;")
            cells.append(f"<span title='{raw:.4g}' style='background: rgba(220, 40, 40, {value:.3f})'>{text}</span>")
        parts.append(f"<tr><td style='vertical-align:top;padding-right:1em'><b>{html.escape(name)}</b></td>"
                     f"<td style='white-space:pre-wrap'>{''.join(cells)}</td></tr>")
    parts.append("</table>")
    return "\n".join(parts)


def write_heatmap(path_stem: str | Path, tokens: Sequence[str], rows: dict[str, Sequence[float]],
                  title: str = "", max_tokens: int = 120) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.png`` (rows × tokens image, max-scaled per row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    html_path, png_path = stem.with_suffix(".html"), stem.with_suffix(".png")
    html_path.write_text(f"<html><body>{heatmap_html(tokens, rows, title)}</body></html>", encoding="utf-8")
    shown = list(tokens)[:max_tokens]
    grid = np.array([_scale(list(values)[:max_tokens]) for values in rows.values()])
    fig, ax = plt.subplots(figsize=(max(4.0, 0.22 * len(shown) + 1.5), 0.6 * len(rows) + 1.6))
    ax.imshow(grid, aspect="auto", cmap="Reds", vmin=0.0, vmax=1.0)
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_xticks(range(len(shown)), labels=[t.replace("\n", "\\n") or "·" for t in shown], rotation=90, fontsize=6)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return html_path, png_path
