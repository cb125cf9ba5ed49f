"""Every command in docs/fixate.md composes (train lines: the real config, every target bound to its
signature; report lines: the flags parse), so the page cannot drift from what runs. The runs
themselves are covered by test_fixate_train.py (fast_dev_run of the experiment, each operator)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gazelm.cli.report import parse_args
from gazelm.config import project_root
from tests.helpers.compose import compose_config
from tests.integration.test_configs import check_targets

DOC = project_root() / "docs" / "fixate.md"


def commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line:
                lines.append(line)
    return lines


def test_the_page_has_commands() -> None:
    assert any(c.startswith("gazelm train experiment=fixate_code") for c in commands())


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("gazelm train")])
def test_train_command_composes(command: str, tmp_path: Path) -> None:
    args = [a for a in shlex.split(command)[2:] if a != "-m" and not a.startswith("hydra.")]
    cfg = compose_config(args, output_dir=tmp_path)
    OmegaConf.resolve(cfg.paths)
    assert check_targets(cfg) >= 3


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("gazelm report")])
def test_report_command_parses(command: str) -> None:
    args = parse_args(shlex.split(command)[2:])
    assert args.sweep_dir and args.baseline
