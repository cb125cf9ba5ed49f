"""FixATE's losses, λ schedule, slot pooling and mixture prompt: values worked out by hand from the
released code's definitions (train_fixate_recgaze.py)."""
from __future__ import annotations

import math

import pytest
import torch

from gazelm.attention.slots import slot_index_from_spans, slot_relevance, slot_sums
from gazelm.objectives.fixate import Fixate, coarsened_kl, lambda_at, plain_kl, power_weights, weighted_full_kl

E4, E8 = 1e-4, 1e-8


def _term(g: float, a: float) -> float:
    return g * (math.log(g + E4) - math.log(a + E4))


def test_weighted_full_kl_by_hand() -> None:
    g = torch.tensor([[0.5, 0.3, 0.2]])
    a = torch.tensor([[0.2, 0.2, 0.6]])
    raw = [(0.5 + E8) ** 2, (0.3 + E8) ** 2, (0.2 + E8) ** 2]
    omega = [r / sum(raw) for r in raw]  # 0.25/0.38, 0.09/0.38, 0.04/0.38
    expected = sum(w * _term(gi, ai) for w, gi, ai in zip(omega, [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]))
    assert weighted_full_kl(g, a, gamma=2.0).item() == pytest.approx(expected, rel=1e-6)
    assert plain_kl(g, a).item() == pytest.approx(sum(_term(x, y) for x, y in zip([0.5, 0.3, 0.2], [0.2, 0.2, 0.6])),
                                                   rel=1e-6)


def test_gamma_zero_is_plain_kl_over_the_number_of_slots() -> None:
    """γ = 0 makes ω uniform (1/n): the weighted term is plain KL / n (FixATE's 'w/o ω' ablation)."""
    g = torch.tensor([[0.6, 0.1, 0.3, 0.0]])
    a = torch.tensor([[0.25, 0.25, 0.25, 0.25]])
    assert weighted_full_kl(g, a, gamma=0.0).item() == pytest.approx(plain_kl(g, a).item() / 4, rel=1e-6)
    # padded slots (mask False) do not count in n
    gp, ap = torch.cat([g, torch.zeros(1, 2)], 1), torch.cat([a, torch.zeros(1, 2)], 1)
    mask = torch.tensor([[True] * 4 + [False] * 2])
    assert weighted_full_kl(gp, ap, gamma=0.0, mask=mask).item() == pytest.approx(plain_kl(g, a).item() / 4, rel=1e-6)
    assert power_weights(gp, 0.0, mask=mask)[0, 4:].sum() == 0


def test_coarsened_kl_top_k_plus_tail_by_hand() -> None:
    g = torch.tensor([[0.1, 0.6, 0.3]])
    a = torch.tensor([[0.5, 0.3, 0.2]])
    p, q = [0.6, 0.4], [0.3, 0.7]  # k = 1: the top slot of g (index 1) and the tail
    raw = [(x + E8) ** 2 for x in p]
    expected = sum(r / sum(raw) * _term(x, y) for r, x, y in zip(raw, p, q))
    assert coarsened_kl(g, a, k=1, gamma=2.0).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("step,expected", [(0, 0.0), (29, 0.0), (30, 0.0), (45, 0.25), (60, 0.5), (500, 0.5)])
def test_lambda_schedule_released_rule(step: int, expected: float) -> None:
    assert lambda_at(step, target=0.5, warmup_steps=30) == pytest.approx(expected)


def test_lambda_schedule_own_ramp_and_no_warmup() -> None:
    assert lambda_at(40, 0.5, warmup_steps=30, ramp_steps=100) == pytest.approx(0.05)
    assert lambda_at(0, 0.5, warmup_steps=0) == 0.5  # FixATE would divide by zero here
    assert Fixate(ce_weight=0.0).lambda_now(0) == 0.5  # without the CE term: λ from the first step
    assert Fixate(ce_weight=0.5).lambda_now(0) == 0.0


def test_slot_index_from_spans_first_overlap_and_special_tokens() -> None:
    offsets = [(0, 3), (3, 5), (5, 9), (0, 0), (10, 12)]
    assert slot_index_from_spans(offsets, [(0, 4), (4, 9)]) == [0, 0, 1, -1, -1]
    assert slot_index_from_spans(offsets, []) == [-1] * 5


def test_slot_pooling_magnitude_relu_and_normalisation() -> None:
    relevance = torch.tensor([[1.0, -2.0, 3.0, 0.5, 7.0]])
    slot_index = torch.tensor([[0, 0, 1, -1, 2]])
    # |r| summed per slot: 3, 3, 7; slot 3 unreached → 0; a = s / (13 + 1e-4)
    a = slot_relevance(relevance, slot_index, 4)
    assert a.tolist()[0] == pytest.approx([3 / (13 + E4), 3 / (13 + E4), 7 / (13 + E4), 0.0])
    # signed values: ReLU after summing (slot 0: 1 − 2 = −1 → 0)
    signed = slot_relevance(relevance, slot_index, 4, magnitude=False)
    assert signed.tolist()[0] == pytest.approx([0.0, 3 / (10 + E4), 7 / (10 + E4), 0.0])
    assert slot_sums(relevance, slot_index, 4).tolist()[0] == [-1.0, 3.0, 7.0, 0.0]


def test_slot_pooling_is_differentiable() -> None:
    r = torch.tensor([[0.2, -0.4, 0.4]], requires_grad=True)
    a = slot_relevance(r, torch.tensor([[0, 1, 1]]), 2)
    a[0, 0].backward()
    total = 0.2 + 0.8 + E4  # d a_0 / d r_0 = (total − 0.2)/total², sign(r_0) = +
    assert r.grad[0, 0].item() == pytest.approx((total - 0.2) / total ** 2, rel=1e-5)
