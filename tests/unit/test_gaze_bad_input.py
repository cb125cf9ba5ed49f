"""Bad eye-tracking input: every case is one GazelmInputError naming file, row and field,
or, with ``on_error="drop"``, a dropped row that is counted — never a crash or a silent guess."""
from __future__ import annotations

import json

import pytest

from gazelm.errors import GazelmInputError
from gazelm.gaze.readers import read_fixations
from tests.unit.test_gaze_readers import EYELINK, ITRACE_HEADER, _itrace_row

EYEMULATOR_ROW = {"code_content_hash": "h", "code_tokens": ["a", "b", "c"], "line_numbers": [1, 1, 2],
                  "mask": [0, 1, 1], "ngrams": [None, "loop", "return"]}


def _accounted(table) -> dict:
    c = table.attrs["counts"]
    assert c["read"] == c["mapped"] + c["unmapped"] + sum(c["dropped"].values())
    assert len(table) == c["mapped"] + c["unmapped"]
    return c


def _raises_then_drops(path, fmt, *, row, field, match, dropped, **options):
    """``raise`` names row and field; ``drop`` keeps the rest and counts ``dropped``."""
    with pytest.raises(GazelmInputError, match=match) as err:
        read_fixations(path, fmt, **options)
    assert (err.value.row, err.value.field) == (row, field) and str(path) in str(err.value)
    table = read_fixations(path, fmt, on_error="drop", **options)
    assert _accounted(table)["dropped"] == dropped
    return table


# ----------------------------------------------------------------------------- non-finite numbers

@pytest.mark.parametrize("value", ["inf", "1e400", "Infinity", "-inf"])
def test_itrace_non_finite_duration_is_rejected_like_nan(tmp_path, value):
    f = tmp_path / "P1_T1.1.csv"
    f.write_text(ITRACE_HEADER + _itrace_row(0, 1) + _itrace_row(1, 2, duration=value))
    table = _raises_then_drops(f, "itrace", row=3, field="duration", match="non-finite",
                               dropped={"non-finite duration": 1})
    assert table["duration_ms"].tolist() == [100.0]


@pytest.mark.parametrize("column,value", [("CURRENT_FIX_DURATION", "1e400"), ("CURRENT_FIX_X", "Infinity"),
                                          ("CURRENT_FIX_INDEX", "inf")])
def test_eyelink_non_finite_numbers(tmp_path, column, value):
    header, *rows = EYELINK.splitlines()
    j = header.split("\t").index(column)
    cells = rows[1].split("\t")
    cells[j] = value
    f = tmp_path / "fix_report_P7.txt"
    f.write_text("\n".join([header, rows[0], "\t".join(cells), rows[2]]) + "\n")
    _raises_then_drops(f, "eyelink", row=3, field=column, match="non-finite", dropped={f"non-finite {column}": 1})


@pytest.mark.parametrize("duration", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_scanpath_json_non_finite_duration(tmp_path, duration):
    f = tmp_path / "s.json"
    f.write_text('{"p1": {"f1": [["a", 10], ["b", %s], ["c", 5]]}}' % duration)
    table = _raises_then_drops(f, "scanpath_json", row=2, field="p1/f1", match="finite non-negative duration",
                               dropped={"malformed [token, duration]": 1})
    assert table["token"].tolist() == ["a", "c"]


# ----------------------------------------------------------------------------- JSON of the wrong type

@pytest.mark.parametrize("row,field,match", [
    (5, None, "expected a JSON object, got int"),
    ([1, 2], None, "expected a JSON object, got list"),
    ("text", None, "expected a JSON object, got str"),
    (dict(EYEMULATOR_ROW, line_numbers=[1, 1.5, 2]), "line_numbers", "1.5 at position 1 is not an integer"),
    (dict(EYEMULATOR_ROW, line_numbers=[1, "1", 2]), "line_numbers", "'1' at position 1 is not an integer"),
    (dict(EYEMULATOR_ROW, line_numbers=[1, True, 2]), "line_numbers", "True at position 1 is not an integer"),
    (dict(EYEMULATOR_ROW, mask=[0, True, 1]), "mask", "True at position 1 is not 0 or 1"),
    (dict(EYEMULATOR_ROW, code_tokens=["a", 7, "c"]), "code_tokens", "7 at position 1 is not text"),
    (dict(EYEMULATOR_ROW, ngrams="loop"), "ngrams", "not a list"),
    ({k: v for k, v in EYEMULATOR_ROW.items() if k != "mask"}, "mask", "missing or not a list"),
])
def test_eyemulator_rows_of_the_wrong_type_are_named_and_droppable(tmp_path, row, field, match):
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(EYEMULATOR_ROW) + "\n" + json.dumps(row) + "\n" + json.dumps(EYEMULATOR_ROW) + "\n")
    table = _raises_then_drops(f, "eyemulator", row=2, field=field, match=match, dropped={"malformed row": 1})
    assert table["trial"].tolist() == ["1", "1", "3", "3"]  # both good rows, two attended tokens each


def test_eyemulator_invalid_json_line_is_dropped_and_counted(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(EYEMULATOR_ROW) + "\n{\"code_tokens\": [\n")
    table = _raises_then_drops(f, "eyemulator", row=2, field=None, match="invalid JSON",
                               dropped={"invalid JSON row": 1})
    assert len(table) == 2


@pytest.mark.parametrize("scanpath,match", [(5, "not a list but int"), ("ab", "not a list but str"),
                                            ({"a": 1}, "not a list but dict")])
def test_scanpath_that_is_not_a_list(tmp_path, scanpath, match):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"p1": {"f1": scanpath, "f2": [["x", 3.0]]}}))
    table = _raises_then_drops(f, "scanpath_json", row=None, field="p1/f1", match=match,
                               dropped={"scanpath is not a list": 1})
    assert table["stimulus"].tolist() == ["f2"]


def test_scanpath_json_participant_entry_not_an_object(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"p1": [["x", 3.0]], "p2": {"f": [["y", 1.0]]}}))
    table = _raises_then_drops(f, "scanpath_json", row=None, field="p1", match="got list",
                               dropped={"participant entry is not an object": 1})
    assert table["participant"].tolist() == ["p2"]
    f.write_text("[1, 2]")
    with pytest.raises(GazelmInputError, match="expected an object"):
        read_fixations(f, "scanpath_json", on_error="drop")  # the file's shape itself: always an error


# ----------------------------------------------------------------------------- truncated / ragged tables

def test_eyelink_report_cut_mid_row(tmp_path):
    f = tmp_path / "fix_report_P7.txt"
    f.write_text(EYELINK[:-12])  # the last row loses its snippet id and y: 7 of 9 fields
    table = _raises_then_drops(f, "eyelink", row=4, field="CURRENT_FIX_Y", match="cut mid-row",
                               dropped={"wrong number of fields": 1})
    assert table["order"].tolist() == [1, 2]
    f.write_text(EYELINK[:-7])  # cut right after the last separator: empty snippet id, no newline
    _raises_then_drops(f, "eyelink", row=4, field="code_snippet_id", match="cut mid-row",
                       dropped={"wrong number of fields": 1})


def test_real_eyelink_report_cut_mid_row(data_dir, tmp_path):
    import gzip

    text = gzip.open(data_dir / "eyelink-python" / "fixation_reports" / "fix_report_P102.txt.gz", "rt").read()
    lines = text.split("\n")
    f = tmp_path / "fix_report_P102.txt"
    f.write_text("\n".join(lines[:40]) + "\n" + lines[40][:len(lines[40]) // 2])
    with pytest.raises(GazelmInputError, match="cut mid-row") as err:
        read_fixations(f, "eyelink")
    assert err.value.row == 41
    assert read_fixations(f, "eyelink", on_error="drop").attrs["counts"]["read"] == 40


def test_row_with_too_many_fields(tmp_path):
    f = tmp_path / "P1_T1.1.csv"
    f.write_text(ITRACE_HEADER + _itrace_row(0, 1) + _itrace_row(1, 2).rstrip("\n") + ",extra\n")
    _raises_then_drops(f, "itrace", row=3, field="duration", match="15 fields, the header 14",
                       dropped={"wrong number of fields": 1})


# ----------------------------------------------------------------------------- encodings, iTrace start times

def test_non_utf8_code_snippet_is_named(tmp_path):
    ias_dir, code_dir = tmp_path / "IAs", tmp_path / "code"
    ias_dir.mkdir()
    code_dir.mkdir()
    (ias_dir / "IA-10-177-V1.ias").write_text("RECTANGLE\t1\t0\t0\t20\t10\tdef\n")
    (code_dir / "10-177-V1.py").write_bytes(b"def f():\n    return '\xe9t\xe9'\n")  # Latin-1
    f = tmp_path / "fix_report_P7.txt"
    f.write_text(EYELINK)
    with pytest.raises(GazelmInputError, match="not UTF-8") as err:
        read_fixations(f, "eyelink", interest_areas=ias_dir, code_snippets=code_dir)
    assert str(code_dir / "10-177-V1.py") in str(err.value) and err.value.row == 2


def test_non_utf8_fixation_file_names_the_line(tmp_path):
    f = tmp_path / "P1_T1.1.csv"
    f.write_bytes((ITRACE_HEADER + _itrace_row(0, 1)).encode() + _itrace_row(1, 2, token="caf\xe9").encode("latin-1"))
    with pytest.raises(GazelmInputError, match="not UTF-8") as err:
        read_fixations(f, "itrace", on_error="drop")
    assert err.value.row == 3


@pytest.mark.parametrize("start", ["abc", "", "inf"])
def test_itrace_unparseable_start_time_is_an_error_never_a_silent_fallback(tmp_path, start):
    f = tmp_path / "P1_T1.1.csv"
    f.write_text(ITRACE_HEADER + _itrace_row(0, 1, start=900) + _itrace_row(1, 2, start=start)
                 + _itrace_row(2, 3, start=800))
    table = _raises_then_drops(f, "itrace", row=3, field="fixation_start_event_time", match="value",
                               dropped={f"{'non-finite' if start == 'inf' else 'non-numeric'} "
                                        "fixation_start_event_time": 1})
    # the other two are still in chronological order (start 800 before 900)
    assert table["order"].tolist() == [2, 1] and table["order_number"].tolist() == [1, 3]


def test_itrace_without_start_times_orders_by_order_number(tmp_path):
    header = ITRACE_HEADER.replace("fixation_start_event_time,", "")
    rows = [",".join(r.split(",")[:3] + r.split(",")[4:]) for r in (_itrace_row(0, 2), _itrace_row(1, 1))]
    f = tmp_path / "P1_T1.1.csv"
    f.write_text(header + "".join(rows))
    assert read_fixations(f, "itrace")["order"].tolist() == [2, 1]


def test_on_error_must_be_known(tmp_path):
    with pytest.raises(GazelmInputError, match="on_error must be 'raise' or 'drop'"):
        read_fixations(tmp_path, "itrace", on_error="ignore")


def test_eyelink_fields_are_never_quoted(tmp_path):
    """Data Viewer writes labels as they are: a code token `"` must not swallow the rows after it."""
    header, *rows = EYELINK.splitlines()
    f = tmp_path / "fix_report_P7.txt"
    f.write_text("\n".join([header + "\tLABEL", rows[0] + '\t"', rows[1] + '\tprint("x")', rows[2] + "\tx"]) + "\n")
    table = read_fixations(f, "eyelink")
    assert len(table) == 3 and table["source_row"].tolist() == [2, 3, 4]


def test_reading_no_fixation_is_an_error(tmp_path):
    f = tmp_path / "P1_T1.1.csv"
    f.write_text(ITRACE_HEADER)
    with pytest.raises(GazelmInputError, match=r"no fixations in 1 itrace file\(s\) \(read 0\)"):
        read_fixations(f, "itrace")
    f.write_text(ITRACE_HEADER + _itrace_row(0, 1, duration="-1"))
    with pytest.raises(GazelmInputError, match="read 1; dropped: 1 negative duration"):
        read_fixations(f, "itrace", on_error="drop")
