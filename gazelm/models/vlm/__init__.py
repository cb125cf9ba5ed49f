"""Vision-language backbones for FixATE on visual interfaces (``model.kind: vlm``).

- :mod:`gazelm.models.vlm.backbone`: :class:`VLMBackbone`, :func:`build_vlm_backbone` (by name,
  by path, or tiny from config), soft-prompt prefixes with correct (multimodal) position ids;
- :mod:`gazelm.models.vlm.adapters`: one adapter per family (Qwen2-VL, Qwen2.5-VL, Qwen3-VL,
  InternVL): processing one example, batching keys, position ids, tiny configs;
- :mod:`gazelm.models.vlm.layout`: which image patches each visual token covers.
"""
from gazelm.models.vlm.adapters import ADAPTERS, VisualEncoding, VLMAdapter, adapter_for
from gazelm.models.vlm.backbone import VLMBackbone, build_vlm_backbone, load_processor
from gazelm.models.vlm.layout import TokenLayout

__all__ = ["ADAPTERS", "TokenLayout", "VLMAdapter", "VLMBackbone", "VisualEncoding", "adapter_for",
           "build_vlm_backbone", "load_processor"]
