"""Exact normalisation: for every objective, gradient accumulation 2 × 4 gives the gradient of
one batch of 8 (the DDP half of the claim is ``tests/slow/test_ddp_normalization.py``)."""
from __future__ import annotations

import pytest
import torch

from gazelm.objectives.eyemulator import EyeMulator
from tests.helpers.objectives import random_batch, rows, shipped_objectives, step_gradients, tiny_llama

#: every shipped objective config, plus the EyeMulator options that change the denominator
VARIANTS = {
    "eyemulator-weight_sum": lambda: EyeMulator(normalize="weight_sum"),
    "eyemulator-both": lambda: EyeMulator(loss_on="both"),
    "eyemulator-input-weight_sum": lambda: EyeMulator(loss_on="input", normalize="weight_sum"),
    "eyemulator-example-mean": lambda: EyeMulator(scope="example", reduce="mean"),
    "eyemulator-example-weight_sum": lambda: EyeMulator(scope="example", normalize="weight_sum"),
}
NAMES = list(shipped_objectives()) + list(VARIANTS)


def build(name: str):
    return VARIANTS[name]() if name in VARIANTS else shipped_objectives()[name]


@pytest.mark.parametrize("name", NAMES)
def test_gradient_accumulation_2x4_equals_batch_8(name: str) -> None:
    objective, model = build(name), tiny_llama()
    batch = random_batch(8, 12, seed=3)
    halves = [rows(batch, slice(0, 4)), rows(batch, slice(4, 8))]
    full = step_gradients(objective, model, [batch], accumulate=1)
    accumulated = step_gradients(objective, model, halves, accumulate=2)
    torch.testing.assert_close(accumulated, full, rtol=1e-5, atol=1e-8)
    # the test can fail: a mean per micro-batch is measurably different on this batch
    naive = sum(step_gradients(objective, model, [h], accumulate=1) for h in halves) / 2
    assert not torch.allclose(naive, full, rtol=1e-3)
