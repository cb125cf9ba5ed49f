"""Paired significance tests and effect sizes for comparing two systems.

* :func:`paired_bootstrap` — paired bootstrap over examples (Koehn 2004; Berg-Kirkpatrick
  et al. 2012): resample example indices with replacement, recompute the mean
  difference; two-sided p = min(1, 2·min(P(δ* ≤ 0), P(δ* ≥ 0))) with add-one
  smoothing ``(count + 1) / (B + 1)`` so p is never exactly 0.
* :func:`wilcoxon_signed_rank` — ``scipy.stats.wilcoxon`` over paired values (seeds,
  users), two-sided; exact distribution for small n as scipy chooses.
* :func:`cohens_dz` — paired effect size: mean(difference) / sd(difference, ddof=1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class BootstrapResult:
    """Observed mean difference (b − a), its two-sided p-value, and the 95% percentile interval."""

    delta: float
    p_value: float
    ci_low: float
    ci_high: float
    n: int
    samples: int


def paired_bootstrap(a: Sequence[float], b: Sequence[float], samples: int = 10_000,
                     seed: int = 0) -> BootstrapResult:
    """Paired bootstrap test of mean(b) − mean(a) over aligned per-example scores."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"paired_bootstrap needs two equal-length non-empty 1-D arrays, got {x.shape}, {y.shape}")
    diff = y - x
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(samples, diff.size))
    boot = diff[idx].mean(axis=1)
    below = (np.count_nonzero(boot <= 0) + 1) / (samples + 1)
    above = (np.count_nonzero(boot >= 0) + 1) / (samples + 1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return BootstrapResult(float(diff.mean()), float(min(1.0, 2 * min(below, above))), float(lo), float(hi),
                           int(diff.size), int(samples))


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired values; NaN when n < 2 or all equal."""
    from scipy.stats import wilcoxon

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"wilcoxon needs paired values, got {x.shape} and {y.shape}")
    if x.size < 2 or np.all(x == y):
        return math.nan
    return float(wilcoxon(y, x, alternative="two-sided").pvalue)


def cohens_dz(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d_z of paired values: mean(b − a) / sd(b − a); NaN when undefined."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if diff.size < 2:
        return math.nan
    sd = float(diff.std(ddof=1))
    if sd == 0:
        return math.nan if float(diff.mean()) == 0 else math.copysign(math.inf, float(diff.mean()))
    return float(diff.mean()) / sd
