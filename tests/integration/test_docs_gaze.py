"""docs/gaze.md cannot drift: its Python blocks and shell commands run as written.

The shell blocks run in one temporary folder, in order, with ``$GAZELM_DATA_DIR`` set and
the example format module of the page written there. ``gazelm train`` lines run in the
slow test, in a cheap form (``debug=fdr``, a few examples): composed from the real configs with the
line's overrides and trained in this process (what each line adds is its overrides; the ``gazelm train``
entry point itself runs as a process in tests/slow/test_docs_training.py and tests/docs/).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.docs import command_lines, commands, page_files, run_python_blocks
from tests.helpers.plugins import user_package

DOC = ROOT / "docs" / "gaze.md"
# 64 training examples: the page's toy priors (4 fixations) attend few tokens, and on 16 examples no target
# token of the first batch carried a weight, which gazelm stops as a gaze objective that would train plain CE
CHEAP = ("debug=fdr", "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 64, val: 4, test: 4}")


def _train_lines() -> list[list[str]]:
    return [c for c in commands(DOC) if c[:2] == ["gazelm", "train"]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_dir) -> Path:
    return user_package(tmp_path_factory.mktemp("docs_gaze"), page_files(DOC)).root  # the page's modules


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "GAZELM_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "CI": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_python_blocks_run(workdir, data_dir, monkeypatch):
    monkeypatch.setenv("GAZELM_DATA_DIR", str(data_dir))
    monkeypatch.chdir(workdir)
    assert run_python_blocks(DOC) >= 3


def test_shell_blocks_run(workdir, data_dir):
    script = ["set -euo pipefail", *(c for c in command_lines(DOC) if not c.startswith("gazelm train"))]
    r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, env=_env(data_dir), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sum(line.startswith("gazelm gaze") for line in script) >= 10
    for made in ("p104.csv", "scanpaths.csv.gz", "my_priors/beta_distribution.json", "rows_weighted.jsonl",
                 "a34_weights.png", "a34_dwell.png", "toy.csv", "toy_priors/attention.json"):
        assert (workdir / made).exists(), made


@pytest.mark.slow
@pytest.mark.parametrize("command", _train_lines(), ids=" ".join)
def test_train_lines_run(command, workdir, data_dir, shared_cache, tmp_path, monkeypatch):
    from gazelm.training import train
    from tests.helpers.compose import train_config

    command = [c.replace("$PWD", str(workdir)) for c in command]
    assert command[:2] == ["gazelm", "train"] and not any(c.startswith("-") for c in command[2:]), command
    if any("toy_priors" in c for c in command) and not (workdir / "toy_priors").exists():
        test_shell_blocks_run(workdir, data_dir)
    monkeypatch.setenv("GAZELM_DATA_DIR", str(data_dir))
    monkeypatch.chdir(workdir)
    train(train_config(tmp_path / "run", shared_cache, *command[2:], *CHEAP))
    assert (tmp_path / "run" / "metrics.json").is_file()
