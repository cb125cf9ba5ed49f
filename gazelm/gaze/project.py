"""Project per code-token values onto model subwords through an offset mapping."""
from __future__ import annotations

from bisect import bisect_right
from typing import Sequence


def span_index_per_subword(offsets: Sequence[tuple[int, int]],
                           spans: Sequence[tuple[int, int]]) -> list[int]:
    """For each subword ``(start, end)`` the index of the span it overlaps most, or -1.

    Spans must be sorted and non-overlapping (code tokens are). Empty subwords (special
    tokens, ``(0, 0)``) map to -1.
    """
    starts = [s for s, _ in spans]
    out: list[int] = []
    for a, b in offsets:
        if b <= a:
            out.append(-1)
            continue
        best, best_overlap = -1, 0
        i = max(bisect_right(starts, a) - 1, 0)
        while i < len(spans) and spans[i][0] < b:
            overlap = min(b, spans[i][1]) - max(a, spans[i][0])
            if overlap > best_overlap:
                best, best_overlap = i, overlap
            i += 1
        out.append(best)
    return out


def project_token_values(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]],
                         values: Sequence[float], default: float = 1.0, *,
                         split: bool = False) -> list[float]:
    """Value of each subword: its code token's value (``default`` outside code tokens).

    ``split=True`` divides a token's value evenly among its subwords, so the sum over
    subwords equals the sum over tokens (use for attention distributions; weights copy).
    """
    owner = span_index_per_subword(offsets, spans)
    if not split:
        return [float(values[i]) if i >= 0 else float(default) for i in owner]
    pieces: dict[int, int] = {}
    for i in owner:
        if i >= 0:
            pieces[i] = pieces.get(i, 0) + 1
    return [float(values[i]) / pieces[i] if i >= 0 else float(default) for i in owner]
