"""``self_attention``: the attention weights the explained position puts on each input token.

Kou et al. (FSE 2024) read self-attention at the reading and coding stages, for the first, the
last and all layers. Their released code indexed layer 0 for every setting; here the layer is an
explicit parameter (``layer=0`` reproduces that code, ``"last"`` / ``"mean"`` the paper's text).
For encoder-decoders the weights are the decoder's cross-attention over the encoder input.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import probe_attentions, query_rows, run_model
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, eager_attention, resolve_target

LAYER_CHOICES = ("first", "last", "mean", "all")
HEAD_CHOICES = ("first", "last", "all", "sum", "mean", "max")


def select_layers(attentions: tuple[Tensor, ...] | list[Tensor], layer: int | str) -> Tensor:
    """``layer``: an index (negative counts from the end), ``"first"``, ``"last"`` or ``"mean"``/``"all"``."""
    if isinstance(layer, str) and layer.lstrip("-").isdigit():
        layer = int(layer)
    if isinstance(layer, int):
        if not -len(attentions) <= layer < len(attentions):
            raise ValueError(f"layer {layer} out of range for a model with {len(attentions)} layers")
        return attentions[layer]
    if layer == "first":
        return attentions[0]
    if layer == "last":
        return attentions[-1]
    if layer in ("mean", "all"):
        return torch.stack(list(attentions)).mean(dim=0)
    raise ValueError(f"unknown layer selection {layer!r}; expected an int or one of {LAYER_CHOICES}")


def aggregate_heads(rows: Tensor, heads: int | str) -> Tensor:
    """``[B, H, S] → [B, S]``: one head (index, ``first``, ``last``) or ``sum``/``mean``(=``all``)/``max``."""
    if isinstance(heads, str) and heads.lstrip("-").isdigit():
        heads = int(heads)
    if isinstance(heads, int):
        return rows[:, heads]
    if heads == "first":
        return rows[:, 0]
    if heads == "last":
        return rows[:, -1]
    if heads in ("mean", "all"):
        return rows.mean(dim=1)
    if heads == "sum":
        return rows.sum(dim=1)
    if heads == "max":
        return rows.max(dim=1).values
    raise ValueError(f"unknown head aggregation {heads!r}; expected an int or one of {HEAD_CHOICES}")


@register_operator("self_attention", differentiable=True)
def self_attention(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                   *, layer: int | str = "last", heads: int | str = "mean", **_: object) -> Tensor:
    """Attention of the explained position(s) on the prompt, at ``layer``, heads aggregated by ``heads``.

    Differentiable in the model's parameters (no ``torch.no_grad``), so usable inside a loss.
    """
    rt = resolve_target(model, input_ids, attention_mask, target)
    with eager_attention(model):
        outputs = run_model(model, rt, output_attentions=True)
    attention = select_layers(probe_attentions(outputs, rt), layer)
    rows = query_rows(attention, rt.positions, rt.weights, rt.src_len)
    return rt.restore(aggregate_heads(rows, heads))
