"""One adapter per vision-language model family: what differs between Qwen-VL and InternVL.

transformers 5 has native classes for every family used here (``AutoModelForImageTextToText``
and each family's processor); an adapter only knows the family's conventions:

- which processor outputs are per-token (``input_ids``, Qwen's ``mm_token_type_ids``) and which
  are per-image (``pixel_values``, ``image_grid_thw``), so examples can be encoded one at a
  time, cached, and batched later;
- where each visual token sits on the image (:class:`~gazelm.models.vlm.layout.TokenLayout`);
- the position ids of a sequence with ``P`` soft-prompt vectors prepended (Qwen's 3-D
  multimodal RoPE is recomputed with ``P`` text positions in front; InternVL's language model
  uses plain 1-D positions);
- how a tiny model of the family is built from config (special tokens, chat template, image
  processor settings) so everything runs offline.

Processors are used through their PIL image paths and without video processors (video
processors need torchvision, which gazelm never requires): the ``ImageOnly`` subclasses below
drop the video processor from the family's native processor class.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor

from gazelm.models.vlm.layout import TokenLayout, qwen_layout, tiled_layout
from gazelm.registry import Registry

#: model_type → adapter class; unknown families are a clear error listing the supported ones.
ADAPTERS: Registry[type["VLMAdapter"]] = Registry("vision-language model family")

# A ChatML template (Qwen's format) for the tiny models; real checkpoints bring their own.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}IMAGE_PLACEHOLDER"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
CHATML_ROLES = {"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>"}


def image_only(processor_class: type) -> type:
    """``processor_class`` without its video processor (no torchvision needed)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        processor_class.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                                 chat_template=chat_template, **kwargs)

    return type(f"{processor_class.__name__}ImageOnly", (processor_class,),
                {"__init__": __init__, "__module__": __name__,
                 "__doc__": f"{processor_class.__name__} for images only (no video processor)."})


@dataclass
class VisualEncoding:
    """One encoded prompt: per-token tensors (``[L]``), per-image tensors and the token layout."""

    tokens: dict[str, Tensor]
    images: dict[str, Tensor]
    layout: TokenLayout

    @property
    def input_ids(self) -> Tensor:
        return self.tokens["input_ids"]


class VLMAdapter:
    """Family conventions, bound to one model config and processor."""

    model_types: ClassVar[tuple[str, ...]] = ()
    token_keys: ClassVar[tuple[str, ...]] = ("input_ids",)
    image_keys: ClassVar[tuple[str, ...]] = ("pixel_values",)
    image_placeholder: ClassVar[str] = ""  # what the tiny chat template writes for an image
    extra_special_tokens: ClassVar[dict[str, str]] = {}
    named_tokenizer_tokens: ClassVar[bool] = False  # the processor reads them as tokenizer attributes

    def __init__(self, config: Any, processor: Any):
        self.config, self.processor = config, processor

    # -- processing -----------------------------------------------------------------------
    @property
    def image_token_id(self) -> int:
        return int(self.config.image_token_id)

    def chat_text(self, prompt: str, system: str | None = None) -> str:
        """The chat-formatted prompt with one image before ``prompt`` and the assistant turn opened."""
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]})
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode(self, image, prompt: str, system: str | None = None) -> VisualEncoding:
        """Process one image + prompt; the image placeholders are expanded by the processor."""
        enc = self.processor(text=[self.chat_text(prompt, system)], images=[image], return_tensors="pt")
        tokens = {k: enc[k][0].to(torch.long) for k in self.token_keys}
        images = {k: enc[k] for k in self.image_keys}
        layout = self.layout(images, image.size)
        n_image_tokens = int((tokens["input_ids"] == self.image_token_id).sum())
        if n_image_tokens != layout.n_tokens:
            raise ValueError(f"{type(self).__name__}: the processor inserted {n_image_tokens} image tokens but the "
                             f"image layout has {layout.n_tokens}")
        return VisualEncoding(tokens, images, layout)

    def layout(self, images: Mapping[str, Tensor], image_size: tuple[int, int]) -> TokenLayout:
        raise NotImplementedError

    # -- model inputs -----------------------------------------------------------------------
    def image_inputs(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """What the model's forward takes besides embeddings, mask and positions."""
        return {k: batch[k] for k in self.image_keys if k in batch}

    def position_ids(self, model, batch: Mapping[str, Tensor], prefix_length: int = 0) -> Tensor | None:
        """Position ids of ``prefix_length`` prepended vectors + the batch (``None``: the model's default)."""
        return None

    def image_features(self, model, batch: Mapping[str, Tensor]) -> Tensor:
        """The projected vision features of the batch's images, ``[N_visual_tokens, d]`` in token order."""
        feats = model.get_image_features(**self.image_inputs(batch)).pooler_output
        feats = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats
        return feats.reshape(-1, feats.shape[-1])

    # -- tiny models --------------------------------------------------------------------------
    @classmethod
    def special_tokens(cls) -> list[str]:
        return ["<|im_start|>", *CHATML_ROLES.values(), *cls.extra_special_tokens.values()]

    @classmethod
    def tiny_chat_template(cls) -> str:
        return TINY_CHAT_TEMPLATE.replace("IMAGE_PLACEHOLDER", cls.image_placeholder)

    @classmethod
    def tiny_config(cls, spec: Mapping[str, Any], tokenizer) -> Any:
        raise NotImplementedError

    @classmethod
    def tiny_processor(cls, tokenizer, config: Any, settings: Mapping[str, Any]) -> Any:
        raise NotImplementedError


def register_adapter(cls: type[VLMAdapter]) -> type[VLMAdapter]:
    for model_type in cls.model_types:
        ADAPTERS.register(model_type)(cls)
    return cls


@cache
def processor_class(model_type: str) -> type:
    """The family's native processor class (transformers' own model-type table), without its video processor."""
    import transformers
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    return image_only(getattr(transformers, PROCESSOR_MAPPING_NAMES[model_type]))


def adapter_for(config: Any, processor: Any) -> VLMAdapter:
    """The adapter of ``config.model_type``, bound to ``config`` and ``processor``."""
    return ADAPTERS.get(config.model_type)(config, processor)


def _split_spec(spec: Mapping[str, Any], tokenizer) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tiny model's ``config`` without ``model_type`` and ``text_config``, and that text config with
    the tokenizer's vocabulary size and special ids."""
    rest = {k: v for k, v in spec.items() if k != "model_type"}
    text = dict(rest.pop("text_config", {}))
    text.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                bos_token_id=None)
    return rest, text


def _ids(tokenizer, tokens: Mapping[str, str]) -> dict[str, int]:
    ids = {}
    for name, token in tokens.items():
        value = tokenizer.convert_tokens_to_ids(token)
        if value is None or value == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no special token {token!r}")
        ids[name] = int(value)
    return ids


# ---------------------------------------------------------------------------------------------
@register_adapter
class QwenVLAdapter(VLMAdapter):
    """Qwen2-VL, Qwen2.5-VL, Qwen3-VL: ``merge²`` patches per token, 3-D multimodal RoPE (each
    family's config and processor classes come from transformers' model-type tables)."""

    model_types = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")

    token_keys = ("input_ids", "mm_token_type_ids")
    image_keys = ("pixel_values", "image_grid_thw")
    image_placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    extra_special_tokens = {"vision_start": "<|vision_start|>", "vision_end": "<|vision_end|>",
                            "image": "<|image_pad|>", "video": "<|video_pad|>"}

    @property
    def merge(self) -> int:
        return int(self.config.vision_config.spatial_merge_size)

    def layout(self, images: Mapping[str, Tensor], image_size: tuple[int, int]) -> TokenLayout:
        return qwen_layout(images["image_grid_thw"][0], self.merge)

    def position_ids(self, model, batch: Mapping[str, Tensor], prefix_length: int = 0) -> Tensor:
        """``[3, B, P + L]``: the family's own ``get_rope_index`` over ``P`` text tokens + the batch,
        i.e. the soft prompt reads as text before the chat, every other id shifted by ``P``."""
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["mm_token_type_ids"]
        if prefix_length:
            pad = ids.new_zeros(ids.shape[0], prefix_length)
            ids, types = torch.cat([pad, ids], 1), torch.cat([pad.to(types.dtype), types], 1)
            mask = torch.cat([torch.ones_like(pad, dtype=mask.dtype), mask], 1)
        base = model.model if hasattr(model, "model") and hasattr(model.model, "get_rope_index") else model
        positions, _ = base.get_rope_index(ids, mm_token_type_ids=types, image_grid_thw=batch.get("image_grid_thw"),
                                           attention_mask=mask)
        return positions

    @classmethod
    def tiny_config(cls, spec: Mapping[str, Any], tokenizer) -> Any:
        from transformers import AutoConfig

        model_type = spec["model_type"]
        spec, text = _split_spec(spec, tokenizer)
        ids = _ids(tokenizer, cls.extra_special_tokens)
        return AutoConfig.for_model(
            model_type, text_config=text, vision_config=dict(spec.pop("vision_config", {})), image_token_id=ids["image"],
            video_token_id=ids["video"], vision_start_token_id=ids["vision_start"],
            vision_end_token_id=ids["vision_end"], **{"bos_token_id": None, "eos_token_id": tokenizer.eos_token_id,
                                                      **spec})

    @classmethod
    def tiny_processor(cls, tokenizer, config: Any, settings: Mapping[str, Any]) -> Any:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        vision = config.vision_config
        image_processor = Qwen2VLImageProcessorPil(
            patch_size=vision.patch_size, merge_size=vision.spatial_merge_size,
            temporal_patch_size=vision.temporal_patch_size, **dict(settings))
        return processor_class(config.model_type)(image_processor=image_processor, tokenizer=tokenizer,
                                                  chat_template=cls.tiny_chat_template())


# ---------------------------------------------------------------------------------------------
@register_adapter
class InternVLAdapter(VLMAdapter):
    """InternVL (2.5 / 3 / 3.5, transformers' native ``-hf`` checkpoints): 448 px tiles chosen by
    aspect ratio plus a thumbnail, each tile's patches pixel-shuffled 2×2 into tokens."""

    model_types = ("internvl",)
    image_placeholder = "<IMG_CONTEXT>\n"
    extra_special_tokens = {"start_image_token": "<img>", "end_image_token": "</img>",
                            "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}
    named_tokenizer_tokens = True

    @property
    def tile_patches(self) -> int:
        tile = self.processor.image_processor.size
        patch = self.config.vision_config.patch_size
        patch = patch[0] if isinstance(patch, (list, tuple)) else patch
        if tile.height != tile.width or tile.height % patch:
            raise ValueError(f"InternVL tiles must be square multiples of the {patch} px patch; got {tile}")
        return tile.height // patch

    @property
    def merge(self) -> int:
        return int(round(1 / self.config.downsample_ratio))

    def layout(self, images: Mapping[str, Tensor], image_size: tuple[int, int]) -> TokenLayout:
        from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import get_optimal_tiled_canvas

        ip = self.processor.image_processor
        n_tiles = int(images["pixel_values"].shape[0])
        width, height = image_size
        if getattr(ip, "crop_to_patches", True) or n_tiles > 1:
            columns, rows = get_optimal_tiled_canvas((height, width), (ip.size.height, ip.size.width),
                                                     ip.min_patches, ip.max_patches)
        else:
            columns = rows = 1
        thumbnail = columns * rows > 1
        if columns * rows + thumbnail != n_tiles:
            raise ValueError(f"InternVL: expected {columns}x{rows} tiles{' + thumbnail' if thumbnail else ''} for a "
                             f"{width}x{height} image, the processor made {n_tiles}")
        return tiled_layout(columns, rows, self.tile_patches, self.merge, thumbnail)

    def image_features(self, model, batch: Mapping[str, Tensor]) -> Tensor:
        feats = model.get_image_features(
            batch["pixel_values"], vision_feature_layer=self.config.vision_feature_layer,
            vision_feature_select_strategy=self.config.vision_feature_select_strategy).pooler_output
        return feats.reshape(-1, feats.shape[-1])

    @classmethod
    def tiny_config(cls, spec: Mapping[str, Any], tokenizer) -> Any:
        from transformers import InternVLConfig

        spec, text = _split_spec(spec, tokenizer)
        text.setdefault("model_type", "qwen3")
        vision = dict(spec.pop("vision_config", {}))
        ratio = spec.get("downsample_ratio", 0.5)
        image_size = vision.get("image_size", 448)
        patch = vision.get("patch_size", 14)
        spec.setdefault("image_seq_length", int((image_size // patch) ** 2 * ratio ** 2))
        image_token = _ids(tokenizer, {"image": cls.extra_special_tokens["context_image_token"]})["image"]
        return InternVLConfig(text_config=text, vision_config=vision, image_token_id=image_token, **spec)

    @classmethod
    def tiny_processor(cls, tokenizer, config: Any, settings: Mapping[str, Any]) -> Any:
        from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

        size = config.vision_config.image_size
        size = size[0] if isinstance(size, (list, tuple)) else size
        settings = {"crop_to_patches": True, "min_patches": 1, "max_patches": 6,
                    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], **dict(settings)}
        image_processor = GotOcr2ImageProcessorPil(size={"height": size, "width": size}, **settings)
        return processor_class(config.model_type)(image_processor=image_processor, tokenizer=tokenizer,
                                                  image_seq_length=config.image_seq_length,
                                                  chat_template=cls.tiny_chat_template())
