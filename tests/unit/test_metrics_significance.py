"""Paired tests: bootstrap recomputed independently, Wilcoxon equals scipy, d_z by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gazelm.metrics.significance import cohens_dz, paired_bootstrap, wilcoxon_signed_rank


def test_paired_bootstrap_matches_an_independent_computation():
    a = np.array([0.1, 0.4, 0.35, 0.8, 0.5, 0.2, 0.9, 0.3])
    b = np.array([0.2, 0.35, 0.5, 0.85, 0.45, 0.3, 0.95, 0.25])
    res = paired_bootstrap(a, b, samples=2000, seed=3)
    d = b - a
    idx = np.random.default_rng(3).integers(0, d.size, size=(2000, d.size))
    boot = d[idx].mean(axis=1)
    p = 2 * min((np.sum(boot <= 0) + 1) / 2001, (np.sum(boot >= 0) + 1) / 2001)
    assert res.delta == pytest.approx(d.mean())
    assert res.p_value == pytest.approx(min(1.0, p))
    assert res.ci_low <= res.delta <= res.ci_high


def test_paired_bootstrap_all_better_gives_smallest_p():
    res = paired_bootstrap([0.0] * 5, [1.0] * 5, samples=999, seed=0)
    assert res.p_value == pytest.approx(2 / 1000)


def test_wilcoxon_equals_scipy_and_handles_degenerate_cases():
    a, b = [30.1, 31.0, 29.5, 30.7, 30.2], [31.0, 31.9, 30.1, 30.6, 31.4]
    assert wilcoxon_signed_rank(a, b) == pytest.approx(stats.wilcoxon(b, a).pvalue)
    assert math.isnan(wilcoxon_signed_rank([1.0], [2.0]))
    assert math.isnan(wilcoxon_signed_rank([1.0, 2.0], [1.0, 2.0]))


def test_cohens_dz_by_hand():
    # differences 1, 2, 3: mean 2, sd 1
    assert cohens_dz([0, 0, 0], [1, 2, 3]) == pytest.approx(2.0)
    assert math.isnan(cohens_dz([1.0], [2.0]))
