"""FixATE's per-trial metrics (its ``compute_sample_metrics`` conventions) and honest baselines.

Attention metrics compare the model's slot attention ``a`` with the person's dwell share ``g``
(:func:`gazelm.metrics.alignment.kl_fixate` and neighbours: nats, FixATE's normalisation and
tie rule). Answer metrics use the option probabilities — the softmax of the option letters'
logits renormalised over the trial's options (FixATE: ``exp(log_softmax)[options]`` renormalised,
which is the same) — and the person's choice: log-loss ``−ln max(p_choice, 1e-8)``, AUC = the share
of other options ranked below the chosen one (ties ½), accuracy of the top option.

Baselines that need no model: uniform over the slots, proportional to the slot's character length,
and the population's mean dwell share per token class (fitted on training trials only).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from gazelm.metrics.alignment import (FIXATE_EPS, cosine_fixate, csh_fixate, hit_fixate, js_fixate, kl_fixate,
                                      tgo_fixate, topk_js_fixate)

ATTENTION_KEYS = ("kl", "js", "cosine", "topk_js")
HIGHER_IS_BETTER = {"kl": False, "js": False, "cosine": True, "topk_js": False, "tgo": True, "hit": True,
                    "csh": True, "logloss": False, "auc": True, "acc": True, "acc_correct": True}


def attention_metrics(a, g, ks: Sequence[int] = (1, 3, 5), topk: int = 5, clicked: int = -1) -> dict[str, float]:
    """``kl, js, cosine, topk_js, tgo@k, hit@k`` of one trial (FixATE's conventions), and ``csh@k``
    (the clicked slot among the model's top-``k``: FixATE's ``click@k``) when the answer is a slot
    (``clicked >= 0``: interfaces, not code)."""
    out = {"kl": kl_fixate(a, g), "js": js_fixate(a, g), "cosine": cosine_fixate(a, g),
           "topk_js": topk_js_fixate(a, g, topk)}
    for k in ks:
        out[f"tgo@{k}"] = tgo_fixate(a, g, k)
        out[f"hit@{k}"] = hit_fixate(a, g, k)
        if clicked >= 0:
            out[f"csh@{k}"] = csh_fixate(a, clicked, k)
    return out


def option_logloss(probs, choice: int) -> float:
    """``−ln max(p[choice], 1e-8)``."""
    return -float(np.log(np.clip(np.asarray(probs, dtype=float)[choice], FIXATE_EPS, None)))


def option_auc(probs, choice: int) -> float:
    """Share of the other options with a lower probability than the chosen one (ties count ½)."""
    p = np.asarray(probs, dtype=float)
    neg = np.delete(p, choice)
    if neg.size == 0:
        return float("nan")
    return float((np.sum(neg < p[choice]) + 0.5 * np.sum(neg == p[choice])) / neg.size)


def answer_metrics(probs, choice: int, correct: int = -1) -> dict[str, float]:
    """``logloss, auc, acc`` against the person's ``choice`` (skipped when -1) and ``acc_correct``."""
    p = np.asarray(probs, dtype=float)
    predicted = int(np.argmax(p))
    out: dict[str, float] = {}
    if choice >= 0:
        out.update(logloss=option_logloss(p, choice), auc=option_auc(p, choice), acc=float(predicted == choice))
    if correct >= 0:
        out["acc_correct"] = float(predicted == correct)
    return out


def sample_metrics(a, g, option_probs=None, choice: int = -1, correct: int = -1, ks: Sequence[int] = (1, 3, 5),
                   topk: int = 5) -> dict[str, float]:
    """Attention metrics of ``a`` vs ``g`` plus answer metrics when ``option_probs`` is given."""
    out = attention_metrics(a, g, ks, topk)
    if option_probs is not None:
        out.update(answer_metrics(option_probs, choice, correct))
    return out


# ----------------------------------------------------------------------------- baselines
def uniform_slots(n: int) -> np.ndarray:
    return np.full(n, 1.0 / n) if n else np.zeros(0)


def length_slots(spans: Sequence[Sequence[int]]) -> np.ndarray:
    """Proportional to each slot's character length."""
    lengths = np.array([max(float(e) - float(s), 0.0) for s, e in spans], dtype=float)
    total = lengths.sum()
    return lengths / total if total > 0 else uniform_slots(len(spans))


class ClassMeanBaseline:
    """The population's mean dwell share per token class: ``μ_c`` = mean of ``g_s`` over every
    training slot of class ``c``; a trial's prediction is ``μ_{class(s)}`` renormalised over its slots
    (a class never seen in training gets the mean over all training slots)."""

    def __init__(self) -> None:
        self.means: dict[str, float] = {}
        self.overall = 0.0

    def fit(self, trials: Iterable[tuple[Sequence[str], Sequence[float]]]) -> "ClassMeanBaseline":
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        total, n = 0.0, 0
        for classes, shares in trials:
            for c, v in zip(classes, shares):
                sums[c] = sums.get(c, 0.0) + float(v)
                counts[c] = counts.get(c, 0) + 1
                total, n = total + float(v), n + 1
        self.means = {c: sums[c] / counts[c] for c in sums}
        self.overall = total / n if n else 0.0
        return self

    def predict(self, classes: Sequence[str]) -> np.ndarray:
        values = np.array([self.means.get(c, self.overall) for c in classes], dtype=float)
        total = values.sum()
        return values / total if total > 0 else uniform_slots(len(classes))


def size_slots(sizes: Sequence[float]) -> np.ndarray:
    """Proportional to each slot's size (an image slot's pixel area)."""
    return length_slots([(0, max(float(v), 0.0)) for v in sizes])


def baseline_predictions(meta: Mapping, class_mean: ClassMeanBaseline) -> dict[str, np.ndarray]:
    """The three baselines for one trial, from its ``meta`` (``slots`` — character spans — or, for
    image slots, ``slot_sizes``; ``slot_classes``). ``length`` is proportional to a slot's size:
    characters for code, pixel area for an interface."""
    sizes = meta.get("slot_sizes")
    proportional = size_slots(sizes) if sizes is not None else length_slots(meta["slots"])
    n = len(proportional)
    return {"uniform": uniform_slots(n), "length": proportional,
            "class_mean": class_mean.predict(meta.get("slot_classes") or ["?"] * n)}
