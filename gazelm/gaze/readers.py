"""Eye-tracking files → one canonical fixations table (pandas).

Canonical columns (DESIGN.md), whatever the source format:

=============  ==================================================================
participant    participant id (str)
stimulus       what was looked at: code file / snippet / function id (str)
trial          trial within the participant's session (str; e.g. iTrace ``T2.4``)
order          1-based fixation order within the trial (int)
duration_ms    fixation duration in ms (float; NaN where the format has none)
line, col      1-based line / column of the fixated token (Int64; <NA> if unknown)
token          text of the fixated token; ``None`` when the fixation hit no token
x, y           screen coordinates in px (float; NaN if unknown)
aoi            area of interest: EyeLink interest-area id, iTrace srcML element span
               ``L:C-L:C``; ``None`` outside every area
=============  ==================================================================

Extra columns: ``label`` (semantic label where the source tells it), ``occurrence``
(0-based repeat index of ``token`` in the code, for token scanpaths), ``char_start`` /
``char_end`` (character span in the stimulus code, where the code is known), ``char``
(estimated character the eye was on), ``session``, ``source_file``, ``source_row``.

Every reader validates its input (missing columns, non-numeric or negative durations,
duplicate order numbers, truncated files) and raises :class:`gazelm.errors.GazelmInputError`
naming the file, row and field; with ``on_error="drop"`` bad rows are dropped instead
and counted by reason. ``table.attrs["counts"]`` holds
``{"read", "mapped", "unmapped", "dropped": {reason: n}, "unmapped_reasons": {reason: n}}``
with ``read == mapped + unmapped + sum(dropped)``; ``table.attrs["files"]`` the counts
per file.
"""
from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from gazelm.code.labels import label_from_srcml
from gazelm.errors import GazelmInputError
from gazelm.registry import Registry

COLUMNS: tuple[str, ...] = ("participant", "stimulus", "trial", "order", "duration_ms", "line", "col",
                            "token", "x", "y", "aoi")

FORMATS: Registry[Callable[..., pd.DataFrame]] = Registry("fixation format")


@dataclass
class ReadCounts:
    """How many fixations a reader saw and what became of them (nothing silently lost)."""

    read: int = 0
    mapped: int = 0
    unmapped: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unmapped_reasons: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def miss(self, reason: str, n: int = 1) -> None:
        self.unmapped_reasons[reason] = self.unmapped_reasons.get(reason, 0) + n

    def add(self, other: "ReadCounts") -> None:
        self.read += other.read
        self.mapped += other.mapped
        self.unmapped += other.unmapped
        for k, v in other.dropped.items():
            self.drop(k, v)
        for k, v in other.unmapped_reasons.items():
            self.miss(k, v)

    def check(self, path: Path | str) -> None:
        total = self.mapped + self.unmapped + sum(self.dropped.values())
        if total != self.read:  # a reader bug, never bad input
            raise AssertionError(f"{path}: counts do not add up: {self.as_dict()}")

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "mapped": self.mapped, "unmapped": self.unmapped,
                "dropped": dict(self.dropped), "unmapped_reasons": dict(self.unmapped_reasons)}


# ----------------------------------------------------------------------------- helpers

def _open_text(path: Path) -> str:
    """Whole text of a (possibly gzipped) file; a truncated gzip is a GazelmInputError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise GazelmInputError(f"cannot read file (truncated or corrupt): {exc}", path=path) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GazelmInputError(f"not UTF-8 text: {exc}", path=path) from exc


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    text = _open_text(path)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        # pandas says "Error tokenizing data. C error: Expected 20 fields in line 7, saw 3"
        m = re.search(r"line (\d+)", str(exc))
        raise GazelmInputError(f"malformed table: {exc}", path=path, row=int(m.group(1)) if m else None) from exc
    except pd.errors.EmptyDataError as exc:
        raise GazelmInputError("empty file", path=path) from exc


def _require(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    for col in columns:
        if col not in df.columns:
            raise GazelmInputError(f"missing column (have: {', '.join(map(str, df.columns))})", path=path,
                                   row=1, field=col)


def _numeric(df: pd.DataFrame, col: str, path: Path, counts: ReadCounts, on_error: str, *,
             row_base: int, allow_missing: tuple[str, ...] = (), nonnegative: bool = False,
             integer: bool = False) -> pd.Series:
    """``df[col]`` as numbers; bad rows raise (naming file/row/field) or are marked for drop.

    Rows to drop get ``NaN`` and are recorded in ``df.attrs['bad']`` (index → reason).
    ``row_base`` converts a 0-based frame index to the file's 1-based line number.
    """
    raw = df[col].astype(str).str.strip()
    values = pd.to_numeric(raw.where(~raw.isin(allow_missing)), errors="coerce")
    bad_text = values.isna() & ~raw.isin(allow_missing)
    bad_neg = (values < 0) if nonnegative else pd.Series(False, index=df.index)
    bad_int = (values.notna() & (values != values.round())) if integer else pd.Series(False, index=df.index)
    bad = df.attrs.setdefault("bad", {})
    for mask, what in ((bad_text, "non-numeric"), (bad_neg, "negative"), (bad_int, "non-integer")):
        if mask.any():
            i = int(np.flatnonzero(mask.to_numpy())[0])
            if on_error == "raise":
                raise GazelmInputError(f"{what} value {raw.iloc[i]!r}", path=path, row=i + row_base, field=col)
            for j in np.flatnonzero(mask.to_numpy()):
                bad.setdefault(int(df.index[j]), f"{what} {col}")
    return values


def _apply_drops(df: pd.DataFrame, counts: ReadCounts) -> pd.DataFrame:
    bad: dict[int, str] = df.attrs.get("bad", {})
    for reason in bad.values():
        counts.drop(reason)
    out = df.drop(index=list(bad)) if bad else df
    out.attrs = {}
    return out


def _check_duplicate_order(df: pd.DataFrame, keys: list[str], path: Path, counts: ReadCounts,
                           on_error: str, row_col: str = "source_row") -> pd.DataFrame:
    dup = df.duplicated(keys + ["order"], keep="first")
    if dup.any():
        if on_error == "raise":
            r = df[dup].iloc[0]
            raise GazelmInputError(f"duplicate fixation order {r['order']} in trial {r['trial']!r}", path=path,
                                   row=int(r[row_col]), field="order")
        counts.drop("duplicate order number", int(dup.sum()))
        df = df[~dup]
    return df


def _finish(df: pd.DataFrame, counts: ReadCounts, path: Path) -> pd.DataFrame:
    mapped = int(df["token"].notna().sum())
    counts.mapped, counts.unmapped = mapped, len(df) - mapped
    counts.check(path)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["line"] = pd.array(df["line"], dtype="Int64")
    df["col"] = pd.array(df["col"], dtype="Int64")
    df["order"] = df["order"].astype("int64")
    for col in ("duration_ms", "x", "y"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("participant", "stimulus", "trial"):
        df[col] = df[col].astype(str)
    for col in ("token", "aoi", "label"):
        if col in df.columns:  # missing is None, never NaN
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[list(COLUMNS) + extra].reset_index(drop=True)
    df.attrs["counts"] = counts.as_dict()
    return df


_REPEAT = re.compile(r"^(.*\S)\.(\d+)$")
_NUMBER = re.compile(r"^-?\d+\.\d+$")


def split_repeat_suffix(token: str, *, one_based: bool) -> tuple[str, int]:
    """``"sb.append.2"`` → ``("sb.append", 2)``: token text and 0-based occurrence.

    ``one_based``: the suffix counts from 1 (CodeACT-R) instead of marking the 2nd
    occurrence with ``.1`` and leaving the first bare (scanpathpred). A bare float
    literal (``1.5``) is a token, not a repeat.
    """
    m = _REPEAT.match(token)
    if not m or (not one_based and _NUMBER.match(token)):
        return token, 0
    n = int(m.group(2))
    return m.group(1), (n - 1 if one_based else n)


# ----------------------------------------------------------------------------- iTrace

_ITRACE_REQUIRED = ("fixation_order_number", "duration", "source_file_line", "source_file_col", "token",
                    "syntactic_category", "fixation_target")
_XPATH_POS = re.compile(r"@pos:start='(\d+):(\d+)' and @pos:end='(\d+):(\d+)'\]$")
_ITRACE_NAME = re.compile(r"^(P\d+)_(T[\w.]+?)(?:\.csv)?(?:\.gz)?$")


_srcml_label = lru_cache(maxsize=65536)(label_from_srcml)


def _itrace_ids(path: Path) -> tuple[str, str]:
    m = _ITRACE_NAME.match(path.name)
    if m:
        return m.group(1), m.group(2)
    return path.parent.name.split("-")[0] or "unknown", path.name.split(".csv")[0]


@FORMATS.register("itrace", pattern="**/*.csv*")
def read_itrace(path: Path, *, on_error: str = "raise") -> pd.DataFrame:
    """One iTrace fixation CSV (``itrace-java``): ``P<id>_T<task>.<method>.csv[.gz]``.

    ``token`` empty or ``WHITESPACE`` → the fixation hit no token (kept, unmapped).
    ``label`` comes from ``syntactic_category`` (srcML path, :func:`label_from_srcml`);
    ``aoi`` is the span of the innermost srcML element in ``xpath`` (``L:C-L:C``).
    A file can hold several recording runs (``fixation_run_id`` → ``run``), and
    ``fixation_order_number`` counts backwards in time in some of them, so ``order`` is the
    chronological rank by ``fixation_start_event_time`` within the run (the raw number is
    kept as ``order_number`` and must be unique within a run).
    """
    df = _read_table(path, ",")
    counts = ReadCounts(read=len(df))
    _require(df, _ITRACE_REQUIRED, path)
    df.attrs["bad"] = {}
    order = _numeric(df, "fixation_order_number", path, counts, on_error, row_base=2, integer=True)
    duration = _numeric(df, "duration", path, counts, on_error, row_base=2, nonnegative=True)
    line = _numeric(df, "source_file_line", path, counts, on_error, row_base=2, allow_missing=("",), integer=True)
    col = _numeric(df, "source_file_col", path, counts, on_error, row_base=2, allow_missing=("",), integer=True)
    x = pd.to_numeric(df["x"], errors="coerce") if "x" in df else np.nan
    y = pd.to_numeric(df["y"], errors="coerce") if "y" in df else np.nan
    participant, trial = _itrace_ids(path)
    token = df["token"].where(~df["token"].isin(["", "WHITESPACE"]), None)
    xpath = df["xpath"] if "xpath" in df else pd.Series("", index=df.index)
    aoi = xpath.str.extract(_XPATH_POS)
    aoi_text = (aoi[0] + ":" + aoi[1] + "-" + aoi[2] + ":" + aoi[3]).where(aoi[0].notna(), None)
    out = pd.DataFrame({
        "participant": participant, "stimulus": df["fixation_target"], "trial": trial,
        "order": order, "duration_ms": duration, "line": line, "col": col, "token": token,
        "x": x, "y": y, "aoi": aoi_text.where(token.notna(), None),
        "label": [_srcml_label(p) if t is not None else None for p, t in zip(df["syntactic_category"], token)],
        "syntactic_category": df["syntactic_category"],
        "token_line": pd.to_numeric(aoi[0], errors="coerce"), "token_col": pd.to_numeric(aoi[1], errors="coerce"),
        "token_end_line": pd.to_numeric(aoi[2], errors="coerce"),
        "token_end_col": pd.to_numeric(aoi[3], errors="coerce"),
        "source_file": str(path), "source_row": df.index + 2,
    }, index=df.index)
    out["run"] = df["fixation_run_id"] if "fixation_run_id" in df else ""
    start_time = pd.to_numeric(df["fixation_start_event_time"], errors="coerce") \
        if "fixation_start_event_time" in df else pd.Series(np.nan, index=df.index)
    out["start_time"] = start_time
    out.attrs["bad"] = df.attrs["bad"]
    out = _apply_drops(out, counts)
    missing_token = out["token"].isna()
    counts.miss("whitespace or no token", int(missing_token.sum()))
    out = _check_duplicate_order(out, ["participant", "trial", "run"], path, counts, on_error)
    # fixation_order_number runs backwards in time in some runs: order = chronological rank
    out["order_number"] = out["order"]
    key = out["start_time"].where(out["start_time"].notna(), out["order"])
    if out["start_time"].notna().all():
        out["order"] = key.groupby(out["run"]).rank(method="first").astype("int64")
    return _finish(out, counts, path)


# ----------------------------------------------------------------------------- EyeLink

_EYELINK_REQUIRED = ("RECORDING_SESSION_LABEL", "TRIAL_INDEX", "CURRENT_FIX_INDEX", "CURRENT_FIX_DURATION",
                     "CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_INTEREST_AREA_ID", "code_snippet_id")


@dataclass(frozen=True)
class InterestArea:
    """One ``RECTANGLE`` of an EyeLink ``.ias`` file and the code characters it covers."""

    id: int
    left: float
    top: float
    right: float
    bottom: float
    label: str
    char_start: int | None = None
    char_end: int | None = None
    line: int | None = None
    col: int | None = None


def read_interest_areas(path: Path, code: str | None = None) -> dict[int, InterestArea]:
    """Parse an EyeLink ``.ias`` file; with ``code``, place each area on its characters.

    The rectangles' labels are the code's text in reading order with whitespace split
    differently (``__init__(self,`` may be ``__init__`` + ``(self,``), so each label is
    matched to the next non-whitespace characters of ``code``. A label that does not match
    is a GazelmInputError naming the .ias row.
    """
    areas: dict[int, InterestArea] = {}
    text = _open_text(path)
    pos = 0
    line_starts = [0] + [i + 1 for i, ch in enumerate(code or "") if ch == "\n"]
    from bisect import bisect_right

    for rowno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) < 6 or parts[0] not in ("RECTANGLE", "ELLIPSE", "FREEHAND"):
            raise GazelmInputError(f"not an interest-area row: {raw[:60]!r}", path=path, row=rowno, field="shape")
        try:
            ia_id = int(parts[1])
            left, top, right, bottom = (float(v) for v in parts[2:6])
        except ValueError as exc:
            raise GazelmInputError(f"bad number: {exc}", path=path, row=rowno, field="rectangle") from exc
        label = parts[6] if len(parts) > 6 else ""
        start = end = line = col = None
        if code is not None:
            chars = [c for c in label if not c.isspace()]
            k = 0
            while chars and pos < len(code):
                if code[pos].isspace():
                    pos += 1
                    continue
                if code[pos] != chars[k]:
                    raise GazelmInputError(f"label {label!r} does not match the code at character {pos} "
                                           f"({code[pos:pos + 20]!r})", path=path, row=rowno, field="label")
                if k == 0:
                    start = pos
                k += 1
                pos += 1
                if k == len(chars):
                    end = pos
                    break
            if start is not None:
                li = bisect_right(line_starts, start) - 1
                line, col = li + 1, start - line_starts[li] + 1
        areas[ia_id] = InterestArea(ia_id, left, top, right, bottom, label, start, end, line, col)
    return areas


def _snippet_candidates(snippet: str) -> list[str]:
    """``10-117-V1`` ↔ ``IA-10-177-V1``: the data set's README documents this id typo."""
    names = [snippet]
    if snippet.startswith("10-117-"):
        names.append("10-177-" + snippet[len("10-117-"):])
    return names


@dataclass
class _Stimuli:
    ias_dir: Path | None
    code_dir: Path | None
    cache: dict[str, tuple[dict[int, InterestArea] | None, str | None]] = field(default_factory=dict)

    def get(self, snippet: str) -> tuple[dict[int, InterestArea] | None, str | None]:
        if snippet in self.cache:
            return self.cache[snippet]
        areas = code = None
        for name in _snippet_candidates(snippet):
            ias = self.ias_dir / f"IA-{name}.ias" if self.ias_dir else None
            if ias is None or not ias.exists():
                continue
            code_path = self.code_dir / f"{name}.py" if self.code_dir else None
            code = code_path.read_text(encoding="utf-8") if code_path and code_path.exists() else None
            areas = read_interest_areas(ias, code)
            break
        self.cache[snippet] = (areas, code)
        return areas, code


def _default_code_dir(ias_dir: Path | None) -> Path | None:
    if ias_dir is None:
        return None
    candidate = ias_dir.parent / "code_snippets" / "original_naming"
    return candidate if candidate.is_dir() else None


@FORMATS.register("eyelink", pattern="*.txt*")
def read_eyelink(path: Path, *, interest_areas: str | Path | None = None, code_snippets: str | Path | None = None,
                 on_error: str = "raise", _stimuli: _Stimuli | None = None) -> pd.DataFrame:
    """One EyeLink fixation report (tab-separated, either column layout).

    ``interest_areas``: folder of ``IA-<snippet>.ias`` files; ``code_snippets``: folder of
    ``<snippet>.py`` (default: ``<interest_areas>/../code_snippets/original_naming``).
    ``CURRENT_FIX_INTEREST_AREA_ID`` is resolved to its rectangle's label (``token``), and
    with the code to its characters, line and column; ``char`` estimates the character
    under the eye from the fixation's x inside the rectangle. Fixations outside every area
    (id ``.``), on snippets without an ``.ias``, or read without ``interest_areas`` are
    kept with no token and counted by reason.
    """
    df = _read_table(path, "\t")
    counts = ReadCounts(read=len(df))
    _require(df, _EYELINK_REQUIRED, path)
    df.attrs["bad"] = {}
    order = _numeric(df, "CURRENT_FIX_INDEX", path, counts, on_error, row_base=2, integer=True)
    trial = _numeric(df, "TRIAL_INDEX", path, counts, on_error, row_base=2, integer=True)
    duration = _numeric(df, "CURRENT_FIX_DURATION", path, counts, on_error, row_base=2, nonnegative=True)
    x = _numeric(df, "CURRENT_FIX_X", path, counts, on_error, row_base=2, allow_missing=(".", ""))
    y = _numeric(df, "CURRENT_FIX_Y", path, counts, on_error, row_base=2, allow_missing=(".", ""))
    ia = _numeric(df, "CURRENT_FIX_INTEREST_AREA_ID", path, counts, on_error, row_base=2,
                  allow_missing=(".", ""), integer=True)
    stem = path.name.split(".txt")[0]
    session = stem.split(" ", 1)[1] if " " in stem else "1"
    out = pd.DataFrame({
        "participant": df["RECORDING_SESSION_LABEL"], "stimulus": df["code_snippet_id"],
        "trial": trial.map(lambda v: "" if pd.isna(v) else str(int(v))), "order": order,
        "duration_ms": duration, "line": None, "col": None, "token": None, "x": x, "y": y,
        "aoi": ia.map(lambda v: None if pd.isna(v) else str(int(v))),
        "session": session, "source_file": str(path), "source_row": df.index + 2,
    }, index=df.index)
    out.attrs["bad"] = df.attrs["bad"]
    out = _apply_drops(out, counts)
    out = _check_duplicate_order(out, ["participant", "session", "trial"], path, counts, on_error)
    ias_dir = Path(interest_areas) if interest_areas else None
    stimuli = _stimuli or _Stimuli(ias_dir, Path(code_snippets) if code_snippets else _default_code_dir(ias_dir))
    tokens, lines, cols, starts, ends, chars = [], [], [], [], [], []
    for snippet, aoi, xv, row in zip(out["stimulus"], out["aoi"], out["x"], out["source_row"]):
        t = li = co = s = e = c = None
        if aoi is None or pd.isna(aoi):
            aoi = None
            counts.miss("outside every interest area")
        elif ias_dir is None:
            counts.miss("no interest_areas folder given")
        else:
            areas, code = stimuli.get(snippet)
            if areas is None:
                counts.miss("no .ias for snippet")
            elif int(aoi) not in areas:
                if on_error == "raise":
                    raise GazelmInputError(f"interest area {aoi} is not in the .ias of {snippet!r}", path=path,
                                           row=int(row), field="CURRENT_FIX_INTEREST_AREA_ID")
                counts.miss("interest area id not in .ias")
            else:
                a = areas[int(aoi)]
                t, li, co, s, e = a.label, a.line, a.col, a.char_start, a.char_end
                if s is not None and e is not None:
                    width = max(a.right - a.left, 1e-9)
                    frac = 0.5 if pd.isna(xv) else min(max((xv - a.left) / width, 0.0), 1.0 - 1e-9)
                    c = s + int(frac * (e - s))
        tokens.append(t); lines.append(li); cols.append(co); starts.append(s); ends.append(e); chars.append(c)
    out["token"], out["line"], out["col"] = tokens, lines, cols
    out["char_start"] = pd.array(starts, dtype="Int64")
    out["char_end"] = pd.array(ends, dtype="Int64")
    out["char"] = pd.array(chars, dtype="Int64")
    return _finish(out, counts, path)


# ----------------------------------------------------------------------------- token scanpaths

@FORMATS.register("scanpath_json", pattern="*.json*")
def read_scanpath_json(path: Path, *, on_error: str = "raise") -> pd.DataFrame:
    """``{participant: {stimulus: [[token, duration_ms], ...]}}`` (scanpathpred-java).

    ``token.N`` marks the (N+1)-th occurrence of ``token`` in the code (the first is bare).
    """
    text = _open_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GazelmInputError(f"invalid JSON: {exc.msg}", path=path, row=exc.lineno, field=f"char {exc.colno}") from exc
    if not isinstance(data, dict):
        raise GazelmInputError("expected an object {participant: {stimulus: [[token, duration], ...]}}", path=path)
    rows: list[dict[str, Any]] = []
    counts = ReadCounts()
    for participant, stimuli in data.items():
        if not isinstance(stimuli, dict):
            raise GazelmInputError("expected {stimulus: scanpath}", path=path, field=str(participant))
        for stimulus, fixations in stimuli.items():
            where = f"{participant}/{stimulus}"
            for i, fx in enumerate(fixations):
                counts.read += 1
                ok = isinstance(fx, (list, tuple)) and len(fx) == 2 and isinstance(fx[0], str) \
                    and isinstance(fx[1], (int, float)) and not isinstance(fx[1], bool) and fx[1] >= 0
                if not ok:
                    if on_error == "raise":
                        raise GazelmInputError(f"expected [token, non-negative duration], got {fx!r}", path=path,
                                               row=i + 1, field=where)
                    counts.drop("malformed [token, duration]")
                    continue
                token, occurrence = split_repeat_suffix(fx[0], one_based=False)
                rows.append({"participant": str(participant), "stimulus": str(stimulus), "trial": "1",
                             "order": i + 1, "duration_ms": float(fx[1]), "token": token,
                             "occurrence": occurrence, "raw_token": fx[0], "source_file": str(path),
                             "source_row": i + 1})
    df = pd.DataFrame(rows, columns=["participant", "stimulus", "trial", "order", "duration_ms", "token",
                                     "occurrence", "raw_token", "source_file", "source_row"])
    return _finish(df, counts, path)


_CODEACT_TOKEN = re.compile(r"(.+?\.\d+)(?:_|$)")


@FORMATS.register("codeactr", pattern="*.csv")
def read_codeactr(path: Path, *, on_error: str = "raise") -> pd.DataFrame:
    """CodeACT-R scanpaths: CSV ``pid,stimuli,scanpath``, tokens ``token.N`` joined by ``_``.

    ``.N`` counts occurrences from 1; no durations (NaN). Each token of each scanpath is
    one fixation (consecutive duplicates were removed upstream).
    """
    df = _read_table(path, ",")
    _require(df, ("pid", "stimuli", "scanpath"), path)
    rows: list[dict[str, Any]] = []
    counts = ReadCounts()
    for i, r in df.iterrows():
        path_text = r["scanpath"]
        parts = _CODEACT_TOKEN.findall(path_text)
        if "".join(p + "_" for p in parts).rstrip("_") != path_text:
            if on_error == "raise":
                raise GazelmInputError("scanpath is not a sequence of token.N joined by '_'", path=path,
                                       row=int(i) + 2, field="scanpath")
            counts.read += 1
            counts.drop("malformed scanpath")
            continue
        for k, raw in enumerate(parts):
            counts.read += 1
            token, occurrence = split_repeat_suffix(raw, one_based=True)
            rows.append({"participant": r["pid"], "stimulus": r["stimuli"], "trial": str(int(i) + 1),
                         "order": k + 1, "duration_ms": np.nan, "token": token, "occurrence": occurrence,
                         "raw_token": raw, "source_file": str(path), "source_row": int(i) + 2})
    out = pd.DataFrame(rows, columns=["participant", "stimulus", "trial", "order", "duration_ms", "token",
                                      "occurrence", "raw_token", "source_file", "source_row"])
    return _finish(out, counts, path)


# ----------------------------------------------------------------------------- EyeMulator rows

_EYEMULATOR_FIELDS = ("code_tokens", "line_numbers", "mask", "ngrams")


@FORMATS.register("eyemulator", pattern="*.jsonl")
def read_eyemulator(path: Path, *, on_error: str = "raise") -> pd.DataFrame:
    """EyeMulator JSONL rows: one pseudo-fixation per token with ``mask == 1``.

    ``participant`` is ``pseudo`` (the masks were drawn from priors, not measured),
    ``stimulus`` the row's ``code_content_hash``, ``trial`` its line number, ``order`` the
    position along the mask, ``label`` the ``ngrams`` field, ``token_index`` the token's
    position in ``code_tokens``.
    """
    rows: list[dict[str, Any]] = []
    counts = ReadCounts()
    for lineno, raw in enumerate(_open_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            if on_error == "raise":
                raise GazelmInputError(f"invalid JSON: {exc.msg}", path=path, row=lineno) from exc
            counts.read += 1
            counts.drop("invalid JSON row")
            continue
        n = None
        for f in _EYEMULATOR_FIELDS:
            if not isinstance(row.get(f), list):
                raise GazelmInputError("missing or not a list", path=path, row=lineno, field=f)
            if n is None:
                n = len(row[f])
            elif len(row[f]) != n:
                raise GazelmInputError(f"has {len(row[f])} values for {n} code_tokens", path=path, row=lineno, field=f)
        stimulus = str(row.get("code_content_hash", lineno))
        k = 0
        for j, m in enumerate(row["mask"]):
            if m not in (0, 1):
                raise GazelmInputError(f"mask value {m!r} is not 0/1", path=path, row=lineno, field="mask")
            if m != 1:
                continue
            k += 1
            counts.read += 1
            rows.append({"participant": "pseudo", "stimulus": stimulus, "trial": str(lineno), "order": k,
                         "duration_ms": np.nan, "line": row["line_numbers"][j], "token": row["code_tokens"][j],
                         "label": row["ngrams"][j], "token_index": j, "source_file": str(path),
                         "source_row": lineno})
    df = pd.DataFrame(rows, columns=["participant", "stimulus", "trial", "order", "duration_ms", "line", "token",
                                     "label", "token_index", "source_file", "source_row"])
    return _finish(df, counts, path)


# ----------------------------------------------------------------------------- entry point

def read_fixations(path: str | Path, format: str, **options: Any) -> pd.DataFrame:
    """Read a fixation file, or every file of that format under a folder, into one table.

    ``format``: one of ``itrace``, ``eyelink``, ``scanpath_json``, ``codeactr``,
    ``eyemulator``; ``options`` go to the reader (``on_error="raise"|"drop"``, EyeLink's
    ``interest_areas``/``code_snippets``). ``attrs["counts"]`` sums the per-file counts,
    ``attrs["files"]`` lists them.
    """
    if format not in FORMATS:
        raise GazelmInputError(f"unknown fixation format {format!r}; known: {', '.join(FORMATS.names())}",
                               path=path, field="format")
    on_error = options.get("on_error", "raise")
    if on_error not in ("raise", "drop"):
        raise GazelmInputError(f"on_error must be 'raise' or 'drop', not {on_error!r}", field="on_error")
    reader = FORMATS.get(format)
    import inspect

    accepted = set(inspect.signature(reader).parameters) - {"path"}
    for name in options:
        if name not in accepted:
            raise GazelmInputError(f"format {format!r} takes no option {name!r} (options: "
                                   f"{', '.join(sorted(a for a in accepted if not a.startswith('_')))})", field=name)
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob(FORMATS.meta(format)["pattern"]) if p.is_file())
        if not files:
            raise GazelmInputError(f"no {format} files ({FORMATS.meta(format)['pattern']}) in folder", path=path)
    elif path.is_file():
        files = [path]
    else:
        raise GazelmInputError("no such file or folder", path=path)
    if format == "eyelink" and "_stimuli" not in options:
        ias = options.get("interest_areas")
        code = options.get("code_snippets")
        options = dict(options, _stimuli=_Stimuli(Path(ias) if ias else None,
                                                  Path(code) if code else _default_code_dir(Path(ias) if ias else None)))
    tables, per_file, total = [], [], ReadCounts()
    for f in files:
        table = reader(f, **options)
        c = table.attrs["counts"]
        per_file.append({"file": str(f), **c})
        total.add(ReadCounts(c["read"], c["mapped"], c["unmapped"], dict(c["dropped"]), dict(c["unmapped_reasons"])))
        table.attrs = {}
        tables.append(table)
    out = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    out.attrs = {"counts": total.as_dict(), "files": per_file, "format": format}
    return out
