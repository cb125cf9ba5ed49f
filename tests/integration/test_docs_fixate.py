"""Every command in docs/fixate.md composes (train lines: the real config, every target bound to its
signature; report lines: the flags parse), so the page cannot drift from what runs. The runs
themselves are covered by test_fixate_train.py (fast_dev_run of the experiment, each operator)."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gazelm.cli.report import parse_args
from gazelm.config import project_root
from tests.helpers.compose import compose_config
from tests.helpers.docs import commands as page_commands
from tests.integration.test_configs import check_targets

DOC = project_root() / "docs" / "fixate.md"


def commands() -> list[list[str]]:
    return page_commands(DOC)


def test_the_page_has_commands() -> None:
    assert any(c[:3] == ["gazelm", "train", "experiment=fixate_code"] for c in commands())


@pytest.mark.parametrize("command", [c for c in commands() if c[:2] == ["gazelm", "train"]], ids=" ".join)
def test_train_command_composes(command: list[str], tmp_path: Path) -> None:
    args = [a for a in command[2:] if a != "-m" and not a.startswith("hydra.")]
    cfg = compose_config(args, output_dir=tmp_path)
    OmegaConf.resolve(cfg.paths)
    assert check_targets(cfg) >= 3


@pytest.mark.parametrize("command", [c for c in commands() if c[:2] == ["gazelm", "report"]], ids=" ".join)
def test_report_command_parses(command: list[str]) -> None:
    args = parse_args(command[2:])
    assert args.sweep_dir and args.baseline
