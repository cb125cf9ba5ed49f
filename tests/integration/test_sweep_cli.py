"""``gazelm train -m``: every job checked before the first starts; ``--dry-run``; a single debug run."""
from __future__ import annotations

import subprocess
from pathlib import Path

from gazelm.training import train
from tests.helpers.cli import gazelm_subprocess
from tests.helpers.compose import train_config


def _gazelm(*args: str) -> subprocess.CompletedProcess:
    """``gazelm <args>`` in a fresh interpreter: a Hydra app reconfigures logging, which closes handlers
    (absl's, through rouge-score) that hold pytest's capture streams, so no Hydra app runs in-process."""
    return gazelm_subprocess(*args)


def test_a_sweep_with_bad_jobs_lists_every_problem_and_starts_nothing(tmp_path: Path) -> None:
    # the README's old sweep varied task and data together, and ran eyemulator without gaze
    res = _gazelm("train", "-m", "task=translation,summarization", "objective=ce,eyemulator", "data=python_stdlib",
                  "callbacks.generation.metrics=[rouge_l,codebleu]", f"hydra.sweep.dir={tmp_path}/sweep")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0] == "gazelm train: the sweep cannot run: 4 of 4 jobs have problems; no job was started."
    assert lines[1].startswith("  - jobs 0, 1: data: source 'python_stdlib' has no 'translation' task")
    assert lines[2].startswith("  - jobs 1, 3: objective: EyeMulator trains with gaze but gaze=none")
    assert lines[3].startswith("  - jobs 2, 3: metric 'codebleu' cannot score task=summarization targets")
    assert "Traceback" not in res.stderr and not (tmp_path / "sweep").exists()


def test_dry_run_prints_the_jobs_and_the_slurm_submission_without_submitting(tmp_path: Path) -> None:
    res = _gazelm("train", "-m", "launcher=submitit_slurm", "trainer=ddp", "trainer.devices=4",
                  "hydra.launcher.partition=gpu", "objective=ce,eyemulator", "gaze=eyemulator_priors",
                  "seed=42,12345", f"hydra.sweep.dir={tmp_path}/sweep", "--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0] == "gazelm: 4 job(s); every config checked; dry run, nothing started"
    assert out[1] == "every job: launcher=submitit_slurm trainer=ddp trainer.devices=4 gaze=eyemulator_priors"
    rows = [[c.strip() for c in line.split("│")[1:3]] for line in out if line.startswith("│")]
    assert rows == [["0", "objective=ce seed=42"], ["1", "objective=ce seed=12345"],
                    ["2", "objective=eyemulator seed=42"], ["3", "objective=eyemulator seed=12345"]]
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --gpus-per-node=4", "#SBATCH --ntasks-per-node=4",
                 "#SBATCH --partition=gpu"):
        assert line in out
    assert not (tmp_path / "sweep").exists()


def test_a_single_debug_run_does_not_need_the_sweepers_metric(tmp_path: Path, shared_cache: Path) -> None:
    # debug=overfit validates every 10 epochs: no val/loss after 2; only a sweeper reads optimized_metric
    cfg = train_config(tmp_path, shared_cache, "debug=overfit", "trainer.max_epochs=2", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 16, val: 4, test: 4}", "callbacks.generation=null")
    assert cfg.optimized_metric is None
    assert train(cfg) is None
    assert "val/loss" not in (tmp_path / "metrics.json").read_text()
