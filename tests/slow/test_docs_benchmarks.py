"""docs/benchmarks.md cannot drift: every ``python benchmarks/...`` line on the page runs, in a cheap
form (its own arguments, then a few rounds/steps/examples appended: argparse keeps the last);
GPU lines (``--gpu``, and the GPU-only scripts) run with ``--dry-run`` on a machine without CUDA:
the same arms and code on CPU with tiny sizes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from tests.helpers.docs import commands as page_commands

DOC = ROOT / "docs" / "benchmarks.md"
CHEAP = {
    "train_throughput.py": ["--rounds", "1", "--steps", "1", "--warmup", "1", "--examples", "48",
                            "--arms", "gazelm", "hf_grouped"],
    "profile_train.py": ["--steps", "1", "--warmup", "1"],
    "gaze_pipeline.py": ["--rows", "40", "--rounds", "1", "--steps", "1"],
    "objective_overhead.py": ["--batch", "2", "--seq", "32", "--hidden", "32", "--layers", "1", "--vocab", "256",
                              "--rounds", "1", "--warmup", "1"],
    "eval_speed.py": ["--pairs", "20", "--pairs-total", "20", "--rounds", "1", "--gen-inputs", "2",
                      "--max-new-tokens", "2"],
    "attribution_speed.py": ["--prompts", "3", "--rounds", "1", "--steps", "1", "--ig-steps", "2",
                             "--max-new-tokens", "2"],
    "fixate_step.py": ["--batch", "2", "--seq", "96", "--slots", "6", "--hidden", "16", "--layers", "2",
                       "--heads", "2", "--vocab", "128", "--rounds", "1", "--warmup", "0"],
    "fused_ce.py": ["--rounds", "1", "--warmup", "1"],
}
GPU_ONLY = {"fused_ce.py"}


def commands() -> list[list[str]]:
    return [c for c in page_commands(DOC) if c[0] == "python" and c[1].startswith("benchmarks/")]


@pytest.mark.slow
def test_every_benchmark_line_runs(data_dir) -> None:
    lines = commands()
    assert {script_name(c) for c in lines} == set(CHEAP)  # every benchmark has its command on the page
    env = {**os.environ, "PYTHONHASHSEED": "0", "GAZELM_DATA_DIR": str(data_dir)}
    for line in lines:
        script = script_name(line)
        gpu = "--gpu" in line or script in GPU_ONLY
        dry = ["--dry-run"] if gpu and not torch.cuda.is_available() else []
        r = subprocess.run([sys.executable, *line[1:], *dry, *CHEAP[script]], cwd=ROOT, capture_output=True, text=True,
                           env=env, timeout=1200)
        assert r.returncode == 0, (line, r.stderr[-3000:])
        assert r.stdout.strip().splitlines()[-1].startswith("RATIO "), (line, r.stdout[-1000:])


def script_name(line: list[str]) -> str:
    return line[1].rsplit("/", 1)[-1]
