"""Token scanpaths as JSON (scanpathpred-java): ``{participant: {stimulus: [[token, duration_ms], ...]}}``.

``token.N`` marks the (N+1)-th occurrence of ``token`` in the code (the first is bare). Each
participant × stimulus is one trial. The code itself is not part of the data, so the
format gives no token inventory. A fixation that is not ``[text, finite duration ≥ 0]``
and a scanpath that is not a list are bad rows (a bad scanpath counts as one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.gaze.fixations import ReadLog, is_number, open_text, parse_json, split_repeat_suffix
from gazelm.gaze.formats import FixationFormat, register_format

_COLUMNS = ["participant", "stimulus", "trial", "order", "duration_ms", "token", "occurrence", "raw_token",
            "source_file", "source_row"]


@register_format("scanpath_json")
class ScanpathJson(FixationFormat):
    pattern = "*.json*"
    trial_keys = ("participant", "stimulus")

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        data = parse_json(open_text(path), path)
        if not isinstance(data, dict):
            raise GazelmInputError("expected an object {participant: {stimulus: [[token, duration], ...]}}, "
                                   f"got {type(data).__name__}", path=path)
        rows: list[dict[str, Any]] = []
        for participant, stimuli in data.items():
            if not isinstance(stimuli, dict):
                log.seen()
                log.reject(f"expected {{stimulus: scanpath}}, got {type(stimuli).__name__}", row=None,
                           field=str(participant), reason="participant entry is not an object")
                continue
            for stimulus, fixations in stimuli.items():
                where = f"{participant}/{stimulus}"
                if not isinstance(fixations, list):
                    log.seen()
                    log.reject(f"scanpath is not a list but {type(fixations).__name__}", row=None, field=where,
                               reason="scanpath is not a list")
                    continue
                for i, fx in enumerate(fixations):
                    log.seen()
                    if not (isinstance(fx, list) and len(fx) == 2 and isinstance(fx[0], str) and is_number(fx[1])
                            and fx[1] >= 0):
                        log.reject(f"expected [token, finite non-negative duration], got {fx!r:.80}", row=i + 1,
                                   field=where, reason="malformed [token, duration]")
                        continue
                    token, occurrence = split_repeat_suffix(fx[0], one_based=False)
                    rows.append({"participant": str(participant), "stimulus": str(stimulus), "trial": "1",
                                 "order": i + 1, "duration_ms": float(fx[1]), "token": token,
                                 "occurrence": occurrence, "raw_token": fx[0], "source_file": str(path),
                                 "source_row": i + 1})
        return pd.DataFrame(rows, columns=_COLUMNS)
