"""Evaluate a trained checkpoint or a Hugging Face model on a task's split.

A checkpoint's run is rebuilt from its own ``.hydra/config.yaml`` (only from allow-listed
targets: :mod:`gazelm.run_folder`) with the user's overrides applied; a hub model from the
composed ``conf/train.yaml`` with ``model=pretrained`` and the overrides (``pretrained=<name or path>``). Then
:class:`GenerationEvaluator` generates (n samples per example with
``generation.num_return_sequences``) and the metric registry scores. Checkpoints load with
``weights_only=True``.
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
from gazelm.registry import import_plugins
from gazelm.run_folder import TRUST_FLAG, apply_overrides, load_run_config, require_trusted


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _overrides(cfg: DictConfig) -> list[str]:
    overrides = cfg.get("overrides") or []
    if isinstance(overrides, str):
        raise GazelmInputError("expected a list: overrides=[...] or the overrides after --, e.g. "
                               "gazelm eval checkpoint=C -- data=mbpp", field="overrides")
    return [str(o) for o in overrides]


def _composed_train_config(overrides: list[str]) -> DictConfig:
    from hydra.errors import HydraException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)
    except HydraException as err:
        raise GazelmInputError(str(err).splitlines()[0], field="overrides") from None
    finally:
        GlobalHydra.instance().clear()


def _evaluate(train_cfg: DictConfig, cfg: DictConfig, output_dir: Path, state_dict: dict | None) -> dict[str, float]:
    from gazelm.training import build_components

    with open_dict(train_cfg):
        train_cfg.paths.output_dir = str(output_dir)
        for key in ("data_dir", "cache_dir"):
            if cfg.get(key):
                train_cfg.paths[key] = cfg[key]
    L.seed_everything(int(train_cfg.get("seed") or 0), verbose=False)
    split = cfg.get("split", "test")
    if split not in ("val", "test"):
        raise GazelmInputError(f"split must be val or test, not {split!r}", field="split")
    names = [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)
    options = {"n_jobs": cfg.get("n_jobs"), "execution": _plain(cfg.get("execution")),
               **(_plain(cfg.get("metric_options")) or {})}
    evaluator = GenerationEvaluator(metrics=names, splits=[split], max_samples=cfg.get("max_samples"),
                                    batch_size=cfg.get("batch_size", 32), generation=_plain(cfg.get("generation")),
                                    output_dir=str(output_dir), metric_options=options,
                                    stop=_plain(cfg.get("stop", "source")))
    datamodule, module = build_components(train_cfg)
    if state_dict is not None:
        missing, unexpected = module.load_state_dict(state_dict, strict=False)
        if missing or unexpected:
            raise GazelmInputError(f"the checkpoint does not fit the model this config builds (missing: "
                                   f"{', '.join(missing[:5]) or '-'}; unexpected: {', '.join(unexpected[:5]) or '-'})",
                                   field="checkpoint")
    trainer = L.Trainer(accelerator=cfg.get("accelerator", "auto"), devices=1, logger=False, callbacks=[evaluator],
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(output_dir))
    run = trainer.test if split == "test" else trainer.validate
    run(module, datamodule=datamodule, verbose=False)
    return {k.split("/", 1)[1]: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(f"{split}/")}


def _load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise GazelmInputError("checkpoint not found" if not path.exists() else "not a file", path=path,
                               field="checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # empty, truncated, foreign or refused by weights_only
        raise GazelmInputError(f"not a readable checkpoint: {str(err).splitlines()[0][:300]}", path=path,
                               field="checkpoint") from None
    if not isinstance(state, dict) or "state_dict" not in state:
        raise GazelmInputError("not a Lightning checkpoint (no state_dict)", path=path, field="checkpoint")
    return state


def evaluate_checkpoint(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """``checkpoint=<run>/checkpoints/best-*.ckpt``: the model of a gazelm training run."""
    checkpoint = Path(cfg.checkpoint)
    state = _load_checkpoint(checkpoint)
    trust = bool(cfg.get(TRUST_FLAG))
    source = Path(cfg.run_config) if cfg.get("run_config") else checkpoint.resolve().parents[1] / ".hydra" / "config.yaml"
    train_cfg = apply_overrides(load_run_config(source, trust=trust), _overrides(cfg))
    if trust:
        import_plugins(train_cfg.get("plugins"))
    else:
        require_trusted(train_cfg, source)  # the overrides too
    return _evaluate(train_cfg, cfg, output_dir, state["state_dict"])


def model_kind(name_or_path: str) -> str:
    """``seq2seq`` for an encoder-decoder model, else ``causal``, from the model's own config."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise GazelmInputError(f"cannot read the model's config ({str(err).splitlines()[0]}); pass kind=causal or "
                               "kind=seq2seq, or check the name (offline: it must be in the local cache)",
                               field="pretrained") from None
    return "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"


def evaluate_pretrained(cfg: DictConfig, output_dir: Path) -> dict[str, float]:
    """``pretrained=<hub name or path> [kind=causal|seq2seq] -- task=... data=...``: no training.

    The backbone is ``conf/model/pretrained.yaml`` with ``name_or_path`` and ``kind`` (read from
    the model's config when not given); the overrides pick the task, data, and anything else.
    """
    kind = cfg.get("kind") or model_kind(str(cfg.pretrained))
    if kind not in ("causal", "seq2seq"):
        raise GazelmInputError(f"must be causal or seq2seq, not {kind!r}", field="kind")
    train_cfg = _composed_train_config(["model=pretrained", f"model.kind={kind}", *_overrides(cfg)])
    with open_dict(train_cfg):
        train_cfg.model.name_or_path = str(cfg.pretrained)
    return _evaluate(train_cfg, cfg, output_dir, None)
