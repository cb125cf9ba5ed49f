"""Checks on logged losses where no exact value is at hand."""
from __future__ import annotations

import math


def near_chance(loss: float, vocab_size: int, slack: float = 1.5) -> bool:
    """Whether a token cross-entropy is within ``slack`` nats of ln V, the loss of a uniform guess over a
    vocabulary of V tokens: what a (nearly) untrained model scores. A loss summed instead of averaged,
    divided by the wrong count or taken over padding lands far from it."""
    return abs(loss - math.log(vocab_size)) < slack
