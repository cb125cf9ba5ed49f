"""Every command and snippet of docs/fixate_visual.md runs as written, in a cheap form (the page's
own test, delegated from tests/docs/commands.yaml): the `python ...` lines (the synthetic studies,
the page script) run in order in one scratch folder; train lines compose the real config with
every target bound and pass the preflight there (the download path of the GPU lines replaced by
the synthetic folder, the hub model not required in the cache); report lines parse; the Python
block executes. The training runs themselves are test_fixate_visual.py's."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gazelm.cli.report import parse_args
from gazelm.config import project_root
from tests.docs.runner import check_command, commands_in, split_command
from tests.helpers.compose import compose_config
from tests.integration.test_configs import check_targets

DOC = project_root() / "docs" / "fixate_visual.md"
DOWNLOAD = "/data/RecGaze"  # where the page's GPU lines point: the synthetic folder stands in for it


def commands() -> list[str]:
    return commands_in(DOC.read_text(encoding="utf-8"))


def run(command: str, cwd: Path) -> str:
    args = split_command(command)
    env = {**os.environ, "PYTHONPATH": f"{project_root()}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, data_dir) -> Path:
    """The page's `python ...` lines, run in order in one folder (the synthetic studies first)."""
    root = tmp_path_factory.mktemp("docs")
    (root / "tests").symlink_to(project_root() / "tests")
    (root / "scripts").symlink_to(project_root() / "scripts")
    for command in commands():
        if command.startswith("python "):
            run(command, root)
    return root


def test_the_page_has_its_commands() -> None:
    found = commands()
    assert any(c.startswith("gazelm train experiment=fixate_recgaze") for c in found)
    assert any(c.startswith("gazelm train experiment=fixate_adserp") for c in found)
    assert any(c.startswith("python -m tests.synthetic_studies recgaze") for c in found)
    assert any(DOWNLOAD in c for c in found)


def test_python_commands_ran(scratch: Path) -> None:
    assert (scratch / ".cache/synthetic/recgaze/summary_feedback.csv").is_file()
    assert (scratch / ".cache/synthetic/adserp/participants.csv").is_file()
    assert (scratch / "page.png").is_file()


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("gazelm train")])
def test_train_command_composes_and_passes_the_preflight(command: str, scratch: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    words = split_command(command.replace(DOWNLOAD, ".cache/synthetic/recgaze"))
    cfg = compose_config([w for w in words[2:] if w != "-m"], output_dir=tmp_path)
    OmegaConf.resolve(cfg.paths)
    assert cfg.data._target_ == "gazelm.data.visual.VisualDataModule"
    assert check_targets(cfg) >= 3
    monkeypatch.chdir(scratch)  # the page's paths are relative to where its python lines wrote
    assert check_command(words, {"HF_HUB_OFFLINE": "0"}) == []  # a hub model is fetched on first use


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("gazelm report")])
def test_report_command_parses(command: str) -> None:
    args = parse_args(split_command(command)[2:])
    assert args.sweep_dir and args.baseline


def test_python_block_runs(scratch: Path, monkeypatch) -> None:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    monkeypatch.chdir(scratch)
    snippet = [c for c in code if "load_trials" in c]
    assert snippet
    exec(compile(snippet[0], str(DOC), "exec"), {})
