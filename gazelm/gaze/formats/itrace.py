"""iTrace fixation CSVs (``itrace-java``): ``P<id>_T<task>.<method>.csv[.gz]``.

``token`` empty or ``WHITESPACE`` → the fixation hit no token (kept, unmapped).
``label`` comes from ``syntactic_category`` (srcML path, :func:`label_from_srcml`); ``aoi``
is the span of the innermost srcML element in ``xpath`` (``L:C-L:C``). A file can hold
several recording runs (``fixation_run_id`` → ``run``), and ``fixation_order_number``
counts backwards in time in some of them, so ``order`` is the chronological rank by
``fixation_start_event_time`` within the run (the raw number is kept as ``order_number``
and must be unique within a run). A start time that is not a finite number is a bad row;
without that column, ``order`` is the order number.

The Java sources are not part of the data, so a stimulus' token inventory is rebuilt from
the records (every distinct srcML token any participant fixated,
:func:`gazelm.gaze.align.tokens_from_aoi`); only ``.java`` targets have one.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from gazelm.code.labels import label_from_srcml
from gazelm.gaze.fixations import ReadLog, check_duplicate_order, read_table, require_columns
from gazelm.gaze.formats import FixationFormat, register_format

REQUIRED = ("fixation_order_number", "duration", "source_file_line", "source_file_col", "token",
            "syntactic_category", "fixation_target")
_XPATH_POS = re.compile(r"@pos:start='(\d+):(\d+)' and @pos:end='(\d+):(\d+)'\]$")
_NAME = re.compile(r"^(P\d+)_(T[\w.]+?)(?:\.csv)?(?:\.gz)?$")
_srcml_label = lru_cache(maxsize=65536)(label_from_srcml)


def _ids(path: Path) -> tuple[str, str]:
    m = _NAME.match(path.name)
    if m:
        return m.group(1), m.group(2)
    return path.parent.name.split("-")[0] or "unknown", path.name.split(".csv")[0]


@register_format("itrace")
class Itrace(FixationFormat):
    pattern = "**/*.csv*"
    trial_keys = ("participant", "stimulus", "trial", "run")
    alignment = "aoi"

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        df = read_table(path, ",", log)
        require_columns(df, REQUIRED, path)
        log.seen(len(df))
        order = log.number(df, "fixation_order_number", integer=True, nonnegative=True)
        duration = log.number(df, "duration", nonnegative=True)
        line = log.number(df, "source_file_line", allow_missing=("",), integer=True, nonnegative=True)
        col = log.number(df, "source_file_col", allow_missing=("",), integer=True, nonnegative=True)
        x = log.number(df, "x", allow_missing=("",)) if "x" in df else np.nan
        y = log.number(df, "y", allow_missing=("",)) if "y" in df else np.nan
        has_time = "fixation_start_event_time" in df
        start_time = log.number(df, "fixation_start_event_time") if has_time else np.nan
        participant, trial = _ids(path)
        token = df["token"].where(~df["token"].isin(["", "WHITESPACE"]), None)
        xpath = df["xpath"] if "xpath" in df else pd.Series("", index=df.index)
        aoi = xpath.astype(str).str.extract(_XPATH_POS)
        aoi_text = (aoi[0] + ":" + aoi[1] + "-" + aoi[2] + ":" + aoi[3]).where(aoi[0].notna(), None)
        out = pd.DataFrame({
            "participant": participant, "stimulus": df["fixation_target"], "trial": trial,
            "order": order, "duration_ms": duration, "line": line, "col": col, "token": token,
            "x": x, "y": y, "aoi": aoi_text.where(token.notna(), None),
            "label": [_srcml_label(p) if pd.notna(t) else None for p, t in zip(df["syntactic_category"], token)],
            "syntactic_category": df["syntactic_category"],
            "token_line": pd.to_numeric(aoi[0]), "token_col": pd.to_numeric(aoi[1]),
            "token_end_line": pd.to_numeric(aoi[2]), "token_end_col": pd.to_numeric(aoi[3]),
            "source_file": str(path), "source_row": df["source_row"],
            "run": df["fixation_run_id"] if "fixation_run_id" in df else "", "start_time": start_time,
        }, index=df.index)
        out = check_duplicate_order(log.drop_marked(out), ["participant", "trial", "run"], log)
        log.miss("whitespace or no token", int(out["token"].isna().sum()))
        out["order_number"] = out["order"]
        if has_time:  # fixation_order_number runs backwards in time in some runs: chronological rank
            out["order"] = out["start_time"].groupby(out["run"]).rank(method="first").astype("int64")
        return out

    def tokens(self, fixations: pd.DataFrame) -> dict:
        from gazelm.gaze.align import tokens_from_aoi

        return tokens_from_aoi(fixations[fixations["stimulus"].str.endswith(".java")])
