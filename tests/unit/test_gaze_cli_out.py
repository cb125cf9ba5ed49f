"""`gazelm gaze read --out FILE`: the fixations table as CSV or Parquet."""
from __future__ import annotations

import sys

import pandas as pd
import pytest

from gazelm.cli.gaze import main
from gazelm.gaze.readers import read_fixations
from tests.unit.test_gaze_readers import ITRACE_HEADER, _itrace_row


@pytest.fixture
def itrace_file(tmp_path):
    f = tmp_path / "P9_T1.2.csv"
    f.write_text(ITRACE_HEADER + _itrace_row(0, 1) + _itrace_row(1, 2, token="WHITESPACE") + _itrace_row(2, 3))
    return f


@pytest.mark.parametrize("name", ["fix.csv", "fix.csv.gz"])
def test_out_csv_holds_the_table(itrace_file, tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["read", str(itrace_file), "--format", "itrace", "--out", str(out)]) == 0
    assert f"3 fixations → {out}" in capsys.readouterr().out
    written = pd.read_csv(out, keep_default_na=False, na_values=[""])
    table = read_fixations(itrace_file, "itrace")
    assert list(written.columns) == list(table.columns)
    assert written["order"].tolist() == [3, 2, 1] and written["participant"].tolist() == ["P9"] * 3
    assert written["token"].fillna("∅").tolist() == ["foo", "∅", "foo"]
    assert written["duration_ms"].tolist() == [100.0] * 3 and written["source_row"].tolist() == [2, 3, 4]


def test_out_parquet_without_pyarrow_says_to_install_it(itrace_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    assert main(["read", str(itrace_file), "--format", "itrace", "--out", str(tmp_path / "fix.parquet")]) == 2
    err = capsys.readouterr().err
    assert "writing Parquet needs pyarrow (pip install pyarrow)" in err and "field '--out'" in err
    assert not (tmp_path / "fix.parquet").exists()


def test_out_parquet_round_trips(itrace_file, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "fix.parquet"
    assert main(["read", str(itrace_file), "--format", "itrace", "--out", str(out)]) == 0
    written, table = pd.read_parquet(out), read_fixations(itrace_file, "itrace")
    assert list(written.columns) == list(table.columns)
    for col in table.columns:  # missing values come back as the column type's own missing value
        assert written[col].isna().tolist() == table[col].isna().tolist(), col
        assert written[col].dropna().tolist() == table[col].dropna().tolist(), col
    assert str(written["line"].dtype) == "Int64" and str(written["order"].dtype) == "int64"


@pytest.mark.parametrize("name,match", [("fix.xlsx", "unknown table type"), ("nowhere/fix.csv", "folder does not exist")])
def test_out_bad_path_is_refused_before_reading(itrace_file, tmp_path, capsys, name, match):
    assert main(["read", str(itrace_file), "--format", "itrace", "--out", str(tmp_path / name)]) == 2
    assert match in capsys.readouterr().err
