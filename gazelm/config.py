"""Where the config tree and the project root are, and OmegaConf resolvers."""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The clone gazelm runs from (parent of the package), or the working directory."""
    root = PACKAGE_DIR.parent
    return root if (root / "conf").is_dir() else Path.cwd()


def conf_dir() -> Path:
    """The Hydra config tree: ``$GAZELM_CONF_DIR`` or ``<project>/conf``."""
    override = os.environ.get("GAZELM_CONF_DIR")
    path = Path(override) if override else project_root() / "conf"
    if not path.is_dir():
        raise FileNotFoundError(f"gazelm config directory not found: {path} (set GAZELM_CONF_DIR)")
    return path


def default_data_dir() -> str:
    """``$GAZELM_DATA_DIR`` or ``<project>/../shared/data``."""
    return os.environ.get("GAZELM_DATA_DIR") or str((project_root() / ".." / "shared" / "data").resolve())


def sweep_group() -> str:
    """The W&B group of a job: its sweep directory (multirun) or run directory."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    path = hc.sweep.dir if str(hc.mode) == "RunMode.MULTIRUN" else hc.run.dir
    return "_".join(Path(path).parts[-2:])


def job_name() -> str:
    """A run's name from its overrides (``objective=eyemulator,seed=42``), or ``default``."""
    from hydra.core.hydra_config import HydraConfig

    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "paths."))]
    return ",".join(overrides) or "default"


def register_resolvers() -> None:
    """``${gazelm.root:}``, ``${gazelm.data_dir:}``, ``${gazelm.sweep_group:}``, ``${gazelm.job_name:}``."""
    resolvers = {"gazelm.root": lambda: str(project_root()), "gazelm.data_dir": default_data_dir,
                 "gazelm.sweep_group": sweep_group, "gazelm.job_name": job_name}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()
