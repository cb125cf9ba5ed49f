"""EyeMulator JSONL rows: one pseudo-fixation per code token with ``mask == 1``.

These masks were drawn from priors, not measured (``measured = False``): ``participant``
is ``pseudo``, ``stimulus`` the row's ``code_content_hash``, ``trial`` its line number,
``order`` the position along the mask, ``label`` the ``ngrams`` field, ``token_index`` the
token's position in ``code_tokens``. A row must be an object whose ``code_tokens`` (text),
``line_numbers`` (integers ≥ 0), ``mask`` (0/1) and ``ngrams`` (text or null) are lists of
one length; a row that is not is a bad row (counted as one). The code is in the row, but
the rows' tokens are not in text order, so the format gives no token inventory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.gaze.fixations import ReadLog, is_integer, open_text, parse_json
from gazelm.gaze.formats import FixationFormat, register_format

_COLUMNS = ["participant", "stimulus", "trial", "order", "duration_ms", "line", "token", "label", "token_index",
            "source_file", "source_row"]
_ELEMENTS = {  # field → (element check, what it must be)
    "code_tokens": (lambda v: isinstance(v, str), "text"),
    "line_numbers": (lambda v: is_integer(v) and v >= 0, "an integer ≥ 0"),
    "mask": (lambda v: is_integer(v) and v in (0, 1), "0 or 1"),
    "ngrams": (lambda v: v is None or isinstance(v, str), "text or null"),
}


def _check_row(row: Any) -> tuple[str, str | None] | None:
    """What is wrong with one parsed row, as (message, field); ``None`` if it is valid."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}", None
    n = None
    for name, (ok, what) in _ELEMENTS.items():
        values = row.get(name)
        if not isinstance(values, list):
            return f"missing or not a list ({type(values).__name__})", name
        if n is None:
            n = len(values)
        elif len(values) != n:
            return f"has {len(values)} values for {n} code_tokens", name
        bad = next((j for j, v in enumerate(values) if not ok(v)), None)
        if bad is not None:
            return f"value {values[bad]!r:.40} at position {bad} is not {what}", name
    return None


@register_format("eyemulator")
class EyeMulator(FixationFormat):
    pattern = "*.jsonl"
    trial_keys = ("stimulus", "trial")
    measured = False

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        rows: list[dict[str, Any]] = []
        for lineno, raw in enumerate(open_text(path).split("\n"), start=1):
            if not raw.strip():
                continue
            try:
                row = parse_json(raw, path, row=lineno)
            except GazelmInputError:
                if log.on_error == "raise":
                    raise
                log.seen()
                log.counts.drop("invalid JSON row")
                continue
            problem = _check_row(row)
            if problem is not None:
                log.seen()
                log.reject(problem[0], row=lineno, field=problem[1], reason="malformed row")
                continue
            stimulus = str(row.get("code_content_hash", lineno))
            attended = [j for j, m in enumerate(row["mask"]) if m == 1]
            log.seen(len(attended))
            for k, j in enumerate(attended, start=1):
                rows.append({"participant": "pseudo", "stimulus": stimulus, "trial": str(lineno), "order": k,
                             "duration_ms": np.nan, "line": row["line_numbers"][j], "token": row["code_tokens"][j],
                             "label": row["ngrams"][j], "token_index": j, "source_file": str(path),
                             "source_row": lineno})
        return pd.DataFrame(rows, columns=_COLUMNS)
