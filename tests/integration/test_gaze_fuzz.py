"""Fuzzing the readers with the real shared files: truncation, byte flips, dropped columns,
swapped types. Reading must either succeed with every fixation accounted for, or raise
GazelmInputError — nothing else (no KeyError, TypeError, AssertionError, ...).

Small slices of one real file per format keep each example cheap; hypothesis runs a
bounded number of examples, derandomized (the same examples on every run).
"""
from __future__ import annotations

import gzip
import json
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gazelm.errors import GazelmInputError  # noqa: E402
from gazelm.gaze.fixations import COLUMNS  # noqa: E402
from gazelm.gaze.formats import open_format  # noqa: E402
from gazelm.gaze.readers import read_fixations  # noqa: E402
from tests.conftest import real_data_dir  # noqa: E402

DATA = real_data_dir()
EXAMPLES = 30
# format → (real file, name to write the mutated slice under, field separator or None for JSON, rows kept)
SOURCES = {
    "itrace": ("itrace-java/fixations/P10-Dats/P10-T1/P10_T1.1.csv.gz", "P10_T1.1.csv", ",", 20),
    "eyelink": ("eyelink-python/fixation_reports/fix_report_P201.txt.gz", "fix_report_P201.txt", "\t", 20),
    "eyelink_20_columns": ("eyelink-python/fixation_reports/fix_report_P104 2.txt.gz", "fix_report_P104 2.txt",
                           "\t", 20),
    "codeactr": ("codeactr-scanpaths/path_stimuli_repeat/1_scan.csv", "1_scan.csv", ",", 4),
    "eyemulator": ("eyemulator/dataset_sample/translation_train_sample.jsonl", "rows.jsonl", None, 3),
    "scanpath_json": ("scanpathpred-java/participant_scanpaths.json.gz", "scanpaths.json", None, 0),
}
SWAPS_TEXT = ["", "abc", "inf", "-1", "1e400", "Infinity", "NaN", "1.5", ".", "None", "\"", "é", "9" * 30]
SWAPS_JSON = [None, True, 1, -1, 1.5, "x", "", [], {}, [1, 2], ["a", "b", "c"], float("inf"), 10 ** 30]


@lru_cache(maxsize=None)
def _slice(name: str) -> str:
    rel, _, sep, keep = SOURCES[name]
    path = DATA / rel
    text = (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")).read()
    if name == "scanpath_json":  # two participants × two stimuli × eight fixations
        data = json.loads(text)
        return json.dumps({p: {s: path[:8] for s, path in list(data[p].items())[:2]} for p in list(data)[:2]})
    lines = text.split("\n")
    return "\n".join(lines[:keep + (1 if sep else 0)]) + "\n"


def _json_nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json_nodes(v, path + (i,))


def _replace(value, path, new):
    if not path:
        return new
    value[path[0]] = _replace(value[path[0]], path[1:], new)
    return value


@st.composite
def mutated(draw, name: str) -> tuple[str, bytes]:
    """(file name, bytes): the slice of the real file after one mutation."""
    _, filename, sep, _ = SOURCES[name]
    text = _slice(name)
    data = text.encode("utf-8")
    kind = draw(st.sampled_from(["truncate", "flip", "drop", "swap", "gzip_cut"]))
    if kind == "truncate":
        return filename, data[:draw(st.integers(0, len(data)))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= draw(st.integers(1, 255))
        return filename, bytes(out)
    if kind == "gzip_cut":
        packed = gzip.compress(data, mtime=0)
        return filename + ".gz", packed[:draw(st.integers(0, len(packed) - 1))]
    if sep is None:  # JSON: drop a key / swap the type of one value
        lines = text.split("\n") if name == "eyemulator" else [text]
        k = draw(st.integers(0, len(lines) - 1)) if name == "eyemulator" else 0
        doc = json.loads(lines[k]) if lines[k].strip() else {}
        nodes = list(_json_nodes(doc))
        where = nodes[draw(st.integers(0, len(nodes) - 1))]
        if kind == "drop" and where:
            parent = doc
            for step in where[:-1]:
                parent = parent[step]
            del parent[where[-1]]
        else:
            doc = _replace(doc, where, draw(st.sampled_from(SWAPS_JSON)))
        lines[k] = json.dumps(doc)
        return filename, "\n".join(lines).encode("utf-8")
    rows = [line.split(sep) for line in text.split("\n")]
    if kind == "drop":  # a column gone from the header and every row
        j = draw(st.integers(0, len(rows[0]) - 1))
        rows = [r[:j] + r[j + 1:] if len(r) > j else r for r in rows]
    else:  # a few cells of another type
        for _ in range(draw(st.integers(1, 3))):
            r = draw(st.integers(1, max(len(rows) - 2, 1)))
            c = draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = draw(st.sampled_from(SWAPS_TEXT))
    return filename, "\n".join(sep.join(r) for r in rows).encode("utf-8")


def _options(name: str) -> dict:
    if name.startswith("eyelink"):
        return {"interest_areas": DATA / "eyelink-python" / "stimuli" / "IAs"}
    return {}


def _check(name: str, filename: str, data: bytes) -> None:
    fmt_name = name.split("_20")[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        for on_error in ("raise", "drop"):
            fmt = open_format(fmt_name, **_options(name))
            try:
                table = read_fixations(path, fmt, on_error=on_error)
            except GazelmInputError:
                continue
            c = table.attrs["counts"]
            assert c["read"] == c["mapped"] + c["unmapped"] + sum(c["dropped"].values()), c
            assert len(table) == c["mapped"] + c["unmapped"] == int(table["token"].notna().sum()) + c["unmapped"]
            assert on_error == "drop" or not c["dropped"], c  # raise never drops silently
            assert tuple(table.columns[:len(COLUMNS)]) == COLUMNS
            assert str(table["order"].dtype) == "int64" and (table["order"] >= 0).all()
            assert not table["duration_ms"].isin([float("inf"), float("-inf")]).any()
            assert (table["duration_ms"].dropna() >= 0).all()
            if fmt.alignment is not None:  # what was read also aligns without crashing
                try:
                    fmt.trials(table)
                except GazelmInputError:
                    pass


@pytest.fixture(scope="module", autouse=True)
def _needs_data():
    if not DATA.is_dir():
        pytest.skip(f"real research data not found at {DATA} (set GAZELM_DATA_DIR)")


@pytest.mark.parametrize("name", list(SOURCES))
def test_unmutated_slice_reads(name):
    _, filename, _, _ = SOURCES[name]
    data = _slice(name).encode("utf-8")
    _check(name, filename, data)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / filename).write_bytes(data)
        c = read_fixations(Path(tmp) / filename, name.split("_20")[0], **_options(name)).attrs["counts"]
    assert c["read"] > 0 and not c["dropped"]


def _fuzz_test(name: str):
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=mutated(name))
    def test(case):
        _check(name, *case)

    return test


test_fuzz_itrace = _fuzz_test("itrace")
test_fuzz_eyelink = _fuzz_test("eyelink")
test_fuzz_eyelink_20_columns = _fuzz_test("eyelink_20_columns")
test_fuzz_codeactr = _fuzz_test("codeactr")
test_fuzz_eyemulator = _fuzz_test("eyemulator")
test_fuzz_scanpath_json = _fuzz_test("scanpath_json")
