"""``gazelm train trainer=gpu`` through the real configs on a CUDA GPU: bf16-mixed, the default fused
AdamW with gradient clipping, generation in bf16; plain, packed (``data.packing``) and with the fused
cross-entropy (``model.fused_ce``, liger-kernel). The three see the same batches, so their
validation and test losses agree to bf16 tolerance. Skipped without CUDA (``GAZELM_TEST_DEVICE=cpu``
runs the plain and packed runs on CPU with bf16 autocast: ``GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh``)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gazelm.training import train
from tests.conftest import gpu_device
from tests.helpers.compose import train_config

VARIANTS = {"plain": [], "packing": ["data.packing=true"], "fused_ce": ["model.fused_ce=true"]}


@pytest.mark.cuda
def test_gpu_runs_agree_plain_packed_fused(tmp_path: Path, shared_cache: Path) -> None:
    device = gpu_device()
    variants = dict(VARIANTS)
    if device.type != "cuda":
        del variants["fused_ce"]  # liger-kernel's kernel is CUDA-only
    else:
        pytest.importorskip("liger_kernel.transformers.functional")
    where = [] if device.type == "cuda" else ["trainer.accelerator=cpu"]
    losses = {}
    for name, extra in variants.items():
        out = tmp_path / name
        cfg = train_config(out, shared_cache, "debug=fdr", "trainer=gpu", *where, "model=tiny_causal",
                           "task=completion", "model.tokenizer.vocab_size=600", "callbacks.generation.metrics=[bleu_sacre]",
                           "data.source.max_examples={train: 48, val: 8, test: 8}", *extra)
        train(cfg)
        metrics = json.loads((out / "metrics.json").read_text())
        losses[name] = (metrics["val/loss"], metrics["test/loss"])
        assert "test/bleu_sacre" in metrics
    for name, (val, test) in losses.items():
        assert math.isfinite(val) and math.isfinite(test), (name, val, test)
        assert val == pytest.approx(losses["plain"][0], rel=2e-2), (name, losses)
        assert test == pytest.approx(losses["plain"][1], rel=2e-2), (name, losses)
