"""A backbone from a checkpoint gazelm trained itself (``model=gazelm_checkpoint``).

Every gazelm checkpoint carries a *backbone spec* (:func:`backbone_spec`, written by the
LightningModule): the model kind, its Hugging Face config (JSON) and its tokenizer — the whole
tokenizer JSON when it was trained locally (tiny models), else the name or path it was loaded
from. :func:`build_from_checkpoint` rebuilds the same model and tokenizer and loads the weights,
so a model gazelm trained (e.g. ``gazelm train model=tiny_causal task=completion``) can serve as the
frozen backbone of prompt tuning. Everything is read with ``torch.load(weights_only=True)``.
Checkpoints of LoRA runs hold adapter weights on top of a base model: load those with
``model.name_or_path`` and peft instead (a clear error says so).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerFast

from gazelm.errors import GazelmInputError

SPEC_KEY = "gazelm_backbone"
PREFIX = "backbone.model."


def backbone_spec(backbone) -> dict[str, Any]:
    """Plain data describing the backbone (safe for ``weights_only`` loading)."""
    model, tok = backbone.model, backbone.tokenizer
    base = model.get_base_model() if backbone.has_lora else model
    spec: dict[str, Any] = {"kind": backbone.kind, "identity": backbone.identity, "add_bos": bool(backbone.add_bos),
                            "config_json": base.config.to_json_string(use_diff=False), "lora": backbone.has_lora}
    if str(backbone.identity).split("|")[-1].startswith("bpe-") and hasattr(tok, "backend_tokenizer"):
        spec["tokenizer_json"] = tok.backend_tokenizer.to_str()
        spec["special_tokens"] = {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)}
    else:
        spec["tokenizer_name"] = str(getattr(tok, "name_or_path", "") or "")
    return spec


def _tokenizer(spec: Mapping[str, Any], path: Path):
    if "tokenizer_json" in spec:
        from tokenizers import Tokenizer

        return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(spec["tokenizer_json"]),
                                       **dict(spec.get("special_tokens") or {}))
    name = spec.get("tokenizer_name")
    if not name:
        raise GazelmInputError("the checkpoint's backbone spec names no tokenizer", path=path)
    tok = AutoTokenizer.from_pretrained(name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def build_from_checkpoint(checkpoint: str, kind: str | None = None, dtype: str | None = None,
                          attn_implementation: str | None = None, add_bos: bool | None = None,
                          corpus: Iterable[str] | None = None):
    """The backbone saved in a gazelm checkpoint (``.ckpt``), with its tokenizer and weights.
    ``corpus`` is accepted (and unused) like :func:`~gazelm.models.backbones.build_backbone`'s: the
    tokenizer comes from the checkpoint."""
    from gazelm.models.backbones import KINDS, Backbone

    path = Path(checkpoint)
    if not path.is_file():
        raise GazelmInputError("checkpoint not found", path=path, field="model.checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise GazelmInputError(f"cannot read checkpoint: {err}", path=path, field="model.checkpoint") from None
    spec = data.get(SPEC_KEY) if isinstance(data, dict) else None
    if not spec:
        raise GazelmInputError("not a gazelm checkpoint with a backbone spec (saved by an older gazelm?)", path=path,
                               field="model.checkpoint")
    if spec.get("lora"):
        raise GazelmInputError("the checkpoint holds LoRA adapters; load the base model by model.name_or_path "
                               "and the adapters with peft", path=path, field="model.checkpoint")
    kind = kind or spec["kind"]
    if kind != spec["kind"]:
        raise GazelmInputError(f"model.kind={kind} but the checkpoint holds a {spec['kind']} model", path=path)
    config_dict = json.loads(spec["config_json"])
    config = AutoConfig.for_model(**config_dict)
    model = KINDS[kind].from_config(config, attn_implementation=attn_implementation)
    weights = {k[len(PREFIX):]: v for k, v in data["state_dict"].items() if k.startswith(PREFIX)}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight") or not config_dict.get("tie_word_embeddings")]
    if missing or unexpected:
        raise GazelmInputError(f"checkpoint weights do not fit the model (missing {missing[:3]}, unexpected "
                               f"{unexpected[:3]})", path=path, field="model.checkpoint")
    if dtype:
        model = model.to(getattr(torch, dtype))
    tok = _tokenizer(spec, path)
    model.generation_config.pad_token_id = tok.pad_token_id
    return Backbone(model, tok, kind, f"gazelm-ckpt:{path.name}|{spec['identity']}",
                    add_bos=spec["add_bos"] if add_bos is None else add_bos)
