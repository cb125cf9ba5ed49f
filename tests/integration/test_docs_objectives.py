"""docs/objectives.md cannot drift from what runs.

Fast: every ``gazelm train`` line composes for each job it launches (a ``-m`` line: every job of
its sweep), every target binds to its signature, and the objective and gaze provider it selects
build. Slow: every line runs in a cheap form (``debug=fdr``, a few examples; a sweep as the same
multirun of those), from a folder holding the files the page asks you to write, with
``PYTHONPATH`` as its ``export`` line sets it. The line of "Adding an objective" also runs in full
in ``tests/integration/test_objective_plugin.py``, which checks its loss against the formula.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from gazelm.config import conf_dir
from tests.helpers.compose import compose_config
from tests.helpers.docs import command_lines, commands
from tests.helpers.plugins import user_package
from tests.integration.test_configs import check_targets
from tests.integration.test_objective_plugin import DOC, recipe

CHEAP = ["debug=fdr", "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 16, val: 4, test: 4}"]


def train_lines() -> list[list[str]]:
    return [c for c in commands(DOC) if c[:2] == ["gazelm", "train"]]


def jobs(line: list[str]) -> list[list[str]]:
    """The overrides of every job a ``gazelm train`` line launches (``-m``: the product of its
    comma-separated values, as Hydra's basic sweeper expands them)."""
    overrides = [o for o in line[2:] if not o.startswith("hydra.")]
    if "-m" not in overrides:
        return [overrides]
    choices = [[f"{o.split('=', 1)[0]}={v}" for v in o.split("=", 1)[1].split(",")] if "=" in o else [o]
               for o in overrides if o != "-m"]
    return [list(job) for job in itertools.product(*choices)]


def test_the_page_covers_every_shipped_objective_and_its_recipe() -> None:
    text = DOC.read_text(encoding="utf-8")
    for option in sorted(p.stem for p in (conf_dir() / "objective").glob("*.yaml")):
        assert f"| `{option}` |" in text, option
    assert recipe()[1] in train_lines()
    assert len(train_lines()) == 8 and len(jobs(train_lines()[1])) == 4


@pytest.mark.parametrize("line", [line for line in train_lines() if line != recipe()[1]], ids=" ".join)
def test_every_train_line_composes_and_builds(line: list[str], tmp_path: Path) -> None:
    for job in jobs(line):
        cfg = compose_config(job, output_dir=tmp_path)
        OmegaConf.resolve(cfg.paths)
        assert check_targets(cfg) >= 3
        instantiate(cfg.objective)
        if cfg.get("gaze"):
            instantiate(cfg.gaze)


@pytest.mark.slow
def test_every_line_runs(tmp_path: Path, shared_cache: Path) -> None:
    files, _ = recipe()
    work = user_package(tmp_path / "work", files).root
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    ran = 0
    for number, (text, line) in enumerate(zip(command_lines(DOC), commands(DOC))):
        if line[0] == "export":
            assert line == ["export", "PYTHONPATH=$PWD:$PYTHONPATH"]
            env["PYTHONPATH"] = os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")])
            continue
        assert line[:2] == ["gazelm", "train"], text
        multirun = "-m" in line
        cheap = [*line, *CHEAP, f"paths.cache_dir={shared_cache}",
                 f"hydra.{'sweep' if multirun else 'run'}.dir={tmp_path / f'run{number}'}"]
        if "objective.reward=codebleu" in line:
            cheap.append("objective.reward_options.codebleu.max_new_tokens=8")
        r = subprocess.run(cheap, cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (text, r.stderr[-3000:])
        ran += 1
    assert ran == len(train_lines())
