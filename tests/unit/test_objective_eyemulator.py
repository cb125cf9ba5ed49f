"""EyeMulator weighted cross-entropy: exact values by hand, CE equivalence, accumulation."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.eyemulator import EyeMulator, example_weights
from tests.helpers.objectives import fake_module, random_batch

LN = math.log


def run(objective, batch: dict[str, torch.Tensor], logits: torch.Tensor, causal: bool):
    return objective.loss(batch, SimpleNamespace(logits=logits), fake_module(objective, causal=causal))


def logits_of(probs: list[list[list[float]]]) -> torch.Tensor:
    """Logits whose log-softmax is exactly log(probs) (rows sum to 1)."""
    return torch.tensor(probs, dtype=torch.float64).log()


# Encoder-decoder: 3 decoder positions, vocab 3; labels [0, 2, 2]
P_ENC = [[[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.125, 0.125, 0.75]]]


def enc_batch() -> dict[str, torch.Tensor]:
    return {
        "input_ids": torch.tensor([[5, 6, 7, 8]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "labels": torch.tensor([[0, 2, 2]]),
        "label_weights": torch.tensor([[2.0, 3.0, 5.0]]),
        "input_weights": torch.tensor([[1.0, 2.0, 4.0, 1.0]]),
        "code_token_mask": torch.tensor([[False, True, True, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False]]),
        "source_mask": torch.tensor([[False, True, True, False]]),
    }


def test_token_scope_target_active_tokens_encoder_decoder():
    loss, logs = run(EyeMulator(), enc_batch(), logits_of(P_ENC), causal=False)
    expected = -(2 * LN(0.5) + 3 * LN(0.25) + 5 * LN(0.75)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logs["ce"].item() == pytest.approx(-(LN(0.5) + LN(0.25) + LN(0.75)) / 3, rel=1e-6)


def test_token_scope_weight_sum_normalisation():
    loss, _ = run(EyeMulator(normalize="weight_sum"), enc_batch(), logits_of(P_ENC), causal=False)
    assert loss.item() == pytest.approx(-(2 * LN(0.5) + 3 * LN(0.25) + 5 * LN(0.75)) / 10, rel=1e-6)


@pytest.mark.parametrize("reduce,w", [("max", 4.0), ("mean", 3.0)])
def test_example_scope(reduce, w):
    loss, _ = run(EyeMulator(scope="example", reduce=reduce), enc_batch(), logits_of(P_ENC), causal=False)
    nll = -(LN(0.5) + LN(0.25) + LN(0.75))
    assert loss.item() == pytest.approx(w * nll / 3, rel=1e-6)
    loss, _ = run(EyeMulator(scope="example", reduce=reduce, normalize="weight_sum"), enc_batch(), logits_of(P_ENC),
                  causal=False)
    assert loss.item() == pytest.approx(w * nll / (3 * w), rel=1e-6)


def test_example_weights_without_code_tokens_is_one():
    w = example_weights(torch.tensor([[3.0, 7.0], [2.0, 6.0]]), torch.tensor([[False, False], [True, True]]), "max")
    assert w.tolist() == [1.0, 6.0]


# Causal: ids [9, c1=1, c2=2, t1=0, t2=2]; code tokens at 1, 2; labels on 3, 4.
# logits row i predicts token i+1.
P_CAUSAL = [[[0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3]]]


def causal_batch() -> dict[str, torch.Tensor]:
    weights = torch.tensor([[1.0, 2.0, 4.0, 3.0, 1.5]])
    return {
        "input_ids": torch.tensor([[9, 1, 2, 0, 2]]),
        "attention_mask": torch.ones(1, 5, dtype=torch.long),
        "labels": torch.tensor([[-100, -100, -100, 0, 2]]),
        "label_weights": weights,
        "input_weights": weights,
        "code_token_mask": torch.tensor([[False, True, True, False, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False, False]]),
        "source_mask": torch.tensor([[False, True, True, False, False]]),
    }


@pytest.mark.parametrize("loss_on,normalize,expected", [
    ("target", "active_tokens", -(3 * LN(0.5) + 1.5 * LN(0.4)) / 2),
    ("target", "weight_sum", -(3 * LN(0.5) + 1.5 * LN(0.4)) / 4.5),
    ("input", "active_tokens", -(2 * LN(0.6) + 4 * LN(0.8)) / 2),
    ("input", "weight_sum", -(2 * LN(0.6) + 4 * LN(0.8)) / 6),
    ("both", "active_tokens", -(2 * LN(0.6) + 4 * LN(0.8) + 3 * LN(0.5) + 1.5 * LN(0.4)) / 4),
    ("both", "weight_sum", -(2 * LN(0.6) + 4 * LN(0.8) + 3 * LN(0.5) + 1.5 * LN(0.4)) / 10.5),
])
def test_causal_loss_on(loss_on, normalize, expected):
    objective = EyeMulator(loss_on=loss_on, normalize=normalize)
    loss, _ = run(objective, causal_batch(), logits_of(P_CAUSAL), causal=True)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_input_loss_needs_causal_model():
    with pytest.raises(ValueError, match="needs a causal model"):
        EyeMulator(loss_on="input").setup(fake_module(causal=False))
    with pytest.raises(ValueError, match="scope=example"):
        EyeMulator(scope="example", loss_on="both")
    with pytest.raises(ValueError, match="unknown normalize"):
        EyeMulator(normalize="tokens")


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("scope", ["token", "example"])
def test_all_ones_equals_cross_entropy(causal, scope):
    batch = random_batch(4, 12, causal)
    batch["label_weights"] = torch.ones_like(batch["label_weights"])
    batch["input_weights"] = torch.ones_like(batch["input_weights"])
    logits = torch.randn(4, 12, 50, generator=torch.Generator().manual_seed(1))
    ce, _ = run(CrossEntropy(), batch, logits, causal)
    for normalize in ("active_tokens", "weight_sum"):
        em, _ = run(EyeMulator(scope=scope, normalize=normalize), batch, logits, causal)
        assert torch.allclose(em, ce, rtol=1e-6, atol=0)


