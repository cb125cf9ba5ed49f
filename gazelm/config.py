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
    """A run's name from its overrides (``objective=eyemulator,seed=42``), or ``default``.

    In a multirun only the overrides that vary across its jobs name it (the sweep directory is
    the W&B group, so ``experiment=…`` or ``debug=…`` shared by every job would only add noise).
    """
    from hydra.core.hydra_config import HydraConfig

    from gazelm.callbacks.hydra_jobs import current_sweep_varying
    from gazelm.sweep import varying

    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith(("hydra.", "paths."))]
    keys = current_sweep_varying()
    if keys:
        overrides = varying(overrides, keys) or overrides
    return ",".join(overrides) or "default"


def task_language(which: str, *, _root_) -> str | None:
    """``${gazelm.task_language:source|target}``: the language of the task's source or target
    texts as the data source declares it (``java``, ``c_sharp``, ``python``, ``text``), or
    ``None`` when the source declares nothing."""
    from gazelm.data.sources import SOURCES, source_tasks

    source = OmegaConf.select(_root_, "data.source")
    task = OmegaConf.select(_root_, "task.name")
    if source is None or task is None:
        return None
    options = {k: v for k, v in OmegaConf.to_container(source, resolve=True).items()
               if k not in ("name", "max_examples")}
    if source.name not in SOURCES or "tasks" not in SOURCES.meta(source.name):
        return None
    languages = source_tasks(source.name, **options).get(task)
    return None if languages is None else languages[("source", "target").index(which)]


def register_resolvers() -> None:
    """``${gazelm.root:}``, ``${gazelm.data_dir:}``, ``${gazelm.sweep_group:}``, ``${gazelm.job_name:}``,
    ``${gazelm.task_language:target}``."""
    resolvers = {"gazelm.root": lambda: str(project_root()), "gazelm.data_dir": default_data_dir,
                 "gazelm.sweep_group": sweep_group, "gazelm.job_name": job_name, "gazelm.task_language": task_language}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()
