"""Compose the real Hydra config tree the way ``gazelm train`` does, for tests."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from gazelm.config import conf_dir

FAST = ("debug=fdr", "logger=csv")


def compose_config(overrides: Sequence[str] = (), config_name: str = "train", output_dir: Path | None = None,
                   cache_dir: Path | None = None) -> DictConfig:
    """The composed config with ``${hydra:...}`` resolvable and paths redirected."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    if output_dir is not None:
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        if output_dir is not None and "paths" in cfg:
            cfg.paths.output_dir = str(output_dir)
            cfg.paths.log_dir = str(output_dir)
        if cache_dir is not None and "paths" in cfg:
            cfg.paths.cache_dir = str(cache_dir)
    return cfg


def train_config(tmp_path: Path, cache_dir: Path, *overrides: str) -> DictConfig:
    cfg = compose_config(overrides, output_dir=tmp_path, cache_dir=cache_dir)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
