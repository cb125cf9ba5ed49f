"""Every shipped config composes, and every ``_target_`` binds to its target's signature.

Nothing is built: as torchtune does, the target is imported and the config's keys are
bound to its signature (arguments supplied at run time, like ``gaze`` or ``corpus``,
may be missing; unknown keys may not).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from gazelm.config import conf_dir
from gazelm.config_types import annotation_problems, target_nodes
from tests.helpers.compose import compose_config

CONF = conf_dir()
TRAIN_GROUPS = ["task", "data", "gaze", "model", "objective", "optim", "scheduler", "trainer", "callbacks", "logger",
                "launcher", "experiment", "hparams_search", "debug", "paths", "hydra", "ablation"]
APPENDED = {"ablation"}  # groups not in train.yaml's defaults: selected with +group=option


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def check_targets(cfg: DictConfig) -> int:
    checked = 0
    for path, node in target_nodes(cfg):
        if path.startswith("hydra"):
            continue
        target = get_object(node._target_)
        kwargs = {k: v for k, v in node.items() if not str(k).startswith("_")}
        signature = inspect.signature(target)
        try:
            signature.bind_partial(**kwargs)
        except TypeError as err:
            raise AssertionError(f"{path}: {node._target_} does not accept {sorted(kwargs)}: {err}") from None
        checked += 1
    return checked


CASES = [(g, o) for g in TRAIN_GROUPS for o in _options(g)]


@pytest.mark.parametrize("group,option", CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_every_train_option_composes_and_binds(group: str, option: str, tmp_path: Path) -> None:
    prefix = "+" if group in APPENDED else ""
    cfg = compose_config([f"{prefix}{group}={option}"], output_dir=tmp_path)
    OmegaConf.resolve(cfg.paths)
    assert check_targets(cfg) >= 3  # data, model, objective at least
    assert annotation_problems(cfg)[0] == {}  # every value has the type its target's signature annotates


def test_default_config_is_the_embedded_default(tmp_path: Path) -> None:
    cfg = compose_config([], output_dir=tmp_path)
    assert cfg.task.name == "summarization"
    assert cfg.data.source.name == "python_stdlib"
    assert cfg.model.kind == "seq2seq" and cfg.model.config.model_type == "t5"
    assert cfg.objective._target_ == "gazelm.objectives.ce.CrossEntropy"
    assert cfg.trainer.accelerator == "cpu" and cfg.seed == 0


@pytest.mark.parametrize("name", ["eval", "align"])  # the other Hydra apps (gazelm eval, gazelm align)
def test_other_apps_compose(name: str, tmp_path: Path) -> None:
    cfg = compose_config([], config_name=name, output_dir=tmp_path)
    check_targets(cfg)


def test_report_defaults_are_read_as_gazelm_report_reads_them() -> None:
    # report.yaml is not a Hydra app config: `gazelm report` (argparse) loads it as plain YAML
    from gazelm.cli.report import _run, parse_args

    args = parse_args(["--config", str(CONF / "report.yaml")])
    assert args.config.endswith("report.yaml") and args.sweep_dir is None
    assert _run(args) == 2  # no directory and no W&B project: the usage error, after reading the defaults
    defaults = OmegaConf.to_container(OmegaConf.load(CONF / "report.yaml"), resolve=True)
    assert {"baseline", "metrics", "seed_key", "bootstrap_samples", "bootstrap_seed", "plots", "group_key",
            "out_dir", "wandb", "participants"} == set(defaults)


def test_unknown_group_option_is_a_clear_error(tmp_path: Path) -> None:
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="model/no_such_model"):
        compose_config(["model=no_such_model"], output_dir=tmp_path)
