"""Eye-tracking studies → aligned trials and human attention tables, for any format.

A format declares how its fixations meet code tokens, how it groups trials and whether
its gaze was measured (:mod:`gazelm.gaze.formats`), so one function serves every study:

* iTrace Java: the Java sources are not part of the data, so each stimulus' tokens are
  rebuilt from the records (srcML positions and labels); only ``.java`` targets count.
* EyeLink Python: tokens are the tree-sitter tokens of each snippet with an ``.ias``;
  fixations are placed on characters through the interest areas.

Both studies are reading tasks (comprehension / summarisation), so only *combined*
priors can be fitted from them (which equal *reading*); no writing condition exists.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from gazelm.gaze.align import TrialGaze
from gazelm.gaze.formats import FixationFormat, open_format
from gazelm.gaze.readers import read_fixations


def study_trials(path: str | Path, format: str | FixationFormat, *, on_error: str = "raise",
                 **options: Any) -> list[TrialGaze]:
    """The aligned trials of a study folder or file (trials without code tokens are skipped)."""
    fmt = open_format(format, **options) if isinstance(format, str) else format
    fixations = read_fixations(path, fmt, on_error=on_error)
    fixations.attrs = {}
    return fmt.trials(fixations)


def attention_table(trials: list[TrialGaze], code_of: Mapping[str, str] | Callable[[str], str | None]
                    ) -> list[dict[str, Any]]:
    """Per stimulus with known code: token spans and mean normalised dwell over its trials."""
    get = code_of.get if isinstance(code_of, Mapping) else code_of
    by_stim: dict[str, list[TrialGaze]] = {}
    for t in trials:
        if t.dwell.sum() > 0:
            by_stim.setdefault(t.stimulus, []).append(t)
    out = []
    for stim, ts in sorted(by_stim.items()):
        code = get(stim)
        if code is None:
            continue
        mean = np.mean([t.attention() for t in ts], axis=0)
        out.append({"stimulus": stim, "code_sha256": hashlib.sha256(code.encode("utf-8")).hexdigest(),
                    "trials": len(ts), "spans": [[tok.start, tok.end] for tok in ts[0].tokens],
                    "attention": [round(float(v), 6) for v in mean]})
    return out
