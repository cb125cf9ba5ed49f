"""Priors (Beta fit, n-gram counts, save/load), EyeMulator weights and their ablations."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gazelm.code.tokens import CodeToken
from gazelm.errors import GazelmInputError
from gazelm.gaze.align import TrialGaze
from gazelm.gaze.priors import GazePriors, LabelBeta, fit_label_priors, load_priors, save_priors
from gazelm.gaze.weights import row_ngrams, row_weights, token_weights


def _tok(text: str, label: str | None, line: int = 1) -> CodeToken:
    return CodeToken(text, 0, len(text), line, 1, label)


def _trial(labels, scanpath, participant="p"):
    toks = [_tok(f"t{i}", lab) for i, lab in enumerate(labels)]
    count = np.zeros(len(toks), dtype=int)
    for i in scanpath:
        count[i] += 1
    return TrialGaze(participant, "s", "1", toks, count * 100.0, count, list(scanpath))


def test_fit_beta_and_ngrams_by_hand():
    a, b = "loop", "return"
    # trial 1: 3 loop tokens (2 fixated), 1 return (fixated); path loop0 loop0 return loop1
    t1 = _trial([a, a, a, b], [0, 0, 3, 1])
    # trial 2: 2 loop (0 fixated), 2 return (1 fixated), one unlabelled fixated token
    t2 = _trial([a, a, b, b, None], [4, 2, 4])
    p = fit_label_priors([t1, t2], min_count=1)
    # loop: c1 = 2 + 0, n = 3 + 2 → Beta(3, 4); return: c1 = 1 + 1, n = 1 + 2 → Beta(3, 2)
    assert p.betas[a] == LabelBeta(a, 2, 5, 3.0, 4.0)
    assert p.betas[b] == LabelBeta(b, 2, 3, 3.0, 2.0)
    assert p.mean(a) == pytest.approx(3 / 7)
    # label sequences (repeats merged, unlabelled skipped): [loop, return, loop], [return]
    assert p.ngram_counts == {(a,): 2, (b,): 2, (a, b): 1, (b, a): 1, (a, b, a): 1}
    assert p.aggregate() == (5.0, 5.0)  # (Σc1 + 1, Σ(n − c1) + 1) = (4 + 1, 4 + 1)
    pruned = fit_label_priors([t1, t2], min_count=2)
    assert pruned.ngram_counts == {(a,): 2, (b,): 2}


def test_fit_condition_filter():
    t1 = _trial(["loop"], [0])
    t1.condition = "reading"
    t2 = _trial(["loop"], [])
    t2.condition = "writing"
    assert fit_label_priors([t1, t2], condition="reading").betas["loop"].fixated == 1
    assert fit_label_priors([t1, t2], condition="writing").betas["loop"].fixated == 0


def test_save_load_roundtrip(tmp_path):
    p = fit_label_priors([_trial(["loop", "return", "loop"], [0, 1, 2])], min_count=1)
    save_priors(p, tmp_path / "pri")
    q = load_priors(tmp_path / "pri")
    assert q.betas == p.betas and q.ngram_counts == p.ngram_counts and q.ordered
    bigrams = json.loads((tmp_path / "pri" / "bigram_counts.json").read_text())
    assert bigrams == {"('loop', 'return')": 1, "('return', 'loop')": 1}


def test_load_release_layout_with_artifacts(tmp_path):
    d = tmp_path / "rel"
    d.mkdir()
    (d / "beta_distribution.json").write_text(json.dumps([
        {"semantic_label": "loop ", "saccades_count": 1, "word_count": 3, "alpha": 2, "beta": 3}]))
    (d / "monogram_counts.json").write_text(json.dumps({"loop": 7, "e": 99}))
    (d / "bigram_counts.json").write_text(json.dumps({"('argument', 'loop')": 4}))
    (d / "trigram_counts.json").write_text("{}")
    p = load_priors(d)
    assert p.mean("loop") == pytest.approx(0.4)
    assert not p.ordered and p.count(("loop", "argument")) == 4  # order-free keys
    assert p.count(("loop",)) == 7 and p.meta["ignored_ngram_keys"] == 1
    with pytest.raises(GazelmInputError, match="not found"):
        load_priors(tmp_path / "missing")
    (d / "bigram_counts.json").write_text("{bad")
    with pytest.raises(GazelmInputError, match="bigram_counts.json"):
        load_priors(d)


PRI = GazePriors({"loop": LabelBeta("loop", 1, 3, 2.0, 3.0), "return": LabelBeta("return", 3, 4, 4.0, 2.0)},
                 {("loop",): 10, ("loop", "return"): 3}, {"ngram_order": "ordered"})


def test_weights_formula_by_hand():
    w = token_weights([1, 0, 1, 1], ["loop", "loop", "return", None], [("loop", "return"), None, ("loop",), None],
                      PRI, w_base=3.0)
    assert w[0] == pytest.approx(3 + 1 / math.log(3 + 2) + 2 / 5)
    assert w[1] == 1.0
    assert w[2] == pytest.approx(3 + 1 / math.log(10 + 2) + 4 / 6)
    assert w[3] == pytest.approx(3 + 1 / math.log(2))  # unseen n-gram, no label


def test_weight_variants():
    mask, labels, grams = [1, 1, 0, 1], ["loop", "return", "loop", "loop"], [("loop",), ("loop", "return"), None, None]
    full = token_weights(mask, labels, grams, PRI)
    nosem = token_weights(mask, labels, grams, PRI, variant="no_semantic")
    norar = token_weights(mask, labels, grams, PRI, variant="no_rarity")
    assert nosem[0] == pytest.approx(3 + 1 / math.log(12)) and norar[0] == pytest.approx(3 + 0.4)
    assert token_weights(mask, labels, grams, PRI, variant="uniform", w_base=2.5) == [2.5, 2.5, 1.0, 2.5]
    r1 = token_weights(mask, labels, grams, PRI, variant="random", seed=3)
    assert r1 == token_weights(mask, labels, grams, PRI, variant="random", seed=3)
    assert r1 != token_weights(mask, labels, grams, PRI, variant="random", seed=4)
    assert r1[2] == 1.0 and all(1.0 <= r1[i] <= 5.0 for i in (0, 1, 3))
    sh = token_weights(mask, labels, grams, PRI, variant="shuffled", seed=1)
    assert sorted(sh) == sorted(full) and sh[2] == 1.0
    with pytest.raises(GazelmInputError, match="unknown weights variant"):
        token_weights(mask, labels, grams, PRI, variant="nope")


def test_row_ngrams_windows():
    row = {"ngrams": [None, "a", "b", "c", "b", None], "order_sequence": [0, 1, 1, 2, 3, 0]}
    assert row_ngrams(row) == [None, ("a", "b"), ("a", "b"), ("c",), ("b",), None]
    with pytest.raises(GazelmInputError, match="code_tokens"):
        row_weights({"code_tokens": ["x"], "mask": [1, 0], "ngrams": [None]}, PRI)
