"""Scanpath augmentation from the programmer-attention paper (Zhang et al.):

* **adjacency expansion**: a fixated token also marks the tokens within ≤ k lines that
  share its semantic label (k = 0 – 3 in the paper);
* **attention motifs**: frequent label k-grams mined from scanpaths, with their support
  (number of scanpaths containing the motif) and total occurrences;
* **positional ordering**: the fixated tokens in code order (line, column) instead of
  time order, each once.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from gazelm.code.tokens import CodeToken


def adjacency_expansion(tokens: Sequence[CodeToken], mask: Sequence[int], k: int = 1) -> list[int]:
    """``mask`` plus every token within ``k`` lines of a masked token with the same label."""
    if k < 0:
        raise ValueError(f"adjacency k must be >= 0, got {k}")
    seeds: dict[str | None, list[int]] = {}
    for t, m in zip(tokens, mask):
        if m and t.label is not None:
            seeds.setdefault(t.label, []).append(t.line)
    out = list(int(m) for m in mask)
    for i, t in enumerate(tokens):
        if not out[i] and t.label in seeds and any(abs(t.line - line) <= k for line in seeds[t.label]):
            out[i] = 1
    return out


@dataclass(frozen=True)
class Motif:
    labels: tuple[str, ...]
    support: int
    count: int


def attention_motifs(sequences: Iterable[Sequence[str]], lengths: Sequence[int] = (2, 3),
                     min_support: int = 2) -> list[Motif]:
    """Label k-grams occurring in at least ``min_support`` sequences, most supported first
    (ties: more occurrences first, then alphabetical)."""
    support: Counter = Counter()
    count: Counter = Counter()
    for seq in sequences:
        seen = set()
        for n in lengths:
            for i in range(len(seq) - n + 1):
                g = tuple(seq[i:i + n])
                count[g] += 1
                seen.add(g)
        support.update(seen)
    motifs = [Motif(g, s, count[g]) for g, s in support.items() if s >= min_support]
    motifs.sort(key=lambda m: (-m.support, -m.count, m.labels))
    return motifs


def positional_order(scanpath: Sequence[int], tokens: Sequence[CodeToken]) -> list[int]:
    """The distinct token indices of ``scanpath`` sorted by position in the code."""
    return sorted(set(scanpath), key=lambda i: (tokens[i].line, tokens[i].col, i))
