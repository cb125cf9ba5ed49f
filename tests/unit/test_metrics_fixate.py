"""FixATE's metric conventions (compute_sample_metrics), answer metrics, baselines, participant tests:
values worked out by hand from the released definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gazelm.metrics.alignment import (ALIGNMENT_METRICS, cosine_fixate, csh_fixate, fixate_ranking, hit_fixate,
                                      js_distance_squared, js_fixate, kl_fixate, tgo_fixate, topk_js_fixate)
from gazelm.metrics.fixate import (ClassMeanBaseline, answer_metrics, length_slots, option_auc, option_logloss,
                                   sample_metrics, uniform_slots)
from gazelm.report.participants import participant_tests

E8 = 1e-8


def test_kl_without_renormalising_by_hand() -> None:
    a, g = [2.0, 3.0, 5.0], [1.0, 1.0, 0.0]  # normalised: p = [.2, .3, .5], q = [.5, .5, 0]
    expected = 0.5 * math.log((0.5 + E8) / (0.2 + E8)) + 0.5 * math.log((0.5 + E8) / (0.3 + E8))
    assert kl_fixate(a, g) == pytest.approx(expected, rel=1e-12)


def test_js_is_in_nats_and_squared() -> None:
    a, g = [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]
    m = [(x + y) / 2 for x, y in zip(a, g)]
    kl = lambda p, q: sum(x * math.log(x / y) for x, y in zip(p, q) if x > 0)  # noqa: E731
    expected = 0.5 * kl(g, m) + 0.5 * kl(a, m)  # JS divergence (nats) = squared JS distance
    assert js_fixate(a, g) == pytest.approx(expected, rel=1e-9)
    # gazelm's js (bits) is the same quantity / ln 2
    assert js_fixate(a, g) == pytest.approx(js_distance_squared(g, a) * math.log(2), rel=1e-9)


def test_zero_vectors_become_uniform_and_cosine_eps() -> None:
    assert kl_fixate([0.0, 0.0], [1.0, 1.0]) == pytest.approx(0.0, abs=1e-12)
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    assert cosine_fixate([1, 4], [3, 3]) == pytest.approx(p @ q / (np.linalg.norm(p) * np.linalg.norm(q) + E8))


def test_ranking_ties_go_to_the_higher_index() -> None:
    assert fixate_ranking([0.4, 0.4, 0.2]).tolist() == [1, 0, 2]
    # model top-1 is item 1 (tie); the participant's most-dwelt item is 0
    assert tgo_fixate([0.4, 0.4, 0.2], [0.9, 0.05, 0.05], 1) == 0.0
    assert hit_fixate([0.4, 0.4, 0.2], [0.9, 0.05, 0.05], 1) == 0.0
    assert hit_fixate([0.4, 0.4, 0.2], [0.9, 0.05, 0.05], 2) == 1.0
    assert tgo_fixate([0.1, 0.5, 0.4], [0.2, 0.3, 0.5], 2) == 1.0
    assert csh_fixate([0.1, 0.5, 0.4], 2, 2) == 1.0 and csh_fixate([0.1, 0.5, 0.4], 0, 2) == 0.0


def test_topk_js_is_top_k_plus_tail() -> None:
    a, g = [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]  # top-1 of g: item 0 → bins [0.6, 0.4] vs [0.1, 0.9]
    assert topk_js_fixate(a, g, 1) == pytest.approx(js_fixate([0.1, 0.9], [0.6, 0.4]), rel=1e-12)


def test_option_metrics_by_hand() -> None:
    probs = [0.2, 0.5, 0.3]
    assert option_logloss(probs, 2) == pytest.approx(-math.log(0.3))
    assert option_auc(probs, 2) == pytest.approx(0.5)          # one of two others below
    assert option_auc([0.3, 0.4, 0.3], 0) == pytest.approx(0.25)  # a tie counts ½
    assert answer_metrics(probs, 1, correct=0) == {"logloss": pytest.approx(-math.log(0.5)), "auc": 1.0, "acc": 1.0,
                                                   "acc_correct": 0.0}
    assert answer_metrics(probs, -1, correct=1) == {"acc_correct": 1.0}  # no answer: no answer metrics


def test_sample_metrics_keys_and_registry_names() -> None:
    m = sample_metrics([0.2, 0.3, 0.5], [0.5, 0.5, 0.0], [0.3, 0.7], choice=1, ks=(1, 3))
    assert set(m) == {"kl", "js", "cosine", "topk_js", "tgo@1", "hit@1", "tgo@3", "hit@3", "logloss", "auc", "acc"}
    for name in ("kl_fixate", "js_fixate", "cosine_fixate", "tgo_fixate", "hit_fixate", "topk_js_fixate"):
        assert name in ALIGNMENT_METRICS
    assert ALIGNMENT_METRICS.meta("tgo_fixate")["takes_k"]


def test_baselines_by_hand() -> None:
    assert uniform_slots(4).tolist() == [0.25] * 4
    assert length_slots([(0, 1), (1, 4)]).tolist() == [0.25, 0.75]
    base = ClassMeanBaseline().fit([(["kw", "id", "id"], [0.5, 0.2, 0.3]), (["kw", "lit"], [0.1, 0.9])])
    # μ_kw = 0.3, μ_id = 0.25, μ_lit = 0.9, overall = 2.0 / 5 = 0.4
    assert base.predict(["kw", "id", "new"]).tolist() == pytest.approx([0.3 / 0.95, 0.25 / 0.95, 0.4 / 0.95])


def test_participant_tests_pair_users() -> None:
    records = []
    for u, (f, b) in enumerate([(0.1, 0.5), (0.2, 0.3), (0.15, 0.6), (0.4, 0.45), (0.3, 0.9)]):
        for _ in range(2):  # two trials per user, identical → the user mean is the value
            records.append({"user": f"u{u}", "scores": {"fixate_tf_kl": f, "backbone_tf_kl": b}})
    table = participant_tests(records, "fixate", ["backbone", "population"])
    assert len(table) == 1  # no population scores
    row = table.iloc[0]
    assert row["metric"] == "tf_kl" and row["n_users"] == 5
    assert row["delta"] == pytest.approx(np.mean([0.1 - 0.5, 0.2 - 0.3, 0.15 - 0.6, 0.4 - 0.45, 0.3 - 0.9]))
    assert row["p_wilcoxon"] == pytest.approx(0.0625)  # all 5 differences negative: exact two-sided 2/2^5
