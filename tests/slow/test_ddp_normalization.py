"""Exact normalisation under DDP: 2 gloo processes, each accumulating 2 micro-batches of 2,
give the gradient of one batch of 8 on one process — for every objective."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.helpers.objectives import random_batch, rows, step_gradients, tiny_llama
from tests.unit.test_objective_normalization import NAMES, build

pytestmark = pytest.mark.slow


def _rank(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    batch = random_batch(8, 12, seed=3)
    mine = [rows(batch, slice(rank * 4, rank * 4 + 2)), rows(batch, slice(rank * 4 + 2, rank * 4 + 4))]
    grads = {}
    for name in NAMES:
        g = step_gradients(build(name), tiny_llama(), mine, accumulate=2)
        dist.all_reduce(g)  # DDP averages gradients over ranks
        grads[name] = g / world
    if rank == 0:
        torch.save(grads, out)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_gradients(tmp_path_factory) -> dict[str, torch.Tensor]:
    out = tmp_path_factory.mktemp("ddp") / "grads.pt"
    mp.spawn(_rank, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("name", NAMES)
def test_ddp_with_accumulation_equals_one_big_batch(name: str, ddp_gradients: dict[str, torch.Tensor]) -> None:
    full = step_gradients(build(name), tiny_llama(), [random_batch(8, 12, seed=3)], accumulate=1)
    torch.testing.assert_close(ddp_gradients[name], full, rtol=1e-5, atol=1e-8)
