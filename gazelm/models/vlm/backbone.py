"""Vision-language backbones (``model.kind: vlm``): Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL.

A real checkpoint loads by name or local path through ``AutoModelForImageTextToText`` and the
family's processor (its tokenizer, its image processor on the PIL path, its chat template); a
tiny one is built from ``config`` (``model_type`` + text/vision sizes) with a locally trained
tokenizer, so tests and the CPU experiments run offline. Save one with
:meth:`VLMBackbone.save_pretrained` and load it back by path like any checkpoint.

Soft prompts: :meth:`VLMBackbone.model_inputs` prepends ``prefix_embeds`` ``[B, P, d]`` to the
embeddings of the processed sequence — after the processor has expanded the image
placeholders — extends the attention mask and recomputes the position ids, so the image
tokens keep their multimodal RoPE ids (shifted by ``P``) and the model itself still scatters
the vision features into the image positions. With ``P = 0`` the logits equal the plain
``model(**processor_outputs)`` call.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from torch import Tensor

from gazelm.errors import GazelmInputError
from gazelm.models.backbones import Backbone, ScoredOutput
from gazelm.models.vlm.adapters import ADAPTERS, CHATML_ROLES, VLMAdapter, adapter_for, processor_class
from gazelm.objectives.tokens import token_log_probs

log = logging.getLogger(__name__)

#: Texts every tiny tokenizer learns besides the task's prompts: answer letters and digits stay one token.
BASE_CORPUS = (" ".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), " ".join("abcdefghijklmnopqrstuvwxyz"),
               "0 1 2 3 4 5 6 7 8 9", "Answer: user assistant system")


class VLMBackbone(Backbone):
    """A vision-language model, its processor and its family adapter; ``kind == "vlm"`` (causal)."""

    def __init__(self, model, processor, adapter: VLMAdapter, identity: str):
        super().__init__(model, processor.tokenizer, "vlm", identity, add_bos=False)
        self.processor, self.adapter = processor, adapter

    @property
    def is_causal(self) -> bool:
        return True

    @property
    def hidden_size(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[-1])

    @property
    def language_model(self):
        """The decoder that reads the merged text + vision embeddings (its attentions are the probed ones)."""
        return self.model.model.language_model

    def merge_image_features(self, embeds: Tensor, batch: Mapping[str, Tensor], prefix_length: int = 0) -> Tensor:
        """``embeds`` (``[B, P + L, d]``) with the vision features in place of the image tokens."""
        image = batch["input_ids"] == self.adapter.image_token_id
        if prefix_length:
            image = torch.cat([image.new_zeros(image.shape[0], prefix_length), image], dim=1)
        feats = self.adapter.image_features(self.model, batch).to(embeds.device, embeds.dtype)
        return embeds.masked_scatter(image.unsqueeze(-1).to(embeds.device), feats)

    def model_inputs(self, batch: Mapping[str, Tensor], prefix_embeds: Tensor | None = None) -> dict[str, Any]:
        """Keyword arguments for ``self.model``: embeddings (``prefix_embeds`` first), mask, position ids, images."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        embeds = self.model.get_input_embeddings()(ids)
        prefix = 0 if prefix_embeds is None else int(prefix_embeds.shape[1])
        if prefix:
            if prefix_embeds.shape[0] != ids.shape[0] or prefix_embeds.shape[-1] != embeds.shape[-1]:
                raise ValueError(f"prefix_embeds {tuple(prefix_embeds.shape)} do not fit a batch of {ids.shape[0]} "
                                 f"with hidden size {embeds.shape[-1]}")
            embeds = torch.cat([prefix_embeds.to(embeds.dtype), embeds], dim=1)
            mask = torch.cat([mask.new_ones(ids.shape[0], prefix), mask], dim=1)
        inputs = {"inputs_embeds": embeds, "attention_mask": mask, "use_cache": False,
                  **self.adapter.image_inputs(batch)}
        positions = self.adapter.position_ids(self.model, batch, prefix)
        if positions is not None:
            inputs["position_ids"] = positions
        return inputs

    def forward(self, batch: Mapping[str, Tensor], output_attentions: bool = False,
                labels: Tensor | None = None, prefix_embeds: Tensor | None = None) -> Any:
        """The model's output over ``prefix + sequence`` (logits and attentions include the prefix);
        with ``labels`` (``[B, L]``, no prefix), a :class:`~gazelm.models.backbones.ScoredOutput`."""
        if "position_ids" in batch:
            raise ValueError("vision-language batches are not packed (one page per row): set data.packing=false")
        inputs = self.model_inputs(batch, prefix_embeds)
        if output_attentions:
            inputs["output_attentions"] = True
        out = self.model(**inputs)
        if labels is None:
            return out
        prefix = 0 if prefix_embeds is None else int(prefix_embeds.shape[1])
        logp, mask = token_log_probs(out.logits[:, prefix:], labels, True)
        return ScoredOutput(logp, mask, getattr(out, "attentions", None))

    def save_pretrained(self, path: str | Path) -> None:
        """Model, processor (tokenizer, image processor, chat template): loadable by path."""
        path = Path(path)
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)


# -- loading ------------------------------------------------------------------------------------
def _chat_template(path: str, tokenizer) -> str | None:
    """The checkpoint's chat template: ``chat_template.jinja``, ``chat_template.json`` or the tokenizer's."""
    from transformers.utils import cached_file

    for name in ("chat_template.jinja", "chat_template.json"):
        try:
            file = cached_file(path, name, _raise_exceptions_for_missing_entries=False)
        except OSError:
            file = None
        if file:
            text = Path(file).read_text(encoding="utf-8")
            return json.loads(text)["chat_template"] if name.endswith(".json") else text
    return getattr(tokenizer, "chat_template", None)


def load_processor(path: str, config: Any) -> Any:
    """The family's processor from ``path``, on the PIL image path and without a video processor."""
    from transformers import AutoImageProcessor, AutoTokenizer

    ADAPTERS.get(config.model_type)  # a family gazelm knows, or a clear error
    tokenizer = AutoTokenizer.from_pretrained(path)
    image_processor = AutoImageProcessor.from_pretrained(path, backend="pil")
    kwargs = {"image_seq_length": config.image_seq_length} if hasattr(config, "image_seq_length") else {}
    return processor_class(config.model_type)(image_processor=image_processor, tokenizer=tokenizer,
                                              chat_template=_chat_template(path, tokenizer), **kwargs)


def _tiny_tokenizer(adapter_cls: type[VLMAdapter], spec: Mapping[str, Any], corpus: Iterable[str] | None,
                    cache_dir: str | None):
    from transformers import PreTrainedTokenizerFast

    from gazelm.data.tokenizer_training import train_bpe_tokenizer

    texts = [*BASE_CORPUS, *(corpus or [])]
    tok = train_bpe_tokenizer(texts, vocab_size=int(spec.get("vocab_size", 1024)),
                              min_frequency=int(spec.get("min_frequency", 2)),
                              cache_dir=Path(cache_dir) / "tokenizers" if cache_dir else None,
                              special_tokens=CHATML_ROLES, extra_special_tokens=adapter_cls.special_tokens())
    named = adapter_cls.extra_special_tokens if adapter_cls.named_tokenizer_tokens else {}
    return PreTrainedTokenizerFast(tokenizer_object=tok.backend_tokenizer, extra_special_tokens=named, **CHATML_ROLES)


def build_vlm_backbone(kind: str = "vlm", name_or_path: str | None = None, config: Mapping[str, Any] | None = None,
                       tokenizer: Mapping[str, Any] | None = None, processor: Mapping[str, Any] | None = None,
                       lora: Mapping[str, Any] | None = None, corpus: Iterable[str] | None = None,
                       cache_dir: str | None = None, dtype: str | None = None, add_bos: bool = False,
                       gradient_checkpointing: bool = False, attn_implementation: str | None = None,
                       fused_ce: bool = False, **unknown: Any) -> VLMBackbone:
    """Load ``name_or_path`` (hub name or local path) or build a tiny model from ``config``.

    ``config``: ``model_type`` (``qwen2_vl``, ``qwen2_5_vl``, ``qwen3_vl``, ``internvl``) with
    ``text_config``/``vision_config`` sizes; ``tokenizer``: ``{vocab_size, min_frequency}`` of
    the locally trained BPE; ``processor``: the image processor's settings (Qwen: ``min_pixels``,
    ``max_pixels``; InternVL: ``max_patches``, …). ``attn_implementation: eager`` when an
    operator reads attention weights.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText

    if unknown:
        raise GazelmInputError(f"unexpected model options for kind {kind!r}: {', '.join(unknown)}", field="model")
    if fused_ce:
        raise GazelmInputError("fused_ce is not supported for vision-language backbones", field="model.fused_ce")
    if lora and lora.get("enabled"):
        raise GazelmInputError("LoRA is not supported for vision-language backbones (FixATE keeps them frozen)",
                               field="model.lora.enabled")
    torch_dtype = getattr(torch, dtype) if dtype else None
    if config is not None:
        spec = dict(config)
        model_type = spec.get("model_type")
        if model_type is None:
            raise GazelmInputError("a tiny vision-language model needs `model_type`", field="model.config.model_type")
        adapter_cls = ADAPTERS.get(model_type)
        tok = _tiny_tokenizer(adapter_cls, tokenizer or {}, corpus, cache_dir)
        hf_config = adapter_cls.tiny_config(spec, tok)
        proc = adapter_cls.tiny_processor(tok, hf_config, processor or {})
        model = AutoModelForImageTextToText.from_config(hf_config, attn_implementation=attn_implementation)
        if torch_dtype is not None:
            model = model.to(torch_dtype)
        vocab = hashlib.sha1(tok.backend_tokenizer.to_str().encode()).hexdigest()[:16]
        identity = f"{model_type}-scratch|bpe-{vocab}"
    elif name_or_path:
        try:
            hf_config = AutoConfig.from_pretrained(name_or_path)
            proc = load_processor(name_or_path, hf_config)
            model = AutoModelForImageTextToText.from_pretrained(name_or_path, dtype=torch_dtype,
                                                                attn_implementation=attn_implementation)
        except OSError as err:
            raise GazelmInputError(f"cannot load model {name_or_path!r}: {err}", field="model.name_or_path") from None
        identity = str(name_or_path)
    else:
        raise GazelmInputError("model needs `name_or_path` or `config`", field="model")
    if proc.tokenizer.pad_token is None:
        proc.tokenizer.pad_token = proc.tokenizer.eos_token
    model.generation_config.pad_token_id = proc.tokenizer.pad_token_id
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return VLMBackbone(model, proc, adapter_for(model.config, proc), identity)
