"""Pseudo-scanpaths for any code from gaze priors (EyeMulator, Algorithm 1).

1. density ρ ~ Beta(α_agg, β_agg) (:meth:`GazePriors.aggregate`), attend m = ⌊ρ·n⌋ of the
   n labelled tokens (punctuation excluded);
2. per-label quotas q_s ∝ E[θ_s]·n_s (the expected number of fixated tokens of label s),
   rescaled to sum to m (largest remainders) and capped at n_s;
3. greedy matching of the priors' label n-grams, trigrams first, then bigrams, then
   unigrams: a window of consecutive labelled tokens whose labels form an n-gram with a
   prior count, spanning at most ``line_span`` lines, is attended if every token in it is
   free and its labels still have quota; frequent n-grams go first (ties broken by the
   seeded RNG), unigrams fill the remaining quotas at random.

The result is deterministic for a seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from gazelm.code.tokens import CodeToken
from gazelm.gaze.priors import GazePriors


PUNCTUATION = frozenset("( ) { } [ ] ; , . : @ < >".split()) - {"<", ">"}
"""Tokens never attended: brackets and separators (EyeMulator's code tokens leave them out)."""


@dataclass(frozen=True)
class PseudoScanpath:
    """``mask[i]``: token i is attended; ``ngrams[i]``: the label n-gram it was attended as
    (``None`` if not attended); ``windows``: attended token windows in matching order."""

    mask: list[int]
    ngrams: list[tuple[str, ...] | None]
    windows: list[tuple[int, ...]]
    density: float


def _quotas(counts: dict[str, int], priors: GazePriors, m: int) -> dict[str, int]:
    expected = {s: priors.mean(s) * n for s, n in counts.items()}
    total = sum(expected.values())
    if total <= 0 or m <= 0:
        return {s: 0 for s in counts}
    raw = {s: m * e / total for s, e in expected.items()}
    q = {s: min(int(v), counts[s]) for s, v in raw.items()}
    left = min(m, sum(counts.values())) - sum(q.values())
    order = sorted(raw, key=lambda s: (-(raw[s] - int(raw[s])), -expected[s], s))
    while left > 0:  # largest remainders first; what capped labels cannot take goes round again
        for s in order:
            if left > 0 and q[s] < counts[s]:
                q[s] += 1
                left -= 1
    return q


def simulate_scanpath(tokens: Sequence[CodeToken], priors: GazePriors, *, seed: int = 0,
                      line_span: int = 3) -> PseudoScanpath:
    """Draw a pseudo-scanpath over ``tokens`` (see the module docstring)."""
    rng = random.Random(seed)
    n_tok = len(tokens)
    mask = [0] * n_tok
    grams: list[tuple[str, ...] | None] = [None] * n_tok
    labelled = [i for i, t in enumerate(tokens)
                if t.label is not None and t.text not in PUNCTUATION and priors.mean(t.label) > 0]
    if not labelled:
        return PseudoScanpath(mask, grams, [], 0.0)
    a, b = priors.aggregate()
    rho = rng.betavariate(a, b)
    m = int(rho * len(labelled))
    per_label: dict[str, int] = {}
    for i in labelled:
        per_label[tokens[i].label] = per_label.get(tokens[i].label, 0) + 1
    quota = _quotas(per_label, priors, m)
    windows: list[tuple[int, ...]] = []
    for n in (3, 2):
        cands = []
        for k in range(len(labelled) - n + 1):
            idx = tuple(labelled[k:k + n])
            if tokens[idx[-1]].line - tokens[idx[0]].line > line_span:
                continue
            gram = tuple(tokens[i].label for i in idx)
            c = priors.count(gram)
            if c > 0:
                cands.append((-c, rng.random(), idx, gram))
        cands.sort()
        for _, _, idx, gram in cands:
            if any(mask[i] for i in idx):
                continue
            need: dict[str, int] = {}
            for s in gram:
                need[s] = need.get(s, 0) + 1
            if any(quota.get(s, 0) < k for s, k in need.items()):
                continue
            for s, k in need.items():
                quota[s] -= k
            for i in idx:
                mask[i] = 1
                grams[i] = gram
            windows.append(idx)
    free: dict[str, list[int]] = {}
    for i in labelled:
        if not mask[i]:
            free.setdefault(tokens[i].label, []).append(i)
    for s in sorted(free):
        k = min(quota.get(s, 0), len(free[s]))
        for i in sorted(rng.sample(free[s], k)):
            mask[i] = 1
            grams[i] = (s,)
            windows.append((i,))
    return PseudoScanpath(mask, grams, windows, rho)
