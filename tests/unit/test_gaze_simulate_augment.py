"""Pseudo-scanpaths from priors and the attention augmentations."""
from __future__ import annotations

from gazelm.code import label_tokens
from gazelm.code.tokens import CodeToken
from gazelm.gaze.augment import adjacency_expansion, attention_motifs, positional_order
from gazelm.gaze.priors import GazePriors, LabelBeta
from gazelm.gaze.simulate import _quotas, simulate_scanpath

CODE = """public int sum(int[] xs, int k) {
    int total = 0;
    for (int i = 0; i < xs.length; i++) {
        if (xs[i] > k) {
            total += f(xs[i]);
        }
    }
    return total;
}
"""

# dense priors: aggregate Beta(901, 101) → ρ ≈ 0.9
PRI = GazePriors({s: LabelBeta(s, 90, 100, 91.0, 11.0) for s in
                  ("function declaration", "parameter", "variable declaration", "loop", "conditional statement",
                   "conditional block", "function call", "argument", "index operation", "return", "literal",
                   "operation", "assignment", "operator", "external class", "variable")},
                 {("loop", "loop", "loop"): 50, ("function declaration", "function declaration"): 20,
                  ("return",): 5}, {"ngram_order": "ordered"})


def test_deterministic_and_seed_dependent():
    toks = label_tokens(CODE, "java")
    a = simulate_scanpath(toks, PRI, seed=7)
    assert a == simulate_scanpath(toks, PRI, seed=7)
    assert any(simulate_scanpath(toks, PRI, seed=s).mask != a.mask for s in range(8, 12))


def test_density_windows_and_line_span():
    toks = label_tokens(CODE, "java")
    path = simulate_scanpath(toks, PRI, seed=0, line_span=0)
    n = sum(1 for t in toks if t.label and t.text not in "(){}[];,.:")
    assert sum(path.mask) == int(path.density * n)
    assert 0.8 < path.density < 0.97
    covered = sorted(i for w in path.windows for i in w)
    assert covered == [i for i, m in enumerate(path.mask) if m]
    for w in path.windows:
        assert len({toks[i].line for i in w}) == 1  # line_span=0: every window on one line
        assert path.ngrams[w[0]] == tuple(toks[i].label for i in w)
    assert any(len(w) == 3 and path.ngrams[w[0]] == ("loop",) * 3 for w in path.windows)
    assert all(toks[i].text not in "(){};" for i, m in enumerate(path.mask) if m)


def test_quotas_proportional_and_capped():
    pri = GazePriors({"a": LabelBeta("a", 0, 0, 3.0, 1.0), "b": LabelBeta("b", 0, 0, 1.0, 3.0)}, {}, {})
    # E[θ]·n: a 0.75·4 = 3, b 0.25·4 = 1 → m=4 gives 3 / 1; m=8 caps a at 4 and gives b the rest
    assert _quotas({"a": 4, "b": 4}, pri, 4) == {"a": 3, "b": 1}
    assert _quotas({"a": 4, "b": 4}, pri, 8) == {"a": 4, "b": 4}
    assert _quotas({"a": 4, "b": 4}, pri, 0) == {"a": 0, "b": 0}


def test_no_labelled_tokens():
    path = simulate_scanpath([CodeToken("{", 0, 1, 1, 1, None)], PRI, seed=0)
    assert path.mask == [0] and path.windows == []


def _t(text, label, line):
    return CodeToken(text, 0, 1, line, 1, label)


def test_adjacency_expansion():
    toks = [_t("a", "loop", 1), _t("b", "loop", 2), _t("c", "loop", 4), _t("d", "return", 2), _t("e", None, 1)]
    assert adjacency_expansion(toks, [1, 0, 0, 0, 0], k=0) == [1, 0, 0, 0, 0]
    assert adjacency_expansion(toks, [1, 0, 0, 0, 0], k=1) == [1, 1, 0, 0, 0]
    assert adjacency_expansion(toks, [1, 0, 0, 0, 0], k=3) == [1, 1, 1, 0, 0]


def test_motifs_support_and_positional_order():
    seqs = [["a", "b", "a", "b"], ["a", "b", "c"], ["c", "a"]]
    motifs = {m.labels: (m.support, m.count) for m in attention_motifs(seqs, lengths=(2,), min_support=2)}
    assert motifs == {("a", "b"): (2, 3)}
    top = attention_motifs(seqs, lengths=(2, 3), min_support=1)[0]
    assert top.labels == ("a", "b") and top.support == 2
    toks = [_t("x", None, 3), _t("y", None, 1), _t("z", None, 2)]
    assert positional_order([0, 2, 0, 1], toks) == [1, 2, 0]
