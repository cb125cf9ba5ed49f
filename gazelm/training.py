"""One training job, top to bottom: setup → fit → test → report → cleanup.

Hydra and Lightning meet here and in ``gazelm.cli.train`` only.
"""
from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gazelm.checkpoints import RunConfigInCheckpoint
from gazelm.config_types import check_config_types
from gazelm.data.datamodule import GazeDataModule
from gazelm.distributed import teardown_job
from gazelm.errors import GazelmInputError
from gazelm.host_memory import retain_freed_memory
from gazelm.models.backbones import Backbone
from gazelm.models.module import GazeLM
from gazelm.preflight import check_config, check_gaze_signal
from gazelm.registry import import_plugins
from gazelm.resume import check_ckpt_file, resolve_ckpt_path

log = logging.getLogger(__name__)


def _no_tips(record: logging.LogRecord) -> bool:
    return "Tip:" not in record.getMessage()


def _quiet_lightning_tips() -> None:
    """Lightning 2.6 advertises cloud services at every start; keep logs about the run."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_no_tips)  # the same filter object: added once per logger


def _seed(cfg: DictConfig) -> int:
    """Seed everything; ``seed: null`` draws a fresh seed (never a stale ``PL_GLOBAL_SEED``)."""
    os.environ.pop("PL_GLOBAL_SEED", None)
    seed = cfg.get("seed")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    L.seed_everything(int(seed), workers=True, verbose=False)
    return int(seed)


def _named_components(group: DictConfig | None) -> list[Any]:
    """Instantiate every ``_target_`` entry of a named dict (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


def build_components(cfg: DictConfig) -> tuple[GazeDataModule, GazeLM]:
    """Data, backbone (its tokenizer trained on the training split if tiny) and module."""
    gaze = instantiate(cfg.gaze) if cfg.get("gaze") else None
    datamodule: GazeDataModule = instantiate(cfg.data, gaze=gaze, _recursive_=False)
    objective = instantiate(cfg.objective)
    if datamodule.packing and not objective.supports_packing:
        raise GazelmInputError(f"data.packing=true: objective {type(objective).__name__} compares whole rows "
                               "(attention maps, per-row means), so packed rows would change its loss; use an "
                               "objective that supports packing (ce, eyemulator) or data.packing=false",
                               field="data.packing")
    model_cfg = cfg.model
    # without training (evaluation-only data), a tiny model's tokenizer learns the test prompts
    corpus_split = "train" if cfg.get("train", True) else "test"
    corpus = datamodule.tokenizer_corpus(corpus_split) if (model_cfg.get("tokenizer") or {}).get("train") else None
    extra = {}
    if "attentions" in objective.needs and not model_cfg.get("attn_implementation"):
        extra["attn_implementation"] = "eager"  # attention weights are only returned by eager attention
    # data goes in after instantiation: texts passed through Hydra would be parsed as
    # OmegaConf interpolations (a docstring containing "${x}" breaks the run)
    build = instantiate(model_cfg, _partial_=True, _convert_="all")
    backbone: Backbone = build(corpus=corpus, **extra)
    datamodule.attach_backbone(backbone)
    datamodule.attach_objective(objective)
    module = GazeLM(backbone, objective, optim=cfg.optim, scheduler=cfg.get("scheduler"))
    # parameters that depend on the data (FixATE's per-user prompts) exist before a checkpoint is
    # checked against the module (resume) or loaded into it; setup() attaches again (no-op)
    objective.attach_data(datamodule)
    if cfg.get("compile"):
        backbone.compile_model(cfg.compile)
    return datamodule, module


def _log_config(trainer: L.Trainer, cfg: DictConfig, module: GazeLM) -> None:
    params = {"config": OmegaConf.to_container(cfg, resolve=True), **module.backbone.parameter_counts()}
    for logger in trainer.loggers:
        logger.log_hyperparams(params)


def final_metrics(trainer: L.Trainer) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(trainer.callback_metrics.items()) if getattr(v, "numel", lambda: 1)() == 1}


def print_summary(metrics: dict[str, float], output_dir: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="gazelm: final metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    from gazelm.metrics import headline_metric_names

    names = sorted(metrics, key=lambda n: (not n.startswith("val/"), n))  # val first, then test
    for name in headline_metric_names(names):  # components stay in metrics.json
        table.add_row(name, f"{metrics[name]:.4f}")
    console = Console(force_terminal=False if os.environ.get("CI") else None, width=100)
    console.print(table)
    console.print(f"output directory: {output_dir}")


def train(cfg: DictConfig) -> float | None:
    """Run one job; returns ``cfg.optimized_metric`` (for Hydra sweepers) if set."""
    output_dir = cfg.paths.output_dir
    _quiet_lightning_tips()
    import_plugins(cfg.get("plugins"))
    check_ckpt_file(cfg.get("ckpt_path"))
    try:
        check_config(cfg)
        cfg.seed = _seed(cfg)
        check_config_types(cfg)
        if cfg.get("retain_freed_memory", True):
            retain_freed_memory()
        datamodule, module = build_components(cfg)
        check_gaze_signal(cfg, datamodule, module.objective)
        callbacks = [*_named_components(cfg.get("callbacks")), RunConfigInCheckpoint(cfg)]
        trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks,
                                         logger=_named_components(cfg.get("logger")) or False,
                                         default_root_dir=output_dir)
        _log_config(trainer, cfg, module)
        metrics: dict[str, float] = {}
        if cfg.get("train", True):
            ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), trainer, module, cfg)
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            metrics.update(final_metrics(trainer))
        if cfg.get("test", True):
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
            trainer.test(module, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False)
            metrics.update(final_metrics(trainer))
        if trainer.is_global_zero:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            with open(Path(output_dir) / "metrics.json", "w") as fh:
                json.dump(metrics, fh, indent=2, sort_keys=True)
            print_summary(metrics, output_dir)
        # set by sweepers that read it (hparams_search=optuna); nothing trained, nothing to optimise
        target = cfg.get("optimized_metric") if cfg.get("train", True) else None
        if target:
            if target not in metrics:
                raise GazelmInputError(f"{target!r} was not logged; logged: {', '.join(metrics)}",
                                       field="optimized_metric")
            return metrics[target]
        return None
    finally:
        _finish_loggers()
        teardown_job()


def _finish_loggers() -> None:
    try:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    except ImportError:  # pragma: no cover - wandb is a dependency
        pass
