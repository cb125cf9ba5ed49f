"""Train → evaluate the checkpoint with ``gazelm eval``: same test metrics as training reported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _gazelm(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "gazelm.cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_eval_a_checkpoint_reproduces_the_training_test_metrics(tmp_path: Path, shared_cache: Path) -> None:
    run_dir = tmp_path / "run"
    trained = _gazelm("train", "debug=limit", "trainer.max_epochs=1", "model.tokenizer.vocab_size=600",
                      f"paths.cache_dir={shared_cache}", f"hydra.run.dir={run_dir}",
                      "callbacks.generation.max_samples=null", "data.source.max_examples={train: 64, val: 8, test: 8}",
                      "trainer.limit_test_batches=null")
    assert trained.returncode == 0, trained.stderr[-3000:]
    train_metrics = json.loads((run_dir / "metrics.json").read_text())
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    result = _gazelm("eval", f"checkpoint={best}", "split=test", "metrics=[bleu_sacre,rouge_l]",
                     "generation={max_new_tokens: 16}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["bleu_sacre"] == pytest.approx(train_metrics["test/bleu_sacre"], abs=1e-6)
    assert metrics["rouge_l"] == pytest.approx(train_metrics["test/rouge_l"], abs=1e-6)
    assert len((tmp_path / "eval" / "predictions").glob("test_step0.jsonl").__next__().read_text().splitlines()) == 8
