"""Opening a run folder: only allow-listed targets are rebuilt; overrides apply to the run's config."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gazelm.errors import GazelmInputError
from gazelm.run_folder import apply_overrides, gazelm_targets, load_run_config, untrusted_parts
from tests.helpers.compose import train_config


def test_every_shipped_config_is_trusted(tmp_path: Path) -> None:
    cfg = train_config(tmp_path, tmp_path, "objective=reward_sft", "callbacks=alignment", "logger=many",
                       "gaze=eyemulator_priors", "model=tiny_causal")
    assert untrusted_parts(cfg) == []
    assert {"gazelm.models.backbones.build_backbone", "gazelm.data.datamodule.GazeDataModule"} <= gazelm_targets()


@pytest.mark.parametrize("node,why", [
    ({"objective": {"_target_": "shutil.copyfile", "src": "/etc/passwd", "dst": "/tmp/x"}}, "objective._target_: shutil.copyfile"),
    ({"gaze": {"_target_": "gazelm.gaze.priors.save_priors"}}, "gaze._target_: gazelm.gaze.priors.save_priors"),
    ({"model": {"_target_": "transformers.dynamic_module_utils.get_class_from_dynamic_module"}},
     "get_class_from_dynamic_module"),  # a function under an allowed prefix
    ({"model": {"_target_": "transformers.AutoModelForCausalLM.from_pretrained", "trust_remote_code": True}},
     "trust_remote_code"),
    ({"optim": {"_target_": "${oc.env:EVIL}"}}, "an interpolated target"),
    ({"plugins": ["evil_module"]}, "plugins"),
    ({"callbacks": {"x": {"_target_": "lightning.pytorch.cli.LightningCLI"}}}, "LightningCLI"),
])
def test_hostile_targets_are_refused(node: dict, why: str, tmp_path: Path) -> None:
    base = OmegaConf.to_container(train_config(tmp_path, tmp_path), resolve=False)
    cfg = OmegaConf.merge(base, node)
    problems = untrusted_parts(cfg)
    assert any(why in p for p in problems), problems
    file = tmp_path / "config.yaml"
    OmegaConf.save(cfg, file)
    with pytest.raises(GazelmInputError, match=r"refusing to rebuild this run.*trust_run_config=true"):
        load_run_config(file)
    assert load_run_config(file, trust=True) is not None  # the explicit flag lets it through
    assert "evil_module" not in sys.modules


def test_allowed_library_classes(tmp_path: Path) -> None:
    cfg = OmegaConf.create({"a": {"_target_": "torch.optim.SGD"}, "b": {"_target_": "lightning.pytorch.callbacks.EarlyStopping"},
                            "c": {"_target_": "transformers.GPT2Config"}, "d": {"trust_remote_code": False}})
    assert untrusted_parts(cfg) == []


def test_overrides_apply_to_a_run_config(tmp_path: Path) -> None:
    cfg = train_config(tmp_path, tmp_path)
    out = apply_overrides(cfg, ["data=mbpp", "task=generation", "task.max_source_length=64", "+extra.key=3",
                                "~tags"])
    assert out.data.source.name == "mbpp" and out.task.name == "generation"
    assert out.task.max_source_length == 64 and out.extra.key == 3 and "tags" not in out
    assert cfg.data.source.name == "python_stdlib"  # the loaded config itself is unchanged
    for bad, message in [("task.max_source_lenght=3", "has no key 'task.max_source_lenght'"),
                         ("data=nope", "no option 'nope' in config group 'data'"),
                         ("+ablation=ce", "cannot be applied to a finished run"),
                         ("seed=1,2", "sweeps"), ("task=[", "cannot parse")]:
        with pytest.raises(GazelmInputError, match=message):
            apply_overrides(cfg, [bad])


def test_a_task_override_brings_its_default_data_unless_data_is_given(tmp_path: Path) -> None:
    cfg = train_config(tmp_path, tmp_path)
    assert apply_overrides(cfg, ["task=translation"]).data.source.name == "codexglue_java_cs"
    both = apply_overrides(cfg, ["task=translation", "data=eyemulator_jsonl"])
    assert (both.task.name, both.data.source.name) == ("translation", "eyemulator_jsonl")
