"""Backbones: a Hugging Face model (by name or path, or tiny from config) + tokenizer.

``kind: seq2seq`` (T5 / CodeT5 family) or ``causal`` (any decoder-only LM); ``kind: vlm``
(vision-language models) is built by :mod:`gazelm.models.vlm` (see ``DELEGATED_KINDS``). A tiny
model is built from ``config`` with a BPE tokenizer trained on the task's training
texts; real checkpoints load by name or local path (``HF_HUB_OFFLINE=1`` works when
they are in the local cache). LoRA (peft) is a switch.
"""
from __future__ import annotations

import hashlib
import inspect
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import torch
from torch import nn
from transformers import (AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer,
                          PreTrainedTokenizerBase)

from gazelm.data.tokenizer_training import train_bpe_tokenizer
from gazelm.errors import GazelmInputError
from gazelm.objectives.tokens import kept_log_probs, predicting_mask, token_log_probs

log = logging.getLogger(__name__)
KINDS = {"seq2seq": AutoModelForSeq2SeqLM, "causal": AutoModelForCausalLM}
#: Kinds built by their own module (``module:function``), with the same arguments plus their own.
DELEGATED_KINDS = {"vlm": "gazelm.models.vlm.backbone:build_vlm_backbone"}


@contextmanager
def project_only(head: nn.Module, keep: torch.Tensor) -> Iterator[None]:
    """Run the output embeddings only on the ``keep`` positions ([B, T] → [n, V] logits), for
    models without ``logits_to_keep`` (encoder-decoder LMs): what follows the head in HF models
    (a bias, a soft-cap) is element-wise, so it applies to the kept rows alike."""
    handle = head.register_forward_pre_hook(lambda module, args: (args[0][keep],))
    try:
        yield
    finally:
        handle.remove()


def boolean_logits_to_keep() -> bool:
    """Whether this transformers slices hidden states with a boolean ``[B, T]`` ``logits_to_keep``."""
    import transformers.modeling_utils

    return hasattr(transformers.modeling_utils, "slice_logits_to_keep")


@dataclass
class ScoredOutput:
    """What the backbone returns when the caller names the labels it scores: their log-probs and
    mask ([B, T'] as :func:`~gazelm.objectives.tokens.token_log_probs` returns them), not logits."""

    log_probs: torch.Tensor
    label_mask: torch.Tensor
    attentions: Any = None


class Backbone(nn.Module):
    """The model and its tokenizer; ``forward(batch)`` returns the HF output.

    ``forward(batch, labels=...)`` returns a :class:`ScoredOutput` instead, for which only the
    positions that predict a label are projected onto the vocabulary (causal: ``logits_to_keep``,
    or liger-kernel's fused linear cross-entropy with ``fused_ce``; encoder-decoder: the head
    runs on the non-padded decoder positions): the LM head and softmax skip prompt tokens and
    padding, which on a small model is most of the step. A batch with ``position_ids`` holds packed rows
    (:mod:`gazelm.data.packing`): the model gets the positions and no 2-D mask, and Hugging Face
    makes each example attend only to itself (block-diagonal mask for eager/SDPA, varlen
    FlashAttention-2).
    """

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, kind: str, identity: str,
                 add_bos: bool = False, fused_ce: bool = False):
        super().__init__()
        self.model, self.tokenizer, self.kind, self.identity, self.add_bos = model, tokenizer, kind, identity, add_bos
        self.fused_ce = fused_ce
        self._keeps_logits: bool | None = None
        self._compiled = False
        self.frozen = False
        if fused_ce:
            from gazelm.models.fused_ce import check_fused_ce

            check_fused_ce(self)

    def freeze(self) -> None:
        """No parameter of the model trains and it stays in eval mode (no dropout), whatever
        ``train()`` is called with (prompt tuning keeps the backbone fixed)."""
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.frozen = True
        self.model.eval()

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    @property
    def is_causal(self) -> bool:
        return self.kind == "causal"

    @property
    def has_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    @property
    def base(self) -> nn.Module:
        """The Hugging Face model (under LoRA: with the adapters injected)."""
        return self.model.get_base_model() if self.has_lora else self.model

    def keeps_logits(self) -> bool:
        """Whether the causal model computes logits at a boolean mask of positions (``logits_to_keep``).

        Boolean masks are sliced by transformers >= 5.21 (``slice_logits_to_keep``); earlier 5.x
        index ``hidden_states[:, mask, :]`` and fail, so there the head is restricted by a hook."""
        if self._keeps_logits is None:
            self._keeps_logits = (self.is_causal and boolean_logits_to_keep()
                                  and "logits_to_keep" in inspect.signature(self.base.forward).parameters)
        return self._keeps_logits

    def model_inputs(self, batch: Mapping[str, torch.Tensor], prefix_embeds: torch.Tensor | None = None
                     ) -> dict[str, Any]:
        """Keyword arguments of a causal model with ``prefix_embeds`` ``[B, P, d]`` (a soft prompt)
        before the batch's embeddings and the attention mask extended over it. Backbones with more
        inputs (a VLM's images and multimodal positions) override it."""
        embeds = self.model.get_input_embeddings()(batch["input_ids"])
        mask = batch["attention_mask"]
        if prefix_embeds is not None and prefix_embeds.shape[1]:
            embeds = torch.cat([prefix_embeds.to(embeds.dtype), embeds], dim=1)
            mask = torch.cat([mask.new_ones(mask.shape[0], prefix_embeds.shape[1]), mask], dim=1)
        return {"inputs_embeds": embeds, "attention_mask": mask, "use_cache": False}

    def forward(self, batch: Mapping[str, torch.Tensor], output_attentions: bool = False,
                labels: torch.Tensor | None = None) -> Any:
        kwargs: dict[str, Any] = {"input_ids": batch["input_ids"], "use_cache": False}
        if "position_ids" in batch:  # packed rows: positions restart per example, no padding mask
            kwargs["position_ids"] = batch["position_ids"]
        else:
            kwargs["attention_mask"] = batch["attention_mask"]
        if output_attentions:
            kwargs["output_attentions"] = True
        if not self.is_causal:  # decoder inputs from the labels, without a loss HF would compute for nothing
            kwargs["decoder_input_ids"] = self.base.prepare_decoder_input_ids_from_labels(labels=batch["labels"])
        if labels is None:
            return self.model(**kwargs)
        if self.fused_ce:
            from gazelm.models.fused_ce import fused_log_probs

            return fused_log_probs(self, kwargs, labels)
        keep = predicting_mask(labels, self.is_causal)
        if self.keeps_logits():
            out = self.model(**kwargs, logits_to_keep=keep)
        elif self._compiled:  # a per-call hook would recompile the graph: project every position
            out = self.model(**kwargs)
            return ScoredOutput(*token_log_probs(out.logits, labels, self.is_causal), getattr(out, "attentions", None))
        else:
            with project_only(self.base.get_output_embeddings(), keep):
                out = self.model(**kwargs)
        logp, mask = kept_log_probs(out.logits, labels, self.is_causal)
        return ScoredOutput(logp, mask, getattr(out, "attentions", None))

    def compile_model(self, options: Any = True) -> None:
        """``torch.compile`` the Hugging Face model in place (its state-dict keys stay the same);
        ``options``: ``true`` or a dict of ``torch.compile`` keyword arguments."""
        self.model.compile(**(dict(options) if isinstance(options, Mapping) else {}))
        self._compiled = True

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"params/total": total, "params/trainable": trainable}


def _tokenizer(tokenizer: Mapping[str, Any] | None, name_or_path: str | None, corpus: Iterable[str] | None,
               cache_dir: str | None) -> tuple[PreTrainedTokenizerBase, str]:
    spec = dict(tokenizer or {})
    if spec.get("train"):
        if corpus is None:
            raise GazelmInputError("a tokenizer with `train: true` needs the task's training texts")
        tok = train_bpe_tokenizer(corpus, vocab_size=spec.get("vocab_size", 4096),
                                  min_frequency=spec.get("min_frequency", 2),
                                  cache_dir=Path(cache_dir) / "tokenizers" if cache_dir else None,
                                  trim_offsets=spec.get("trim_offsets", True))
        return tok, "bpe-" + hashlib.sha1(tok.backend_tokenizer.to_str().encode()).hexdigest()[:16]
    source = spec.get("name_or_path") or name_or_path
    if not source:
        raise GazelmInputError("model needs `name_or_path` or `tokenizer.train: true`", field="model.tokenizer")
    tok = AutoTokenizer.from_pretrained(source)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, str(source)


def _apply_lora(model: nn.Module, lora: Mapping[str, Any]) -> nn.Module:
    from peft import LoraConfig, TaskType, get_peft_model

    spec = {k: v for k, v in lora.items() if k != "enabled"}
    kind = spec.pop("kind")
    config = LoraConfig(task_type=TaskType.CAUSAL_LM if kind == "causal" else TaskType.SEQ_2_SEQ_LM, **spec)
    return get_peft_model(model, config)


# ---------------------------------------------------------------- models from config (no download)
def detect_kind(name_or_path: str) -> str:
    """The ``kind`` of a checkpoint: ``seq2seq`` for an encoder-decoder, else ``causal`` (reads only its config)."""
    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except OSError as err:
        raise GazelmInputError(f"cannot load model {name_or_path!r}: {err}", field="model.name_or_path") from None
    return "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"


def tiny_config(kind: str, hidden_size: int = 32, layers: int = 2, heads: int = 2,
                max_positions: int = 1024) -> dict[str, Any]:
    """``model_type`` + sizes of a tiny Llama (``causal``) or T5 (``seq2seq``) for :func:`model_from_config`."""
    if kind == "causal":
        return {"model_type": "llama", "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size,
                "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": heads,
                "max_position_embeddings": max_positions, "tie_word_embeddings": False}
    if kind == "seq2seq":
        return {"model_type": "t5", "d_model": hidden_size, "d_ff": 2 * hidden_size, "d_kv": hidden_size // heads,
                "num_layers": layers, "num_heads": heads}
    raise GazelmInputError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}", field="model.kind")


def model_from_config(kind: str, config: Mapping[str, Any], *, vocab_size: int, pad_token_id: int = 0,
                      eos_token_id: int = 1, bos_token_id: int | None = None, attn_implementation: str | None = None,
                      dtype: torch.dtype | None = None) -> nn.Module:
    """A randomly initialised HF model (seeded by the caller) from ``model_type`` + sizes."""
    spec = dict(config)
    model_type = spec.pop("model_type")
    spec.update(vocab_size=vocab_size, pad_token_id=pad_token_id, eos_token_id=eos_token_id,
                bos_token_id=bos_token_id)
    if kind == "seq2seq":
        spec.setdefault("decoder_start_token_id", pad_token_id)
    model = KINDS[kind].from_config(AutoConfig.for_model(model_type, **spec), attn_implementation=attn_implementation)
    return model.to(dtype) if dtype is not None else model


def build_backbone(kind: str, name_or_path: str | None = None, config: Mapping[str, Any] | None = None,
                   tokenizer: Mapping[str, Any] | None = None, lora: Mapping[str, Any] | None = None,
                   corpus: Iterable[str] | None = None, cache_dir: str | None = None, dtype: str | None = None,
                   add_bos: bool = False, gradient_checkpointing: bool = False,
                   attn_implementation: str | None = None, fused_ce: bool = False, **options: Any) -> Backbone:
    """Load ``name_or_path`` or build ``config`` (``model_type`` + sizes) from scratch.

    With ``config`` set, the model is randomly initialised (seeded by the caller) and the
    tokenizer's vocabulary size and special ids are filled in. ``attn_implementation``
    (``eager``, ``sdpa``, …) is passed to Hugging Face; objectives that read attention
    weights need ``eager``. ``fused_ce`` scores tokens with liger-kernel's fused linear
    cross-entropy (CUDA only; :mod:`gazelm.models.fused_ce`). ``options`` are for delegated
    kinds (a VLM's ``processor``).
    """
    if kind in DELEGATED_KINDS:
        import importlib

        module, function = DELEGATED_KINDS[kind].split(":")
        return getattr(importlib.import_module(module), function)(
            kind=kind, name_or_path=name_or_path, config=config, tokenizer=tokenizer, lora=lora, corpus=corpus,
            cache_dir=cache_dir, dtype=dtype, add_bos=add_bos, gradient_checkpointing=gradient_checkpointing,
            attn_implementation=attn_implementation, fused_ce=fused_ce, **options)
    if kind not in KINDS:
        raise GazelmInputError(f"unknown model kind {kind!r}; expected one of {', '.join([*KINDS, *DELEGATED_KINDS])}",
                               field="model.kind")
    if options:
        raise GazelmInputError(f"unexpected model options for kind {kind!r}: {', '.join(options)}", field="model")
    tok, identity = _tokenizer(tokenizer, name_or_path, corpus, cache_dir)
    torch_dtype = getattr(torch, dtype) if dtype else None
    if config is not None:
        model = model_from_config(kind, config, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                                  eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                                  attn_implementation=attn_implementation, dtype=torch_dtype)
        identity = f"{config['model_type']}-scratch|{identity}"
    elif name_or_path:
        try:
            model = KINDS[kind].from_pretrained(name_or_path, dtype=torch_dtype,
                                                attn_implementation=attn_implementation)
        except OSError as err:
            raise GazelmInputError(f"cannot load model {name_or_path!r}: {err}", field="model.name_or_path") from None
        identity = f"{name_or_path}|{identity}"
    else:
        raise GazelmInputError("model needs `name_or_path` or `config`", field="model")
    model.generation_config.pad_token_id = tok.pad_token_id
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if lora and lora.get("enabled"):
        model = _apply_lora(model, {**lora, "kind": kind})
    return Backbone(model, tok, kind, identity, add_bos=add_bos, fused_ce=fused_ce)
