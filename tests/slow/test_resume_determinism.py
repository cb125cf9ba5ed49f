"""Same config + seed → same metrics; a run resumed from its checkpoint — taken at an epoch end or
at any optimizer step, killed with SIGKILL, under gradient accumulation and under DDP — ends with
exactly the metrics, weights and CSV history of the uninterrupted run."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gazelm.training import train
from tests.conftest import ROOT
from tests.helpers.compose import train_config

pytestmark = pytest.mark.slow
BASE = ("trainer.limit_train_batches=4", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
        "data.source.max_examples={train: 64, val: 16, test: 16}", "model.tokenizer.vocab_size=600",
        "callbacks.generation.max_samples=8", "callbacks.generation.generation.max_new_tokens=8")
# every optimizer step writes a checkpoint (kept under its step number): 12 micro-batches of 4 per
# epoch, accumulated in pairs → 6 optimizer steps per epoch, 2 epochs
EVERY_STEP = ("data.source.max_examples={train: 48, val: 16, test: 16}", "data.batch_size=4",
              "trainer.accumulate_grad_batches=2", "trainer.max_epochs=2", "trainer.limit_train_batches=null",
              "trainer.log_every_n_steps=1", "callbacks.last_checkpoint.every_n_train_steps=1",
              "callbacks.last_checkpoint.save_top_k=-1", '+callbacks.last_checkpoint.filename="step{step}"',
              "+callbacks.last_checkpoint.auto_insert_metric_name=false")


def _run(path: Path, cache: Path, *overrides: str) -> dict[str, float]:
    train(train_config(path, cache, *BASE, *overrides))
    return json.loads((path / "metrics.json").read_text())


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, weights_only=True)["state_dict"]


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])][:3]


def _csv_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


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


def test_resume_from_any_step_under_accumulation_is_exact(tmp_path: Path, shared_cache: Path) -> None:
    overrides = ("model=tiny_causal", *EVERY_STEP)
    full = _run(tmp_path / "full", shared_cache, *overrides)
    checkpoints = tmp_path / "full" / "checkpoints"
    assert sorted(int(p.stem[4:]) for p in checkpoints.glob("step*.ckpt")) == list(range(1, 13))
    for step in (2, 9):  # mid-epoch in epoch 0 and in epoch 1 (the data order of epoch 1 is its own)
        copy = tmp_path / f"step{step}.ckpt"  # a checkpoint path without '=' for the override
        copy.write_bytes((checkpoints / f"step{step}.ckpt").read_bytes())
        run = tmp_path / f"resumed{step}"
        resumed = _run(run, shared_cache, *overrides, f"ckpt_path={copy}")
        assert resumed == full, step  # every metric, bit for bit
        _assert_same_weights(run / "checkpoints" / "step12.ckpt", checkpoints / "step12.ckpt")


def test_same_seed_same_metrics_including_seed_zero(tmp_path: Path, shared_cache: Path) -> None:
    a = _run(tmp_path / "a", shared_cache, "seed=0", "trainer.max_epochs=1")
    b = _run(tmp_path / "b", shared_cache, "seed=0", "trainer.max_epochs=1")
    c = _run(tmp_path / "c", shared_cache, "seed=1", "trainer.max_epochs=1")
    assert a == b
    assert a["val/loss"] != c["val/loss"]


# -- SIGKILL mid-epoch under DDP (2 gloo processes) and accumulation, then `gazelm train resume=<run dir>` --
DDP = ["trainer=ddp_sim", "model=tiny_causal", "model.tokenizer.vocab_size=600", "trainer.max_epochs=2",
       "data.source.max_examples={train: 32, val: 8, test: 8}", "data.batch_size=2",
       "trainer.accumulate_grad_batches=2", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
       "trainer.log_every_n_steps=1", "callbacks.last_checkpoint.every_n_train_steps=1",
       "callbacks.generation.max_samples=4", "callbacks.generation.generation.max_new_tokens=4"]
STEPS_PER_EPOCH = 4  # 16 batches of 2 → 8 per rank → 4 optimizer steps


def _gazelm_train(*args: str, cache: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"}
    return subprocess.Popen([sys.executable, "-m", "gazelm.cli.train", *args, f"paths.cache_dir={cache}"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]


def _kill_after_step(proc: subprocess.Popen, checkpoint: Path, step: int) -> int:
    """SIGKILL the run (both DDP processes) as soon as its last.ckpt is from ``step`` or later."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists():
            saved = int(torch.load(checkpoint, weights_only=True)["global_step"])
            if saved >= step:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return saved
        time.sleep(0.05)
    raise AssertionError(f"the run ended before a checkpoint of step {step}: {proc.communicate()[0][-3000:]}")


def test_sigkill_mid_epoch_then_resume_under_ddp_and_accumulation(tmp_path: Path, shared_cache: Path) -> None:
    full, killed = tmp_path / "full", tmp_path / "killed"
    _finish(_gazelm_train(*DDP, f"hydra.run.dir={full}", cache=shared_cache))
    proc = _gazelm_train(*DDP, f"hydra.run.dir={killed}", cache=shared_cache, start_new_session=True)
    saved = _kill_after_step(proc, killed / "checkpoints" / "last.ckpt", 2)
    assert not (killed / "metrics.json").exists()
    _finish(_gazelm_train(f"resume={killed}", cache=shared_cache))  # the same directory, the run's own config
    assert json.loads((killed / "metrics.json").read_text()) == json.loads((full / "metrics.json").read_text())
    _assert_same_weights(killed / "checkpoints" / "last.ckpt", full / "checkpoints" / "last.ckpt")
    assert _csv_rows(killed) == _csv_rows(full)  # one history: appended, nothing repeated or missing
    print(f"killed after optimizer step {saved} (epoch {saved // STEPS_PER_EPOCH}, "
          f"step {saved % STEPS_PER_EPOCH} of {STEPS_PER_EPOCH})")
