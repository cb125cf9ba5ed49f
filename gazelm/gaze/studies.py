"""Real eye-tracking studies → aligned trials, priors and attention tables.

* iTrace Java (``itrace-java``): the Java sources are not part of the data, so each
  stimulus' token inventory is rebuilt from the records (every distinct srcML token any
  participant fixated, :func:`gazelm.gaze.align.tokens_from_aoi`) and labelled from its
  srcML path (:func:`gazelm.code.labels.label_from_srcml`). Only ``.java`` targets count.
* EyeLink Python (``eyelink-python``): tokens are the tree-sitter tokens of each snippet
  with an ``.ias``; fixations are placed on characters through the interest areas.

Both studies are reading tasks (comprehension / summarisation), so only *combined*
priors can be fitted from them (which equal *reading*); no writing condition exists.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from gazelm.code.tokens import label_tokens
from gazelm.gaze.align import TrialGaze, align_fixations, tokens_from_aoi
from gazelm.gaze.priors import GazePriors, fit_label_priors
from gazelm.gaze.readers import _default_code_dir, _Stimuli, read_fixations


def itrace_trials(path: str | Path, **options: Any) -> list[TrialGaze]:
    """Aligned trials of an iTrace folder or file (``.java`` targets only)."""
    fix = read_fixations(path, "itrace", **options)
    fix.attrs = {}
    fix = fix[fix["stimulus"].str.endswith(".java")]
    return align_fixations(fix, tokens_from_aoi(fix), method="aoi")


def eyelink_trials(path: str | Path, interest_areas: str | Path, code_snippets: str | Path | None = None,
                   **options: Any) -> list[TrialGaze]:
    """Aligned trials of EyeLink reports on snippets that have an ``.ias`` and code."""
    ias = Path(interest_areas)
    code_dir = Path(code_snippets) if code_snippets else _default_code_dir(ias)
    stimuli = _Stimuli(ias, code_dir)
    fix = read_fixations(path, "eyelink", interest_areas=ias, code_snippets=code_dir, _stimuli=stimuli, **options)
    fix.attrs = {}
    cache: dict[str, list] = {}

    def tokens(snippet: str):
        if snippet not in cache:
            areas, code = stimuli.get(snippet)
            cache[snippet] = label_tokens(code, "python") if areas is not None and code is not None else []
        return cache[snippet]

    return align_fixations(fix, tokens, method="char")


def fit_study_priors(fmt: str, path: str | Path, *, min_count: int = 5, **options: Any) -> GazePriors:
    """Fit combined priors from an ``itrace`` or ``eyelink`` study folder."""
    trials = itrace_trials(path, **options) if fmt == "itrace" else eyelink_trials(path, **options)
    return fit_label_priors(trials, min_count=min_count, meta={"format": fmt, "source_path": str(path)})


def attention_table(trials: list[TrialGaze], code_of: dict[str, str]) -> list[dict[str, Any]]:
    """Per stimulus: tree-sitter token spans and mean normalised dwell over its trials."""
    by_stim: dict[str, list[TrialGaze]] = {}
    for t in trials:
        if t.dwell.sum() > 0:
            by_stim.setdefault(t.stimulus, []).append(t)
    out = []
    for stim, ts in sorted(by_stim.items()):
        code = code_of.get(stim)
        if code is None:
            continue
        mean = np.mean([t.attention() for t in ts], axis=0)
        out.append({"stimulus": stim, "code_sha256": hashlib.sha256(code.encode("utf-8")).hexdigest(),
                    "trials": len(ts), "spans": [[tok.start, tok.end] for tok in ts[0].tokens],
                    "attention": [round(float(v), 6) for v in mean]})
    return out
