"""Alignment metrics against values worked out by hand from their definitions."""
from __future__ import annotations

import math

import pytest

from gazelm.metrics.alignment import (
    ALIGNMENT_METRICS,
    cosine_similarity,
    covered,
    csh_at_k,
    js_distance_squared,
    kendall,
    kl_divergence,
    krippendorff_alpha_nominal,
    map_tokens_to_spans,
    score_prompts,
    span_overlap,
    span_overlap_prf,
    spearman,
    tgo_at_k,
    token_labels,
    top_k_spans,
)


def test_covered_counts_union_once():
    assert covered((0, 10), [(2, 5), (4, 7), (9, 20)]) == 5 + 1  # chars 2..6 and 9
    assert covered((0, 3), []) == 0


def test_partial_overlap_single_prompt():
    # human (0,4),(6,8); model (2,6),(7,10): P = (2/4 + 1/3)/2, R = (2/4 + 1/2)/2
    result = span_overlap_prf([([(2, 6), (7, 10)], [(0, 4), (6, 8)])])
    assert result["precision"] == pytest.approx(5 / 12)
    assert result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(5 / 11)


def test_micro_average_with_unlabelled_prompt_and_empty_top_k():
    pairs = [([(2, 6), (7, 10)], [(0, 4), (6, 8)]),
             ([(0, 3)], []),          # no human spans: one model span with zero overlap
             ([], [(0, 2)])]          # empty top-K: one human span never recalled
    result = span_overlap_prf(pairs)
    assert result["precision"] == pytest.approx((5 / 6) / 3)
    assert result["recall"] == pytest.approx(1.0 / 3)
    p, r = 5 / 18, 1 / 3
    assert result["f1"] == pytest.approx(2 * p * r / (p + r))


def test_nothing_at_all_is_zero_not_an_error():
    assert span_overlap_prf([([], [])]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert span_overlap([], []).n_model == 0


def test_token_mapping_tolerates_whitespace_and_markers():
    prompt = "def  foo(x):\n  return x"
    tokens = ["def", "\u0120foo", "(", "x", "):", "\n", "  return", " x", "<s>"]
    assert map_tokens_to_spans(prompt, tokens) == [(0, 3), (5, 8), (8, 9), (9, 10), (10, 12), None, (15, 21),
                                                   (22, 23), None]
    assert map_tokens_to_spans("a return", ["a", "re", "turn"]) == [(0, 1), (2, 4), (4, 8)]
    # a token glued across a dropped space still maps onto the prompt characters
    assert map_tokens_to_spans("is None", ["isNone"]) == [(0, 7)]


def test_top_k_spans_ignores_unmapped_and_breaks_ties_by_position():
    tokens = [("<s>", 9.0), ("a", 1.0), ("b", 2.0), ("c", 2.0)]
    assert top_k_spans("a b c", tokens, 2) == [(2, 3), (4, 5)]
    assert top_k_spans("a b c", tokens, 1) == [(2, 3)]
    assert top_k_spans("a b c", tokens, 0) == []


def test_krippendorff_alpha_known_example():
    # units (1,1), (1,0), (0,0), (0,0): coincidences o11=2, o10=o01=1, o00=4; n1=3, n0=5, n=8
    # α = 1 − (n−1)·(o10+o01) / (2·n0·n1) = 1 − 7·2/30 = 8/15
    assert krippendorff_alpha_nominal([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(8 / 15)
    assert krippendorff_alpha_nominal([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha_nominal([0, 0], [0, 0]))


def test_token_labels_and_score_prompts():
    prompt = "sort the list"
    tokens = [("sort", 0.9), (" the", 0.1), (" list", 0.5)]
    human, model = token_labels(prompt, tokens, [(9, 13)], k=1)
    assert human == [0, 0, 1] and model == [1, 0, 0]
    rows = score_prompts([(prompt, tokens, [(9, 13)])], ks=[1, 2])
    assert rows[0]["precision"] == 0.0 and rows[0]["recall"] == 0.0 and rows[0]["n_prompts"] == 1
    # k=2 picks sort and list: P = (0 + 1)/2, R = 1/1
    assert rows[1]["precision"] == pytest.approx(0.5) and rows[1]["recall"] == pytest.approx(1.0)
    assert rows[1]["f1"] == pytest.approx(2 / 3)
    # labels human [0,0,1], model [1,0,1]: o11=2, o00=2, o01=o10=1... α = 1 − 5·2/(2·3·3) = 4/9
    assert rows[1]["krippendorff_alpha"] == pytest.approx(4 / 9)


G = [0.5, 0.5, 0.0]
A = [0.25, 0.25, 0.5]


def test_kl_and_js():
    assert kl_divergence(G, A, eps=0.0) == pytest.approx(math.log(2))
    assert kl_divergence(G, G, eps=0.0) == 0.0
    js = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert js_distance_squared(G, A) == pytest.approx(js)
    assert js_distance_squared(G, G) == pytest.approx(0.0, abs=1e-12)


def test_cosine_csh_tgo():
    assert cosine_similarity(A, G) == pytest.approx(1 / math.sqrt(3))
    assert cosine_similarity([0, 0], [1, 2]) == 0.0
    assert csh_at_k(A, chosen=0, k=1) == 0.0
    assert csh_at_k(A, chosen=0, k=2) == 1.0   # top-2 of A: index 2, then 0 (tie with 1, earlier first)
    assert tgo_at_k(A, G, k=2) == 0.5          # {2, 0} ∩ {0, 1}


def test_rank_correlations():
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_registry_metadata():
    assert set(ALIGNMENT_METRICS.names()) == {"kl", "js", "cosine", "csh", "tgo", "spearman", "kendall",
                                              # FixATE's conventions, under their own names
                                              "kl_fixate", "js_fixate", "cosine_fixate", "tgo_fixate", "hit_fixate",
                                              "topk_js_fixate"}
    assert ALIGNMENT_METRICS.meta("kl")["higher_is_better"] is False
    assert ALIGNMENT_METRICS.get("csh")(A, G, k=2) == 1.0  # chosen = argmax of G = 0
