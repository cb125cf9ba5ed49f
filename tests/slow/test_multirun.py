"""Multirun sweeps with DDP inside each job: one sweep dir, one job dir per job (no rank re-runs the sweep)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
FAST = ["debug=limit", "trainer.max_epochs=1", "trainer.limit_train_batches=2", "model.tokenizer.vocab_size=600",
        "data.source.max_examples={train: 32, val: 8, test: 8}", "callbacks.generation.max_samples=4",
        "callbacks.generation.generation.max_new_tokens=4"]


def _sweep(tmp_path: Path, cache: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "true"}
    cmd = [sys.executable, "-m", "gazelm.cli.train", "-m", *FAST, *overrides, f"paths.cache_dir={cache}",
           f"paths.log_dir={tmp_path}", f"hydra.sweep.dir={tmp_path}/sweep"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _check_one_sweep(tmp_path: Path, result: subprocess.CompletedProcess, n_jobs: int) -> list[Path]:
    assert result.returncode == 0, result.stderr[-3000:]
    sweeps = [p for p in tmp_path.iterdir() if p.is_dir() and p.name != "runs"]
    assert [p.name for p in sweeps] == ["sweep"], sweeps  # exactly one sweep directory
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in jobs] == [str(i) for i in range(n_jobs)]
    for job in jobs:
        assert (job / "csv" / "metrics.csv").is_file(), job
        assert (job / "metrics.json").is_file(), job
        assert (job / ".hydra" / "overrides.yaml").is_file(), job
    return jobs


# A plain (single-process) multirun's layout (one sweep dir, a folder per job with .hydra/, csv/, metrics.json) is
# checked on the documentation's 6-job sweeps in tests/slow/test_sweep_e2e.py, which run anyway.


def test_ddp_sim_multirun_makes_one_sweep_dir(tmp_path: Path, shared_cache: Path) -> None:
    result = _sweep(tmp_path, shared_cache, "trainer=ddp_sim", "seed=0,1")
    jobs = _check_one_sweep(tmp_path, result, 2)
    # both ranks trained each job, and no rank re-ran the sweep
    for job in jobs:
        assert not (job / "sweep").exists() and not list(job.glob("multirun*"))
    assert result.stdout.count("gazelm: final metrics") == 2
