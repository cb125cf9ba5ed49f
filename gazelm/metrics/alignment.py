"""Agreement between model attention and human attention.

Span overlap at top-K and Krippendorff's α follow Kou et al. (FSE 2024, "Do Large Language
Models Pay Similar Attention Like Human Programmers When Generating Code?"); the distribution
metrics (KL, squared JS distance, cosine, CSH@k, TGO@k, rank correlations) compare two
attention vectors over the same items, as in FixATE-style probing.

Conventions: ``a`` is the model's attention, ``g`` the human one (gaze / labels), both 1-D over
the same items. Spans are half-open character spans ``(start, end)`` of the prompt.
Metrics live in :data:`ALIGNMENT_METRICS` (a :class:`gazelm.registry.Registry`) with
``higher_is_better`` and ``takes_k`` metadata (``takes_k=True``: the metric is reported per cut-off
``k``, as ``name@k``); each takes ``(a, g, k=...)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

from gazelm.registry import Registry

Span = tuple[int, int]
ALIGNMENT_METRICS: Registry = Registry("alignment metric")
_MARKERS = "\u0120\u010a\u2581"  # byte-level BPE space/newline markers and SentencePiece's ▁


# ---------------------------------------------------------------- tokens → prompt characters
def map_tokens_to_spans(prompt: str, tokens: Sequence[str]) -> list[Span | None]:
    """Character span of each token in ``prompt``, found by sequential search.

    Whitespace is ignored on both sides (tokenizers drop, add or mark spaces: ``Ġ``, ``▁``), so a
    token matches the next occurrence of its non-space characters at or after the previous
    match. Tokens that are empty after removing whitespace, or are not found (special tokens),
    map to ``None`` and do not move the cursor.
    """
    compact, where = [], []
    for i, ch in enumerate(prompt):
        if not ch.isspace():
            compact.append(ch)
            where.append(i)
    haystack = "".join(compact)
    cursor, spans = 0, []
    for token in tokens:
        needle = "".join(ch for ch in str(token) if not ch.isspace() and ch not in _MARKERS)
        at = haystack.find(needle, cursor) if needle else -1
        if at < 0:
            spans.append(None)
            continue
        end = at + len(needle)
        spans.append((where[at], where[end - 1] + 1))
        cursor = end
    return spans


def top_k_indices(scores: Sequence[float], k: int, valid: Sequence[bool] | None = None) -> list[int]:
    """Indices of the ``k`` highest scores (ties: earlier first), among ``valid`` items only."""
    items = [i for i in range(len(scores)) if valid is None or valid[i]]
    items = [i for i in items if not (isinstance(scores[i], float) and math.isnan(scores[i]))]
    items.sort(key=lambda i: (-float(scores[i]), i))
    return items[:max(k, 0)]


def top_k_spans(prompt: str, tokens: Sequence[tuple[str, float]], k: int) -> list[Span]:
    """The character spans of the ``k`` highest-scoring tokens that map into ``prompt``."""
    spans = map_tokens_to_spans(prompt, [t for t, _ in tokens])
    chosen = top_k_indices([float(s) for _, s in tokens], k, [s is not None for s in spans])
    return [spans[i] for i in sorted(chosen)]


# ---------------------------------------------------------------- span overlap P/R/F1
def covered(span: Span, others: Sequence[Span]) -> int:
    """Characters of ``span`` inside the union of ``others``."""
    a, b = span
    hits = sorted((max(a, x), min(b, y)) for x, y in others if max(a, x) < min(b, y))
    total, reach = 0, a
    for x, y in hits:
        x = max(x, reach)
        if y > x:
            total += y - x
            reach = y
    return total


@dataclass
class SpanOverlap:
    """Sums for micro-averaging: ``Σ overlap/|span|`` and span counts, model and human side."""

    precision_sum: float = 0.0
    n_model: int = 0
    recall_sum: float = 0.0
    n_human: int = 0

    def __add__(self, other: "SpanOverlap") -> "SpanOverlap":
        return SpanOverlap(self.precision_sum + other.precision_sum, self.n_model + other.n_model,
                           self.recall_sum + other.recall_sum, self.n_human + other.n_human)

    @property
    def precision(self) -> float:
        return self.precision_sum / self.n_model if self.n_model else 0.0

    @property
    def recall(self) -> float:
        return self.recall_sum / self.n_human if self.n_human else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def span_overlap(model_spans: Sequence[Span], human_spans: Sequence[Span]) -> SpanOverlap:
    """One prompt's overlap sums (Kou et al.): precision terms ``|m ∩ H| / |m|`` per model span,
    recall terms ``|h ∩ M| / |h|`` per human span (``H``, ``M``: unions of the other side)."""
    p = sum(covered(m, human_spans) / (m[1] - m[0]) for m in model_spans if m[1] > m[0])
    r = sum(covered(h, model_spans) / (h[1] - h[0]) for h in human_spans if h[1] > h[0])
    return SpanOverlap(p, sum(1 for m in model_spans if m[1] > m[0]), r, sum(1 for h in human_spans if h[1] > h[0]))


def span_overlap_prf(pairs: Iterable[tuple[Sequence[Span], Sequence[Span]]]) -> dict[str, float]:
    """Micro-averaged precision, recall and F1 over ``(model_spans, human_spans)`` per prompt.

    An empty top-K adds nothing to precision; a prompt without human spans adds nothing to
    recall (its model spans still count, with zero overlap, in precision).
    """
    total = SpanOverlap()
    for model_spans, human_spans in pairs:
        total = total + span_overlap(model_spans, human_spans)
    return {"precision": total.precision, "recall": total.recall, "f1": total.f1}


# ---------------------------------------------------------------- Krippendorff's α
def krippendorff_alpha_nominal(first: Sequence[int], second: Sequence[int]) -> float:
    """Nominal α between two coders' labels of the same units (``krippendorff`` package).

    NaN when undefined (fewer than two distinct values overall, or no units).
    """
    data = np.array([list(first), list(second)], dtype=float)
    if data.shape[1] == 0 or len(np.unique(data[~np.isnan(data)])) < 2:
        return float("nan")
    import krippendorff  # imported here: the other alignment metrics (and FixATE's) do not need it

    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def token_labels(prompt: str, tokens: Sequence[tuple[str, float]], human_spans: Sequence[Span], k: int
                 ) -> tuple[list[int], list[int]]:
    """Per mapped prompt token: (overlaps a human span, is one of the top-``k`` model tokens)."""
    spans = map_tokens_to_spans(prompt, [t for t, _ in tokens])
    valid = [s is not None for s in spans]
    chosen = set(top_k_indices([float(s) for _, s in tokens], k, valid))
    human, model = [], []
    for i, span in enumerate(spans):
        if span is None:
            continue
        human.append(int(covered(span, human_spans) > 0))
        model.append(int(i in chosen))
    return human, model


def score_prompts(examples: Iterable[tuple[str, Sequence[tuple[str, float]], Sequence[Span]]],
                  ks: Sequence[int]) -> list[dict[str, float]]:
    """Kou et al.'s Table 3 cells for one (method, model): per ``k``, micro P/R/F1 and α.

    ``examples``: ``(prompt, [(token text, score), ...], human spans)``. α pools the token
    labels of all prompts into one reliability matrix.
    """
    examples = list(examples)
    rows = []
    for k in ks:
        pairs, human_all, model_all = [], [], []
        for prompt, tokens, human_spans in examples:
            pairs.append((top_k_spans(prompt, tokens, k), human_spans))
            h, m = token_labels(prompt, tokens, human_spans, k)
            human_all += h
            model_all += m
        prf = span_overlap_prf(pairs)
        rows.append({"k": k, **prf, "krippendorff_alpha": krippendorff_alpha_nominal(human_all, model_all),
                     "n_prompts": len(examples)})
    return rows


# ---------------------------------------------------------------- distributions
def _vector(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float).ravel()


def _distribution(x, eps: float) -> np.ndarray:
    v = np.clip(_vector(x), 0.0, None) + eps
    return v / v.sum()


def kl_divergence(g, a, eps: float = 1e-8) -> float:
    """``KL(g ‖ a) = Σ g_i ln(g_i / a_i)`` (nats) after clipping at 0, adding ``eps`` and normalising."""
    p, q = _distribution(g, eps), _distribution(a, eps)
    support = p > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(p[support] * np.log(p[support] / q[support])))


def js_distance_squared(g, a, eps: float = 0.0) -> float:
    """Squared Jensen–Shannon distance in bits (= JS divergence, base 2), in ``[0, 1]``."""
    return float(jensenshannon(_distribution(g, eps), _distribution(a, eps), base=2) ** 2)


def cosine_similarity(a, g) -> float:
    """``a·g / (‖a‖ ‖g‖)``; 0 when either vector is all zeros."""
    x, y = _vector(a), _vector(g)
    denom = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / denom) if denom > 0 else 0.0


def csh_at_k(a, chosen: int, k: int) -> float:
    """1 if item ``chosen`` is among the top-``k`` of ``a`` (ties: earlier first), else 0."""
    return float(chosen in top_k_indices(list(_vector(a)), k))


def tgo_at_k(a, g, k: int) -> float:
    """Top-``k`` overlap ``|top_k(a) ∩ top_k(g)| / k``."""
    return len(set(top_k_indices(list(_vector(a)), k)) & set(top_k_indices(list(_vector(g)), k))) / k


def spearman(a, g) -> float:
    """Spearman's ρ (NaN if either side is constant)."""
    x, y = _vector(a), _vector(g)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def kendall(a, g) -> float:
    """Kendall's τ-b (NaN if either side is constant)."""
    x, y = _vector(a), _vector(g)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.kendalltau(x, y).statistic)


def _register(name: str, higher_is_better: bool, takes_k: bool = False):
    return ALIGNMENT_METRICS.register(name, higher_is_better=higher_is_better, takes_k=takes_k)


_register("kl", False)(lambda a, g, k=None: kl_divergence(g, a))
_register("js", False)(lambda a, g, k=None: js_distance_squared(g, a))
_register("cosine", True)(lambda a, g, k=None: cosine_similarity(a, g))
_register("csh", True, takes_k=True)(lambda a, g, k=5: csh_at_k(a, int(np.argmax(_vector(g))), k))
_register("tgo", True, takes_k=True)(lambda a, g, k=5: tgo_at_k(a, g, k))
_register("spearman", True)(lambda a, g, k=None: spearman(a, g))
_register("kendall", True)(lambda a, g, k=None: kendall(a, g))


# ---------------------------------------------------------------- FixATE's conventions (own names)
# FixATE's released ``compute_sample_metrics``: each vector normalised by its sum (uniform when the
# sum is below 1e-8), KL as Σ g ln((g + 1e-8)/(a + 1e-8)) without renormalising, JS as scipy's squared
# Jensen–Shannon distance in nats (scipy's default base; NaN → 1), cosine on the normalised vectors
# with 1e-8 in the denominator, rankings by numpy's argsort reversed (stable: ties → higher index
# first). ``kl``/``js``/``tgo``/``csh`` above keep gazelm's conventions (eps-smoothed, bits, ties →
# earlier index); these are comparable with the paper's numbers.
FIXATE_EPS = 1e-8


def fixate_distribution(x) -> np.ndarray:
    """``x / Σx``, or uniform when ``Σx < 1e-8`` (FixATE's normalisation)."""
    v = _vector(x)
    total = float(v.sum())
    return np.ones_like(v) / len(v) if total < FIXATE_EPS else v / total


def fixate_ranking(x) -> np.ndarray:
    """Indices from highest to lowest: ``np.argsort(x, kind="stable")[::-1]`` (ties: higher index first)."""
    return np.argsort(_vector(x), kind="stable")[::-1]


def kl_fixate(a, g) -> float:
    """``Σ q ln((q + 1e-8)/(p + 1e-8))``, ``q``/``p`` the normalised human/model vectors (nats)."""
    p, q = fixate_distribution(a), fixate_distribution(g)
    return float(np.sum(q * np.log((q + FIXATE_EPS) / (p + FIXATE_EPS))))


def js_fixate(a, g) -> float:
    """scipy's ``jensenshannon(q, p) ** 2`` in nats (natural log), 1.0 where it is NaN."""
    value = float(jensenshannon(fixate_distribution(g), fixate_distribution(a)) ** 2)
    return 1.0 if math.isnan(value) else value


def cosine_fixate(a, g) -> float:
    """``p·q / (‖p‖ ‖q‖ + 1e-8)`` on the normalised vectors."""
    p, q = fixate_distribution(a), fixate_distribution(g)
    return float(np.dot(p, q) / (np.linalg.norm(p) * np.linalg.norm(q) + FIXATE_EPS))


def tgo_fixate(a, g, k: int = 5) -> float:
    """``|top_k(p) ∩ top_k(q)| / k`` with FixATE's ranking (``gaze@k`` in its logs)."""
    return len(set(fixate_ranking(a)[:k].tolist()) & set(fixate_ranking(g)[:k].tolist())) / k


def hit_fixate(a, g, k: int = 5) -> float:
    """1 if the human's most-attended item (FixATE's ranking of ``g``) is in the model's top-``k``."""
    return float(int(fixate_ranking(g)[0]) in fixate_ranking(a)[:k].tolist())


def csh_fixate(a, chosen: int, k: int = 5) -> float:
    """1 if item ``chosen`` is in the model's top-``k`` (FixATE's ``click@k``)."""
    return float(int(chosen) in fixate_ranking(a)[:k].tolist())


def topk_js_fixate(a, g, k: int = 5) -> float:
    """Squared JS (nats) over the top-``k`` items of ``g`` plus the tail mass (FixATE's ``topk_js_div``)."""
    p, q = fixate_distribution(a), fixate_distribution(g)
    top = fixate_ranking(q)[:k]
    tk_q = np.append(q[top], max(1.0 - q[top].sum(), 0.0))
    tk_p = np.append(p[top], max(1.0 - p[top].sum(), 0.0))
    value = float(jensenshannon(tk_q, tk_p) ** 2)
    return 1.0 if math.isnan(value) else value


_register("kl_fixate", False)(lambda a, g, k=None: kl_fixate(a, g))
_register("js_fixate", False)(lambda a, g, k=None: js_fixate(a, g))
_register("cosine_fixate", True)(lambda a, g, k=None: cosine_fixate(a, g))
ALIGNMENT_METRICS.register("tgo_fixate", higher_is_better=True, takes_k=True)(lambda a, g, k=5: tgo_fixate(a, g, k))
ALIGNMENT_METRICS.register("hit_fixate", higher_is_better=True, takes_k=True)(lambda a, g, k=5: hit_fixate(a, g, k))
ALIGNMENT_METRICS.register("topk_js_fixate", higher_is_better=False, takes_k=True)(
    lambda a, g, k=5: topk_js_fixate(a, g, k))
