"""CodeACT-R scanpaths: CSV ``pid,stimuli,scanpath``, tokens ``token.N`` joined by ``_``.

``.N`` counts occurrences from 1; no durations (NaN). Each token of each scanpath is one
fixation (consecutive duplicates were removed upstream); each row is one trial (an empty
scanpath, as ``13_scan.csv`` has once, is a trial without fixations). A scanpath that is
not a sequence of ``token.N`` (N ≥ 1) is a bad row (counted as one).
The C++ stimuli are not part of the data, so the format gives no token inventory.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelm.gaze.fixations import ReadLog, read_table, require_columns, split_repeat_suffix
from gazelm.gaze.formats import FixationFormat, register_format

_TOKEN = re.compile(r"(.+?\.\d+)(?:_|$)")
_ZERO = re.compile(r"\.0+$")  # occurrences count from 1
_COLUMNS = ["participant", "stimulus", "trial", "order", "duration_ms", "token", "occurrence", "raw_token",
            "source_file", "source_row"]


@register_format("codeactr")
class CodeActR(FixationFormat):
    pattern = "*.csv"
    trial_keys = ("participant", "stimulus", "trial")

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        df = read_table(path, ",", log)
        require_columns(df, ("pid", "stimuli", "scanpath"), path)
        rows: list[dict[str, Any]] = []
        for pid, stimulus, text, line in zip(df["pid"], df["stimuli"], df["scanpath"], df["source_row"]):
            parts = _TOKEN.findall(text)
            if "_".join(parts) != text or any(_ZERO.search(p) for p in parts):
                log.seen()
                log.reject("scanpath is not a sequence of token.N joined by '_'", row=int(line), field="scanpath",
                           reason="malformed scanpath")
                continue
            log.seen(len(parts))
            for k, raw in enumerate(parts):
                token, occurrence = split_repeat_suffix(raw, one_based=True)
                rows.append({"participant": pid, "stimulus": stimulus, "trial": str(int(line) - 1), "order": k + 1,
                             "duration_ms": np.nan, "token": token, "occurrence": occurrence, "raw_token": raw,
                             "source_file": str(path), "source_row": int(line)})
        return pd.DataFrame(rows, columns=_COLUMNS)
