"""A trained checkpoint as a Hugging Face model folder (``save_pretrained``), tokenizer included.

The backbone is rebuilt from the run config stored in the checkpoint (or the run directory's
``.hydra/config.yaml``) — only through gazelm's own builders: the config's ``model`` must
target :func:`gazelm.models.backbones.build_backbone` and its ``data``
:class:`gazelm.data.datamodule.GazeDataModule`, whatever else the file says, so exporting a
checkpoint from someone else runs no code of theirs. A tokenizer trained on the task's
training split is rebuilt from the same texts (or its cache). The weights load strictly.

LoRA backbones are written merged (``lora=merge``: a plain model) or as the adapter
(``lora=adapter``: ``adapter_config.json`` + ``adapter_model.safetensors``, whose
``base_model_name_or_path`` is the hub model, or the ``base/`` folder written next to it for
a model built from config). Either folder loads with ``AutoModelForCausalLM`` /
``AutoModelForSeq2SeqLM.from_pretrained(out)`` (an adapter through transformers' PEFT
integration) and ``AutoTokenizer.from_pretrained(out)``.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from gazelm.checkpoints import CONFIG_KEY, read_checkpoint
from gazelm.errors import GazelmInputError

log = logging.getLogger(__name__)
BUILDERS = {"model": "gazelm.models.backbones.build_backbone", "data": "gazelm.data.datamodule.GazeDataModule"}
LORA_MODES = ("merge", "adapter")


def _run_config(state: Mapping[str, Any], checkpoint: Path, run_config: str | None) -> dict[str, Any]:
    if run_config is None and CONFIG_KEY in state:
        return dict(state[CONFIG_KEY])
    path = Path(run_config) if run_config else checkpoint.resolve().parents[1] / ".hydra" / "config.yaml"
    if not path.is_file():
        raise GazelmInputError("the checkpoint stores no run config and none was found next to it; "
                               "pass run_config=<run dir>/.hydra/config.yaml", path=path, field="run_config")
    cfg = OmegaConf.load(path)
    cfg.paths.output_dir = str(path.parents[1])  # ${hydra:...} does not resolve outside the run
    return OmegaConf.to_container(cfg, resolve=True)


def _checked(cfg: Mapping[str, Any], key: str) -> dict[str, Any]:
    node = dict(cfg.get(key) or {})
    target = node.pop("_target_", None)
    if target != BUILDERS[key]:
        raise GazelmInputError(f"refusing to build the {key} from {target!r}: export builds only with "
                               f"{BUILDERS[key]}", field=f"{key}._target_")
    return node


def rebuild_backbone(cfg: Mapping[str, Any], data_dir: str | None = None, cache_dir: str | None = None):
    """The run's backbone (untrained weights) with its tokenizer."""
    from gazelm.data.datamodule import GazeDataModule
    from gazelm.models.backbones import build_backbone

    moved = {old: new for old, new in ((cfg.get("paths", {}).get("data_dir"), data_dir),
                                      (cfg.get("paths", {}).get("cache_dir"), cache_dir)) if old and new}

    def relocate(value: Any) -> Any:  # the run's data or cache folder moved (another machine)
        for old, new in moved.items():
            if isinstance(value, str) and value.startswith(old):
                return new + value[len(old):]
        return value

    model = {k: relocate(v) for k, v in _checked(cfg, "model").items()}
    corpus = None
    if (model.get("tokenizer") or {}).get("train"):
        data = _checked(cfg, "data")
        source = {k: relocate(v) for k, v in data["source"].items()}
        datamodule = GazeDataModule(source=source, task=data["task"], cache_dir=relocate(data.get("cache_dir")))
        corpus = datamodule.tokenizer_corpus()
    return build_backbone(**model, corpus=corpus)


def export_checkpoint(checkpoint: str | Path, out: str | Path, lora: str = "merge", run_config: str | None = None,
                      data_dir: str | None = None, cache_dir: str | None = None) -> Path:
    """Write ``out`` as a ``save_pretrained`` folder of the checkpoint's backbone; returns ``out``."""
    import torch

    if lora not in LORA_MODES:
        raise GazelmInputError(f"lora must be one of {', '.join(LORA_MODES)}, not {lora!r}", field="lora")
    checkpoint, out = Path(checkpoint), Path(out)
    state = read_checkpoint(checkpoint, field="checkpoint")
    cfg = _run_config(state, checkpoint, run_config)
    torch.manual_seed(0)
    backbone = rebuild_backbone(cfg, data_dir, cache_dir)
    weights = {k.removeprefix("backbone."): v for k, v in state["state_dict"].items() if k.startswith("backbone.")}
    missing, unexpected = backbone.load_state_dict(weights, strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")}  # tied to the embeddings, not stored
    if set(missing) - tied or unexpected:
        raise GazelmInputError(f"the checkpoint's weights do not fit the run's model ({len(missing)} missing, e.g. "
                               f"{sorted(missing)[:2]}; {len(unexpected)} unexpected, e.g. {sorted(unexpected)[:2]})",
                               path=checkpoint, field="checkpoint")
    model = backbone.model
    out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"checkpoint": str(checkpoint.resolve()), "global_step": state.get("global_step"),
                            "kind": backbone.kind, "identity": backbone.identity, "lora": None}
    if backbone.has_lora and lora == "merge":
        model = model.merge_and_unload()
        info["lora"] = "merged"
    if backbone.has_lora and lora == "adapter":
        base_name = cfg["model"].get("name_or_path")
        model.save_pretrained(out)  # adapter_config.json + adapter_model.safetensors
        if not base_name:  # built from config: the base weights go next to the adapter
            base_dir = out / "base"
            model.unload().save_pretrained(base_dir)
            backbone.tokenizer.save_pretrained(base_dir)
            _point_adapter_at(out, base_dir.resolve())
        info["lora"] = "adapter"
    else:
        model.save_pretrained(out)
    backbone.tokenizer.save_pretrained(out)
    (out / "gazelm_export.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("exported %s to %s", checkpoint, out)
    return out


def _point_adapter_at(out: Path, base_dir: Path) -> None:
    path = out / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(base_dir)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def export_from_config(cfg: DictConfig) -> Path:
    """``gazelm export`` (``conf/export.yaml``)."""
    for key in ("checkpoint", "out"):
        if not cfg.get(key):
            raise GazelmInputError(f"give {key}=...: gazelm export checkpoint=<run>/checkpoints/last.ckpt out=DIR",
                                   field=key)
    return export_checkpoint(find_checkpoint(str(cfg.checkpoint), cfg.get("runs_dir")), cfg.out,
                             lora=cfg.get("lora", "merge"), run_config=cfg.get("run_config"),
                             data_dir=cfg.get("data_dir"), cache_dir=cfg.get("cache_dir"))


def find_checkpoint(checkpoint: str, runs_dir: str | None = None) -> Path:
    """``last``: the newest run's ``last.ckpt`` (under ``runs_dir``, default ``<project>/outputs``);
    a run directory: its ``checkpoints/last.ckpt``; otherwise the file itself."""
    from gazelm.resume import latest_run
    from gazelm.config import project_root

    if checkpoint == "last":
        return latest_run(Path(runs_dir) if runs_dir else project_root() / "outputs") / "checkpoints" / "last.ckpt"
    path = Path(checkpoint)
    return path / "checkpoints" / "last.ckpt" if path.is_dir() else path
