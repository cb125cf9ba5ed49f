"""Same config + seed → same metrics; resuming from a checkpoint reaches the same end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gazelm.training import train
from tests.helpers.compose import train_config

pytestmark = pytest.mark.slow
BASE = ("trainer.limit_train_batches=4", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
        "data.source.max_examples={train: 64, val: 16, test: 16}", "model.tokenizer.vocab_size=600",
        "callbacks.generation.max_samples=8", "callbacks.generation.generation.max_new_tokens=8")


def _run(path: Path, cache: Path, *overrides: str) -> dict[str, float]:
    train(train_config(path, cache, *BASE, *overrides))
    return json.loads((path / "metrics.json").read_text())


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_resume_equals_uninterrupted_run(model: str, tmp_path: Path, shared_cache: Path) -> None:
    keep_all = ("trainer.max_epochs=2", "callbacks.model_checkpoint.save_top_k=-1",
                'callbacks.model_checkpoint.filename="epoch{epoch}"')
    full = _run(tmp_path / "full", shared_cache, f"model={model}", *keep_all)
    interrupted = tmp_path / "full" / "checkpoints" / "epoch0.ckpt"  # as if the job had died after epoch 1
    assert "rng_states" in torch.load(interrupted, weights_only=True)  # loads under weights_only=True
    resumed = _run(tmp_path / "resumed", shared_cache, f"model={model}", *keep_all, f"ckpt_path={interrupted}")
    for key in ("val/loss", "test/loss", "test/bleu_sacre", "test/rouge_l"):
        assert resumed[key] == pytest.approx(full[key], rel=1e-5, abs=1e-6), key


def test_same_seed_same_metrics_including_seed_zero(tmp_path: Path, shared_cache: Path) -> None:
    a = _run(tmp_path / "a", shared_cache, "seed=0", "trainer.max_epochs=1")
    b = _run(tmp_path / "b", shared_cache, "seed=0", "trainer.max_epochs=1")
    c = _run(tmp_path / "c", shared_cache, "seed=1", "trainer.max_epochs=1")
    assert a == b
    assert a["val/loss"] != c["val/loss"]
