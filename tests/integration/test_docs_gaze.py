"""docs/gaze.md cannot drift: its Python blocks and shell commands run as written.

The shell blocks run in one temporary folder, in order, with ``$GAZELM_DATA_DIR`` set and
the example format module of the page written there. ``gazelm train`` lines run in the
slow test, in a cheap form (``debug=fdr``, a few examples).
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

DOC = ROOT / "docs" / "gaze.md"
# 64 training examples: the page's toy priors (4 fixations) attend few tokens, and on 16 examples no target
# token of the first batch carried a weight, which gazelm stops as a gaze objective that would train plain CE
CHEAP = ("debug=fdr", "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 64, val: 4, test: 4}")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _commands(block: str) -> list[str]:
    """Shell lines with their ``\\`` continuations joined."""
    return [c.strip() for c in block.replace("\\\n", " ").split("\n") if c.strip()]


def _train_lines() -> list[list[str]]:
    return [shlex.split(c, comments=True) for b in _blocks("bash") for c in _commands(b)
            if c.startswith("gazelm train")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_dir) -> Path:
    work = tmp_path_factory.mktemp("docs_gaze")
    for block in _blocks("python"):
        first = block.split("\n", 1)[0]
        if first.startswith("# ") and first.endswith(".py"):  # a module the page asks you to write
            (work / first[2:]).write_text(block, encoding="utf-8")
    return work


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "GAZELM_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "CI": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_python_blocks_run(workdir, data_dir, monkeypatch):
    monkeypatch.setenv("GAZELM_DATA_DIR", str(data_dir))
    monkeypatch.chdir(workdir)
    ran = 0
    for block in _blocks("python"):
        if block.startswith("# ") and block.split("\n", 1)[0].endswith(".py"):
            continue
        exec(compile(block, f"{DOC}:python-block", "exec"), {})
        ran += 1
    assert ran >= 3


def test_shell_blocks_run(workdir, data_dir):
    script = ["set -euo pipefail"]
    for block in _blocks("bash"):
        script += [c for c in _commands(block) if not c.startswith("gazelm train")]
    r = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, env=_env(data_dir), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sum(line.startswith("gazelm gaze") for line in script) >= 10
    for made in ("p104.csv", "scanpaths.csv.gz", "my_priors/beta_distribution.json", "rows_weighted.jsonl",
                 "a34_weights.png", "a34_dwell.png", "toy.csv", "toy_priors/attention.json"):
        assert (workdir / made).exists(), made


@pytest.mark.slow
@pytest.mark.parametrize("command", _train_lines(), ids=" ".join)
def test_train_lines_run(command, workdir, data_dir, shared_cache, tmp_path):
    command = [c.replace("$PWD", str(workdir)) for c in command]
    if any("toy_priors" in c for c in command) and not (workdir / "toy_priors").exists():
        test_shell_blocks_run(workdir, data_dir)
    r = subprocess.run([*command, *CHEAP, f"paths.cache_dir={shared_cache}", f"hydra.run.dir={tmp_path}/run"],
                       cwd=workdir, env=_env(data_dir), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
