"""Heatmaps laid out as in the source: one row per line, token boxes at their columns, a colour bar."""
from __future__ import annotations

import re

import pytest
from matplotlib.colors import to_hex

from gazelm.attention.heatmap import (Box, colour_map, heatmap_figure, heatmap_html, save_heatmap, text_from_pieces,
                                      token_boxes, value_range)

TEXT = "def f(a):\n    return a\n"
SPANS = [(0, 3), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (14, 20), (21, 22)]  # def f ( a ) : return a


def test_token_boxes_cut_at_line_breaks():
    assert token_boxes("ab cd\n  ef", [(0, 2), (3, 5), (5, 8), (8, 10)]) == [
        Box(0, 0, 0, 2), Box(1, 0, 3, 5), Box(2, 1, 0, 2), Box(3, 1, 2, 4)]  # "\n  " keeps only its indent
    assert token_boxes("a\nb", [(0, 3)]) == [Box(0, 0, 0, 1), Box(0, 1, 0, 1)]
    assert token_boxes("abc", [(1, 1), (0, 0)]) == []  # empty spans (special tokens) draw nothing


def test_code_tokens_sit_on_their_lines_and_columns():
    boxes = token_boxes(TEXT, SPANS)
    assert [(b.line, b.start, b.end) for b in boxes] == [(0, 0, 3), (0, 4, 5), (0, 5, 6), (0, 6, 7), (0, 7, 8),
                                                          (0, 8, 9), (1, 4, 10), (1, 11, 12)]


def test_value_range_and_text_from_pieces():
    assert value_range([1.0, 3.0], vmin=None) == (1.0, 3.0)
    assert value_range([1.0, 3.0]) == (0.0, 3.0)
    assert value_range([0.0, 0.0]) == (0.0, 1.0)
    assert text_from_pieces([("ab", 0.1, (0, 2)), ("cd", 0.2, (3, 5))]) == "ab cd"


def test_html_keeps_the_lines_and_has_a_colour_bar_per_row():
    values = [0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 2.0, 1.0]
    page = heatmap_html(TEXT, SPANS, {"human": values, "model": values[::-1]}, title="t")
    blocks = re.findall(r"<pre class='code'[^>]*>(.*?)</pre>", page, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        assert re.sub(r"<[^>]+>", "", block) == TEXT  # the source text, line breaks and indentation kept
        assert len(block.split("\n")) == len(TEXT.split("\n"))
    assert page.count("class='colorbar'") == 2 and "<span>0</span><span>2</span>" in page
    top, bottom = colour_map()(1.0), colour_map()(0.0)
    assert f"title='2' style='background:{to_hex(top)}'>return</span>" in page
    assert f"title='0' style='background:{to_hex(bottom)}'>def</span>" in page


def test_figure_has_one_text_per_line_boxes_at_columns_and_colour_bars():
    import matplotlib.pyplot as plt

    values = [0.0, 1.0, 0.0, 0.5, 0.0, 0.0, 2.0, 1.0]
    fig = heatmap_figure(TEXT, SPANS, {"human": values, "model": values}, dpi=100)
    panels = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert len(panels) == 2 and len(bars) == 2
    assert bars[0].get_ylim() == pytest.approx((0.0, 2.0))
    for ax in panels:
        assert [t.get_text() for t in ax.texts] == TEXT.split("\n")  # one row per code line
        assert [t.get_position()[1] for t in ax.texts] == [0, 1, 2]
        assert [(p.get_x(), p.get_y() + 0.5, p.get_width()) for p in ax.patches] == [
            (b.start, b.line, b.end - b.start) for b in token_boxes(TEXT, SPANS)]
    # the monospace text is as wide as the grid says: column c starts where box column c starts
    renderer = fig.canvas.get_renderer()
    ax, line = panels[0], panels[0].texts[1]
    width_px = line.get_window_extent(renderer).width
    grid_px = ax.transData.transform((len(line.get_text()), 0))[0] - ax.transData.transform((0, 0))[0]
    assert abs(width_px - grid_px) <= 2.0
    plt.close(fig)


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".html", b"<html>")])
def test_save_heatmap_by_suffix(tmp_path, suffix, magic):
    path = save_heatmap(tmp_path / f"h{suffix}", TEXT, SPANS, {"weights": [1.0] * len(SPANS)}, vmin=None)
    assert path.read_bytes().startswith(magic)


def test_gaze_heatmap_command_writes_code_by_line(tmp_path):
    from gazelm.cli.gaze import main

    code = "class A {\n  int f(int x) {\n    return x + 1;\n  }\n}\n"
    source = tmp_path / "A.java"
    source.write_text(code)
    out = tmp_path / "a.html"
    assert main(["heatmap", str(source), "--language", "java", "--out", str(out)]) == 0
    page = out.read_text()
    (block,) = re.findall(r"<pre class='code'[^>]*>(.*?)</pre>", page, flags=re.S)
    assert re.sub(r"<[^>]+>", "", block) == code and "class='colorbar'" in page
