"""Subword → unit pooling and normalisation."""
from __future__ import annotations

import pytest
import torch

from gazelm.attention.pooling import code_token_spans, line_spans, normalise, pool, word_spans

TEXT = "foo bar"
OFFSETS = [(0, 2), (2, 3), (3, 4), (4, 7), (0, 0)]  # fo|o| |bar|<special>
SCORES = torch.tensor([1.0, -3.0, 5.0, 2.0, 100.0])


@pytest.mark.parametrize("how,expected", [("sum", [-2.0, 2.0]), ("mean", [-1.0, 2.0]), ("max", [1.0, 2.0]),
                                          ("absmax", [-3.0, 2.0])])
def test_pool_words(how, expected):
    assert pool(SCORES, OFFSETS, word_spans(TEXT), how).tolist() == expected


def test_unit_without_tokens_is_zero_and_unknown_pooling_fails():
    assert pool(SCORES, OFFSETS, [(0, 3), (100, 101)], "max").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="unknown pooling"):
        pool(SCORES, OFFSETS, [(0, 3)], "median")


def test_unit_helpers():
    assert word_spans("has_close(x, y)") == [(0, 9), (10, 11), (13, 14)]
    assert code_token_spans("f(x)") == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert line_spans("ab\n\ncd") == [(0, 2), (3, 3), (4, 6)]


def test_pool_lines_is_differentiable():
    scores = SCORES.clone().requires_grad_(True)
    pooled = pool(scores, OFFSETS, line_spans(TEXT), "sum")
    pooled.sum().backward()
    assert scores.grad.tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]


def test_normalise():
    assert normalise(torch.tensor([1.0, -3.0]), "l1").tolist() == [0.25, -0.75]
    assert normalise(torch.tensor([0.0, 0.0]), "l1").tolist() == [0.0, 0.0]
    out = normalise(torch.tensor([0.0, 0.0, 5.0]), "softmax", mask=torch.tensor([1, 1, 0]))
    assert out.tolist() == [0.5, 0.5, 0.0]
    assert normalise(torch.tensor([2.0, 3.0]), "none", mask=torch.tensor([1, 0])).tolist() == [2.0, 0.0]
