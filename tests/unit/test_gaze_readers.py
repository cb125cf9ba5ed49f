"""Readers on small hand-written files: canonical columns, counts, malformed input."""
from __future__ import annotations

import gzip
import json

import pytest

from gazelm.errors import GazelmInputError
from gazelm.gaze.readers import COLUMNS, read_fixations, read_interest_areas, split_repeat_suffix

ITRACE_HEADER = (",fixation_id,fixation_run_id,fixation_start_event_time,fixation_order_number,x,y,fixation_target,"
                 "source_file_line,source_file_col,token,syntactic_category,xpath,duration\n")


def _itrace_row(i, order, token="foo", duration="100", start=None, run="7", line="3", col="5"):
    xp = "//src:unit/src:name[@pos:start='3:4' and @pos:end='3:6']" if token not in ("", "WHITESPACE") else ""
    cat = "unit->class->block->function->name" if xp else ""
    start = start if start is not None else 1000 - order
    return f"{i},id{i},{run},{start},{order},1.5,2.5,A.java,{line},{col},{token},{cat},{xp},{duration}\n"


def _write(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_itrace_columns_counts_and_chronological_order(tmp_path):
    f = _write(tmp_path / "P9_T1.2.csv", ITRACE_HEADER + _itrace_row(0, 1) + _itrace_row(1, 2, token="WHITESPACE")
               + _itrace_row(2, 3, token=""))
    df = read_fixations(f, "itrace")
    assert list(df.columns[:len(COLUMNS)]) == list(COLUMNS)
    assert df.attrs["counts"] == {"read": 3, "mapped": 1, "unmapped": 2, "dropped": {},
                                  "unmapped_reasons": {"whitespace or no token": 2}}
    assert (df["participant"].iloc[0], df["trial"].iloc[0]) == ("P9", "T1.2")
    # start times decrease with the order number: chronological order is reversed
    assert df["order"].tolist() == [3, 2, 1] and df["order_number"].tolist() == [1, 2, 3]
    assert df["label"].iloc[0] == "function declaration" and df["aoi"].iloc[0] == "3:4-3:6"
    assert df["token"].iloc[1] is None


@pytest.mark.parametrize("row,field,what", [
    (_itrace_row(1, 2, duration="abc"), "duration", "non-numeric"),
    (_itrace_row(1, 2, duration="-5"), "duration", "negative"),
    (_itrace_row(1, 1), "order", "duplicate fixation order"),
    (_itrace_row(1, 2, line="x"), "source_file_line", "non-numeric"),
])
def test_itrace_bad_rows_raise_or_drop(tmp_path, row, field, what):
    f = _write(tmp_path / "P1_T1.1.csv", ITRACE_HEADER + _itrace_row(0, 1) + row)
    with pytest.raises(GazelmInputError, match=what) as err:
        read_fixations(f, "itrace")
    assert err.value.row == 3 and err.value.field == field and str(f) in str(err.value)
    df = read_fixations(f, "itrace", on_error="drop")
    c = df.attrs["counts"]
    assert len(df) == 1 and c["read"] == 2 and sum(c["dropped"].values()) == 1


def test_missing_column_truncated_gzip_unknown_format(tmp_path):
    f = _write(tmp_path / "P1_T1.1.csv", ITRACE_HEADER.replace(",duration", "") + "0,a,1,1,1,1,1,A.java,1,1,x,,\n")
    with pytest.raises(GazelmInputError, match="missing column") as err:
        read_fixations(f, "itrace")
    assert err.value.field == "duration"
    g = tmp_path / "P1_T1.2.csv.gz"
    _write(g, ITRACE_HEADER + _itrace_row(0, 1) * 50, gz=True)
    g.write_bytes(g.read_bytes()[:-30])
    with pytest.raises(GazelmInputError, match="truncated or corrupt"):
        read_fixations(g, "itrace")
    with pytest.raises(GazelmInputError, match="unknown fixation format 'tobii'"):
        read_fixations(f, "tobii")
    with pytest.raises(GazelmInputError, match="no such file"):
        read_fixations(tmp_path / "nope.csv", "itrace")
    with pytest.raises(GazelmInputError, match="takes no option 'interest_areas'"):
        read_fixations(f, "itrace", interest_areas=tmp_path)


EYELINK = ("\tRECORDING_SESSION_LABEL\tTRIAL_INDEX\tCURRENT_FIX_DURATION\tCURRENT_FIX_INDEX\t"
           "CURRENT_FIX_INTEREST_AREA_ID\tCURRENT_FIX_X\tCURRENT_FIX_Y\tcode_snippet_id\n"
           "0\tP7\t1\t200\t1\t2\t25.0\t5\t10-117-V1\n"
           "1\tP7\t1\t150\t2\t.\t900\t5\t10-117-V1\n"
           "2\tP7\t2\t120\t1\t1\t5.0\t5\tNO-IAS\n")


def test_eyelink_interest_areas_quirks_and_spaces(tmp_path):
    ias_dir = tmp_path / "stimuli" / "IAs"
    code_dir = tmp_path / "stimuli" / "code_snippets" / "original_naming"
    ias_dir.mkdir(parents=True)
    code_dir.mkdir(parents=True)
    (code_dir / "10-177-V1.py").write_text("def f(x):\n    return x\n")
    (ias_dir / "IA-10-177-V1.ias").write_text(
        "# header\nRECTANGLE\t1\t0\t0\t20\t10\tdef\nRECTANGLE\t2\t20\t0\t60\t10\tf(x):\n"
        "RECTANGLE\t3\t0\t10\t20\t20\treturn\nRECTANGLE\t4\t20\t10\t30\t20\tx\n")
    f = _write(tmp_path / "fix_report_P7 2.txt.gz", EYELINK, gz=True)
    df = read_fixations(tmp_path, "eyelink", interest_areas=ias_dir)
    assert df.attrs["counts"] == {"read": 3, "mapped": 1, "unmapped": 2, "dropped": {},
                                  "unmapped_reasons": {"outside every interest area": 1, "no .ias for snippet": 1}}
    first = df.iloc[0]
    assert (first["token"], first["line"], first["col"], first["char_start"], first["char_end"]) == \
        ("f(x):", 1, 5, 4, 9)
    assert first["char"] == 4 + int((25.0 - 20) / 40 * 5)  # x at 1/8 of the rectangle → 1st char
    assert df["session"].iloc[0] == "2" and df["source_file"].iloc[0] == str(f)


def test_ias_label_mismatch_names_row(tmp_path):
    ias = tmp_path / "IA-x.ias"
    ias.write_text("RECTANGLE\t1\t0\t0\t1\t1\tdef\nRECTANGLE\t2\t0\t0\t1\t1\tg\n")
    with pytest.raises(GazelmInputError, match="does not match") as err:
        read_interest_areas(ias, "def f(): pass")
    assert err.value.row == 2


def test_repeat_suffixes():
    assert split_repeat_suffix("sb.append.2", one_based=False) == ("sb.append", 2)
    assert split_repeat_suffix("StringBuffer", one_based=False) == ("StringBuffer", 0)
    assert split_repeat_suffix("1.5", one_based=False) == ("1.5", 0)
    assert split_repeat_suffix("result.3", one_based=True) == ("result", 2)


def test_scanpath_json_and_codeactr(tmp_path):
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"p1": {"f1": [["sb", 10.0], ["sb.1", 20.5], ["x", 3]]}}))
    df = read_fixations(j, "scanpath_json")
    assert df["token"].tolist() == ["sb", "sb", "x"] and df["occurrence"].tolist() == [0, 1, 0]
    assert df["duration_ms"].tolist() == [10.0, 20.5, 3.0] and df.attrs["counts"]["mapped"] == 3
    j.write_text(json.dumps({"p1": {"f1": [["sb", -1]]}}))
    with pytest.raises(GazelmInputError, match="non-negative duration"):
        read_fixations(j, "scanpath_json")
    c = tmp_path / "1_scan.csv"
    c.write_text("pid,stimuli,scanpath\n3,1,my_var.1_<=.2_a_b.1\n")
    df = read_fixations(c, "codeactr")
    assert df["token"].tolist() == ["my_var", "<=", "a_b"] and df["occurrence"].tolist() == [0, 1, 0]
    c.write_text("pid,stimuli,scanpath\n3,1,broken\n")
    with pytest.raises(GazelmInputError, match="token.N") as err:
        read_fixations(c, "codeactr")
    assert err.value.row == 2


def test_eyemulator_rows(tmp_path):
    row = {"code_content_hash": "h", "code_tokens": ["a", "b", "c"], "line_numbers": [1, 1, 2],
           "mask": [0, 1, 1], "ngrams": [None, "loop", "return"]}
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(row) + "\n")
    df = read_fixations(f, "eyemulator")
    assert df["token"].tolist() == ["b", "c"] and df["label"].tolist() == ["loop", "return"]
    assert df["order"].tolist() == [1, 2] and df["token_index"].tolist() == [1, 2]
    f.write_text(json.dumps(dict(row, mask=[0, 1])) + "\n")
    with pytest.raises(GazelmInputError, match="2 values for 3 code_tokens") as err:
        read_fixations(f, "eyemulator")
    assert err.value.field == "mask" and err.value.row == 1


def test_eyelink_bad_duration_and_missing_column(tmp_path):
    bad = EYELINK.replace("\t150\t2\t", "\t-3\t2\t")
    f = _write(tmp_path / "fix_report_P7.txt", bad)
    with pytest.raises(GazelmInputError, match="negative") as err:
        read_fixations(f, "eyelink")
    assert (err.value.row, err.value.field) == (3, "CURRENT_FIX_DURATION")
    df = read_fixations(f, "eyelink", on_error="drop")
    assert df.attrs["counts"]["dropped"] == {"negative CURRENT_FIX_DURATION": 1} and len(df) == 2
    _write(f, EYELINK.replace("code_snippet_id", "snippet"))
    with pytest.raises(GazelmInputError, match="missing column") as err:
        read_fixations(f, "eyelink")
    assert err.value.field == "code_snippet_id"


def test_eyelink_keeps_the_trial_columns_of_the_study(tmp_path):
    header, *rows = EYELINK.splitlines()
    f = _write(tmp_path / "fix_report_P7.txt", "\n".join([header + "\tKEY_STROKE\tcorrect_option"]
                                                         + [r + ("\tb\ta" if r[0] != "2" else "\t.\tc") for r in rows]))
    df = read_fixations(f, "eyelink")
    assert df[["trial", "KEY_STROKE", "correct_option"]].values.tolist() == [["1", "b", "a"], ["1", "b", "a"],
                                                                            ["2", ".", "c"]]
    assert list(df.columns[-2:]) == ["KEY_STROKE", "correct_option"]
