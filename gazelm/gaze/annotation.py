"""What a gaze provider attaches to a text: values over character spans.

The DataModule asks the configured provider (config group ``gaze``) to annotate the
source (and a code target) of every example, then projects the span values onto model
subwords through the tokenizer's offset mapping (:mod:`gazelm.gaze.project`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


@dataclass(frozen=True)
class GazeAnnotation:
    """Per code-token values over ``text``.

    spans:     half-open character spans ``(start, end)`` of the code tokens, in order.
    weights:   EyeMulator loss weight per token (1.0 where the token is not attended).
    mask:      1 if the token is on the (pseudo-)scanpath, else 0; ``None`` if unknown.
    attention: human attention per token (e.g. normalised dwell), ``None`` without real gaze.
    """

    spans: Sequence[tuple[int, int]]
    weights: Sequence[float]
    mask: Sequence[int] | None = None
    attention: Sequence[float] | None = None

    def __post_init__(self) -> None:
        n = len(self.spans)
        for name in ("weights", "mask", "attention"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"GazeAnnotation.{name} has {len(values)} values for {n} spans")


class GazeProvider(Protocol):
    """Anything with ``annotate``; ``None`` means no gaze for that text."""

    def annotate(self, text: str, language: str, key: str) -> GazeAnnotation | None: ...
