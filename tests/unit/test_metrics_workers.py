"""Metric worker processes inherit the imports of their chunk function (a cold ``rouge_score`` +
``nltk`` import took ~4 s in every forked worker of every evaluation)."""
from __future__ import annotations

import multiprocessing
import os

import pytest

from gazelm.metrics.text import map_chunks

CALLED_IN: list[int] = []


def _chunk(items: list[int]) -> list[int]:
    CALLED_IN.append(os.getpid())  # stands for the imports a chunk function does on its first call
    return [2 * i for i in items]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="fork start method only")
def test_map_chunks_warms_the_chunk_function_before_forking() -> None:
    CALLED_IN.clear()
    out, _ = map_chunks(_chunk, list(range(10)), n_jobs=2)
    assert out == [2 * i for i in range(10)]
    assert CALLED_IN == [os.getpid()]  # once here (empty chunk); the workers' calls happen in them
