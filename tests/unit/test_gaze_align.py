"""Alignment of fixations to code tokens by character, line/col, occurrence and aoi."""
from __future__ import annotations

import pandas as pd
import pytest

from gazelm.code import label_tokens
from gazelm.gaze.align import align_fixations, dwell_table, match_char, tokens_from_aoi

CODE = "x = f(x)\nreturn x\n"
TOKS = label_tokens(CODE, "python")  # x = f ( x ) return x


def _fix(**cols):
    n = len(next(iter(cols.values())))
    base = {"participant": ["p"] * n, "stimulus": ["s"] * n, "trial": ["1"] * n, "order": list(range(1, n + 1)),
            "duration_ms": [100.0 * (i + 1) for i in range(n)], "line": [None] * n, "col": [None] * n,
            "token": [None] * n, "aoi": [None] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_match_char_inside_and_nearest():
    assert TOKS[match_char(TOKS, 4)].text == "f"
    assert match_char(TOKS, 1) is None  # a space, no interest area given
    assert TOKS[match_char(TOKS, 1, 0, 3)].text in ("x", "=")


def test_char_alignment_dwell_count_scanpath():
    fix = _fix(char=[4, 4, 16, None], char_start=[4, 4, 9, None], char_end=[8, 8, 17, None])
    (trial,) = align_fixations(fix, {"s": TOKS}, method="char")
    texts = [t.text for t in TOKS]
    f, ret_x = texts.index("f"), len(TOKS) - 1
    assert trial.scanpath == [f, f, ret_x] and trial.visits() == [f, ret_x] and trial.unmapped == 1
    assert trial.dwell[f] == 300.0 and trial.count[f] == 2 and trial.dwell[ret_x] == 300.0
    assert trial.label_sequence() == [TOKS[f].label, TOKS[ret_x].label]
    assert trial.attention().sum() == pytest.approx(1.0) and trial.attention()[f] == pytest.approx(0.5)
    table = dwell_table([trial])
    assert len(table) == len(TOKS) and table["dwell_ms"].sum() == 600.0


def test_linecol_and_occurrence():
    fix = _fix(line=[2, 1, 3], col=[8, 5, 1])
    (trial,) = align_fixations(fix, {"s": TOKS}, method="linecol")
    assert [TOKS[i].text for i in trial.scanpath] == ["x", "f"] and trial.unmapped == 1
    fix = _fix(token=["x", "x", "zz"], occurrence=[2, 0, 0])
    (trial,) = align_fixations(fix, {"s": TOKS}, method="occurrence")
    assert [(TOKS[i].line, TOKS[i].col) for i in trial.scanpath] == [(2, 8), (1, 1)] and trial.unmapped == 1


def test_aoi_inventory_and_missing_stimulus():
    fix = _fix(aoi=["1:5-1:7", "1:1-1:3", "1:5-1:7", None], token=["foo", "bar", "foo", None],
               label=["function call", None, "function call", None],
               token_line=[1, 1, 1, None], token_col=[5, 1, 5, None])
    inv = tokens_from_aoi(fix)
    assert [t.text for t in inv["s"]] == ["bar", "foo"]
    (trial,) = align_fixations(fix, inv, method="aoi")
    assert trial.scanpath == [1, 0, 1] and trial.count.tolist() == [1, 2] and trial.unmapped == 1
    assert align_fixations(fix, {}, method="aoi") == []
    with pytest.raises(ValueError, match="unknown alignment method"):
        align_fixations(fix, inv, method="bbox")
