"""``attnlrp``: AttnLRP (Achtibat et al., ICML 2024) through the ``lxt`` package's efficient rules.

lxt implements AttnLRP as Gradient × Input after patching the model's classes: LRP rules for
normalisation (identity), gated MLPs and attention (uniform rule: gradients divided at query,
key and value). Relevance of token ``i`` is ``Σ_d e_{i,d} · ∂s/∂e_{i,d}`` under the patches.

lxt 2.1 is written for transformers 4: importing ``lxt.efficient`` fails on transformers 5
(its BERT patch imports the removed ``find_pruneable_heads_and_indices``), and its attention
patch replaces ``ALL_ATTENTION_FUNCTIONS`` by a plain ``dict`` that lacks transformers 5's
``get_interface``. This module therefore loads lxt's rule and patch functions without the
failing model table, applies lxt's own per-architecture patch maps (Llama, Qwen2, Qwen3, GPT-2)
only while the operator runs, patches the eager attention function alone, and restores
everything afterwards (other operators in the process see unpatched models).
Unsupported architectures raise :class:`UnsupportedModelError` naming the supported ones.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings
from contextlib import contextmanager
from functools import partial
from typing import Iterator

import torch
from torch import Tensor

from gazelm.attention.forward import embed, forward_args, score_function
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, eager_attention, resolve_target

SUPPORTED = {"llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gpt2": "gpt2"}


class UnsupportedModelError(NotImplementedError):
    """AttnLRP is not available for this model (architecture or lxt missing)."""


def _load_lxt():
    """Import ``lxt.efficient.patches``, bypassing lxt's transformers-4-only model table.

    ``lxt.efficient.models/__init__`` imports every architecture's patch module, and its BERT
    one fails on transformers 5; a namespace stand-in with the real directory as ``__path__``
    lets the per-architecture modules (llama, qwen2, qwen3, gpt2) import on their own.
    """
    try:
        import lxt
    except ImportError as err:
        raise UnsupportedModelError("attnlrp needs the `lxt` package (pip install --no-deps lxt==2.1)") from err
    name = "lxt.efficient.models"
    if name not in sys.modules:
        stub = types.ModuleType(name)
        stub.__path__ = [f"{path}/efficient/models" for path in lxt.__path__]

        def get_default_map(module):
            raise UnsupportedModelError(f"no lxt patch map loaded for {module.__name__}")

        stub.get_default_map = get_default_map
        sys.modules[name] = stub
    with warnings.catch_warnings():  # lxt warns that zennit (vision transformers only) is missing
        warnings.simplefilter("ignore")
        return importlib.import_module("lxt.efficient.patches")


@contextmanager
def _patched(model) -> Iterator[None]:
    """Apply lxt's AttnLRP patch map for ``model``'s architecture; undo it on exit."""
    model_type = getattr(model.config, "model_type", "?")
    if model_type not in SUPPORTED:
        raise UnsupportedModelError(
            f"attnlrp supports model types {', '.join(sorted(SUPPORTED))} through lxt 2.1; got {model_type!r} "
            "(lxt has no patch map for it; encoder-decoders such as T5 are not covered).")
    patches = _load_lxt()
    patch_map = importlib.import_module(f"lxt.efficient.models.{SUPPORTED[model_type]}").attnLRP
    saved: list[tuple[object, str, object]] = []
    try:
        for owner, patch in patch_map.items():
            if isinstance(owner, types.ModuleType):
                # transformers 5 resolves eager attention through the modeling module at call time
                saved.append((owner, "eager_attention_forward", owner.eager_attention_forward))
                owner.eager_attention_forward = patches.wrap_attention_forward(owner.eager_attention_forward)
            elif isinstance(patch, partial) and patch.args:
                saved.append((owner, "forward", owner.__dict__["forward"] if "forward" in owner.__dict__ else None))
                owner.forward = patch.args[0]
            else:
                raise UnsupportedModelError(f"unexpected lxt patch for {owner!r}; lxt version not supported")
        yield
    finally:
        for owner, attr, value in reversed(saved):
            if value is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, value)


@register_operator("attnlrp", model_patches=_patched)
def attnlrp(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
            **_: object) -> Tensor:
    """AttnLRP relevance per prompt token (signed; Σ over the embedding dimension)."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    embeds = embed(model, rt.input_ids).detach().requires_grad_(True)
    with eager_attention(model), _patched(model), torch.enable_grad():
        value = score_function(model, rt, target.score)(embeds, *forward_args(rt))
        (grad,) = torch.autograd.grad(value.sum(), embeds)
    return rt.restore((embeds * grad).sum(dim=-1).detach())
