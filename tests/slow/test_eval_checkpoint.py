"""Train → evaluate the checkpoint with ``gazelm eval``: same test metrics as training reported."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import checkout_env, gazelm_subprocess

pytestmark = pytest.mark.slow
ENV = checkout_env(PYTHONHASHSEED="0")  # codebleu's data-flow match depends on it


def test_eval_a_checkpoint_reproduces_the_training_test_metrics(tmp_path: Path, shared_cache: Path) -> None:
    run_dir = tmp_path / "run"
    trained = gazelm_subprocess("train", "debug=limit", "trainer.max_epochs=1", "model.tokenizer.vocab_size=600",
                                f"paths.cache_dir={shared_cache}", f"hydra.run.dir={run_dir}",
                                "callbacks.generation.max_samples=null", "trainer.limit_test_batches=null",
                                "data.source.max_examples={train: 64, val: 8, test: 8}", env=ENV)
    assert trained.returncode == 0, trained.stderr[-3000:]
    train_metrics = json.loads((run_dir / "metrics.json").read_text())
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    result = gazelm_subprocess("eval", f"checkpoint={best}", "split=test", "metrics=[bleu_sacre,rouge_l]",
                               "generation={max_new_tokens: 16}", f"hydra.run.dir={tmp_path / 'eval'}", env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["bleu_sacre"] == pytest.approx(train_metrics["test/bleu_sacre"], abs=1e-6)
    assert metrics["rouge_l"] == pytest.approx(train_metrics["test/rouge_l"], abs=1e-6)
    assert len((tmp_path / "eval" / "predictions").glob("test_step0.jsonl").__next__().read_text().splitlines()) == 8
