"""The canonical fixations table and the tools every format uses to build it.

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
(estimated character the eye was on), ``session``, ``run``, ``source_file``,
``source_row`` (the line of the file the fixation came from).

A format reads one file with a :class:`ReadLog`, which applies the ``on_error`` policy:
a bad row raises :class:`~gazelm.errors.GazelmInputError` naming the file, row and field
(``raise``) or is dropped and counted by reason (``drop``). Problems with the file as a
whole (not text, truncated, a missing column, not the expected JSON shape) always raise.
:func:`finish_table` then checks that every fixation is accounted for
(``read == mapped + unmapped + sum(dropped)``) and gives the columns their canonical order
and types.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.textfiles import read_text as open_text  # noqa: F401 - the gaze readers' name for it

COLUMNS: tuple[str, ...] = ("participant", "stimulus", "trial", "order", "duration_ms", "line", "col",
                            "token", "x", "y", "aoi")
ON_ERROR = ("raise", "drop")


@dataclass
class ReadCounts:
    """How many fixations a reader saw and what became of them (nothing silently lost)."""

    read: int = 0
    mapped: int = 0
    unmapped: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unmapped_reasons: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + n

    def miss(self, reason: str, n: int = 1) -> None:
        if n:
            self.unmapped_reasons[reason] = self.unmapped_reasons.get(reason, 0) + n

    def add(self, other: "ReadCounts | dict[str, Any]") -> None:
        if isinstance(other, dict):
            other = ReadCounts(other["read"], other["mapped"], other["unmapped"], dict(other["dropped"]),
                               dict(other["unmapped_reasons"]))
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


class ReadLog:
    """One file being read: its counts and the ``on_error`` policy for its bad rows.

    ``reject`` is the one place a bad row goes: it raises (``on_error="raise"``) or counts
    the row as dropped for ``reason``. Table formats mark rows by frame index
    (``index=``) and remove them with :meth:`drop_marked`; record-by-record formats simply
    skip the record after ``reject`` returns.
    """

    def __init__(self, path: Path, on_error: str = "raise"):
        if on_error not in ON_ERROR:
            raise GazelmInputError(f"on_error must be 'raise' or 'drop', not {on_error!r}", field="on_error")
        self.path, self.on_error = Path(path), on_error
        self.counts = ReadCounts()
        self._marked: dict[Any, str] = {}

    def seen(self, n: int = 1) -> None:
        """``n`` more fixations (or unreadable records, which count as one) were read."""
        self.counts.read += n

    def miss(self, reason: str, n: int = 1) -> None:
        """``n`` fixations are kept but reach no token, for ``reason``."""
        self.counts.miss(reason, n)

    def reject(self, message: str, *, row: int | None, field: str | None, reason: str,
               index: Any = None) -> None:
        if self.on_error == "raise":
            raise GazelmInputError(message, path=self.path, row=row, field=field)
        if index is None:
            self.counts.drop(reason)
        else:
            self._marked.setdefault(index, reason)

    def number(self, df: pd.DataFrame, col: str, *, allow_missing: tuple[str, ...] = (),
               nonnegative: bool = False, integer: bool = False) -> pd.Series:
        """``df[col]`` (strings) as finite numbers; a bad row is rejected naming its line.

        ``allow_missing``: cell texts that mean "no value" (NaN, not an error). ``inf``,
        ``1e400`` and ``Infinity`` are rejected like any other non-number. ``df`` must
        have the ``source_row`` column :func:`read_table` gives.
        """
        raw = df[col].astype(str).str.strip()
        missing = raw.isin(allow_missing).to_numpy()
        numbers = pd.to_numeric(raw.where(~missing), errors="coerce")  # int64 where every value is an integer
        values = numbers.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        problem = np.full(len(df), None, dtype=object)
        checks = [("non-numeric", ~missing & np.isnan(values)), ("non-finite", ~missing & ~np.isnan(values) & ~finite)]
        if nonnegative:
            checks.append(("negative", finite & (values < 0)))
        if integer:
            checks.append(("non-integer", finite & (values != np.round(values))))
            checks.append(("out-of-range", finite & (np.abs(values) > 2.0 ** 53)))
        for what, mask in reversed(checks):
            problem[mask] = what
        for i in np.flatnonzero(problem != None):  # noqa: E711 (elementwise)
            self.reject(f"{problem[i]} value {raw.iloc[i]!r:.60}", row=int(df["source_row"].iloc[i]), field=col,
                        reason=f"{problem[i]} {col}", index=df.index[i])
        return numbers.where(pd.Series(finite, index=df.index))

    def drop_marked(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` without the rows marked by :meth:`reject` (each counted once, by reason)."""
        marked = [i for i in self._marked if i in df.index]
        for i in marked:
            self.counts.drop(self._marked.pop(i))
        return df.drop(index=marked) if marked else df


# ----------------------------------------------------------------------------- files

def read_table(path: Path, sep: str, log: ReadLog, *, quoted: bool = True) -> pd.DataFrame:
    """A delimited text file as a frame of strings, plus ``source_row`` (its line number).

    ``quoted``: fields may be quoted with ``"`` (CSV); ``False`` for formats that never
    quote (a ``"`` is then an ordinary character).

    Every row must have as many fields as the header: a row with fewer (a file cut
    mid-row, a lost separator) or more is rejected through ``log`` (and counted as read);
    the caller counts the rows it gets (``log.seen``). Blank lines are skipped. A last
    line without a newline that ends in a separator was cut after it.
    """
    text = open_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep,
                        quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise GazelmInputError("empty file (no header line)", path=path, row=1)
        rows: list[list[str]] = []
        lines: list[int] = []
        end = reader.line_num
        for rec in reader:
            line, end = end + 1, reader.line_num  # a quoted field may span lines: its first
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue
            if len(rec) != len(header):
                log.seen()
                short = len(rec) < len(header)  # named: the first missing field, or the header's last
                log.reject(f"row has {len(rec)} fields, the header {len(header)}"
                           + (" (file cut mid-row?)" if short else ""), row=line,
                           field=header[len(rec)] if short else header[-1], reason="wrong number of fields")
                continue
            rows.append(rec)
            lines.append(line)
    except csv.Error as exc:
        raise GazelmInputError(f"malformed table: {exc}", path=path, row=reader.line_num) from exc
    if lines and not text.endswith(("\n", "\r")) and text.rstrip("\r\n").endswith(sep):
        log.seen()
        log.reject("the last row ends in a separator without a newline (file cut mid-row?)", row=lines[-1],
                   field=header[-1], reason="wrong number of fields")
        rows, lines = rows[:-1], lines[:-1]
    df = pd.DataFrame(rows, columns=_unique_names(header, path), dtype=object)
    df["source_row"] = np.asarray(lines, dtype=np.int64)
    return df


def _unique_names(header: list[str], path: Path) -> list[str]:
    seen: set[str] = set()
    for i, name in enumerate(header):
        if name in seen and name:
            raise GazelmInputError(f"column {name!r} appears twice in the header", path=path, row=1, field=name)
        seen.add(name or f"_unnamed_{i}")
    return [name or f"_unnamed_{i}" for i, name in enumerate(header)]


def require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    for col in columns:
        if col not in df.columns:
            have = ", ".join(str(c) for c in df.columns if c != "source_row")
            raise GazelmInputError(f"missing column (have: {have})", path=path, row=1, field=col)


def check_duplicate_order(df: pd.DataFrame, keys: list[str], log: ReadLog) -> pd.DataFrame:
    """Reject every fixation whose ``order`` repeats an earlier one of its trial."""
    dup = df.duplicated(keys + ["order"], keep="first")
    for i in df.index[dup.to_numpy()]:
        r = df.loc[i]
        log.reject(f"duplicate fixation order {r['order']} in trial {r['trial']!r}", row=int(r["source_row"]),
                   field="order", reason="duplicate order number", index=i)
    return log.drop_marked(df)


def parse_json(text: str, path: Path, row: int | None = None) -> Any:
    """``json.loads`` with every failure as a GazelmInputError naming the file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GazelmInputError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path,
                               row=row if row is not None else exc.lineno) from None
    except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit number, nesting too deep
        raise GazelmInputError(f"invalid JSON: {type(exc).__name__}: {str(exc)[:80]}", path=path, row=row) from None


def is_number(value: Any) -> bool:
    """A finite JSON number (``true``/``false`` are not numbers; ``NaN``/``Infinity`` not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def finish_table(df: pd.DataFrame, counts: ReadCounts, path: Path) -> pd.DataFrame:
    """Canonical column order and types; ``attrs['counts']``; every fixation accounted for."""
    df = df.copy()
    df.attrs = {}
    if "token" not in df.columns:
        df["token"] = None
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
