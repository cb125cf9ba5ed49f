"""GenerationEvaluator under DDP (2 gloo processes) gives the same metrics as one process:
predictions are gathered by example id, the sampler's padding duplicates are dropped."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from gazelm.callbacks.generation import GenerationEvaluator

pytestmark = pytest.mark.slow
N_EXAMPLES = 7  # odd: rank shards differ in size


def _evaluate(rank: int, world: int, cache: str, out_dir: str) -> dict[str, float]:
    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    cfg = train_config(Path(out_dir), Path(cache), "model.tokenizer.vocab_size=600",
                       f"data.source.max_examples={{train: 32, val: {N_EXAMPLES}, test: {N_EXAMPLES}}}")
    L.seed_everything(0, verbose=False)
    datamodule, module = build_components(cfg)
    datamodule.setup("test")
    trainer = SimpleNamespace(global_rank=rank, world_size=world, is_global_zero=rank == 0, datamodule=datamodule,
                              default_root_dir=out_dir, global_step=0)
    evaluator = GenerationEvaluator(metrics=["bleu_sacre", "rouge_l", "exact_match"], batch_size=2,
                                    generation={"max_new_tokens": 6})
    return evaluator.evaluate(trainer, module, "test")


def _rank(rank: int, world: int, port: int, cache: str, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    metrics = _evaluate(rank, world, cache, out_dir)
    Path(out_dir, f"metrics_rank{rank}.json").write_text(json.dumps(metrics))
    dist.destroy_process_group()


def test_ddp_gather_equals_one_process(tmp_path: Path, shared_cache: Path) -> None:
    single = _evaluate(0, 1, str(shared_cache), str(tmp_path / "single"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_rank, args=(2, port, str(shared_cache), str(out)), nprocs=2, join=True)
    for rank in range(2):  # metrics computed on rank 0, broadcast, the same on every rank
        assert json.loads((out / f"metrics_rank{rank}.json").read_text()) == pytest.approx(single)
    rows = (out / "predictions" / "test_step0.jsonl").read_text().splitlines()
    single_rows = (tmp_path / "single" / "predictions" / "test_step0.jsonl").read_text().splitlines()
    assert len(rows) == N_EXAMPLES and rows == single_rows  # no duplicates, same order and text
