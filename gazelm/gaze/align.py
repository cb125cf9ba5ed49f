"""Fixations → code tokens: per-trial dwell, fixation counts and token scanpaths.

A *trial* is one participant looking at one stimulus once (``participant``, ``stimulus``,
``trial`` plus ``session``/``run`` where the reader gives them). Fixations are matched to
the stimulus' tokens by one of:

* ``char``: the character under the eye (EyeLink: interest-area rectangle + x position);
  the token containing it, else the token of the interest area nearest to it;
* ``linecol``: the token on ``line`` whose columns contain ``col``;
* ``occurrence``: ``token`` text + ``occurrence`` (k-th token with that text);
* ``aoi``: the token whose identity is the fixation's ``aoi`` (iTrace, whose code is not
  available: tokens are rebuilt from the records with :func:`tokens_from_aoi`).
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from gazelm.code.tokens import CodeToken

TRIAL_KEYS: tuple[str, ...] = ("participant", "stimulus", "session", "trial", "run")


@dataclass
class TrialGaze:
    """One participant × stimulus trial aligned to the stimulus' code tokens.

    ``dwell[i]`` (ms) and ``count[i]``: total duration / number of fixations on token i;
    ``scanpath``: token index of every mapped fixation in time order.
    """

    participant: str
    stimulus: str
    trial: str
    tokens: Sequence[CodeToken]
    dwell: np.ndarray
    count: np.ndarray
    scanpath: list[int] = field(default_factory=list)
    unmapped: int = 0
    condition: str | None = None

    @property
    def labels(self) -> list[str | None]:
        return [t.label for t in self.tokens]

    def fixated(self) -> np.ndarray:
        return self.count > 0

    def visits(self) -> list[int]:
        """Scanpath with consecutive fixations on the same token merged (one visit each)."""
        out: list[int] = []
        for i in self.scanpath:
            if not out or out[-1] != i:
                out.append(i)
        return out

    def label_sequence(self, *, merge_repeats: bool = True) -> list[str]:
        """Semantic labels along the scanpath, unlabelled tokens skipped."""
        path = self.visits() if merge_repeats else self.scanpath
        return [self.tokens[i].label for i in path if self.tokens[i].label is not None]

    def attention(self) -> np.ndarray:
        """Dwell normalised to sum 1 (fixation counts where durations are unknown)."""
        values = self.dwell if self.dwell.sum() > 0 else self.count.astype(float)
        total = values.sum()
        return values / total if total > 0 else values.astype(float)


def _without_attrs(df: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy without ``attrs`` (pandas deep-copies attrs on every operation)."""
    df = df.copy(deep=False)
    df.attrs = {}
    return df


def match_char(tokens: Sequence[CodeToken], char: int, lo: int | None = None, hi: int | None = None,
               starts: Sequence[int] | None = None) -> int | None:
    """Index of the token containing character ``char``; else the nearest token inside
    ``[lo, hi)`` (the interest area), else ``None``. ``starts``: the tokens' start offsets
    (pass them when matching many fixations)."""
    if starts is None:
        starts = [t.start for t in tokens]
    i = bisect_right(starts, char) - 1
    if i >= 0 and tokens[i].start <= char < tokens[i].end:
        return i
    if lo is None or hi is None:
        return None
    best, dist = None, None
    j = max(bisect_right(starts, lo) - 1, 0)
    while j < len(tokens) and tokens[j].start < hi:
        t = tokens[j]
        if t.end > lo:
            d = 0 if t.start <= char < t.end else min(abs(char - t.start), abs(char - (t.end - 1)))
            if dist is None or d < dist:
                best, dist = j, d
        j += 1
    return best


def match_linecol(tokens: Sequence[CodeToken], line: int, col: int) -> int | None:
    """Index of the token on ``line`` (1-based) whose columns contain ``col`` (1-based)."""
    for i, t in enumerate(tokens):
        if t.line == line and t.col <= col < t.col + len(t.text):
            return i
    return None


def match_occurrence(tokens: Sequence[CodeToken], text: str, occurrence: int) -> int | None:
    """Index of the ``occurrence``-th (0-based) token whose text is ``text``."""
    k = 0
    for i, t in enumerate(tokens):
        if t.text == text:
            if k == occurrence:
                return i
            k += 1
    return None


def tokens_from_aoi(fixations: pd.DataFrame) -> dict[str, list[CodeToken]]:
    """Per stimulus, the tokens seen in the records (iTrace: every distinct ``aoi``).

    Their text, line, col and label come from the records; the character span is unknown
    (``start = end = -1``). Sorted by position; this is the token inventory that
    :func:`fit_label_priors` counts ``n`` over when the code itself is not available.
    """
    out: dict[str, list[CodeToken]] = {}
    fixations = _without_attrs(fixations)
    seen = fixations[fixations["aoi"].notna()]
    cols = ["stimulus", "aoi", "token", "label"]
    extra = [c for c in ("token_line", "token_col") if c in seen.columns]
    first = seen.drop_duplicates(["stimulus", "aoi"])[cols + extra]
    for stimulus, group in first.groupby("stimulus", sort=True):
        toks = []
        for r in group.itertuples(index=False):
            line = int(getattr(r, "token_line", 0) or 0)
            col = int(getattr(r, "token_col", 0) or 0)
            label = r.label if isinstance(r.label, str) else None
            toks.append(CodeToken(str(r.token), -1, -1, line, col, label, kind=str(r.aoi)))
        toks.sort(key=lambda t: (t.line, t.col, t.kind))
        out[str(stimulus)] = toks
    return out


def _by_char(toks: Sequence[CodeToken]) -> Callable[[tuple], int | None]:
    starts = [t.start for t in toks]

    def match(r) -> int | None:
        c = getattr(r, "char", None)
        if c is None or pd.isna(c):
            return None
        return match_char(toks, int(c), int(r.char_start), int(r.char_end), starts)

    return match


def _by_linecol(toks: Sequence[CodeToken]) -> Callable[[tuple], int | None]:
    return lambda r: None if pd.isna(r.line) or pd.isna(r.col) else match_linecol(toks, int(r.line), int(r.col))


def _by_occurrence(toks: Sequence[CodeToken]) -> Callable[[tuple], int | None]:
    return lambda r: (match_occurrence(toks, r.token, int(getattr(r, "occurrence", 0) or 0))
                      if isinstance(r.token, str) else None)


def _by_aoi(toks: Sequence[CodeToken]) -> Callable[[tuple], int | None]:
    index = {t.kind: i for i, t in enumerate(toks)}
    return lambda r: index.get(r.aoi) if isinstance(r.aoi, str) else None


#: alignment method → (a stimulus' tokens → (fixation row → token index or None))
ALIGNMENTS: dict[str, Callable[[Sequence[CodeToken]], Callable[[tuple], int | None]]] = {
    "char": _by_char, "linecol": _by_linecol, "occurrence": _by_occurrence, "aoi": _by_aoi}


def align_fixations(fixations: pd.DataFrame, tokens: Mapping[str, Sequence[CodeToken]] |
                    Callable[[str], Sequence[CodeToken] | None], *, method: str = "char",
                    condition: Callable[[tuple], str | None] | None = None,
                    keys: Sequence[str] | None = None) -> list[TrialGaze]:
    """Group fixations into trials and match each to a token of its stimulus.

    ``tokens``: stimulus → tokens (a mapping or a function; ``None``/missing → the trial
    is skipped). ``method``: one of :data:`ALIGNMENTS` (``char``, ``linecol``,
    ``occurrence``, ``aoi``; see the module docstring). ``keys``: the columns that identify a trial (a format's
    ``trial_keys``; default: those of :data:`TRIAL_KEYS` the table has); ``stimulus``
    is always one. Unmatched fixations are counted in ``TrialGaze.unmapped``.
    """
    if method not in ALIGNMENTS:
        raise ValueError(f"unknown alignment method {method!r}; known: {', '.join(ALIGNMENTS)}")
    fixations = _without_attrs(fixations)
    get = tokens.get if isinstance(tokens, Mapping) else tokens
    keys = [k for k in (keys or TRIAL_KEYS) if k in fixations.columns]
    for k in ("stimulus", "participant"):  # every trial has both, whatever else identifies it
        if k not in keys:
            keys.insert(0, k)
    out: list[TrialGaze] = []
    for key, group in fixations.sort_values(keys + ["order"]).groupby(keys, sort=True):
        rec = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        toks = get(str(rec["stimulus"]))
        if not toks:
            continue
        match = ALIGNMENTS[method](toks)
        dwell = np.zeros(len(toks))
        count = np.zeros(len(toks), dtype=int)
        path: list[int] = []
        unmapped = 0
        for r in group.itertuples(index=False):
            i = match(r)
            if i is None:
                unmapped += 1
                continue
            d = r.duration_ms
            dwell[i] += 0.0 if pd.isna(d) else float(d)
            count[i] += 1
            path.append(i)
        trial = "/".join(str(rec[k]) for k in keys if k not in ("participant", "stimulus"))
        out.append(TrialGaze(str(rec["participant"]), str(rec["stimulus"]), trial, list(toks), dwell, count,
                             path, unmapped, condition(key) if condition else None))
    return out


def dwell_table(trials: Iterable[TrialGaze]) -> pd.DataFrame:
    """Long table: one row per trial × token with dwell_ms, fixations, label."""
    rows = []
    for t in trials:
        for i, tok in enumerate(t.tokens):
            rows.append((t.participant, t.stimulus, t.trial, i, tok.text, tok.line, tok.col, tok.label,
                         float(t.dwell[i]), int(t.count[i])))
    return pd.DataFrame(rows, columns=["participant", "stimulus", "trial", "token_index", "token", "line", "col",
                                       "label", "dwell_ms", "fixations"])
