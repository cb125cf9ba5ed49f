"""Eye-tracking files → one canonical fixations table (pandas): :func:`read_fixations`.

The formats are modules of :mod:`gazelm.gaze.formats` (one each); the table's columns and
the bad-row policy are described in :mod:`gazelm.gaze.fixations`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.gaze.fixations import COLUMNS, ReadCounts, ReadLog, finish_table, split_repeat_suffix
from gazelm.gaze.formats import FORMATS, FixationFormat, open_format
from gazelm.gaze.formats.eyelink import InterestArea, read_interest_areas


def format_files(path: Path, fmt: FixationFormat) -> list[Path]:
    """``path`` itself, or every file of the format (its ``pattern``) under the folder ``path``."""
    if path.is_dir():
        files = sorted(p for p in path.glob(fmt.pattern) if p.is_file())
        if not files:
            raise GazelmInputError(f"no {fmt.name} files ({fmt.pattern}) in folder", path=path)
        return files
    if path.is_file():
        return [path]
    raise GazelmInputError("no such file or folder", path=path)


def read_fixations(path: str | Path, format: str | FixationFormat, *, on_error: str = "raise",
                   **options: Any) -> pd.DataFrame:
    """Read a fixation file, or every file of that format under a folder, into one table.

    ``format``: a registered name (``itrace``, ``eyelink``, ``scanpath_json``, ``codeactr``,
    ``eyemulator``, or a plugin's) or a format object from
    :func:`~gazelm.gaze.formats.open_format`; ``options`` are the format's (EyeLink's
    ``interest_areas``/``code_snippets``). ``on_error="raise"`` stops at the first bad row
    naming file, row and field; ``"drop"`` drops bad rows and counts them by reason. Reading
    no fixation at all is an error, never an empty table.
    ``attrs["counts"]`` sums the per-file counts (``read == mapped + unmapped +
    sum(dropped)``), ``attrs["files"]`` lists them, ``attrs["format"]`` and
    ``attrs["trial_keys"]`` say what was read.
    """
    fmt = open_format(format, **options) if isinstance(format, str) else format
    if options and not isinstance(format, str):
        raise GazelmInputError("options go to open_format() when a format object is given", field="options")
    ReadLog(Path(path), on_error)  # checks on_error before any file is opened
    tables, per_file, total = [], [], ReadCounts()
    for f in format_files(Path(path), fmt):
        log = ReadLog(f, on_error)
        table = finish_table(fmt.read(f, log), log.counts, f)
        per_file.append({"file": str(f), **table.attrs["counts"]})
        total.add(log.counts)
        table.attrs = {}
        tables.append(table)
    if not any(len(t) for t in tables):
        dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(total.dropped.items()))
        raise GazelmInputError(f"no fixations in {len(tables)} {fmt.name} file(s) (read {total.read}"
                               + (f"; dropped: {dropped})" if dropped else ")"), path=path)
    out = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    out.attrs = {"counts": total.as_dict(), "files": per_file, "format": fmt.name,
                 "trial_keys": [k for k in fmt.trial_keys if k in out.columns]}
    return out


__all__ = ["COLUMNS", "FORMATS", "InterestArea", "read_fixations", "read_interest_areas", "split_repeat_suffix"]
