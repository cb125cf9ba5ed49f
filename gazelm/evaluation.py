"""Evaluate a trained checkpoint or a Hugging Face model on a task's split.

Both rebuild the training pipeline from a train config — the run's own
``.hydra/config.yaml`` for a checkpoint, the composed ``conf/train.yaml`` plus
``overrides`` for a hub model — then generate with :class:`GenerationEvaluator` and
score with the metric registry. Checkpoints load with ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

from gazelm.callbacks.generation import GenerationEvaluator
from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _run_config(cfg: DictConfig, checkpoint: Path) -> DictConfig:
    path = Path(cfg.run_config) if cfg.get("run_config") else checkpoint.resolve().parents[1] / ".hydra" / "config.yaml"
    if not path.exists():
        raise GazelmInputError("the training run's config was not found next to the checkpoint; "
                               "pass run_config=<run dir>/.hydra/config.yaml", path=path, field="run_config")
    return OmegaConf.load(path)


def _composed_train_config(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def _evaluate(train_cfg: DictConfig, cfg: DictConfig, output_dir: Path, state_dict: dict | None) -> dict[str, float]:
    from gazelm.training import build_components

    with open_dict(train_cfg):
        train_cfg.paths.output_dir = str(output_dir)
        for key in ("data_dir", "cache_dir"):
            if cfg.get(key):
                train_cfg.paths[key] = cfg[key]
    L.seed_everything(int(train_cfg.get("seed") or 0), verbose=False)
    datamodule, module = build_components(train_cfg)
    if state_dict is not None:
        module.load_state_dict(state_dict)
    split = cfg.get("split", "test")
    if split not in ("val", "test"):
        raise GazelmInputError(f"split must be val or test, not {split!r}", field="split")
    names = [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)
    evaluator = GenerationEvaluator(metrics=names, splits=[split], max_samples=cfg.get("max_samples"),
                                    batch_size=cfg.get("batch_size", 32), generation=_plain(cfg.get("generation")),
                                    output_dir=str(output_dir), metric_options=_plain(cfg.get("metric_options")))
    trainer = L.Trainer(accelerator=cfg.get("accelerator", "auto"), devices=1, logger=False, callbacks=[evaluator],
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(output_dir))
    run = trainer.test if split == "test" else trainer.validate
    run(module, datamodule=datamodule, verbose=False)
    return {k.split("/", 1)[1]: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(f"{split}/")}


def evaluate_checkpoint(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """``checkpoint=<run>/checkpoints/best-*.ckpt``: the model of a gazelm training run."""
    checkpoint = Path(cfg.checkpoint)
    if not checkpoint.exists():
        raise GazelmInputError("checkpoint not found", path=checkpoint, field="checkpoint")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "state_dict" not in state:
        raise GazelmInputError("not a Lightning checkpoint (no state_dict)", path=checkpoint, field="checkpoint")
    return _evaluate(_run_config(cfg, checkpoint), cfg, output_dir, state["state_dict"])


def evaluate_model(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """``model=<hub name or path> kind=causal|seq2seq overrides=[task=...,data=...]``: no training."""
    if cfg.get("kind") not in ("causal", "seq2seq"):
        raise GazelmInputError("model= evaluation needs kind=causal or kind=seq2seq", field="kind")
    group = "qwen2_5_coder_0_5b" if cfg.kind == "causal" else "codet5_small"
    train_cfg = _composed_train_config([f"model={group}", *list(cfg.get("overrides") or [])])
    with open_dict(train_cfg):
        train_cfg.model.name_or_path = str(cfg.model)
        train_cfg.model.lora.enabled = False
    return _evaluate(train_cfg, cfg, output_dir, None)
