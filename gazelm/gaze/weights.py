"""EyeMulator per-token loss weights and their ablations.

EyeMulator (the release's ``$GAZELM_DATA_DIR/eyemulator/docs/method_integration.md``, paper §2.4): for code token j

    w_j = w_base + 1 / ln(count(g_j) + 2) + E[θ_{s_j}]    if mask_j = 1
    w_j = 1                                               otherwise

with g_j the label n-gram the token belongs to, count its prior count, s_j its semantic
label and E[θ_s] = α_s / (α_s + β_s). Variants (ablations), all 1 where mask_j = 0:

* ``full``        the formula;
* ``no_semantic`` without the E[θ] term;
* ``no_rarity``   without the 1/ln(count+2) term;
* ``random``      U(1, 5) per masked token (seeded);
* ``uniform``     ``w_base`` for every masked token (no rarity, no semantic term);
* ``shuffled``    the ``full`` weights permuted among the masked tokens (seeded).
"""
from __future__ import annotations

import math
import random
from typing import Any, Mapping, Sequence

from gazelm.errors import GazelmInputError
from gazelm.gaze.priors import GazePriors

VARIANTS: tuple[str, ...] = ("full", "no_semantic", "no_rarity", "random", "uniform", "shuffled")
DEFAULT_W_BASE = 3.0


def rarity_bonus(count: int) -> float:
    """1 / ln(count + 2): rarer label n-grams weigh more (count 0 → 1/ln 2)."""
    return 1.0 / math.log(count + 2)


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise GazelmInputError(f"unknown weights variant {variant!r}; known: {', '.join(VARIANTS)}",
                               field="weights_variant")
    return variant


def token_weights(mask: Sequence[int], labels: Sequence[str | None], ngrams: Sequence[Sequence[str] | None],
                  priors: GazePriors, *, variant: str = "full", w_base: float = DEFAULT_W_BASE,
                  seed: int = 0) -> list[float]:
    """Weight per token from its mask bit, label and label n-gram (``None``: no n-gram,
    count 0). All three sequences have one entry per token."""
    check_variant(variant)
    if not (len(mask) == len(labels) == len(ngrams)):
        raise ValueError(f"mask/labels/ngrams lengths differ: {len(mask)}, {len(labels)}, {len(ngrams)}")
    rng = random.Random(seed)
    out: list[float] = []
    for m, label, g in zip(mask, labels, ngrams):
        if not m:
            out.append(1.0)
            continue
        if variant == "random":
            out.append(rng.uniform(1.0, 5.0))
            continue
        if variant == "uniform":
            out.append(float(w_base))
            continue
        w = float(w_base)
        if variant != "no_rarity":
            w += rarity_bonus(priors.count(g) if g else 0)
        if variant != "no_semantic":
            w += priors.mean(label)
        out.append(w)
    if variant == "shuffled":
        idx = [j for j, m in enumerate(mask) if m]
        vals = [out[j] for j in idx]
        rng.shuffle(vals)
        for j, v in zip(idx, vals):
            out[j] = v
    return out


def row_ngrams(row: Mapping[str, Any]) -> list[tuple[str, ...] | None]:
    """Label n-gram of each token of an EyeMulator-schema row.

    A window is a run of consecutive tokens with the same non-zero ``order_sequence``
    value; its n-gram is the tuple of the ``ngrams`` labels in it (the row's
    human-readable labels; the data README explains why its id fields do not resolve).
    Tokens outside any window (order 0) get their own label as a unigram.
    """
    labels = row["ngrams"]
    order = row.get("order_sequence") or [0] * len(labels)
    out: list[tuple[str, ...] | None] = [None] * len(labels)
    j = 0
    while j < len(labels):
        if order[j]:
            k = j
            while k + 1 < len(labels) and order[k + 1] == order[j]:
                k += 1
            gram = tuple(x for x in labels[j:k + 1] if x)
            for t in range(j, k + 1):
                out[t] = gram or None
            j = k + 1
        else:
            out[j] = (labels[j],) if labels[j] else None
            j += 1
    return out


def row_weights(row: Mapping[str, Any], priors: GazePriors, *, variant: str = "full",
                w_base: float = DEFAULT_W_BASE, seed: int = 0) -> list[float]:
    """Weights of an EyeMulator-schema row (one per ``code_tokens`` entry)."""
    for f in ("code_tokens", "mask", "ngrams"):
        if not isinstance(row.get(f), list):
            raise GazelmInputError("missing or not a list", field=f)
    if not (len(row["code_tokens"]) == len(row["mask"]) == len(row["ngrams"])):
        raise GazelmInputError(f"{len(row['mask'])} mask / {len(row['ngrams'])} ngrams values for "
                               f"{len(row['code_tokens'])} code_tokens", field="mask")
    return token_weights(row["mask"], row["ngrams"], row_ngrams(row), priors, variant=variant, w_base=w_base,
                         seed=seed)
