"""docs/training.md cannot drift: its commands run as written, in order, in one folder.

Every `gazelm train` line runs in a cheap form (a few examples and batches appended, keys the line
sets kept; outputs in a temporary folder), so `resume=last` and `gazelm export checkpoint=last`
find the runs of the lines before them; the Python block loads the export. Lines that need what a CI machine lacks
(a GPU, more than two processes, SLURM, weights from the hub), and two whose full run other slow
tests make, are composed and type-checked instead. `make` lines are the Makefile's (CI runs `make test` itself). Transcript blocks
(``$ command`` then its output) must print that output.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.docs import blocks, command_lines

pytestmark = pytest.mark.slow
DOC = ROOT / "docs" / "training.md"
NEEDS_HARDWARE = re.compile(r"trainer=(gpu|ddp)\b|trainer.devices=[3-9]|launcher=submitit_slurm|"
                            r"model=(codet5|qwen|deepseek|starcoder|llama)")
# run in full by other tests (DDP: tests/slow/test_resume_determinism.py and test_multirun.py; fast_dev_run
# with and without LoRA: tests/integration/test_fast_dev_run.py, test_objectives_fast_dev_run.py):
# composed and type-checked here
COVERED = {"gazelm train trainer=ddp_sim", "gazelm train debug=fdr",
           "gazelm train model=tiny_causal task=completion optim.lr=3e-4 trainer.max_epochs=5",
           "gazelm train model=tiny_causal model.lora.enabled=true debug=fdr"}
CHEAP = ["model.tokenizer.vocab_size=600", "data.source.max_examples={train: 16, val: 4, test: 4}",
         "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
         "trainer.max_epochs=1", "callbacks.generation.max_samples=2", "callbacks.generation.generation.max_new_tokens=4"]


def _cheap(argv: list[str], work: Path, cache: Path) -> list[str]:
    if argv[:2] == ["gazelm", "export"]:
        return [*argv, f"runs_dir={work / 'outputs'}", f"cache_dir={cache}"]
    given = {a.split("=", 1)[0] for a in argv if "=" in a}
    extra = [] if any(a.startswith("resume=") for a in argv) else [c for c in CHEAP if c.split("=", 1)[0] not in given]
    return [*argv, *extra, f"paths.log_dir={work / 'outputs'}", f"paths.cache_dir={cache}"]


def _compose_only(argv: list[str], work: Path) -> None:
    from gazelm.config_types import check_config_types
    from tests.helpers.compose import compose_config
    from tests.integration.test_configs import check_targets

    overrides = [a.split(",")[0] for a in argv[2:] if a not in ("-m", "--multirun")]  # one job of a sweep
    cfg = compose_config(overrides, output_dir=work / "composed")
    check_targets(cfg)
    check_config_types(cfg, overrides)


def test_every_command_on_the_training_page_runs(tmp_path: Path, shared_cache: Path) -> None:
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, **kwargs)

    for line in command_lines(DOC):
        argv = shlex.split(line, comments=True)
        if argv[0] == "make":
            continue
        if NEEDS_HARDWARE.search(line) or " ".join(argv) in COVERED:
            _compose_only(argv, tmp_path)
            continue
        result = run(_cheap(argv, tmp_path, shared_cache))
        assert result.returncode == 0, (line, result.stderr[-3000:])
    for transcript in re.findall(r"```\n(\$ .*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        lines = transcript.strip().split("\n")
        for command, expected in zip(lines[::2], lines[1::2]):
            result = run(_cheap(shlex.split(command[2:]), tmp_path, shared_cache))
            assert result.returncode == 2 and expected in result.stderr, (command, result.stderr[-2000:])
    for block in blocks(DOC, "python"):
        result = run([sys.executable, "-c", block])
        assert result.returncode == 0, (block, result.stderr[-3000:])
    assert (tmp_path / "exported" / "my-model" / "config.json").is_file()
