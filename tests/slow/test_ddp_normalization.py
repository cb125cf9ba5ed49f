"""The loss normalisation is exact: DDP (2 gloo processes) and gradient accumulation (2 × 4)
give the gradient of one batch of 8, for CE and for EyeMulator's weight-sum normalisation."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gazelm.data.collate import AccumulationWindows
from gazelm.models.module import GazeLM
from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.eyemulator import EyeMulator

pytestmark = pytest.mark.slow
VOCAB, T, B = 11, 6, 8
OBJECTIVES = {"ce": lambda: CrossEntropy(), "eyemulator_weight_sum": lambda: EyeMulator(normalize="weight_sum")}


def _batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, VOCAB, (B, T), generator=g)
    labels = input_ids.clone()
    lengths = [2, 6, 3, 5, 6, 1, 4, 6]  # very different numbers of target tokens per example
    for i, n in enumerate(lengths):
        labels[i, : T - n] = -100
    return {"input_ids": input_ids, "attention_mask": torch.ones(B, T, dtype=torch.long), "labels": labels,
            "label_weights": 1 + 4 * torch.rand(B, T, generator=g), "input_weights": torch.ones(B, T),
            "code_token_mask": torch.zeros(B, T, dtype=torch.bool)}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Embedding(VOCAB, 8), torch.nn.Linear(8, VOCAB))


def _fake_module(accumulate: int) -> SimpleNamespace:
    fake = SimpleNamespace(training=True, device=torch.device("cpu"), backbone=SimpleNamespace(is_causal=True))
    fake._trainer = fake.trainer = SimpleNamespace(accumulate_grad_batches=accumulate)
    fake.items_normalizer = lambda batch, key: GazeLM.items_normalizer(fake, batch, key)
    return fake


def _slice(batch, rows):
    return {k: v[rows] for k, v in batch.items()}


def _grads(objective_name: str, micro_batches: list[dict], accumulate: int) -> torch.Tensor:
    """Lightning's automatic optimisation: each micro-batch loss / accumulate, backward, summed."""
    model, objective, fake = _model(), OBJECTIVES[objective_name](), _fake_module(accumulate)
    for batch in AccumulationWindows([dict(b) for b in micro_batches], accumulate):  # stamps in place
        outputs = SimpleNamespace(logits=model(batch["input_ids"]))
        loss, _ = objective.loss(batch, outputs, fake)
        (loss / accumulate).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _rank(rank: int, world: int, port: int, objective_name: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    batch = _batch()
    grads = _grads(objective_name, [_slice(batch, slice(rank * 4, rank * 4 + 4))], accumulate=1)
    dist.all_reduce(grads)  # DDP averages gradients over ranks
    grads /= world
    if rank == 0:
        torch.save(grads, out)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("objective_name", list(OBJECTIVES))
def test_ddp_and_accumulation_equal_one_big_batch(objective_name: str, tmp_path: Path) -> None:
    batch = _batch()
    full = _grads(objective_name, [batch], accumulate=1)
    accumulated = _grads(objective_name, [_slice(batch, slice(0, 4)), _slice(batch, slice(4, 8))], accumulate=2)
    torch.testing.assert_close(accumulated, full, rtol=1e-5, atol=1e-7)
    # a naive per-micro-batch mean is measurably different here (the lengths differ a lot)
    naive = _grads(objective_name, [_slice(batch, slice(0, 4))], 1) + _grads(objective_name, [_slice(batch, slice(4, 8))], 1)
    assert not torch.allclose(naive / 2, full, rtol=1e-3)

    out = tmp_path / "ddp_grads.pt"
    mp.spawn(_rank, args=(2, _free_port(), objective_name, str(out)), nprocs=2, join=True)
    torch.testing.assert_close(torch.load(out, weights_only=True), full, rtol=1e-5, atol=1e-7)
