"""Attribution operators on vision-language backbones: relevance of every position — the
visual tokens in particular — for the answer, read on the answer-source row.

The text operators (:mod:`gazelm.attention.operators`) run a causal LM from token ids. A VLM
needs its images, its (multimodal) position ids and, inside FixATE, a soft prompt in front, so
:func:`vlm_relevance` runs :class:`~gazelm.models.vlm.VLMBackbone` itself and reuses each
operator's own mathematics, which the operator declares in the registry:

- ``relevance_matrix(attentions, grads, **params) -> [B, N, N]`` (``rollout``, ``glimpse``,
  ``grad_x_attention``, …): per-layer attention weights of the last ``last_k`` layers (and the
  gradient of the explained score with respect to them, when ``needs_gradient``) → a relevance
  matrix whose row at the answer-source position is the relevance. Differentiable with
  ``create_graph=True`` (the gradient of the score stays in the graph), so a loss on it trains
  whatever produced the inputs (a soft prompt).
- ``model_patches(language_model)`` (``attnlrp``): Gradient × Input at the language model's
  input embeddings (vision features already in place) while the patches are applied; a family
  whose language model the patches do not cover raises the operator's own
  ``UnsupportedModelError`` naming the supported ones.

The explained score is the teacher-forced logit (``score="logit"``) or log-probability of
``tokens[b]`` predicted at ``positions[b]`` (indices into the batch's own sequence, without the
prefix). Relevance on the prefix positions is dropped: the result is ``[B, L]`` over the batch's
sequence; :func:`visual_token_relevance` picks each example's image tokens in order.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Mapping

import torch
from torch import Tensor

from gazelm.attention.operators import OPERATORS
from gazelm.attention.target import eager_attention


def _score(logits: Tensor, positions: Tensor, tokens: Tensor, score: str) -> Tensor:
    rows = logits[torch.arange(logits.shape[0], device=logits.device), positions]  # [B, V]
    if score == "logprob":
        rows = torch.log_softmax(rows.float(), dim=-1)
    elif score != "logit":
        raise ValueError(f"unknown score {score!r}; expected logit or logprob")
    return rows.gather(1, tokens.view(-1, 1).to(rows.device)).squeeze(1)


def _select_layers(attentions, last_k: int | None) -> list[Tensor]:
    layers = list(attentions)
    if not layers or layers[0] is None:
        raise RuntimeError("the model returned no attention weights; build it with attn_implementation=eager")
    if last_k is not None:
        if not 1 <= int(last_k) <= len(layers):
            raise ValueError(f"last_k={last_k} but the language model has {len(layers)} layers")
        layers = layers[-int(last_k):]
    return layers


def _inputs_in_a_graph(backbone, batch, prefix_embeds) -> dict[str, Any]:
    """Model inputs whose embeddings are in an autograd graph, so a frozen model's attention weights
    have a gradient (a leaf copy when nothing upstream, e.g. a soft prompt, requires one)."""
    inputs = backbone.model_inputs(batch, prefix_embeds)
    if not inputs["inputs_embeds"].requires_grad:
        inputs["inputs_embeds"] = inputs["inputs_embeds"].detach().requires_grad_(True)
    return inputs


def _attention_rows(backbone, batch, meta, positions, tokens, prefix_embeds, last_k, create_graph, score,
                    params) -> Tensor:
    prefix = 0 if prefix_embeds is None else int(prefix_embeds.shape[1])
    with eager_attention(backbone.model), torch.enable_grad():
        outputs = backbone.model(**_inputs_in_a_graph(backbone, batch, prefix_embeds), output_attentions=True)
        layers = _select_layers(outputs.attentions, last_k)
        grads = None
        if meta.get("needs_gradient"):
            value = _score(outputs.logits, positions + prefix, tokens, score)
            grads = torch.autograd.grad(value.sum(), layers, create_graph=create_graph, allow_unused=True)
            grads = [torch.zeros_like(a) if g is None else g for a, g in zip(layers, grads)]
        if not create_graph:
            layers = [a.detach() for a in layers]
        matrix = meta["relevance_matrix"](layers, grads, **params)  # [B, N, N]
    rows = matrix[torch.arange(matrix.shape[0], device=matrix.device), positions.to(matrix.device) + prefix]
    return rows[:, prefix:]


def _patched_input_rows(backbone, batch, meta, positions, tokens, prefix_embeds, create_graph, score) -> Tensor:
    prefix = 0 if prefix_embeds is None else int(prefix_embeds.shape[1])
    language_model = backbone.language_model
    with ExitStack() as stack:
        try:
            stack.enter_context(meta["model_patches"](language_model))
        except NotImplementedError as err:  # the operator's "unsupported model" error, with the VLM's context
            raise type(err)(f"{err} On a vision-language backbone it runs on the language model "
                            f"({language_model.config.model_type!r} inside "
                            f"{backbone.model.config.model_type!r}).") from None
        return _gradient_x_input(backbone, batch, positions, tokens, prefix_embeds, prefix, create_graph, score)


def _gradient_x_input(backbone, batch, positions, tokens, prefix_embeds, prefix, create_graph, score) -> Tensor:
    with eager_attention(backbone.model), torch.enable_grad():
        inputs = backbone.model_inputs(batch, prefix_embeds)
        merged = backbone.merge_image_features(inputs.pop("inputs_embeds"), batch, prefix)
        keep = create_graph and merged.requires_grad  # differentiable in what made the embeddings (a prefix)
        embeds = merged if keep else merged.detach().requires_grad_(True)
        for key in backbone.adapter.image_keys:
            inputs.pop(key, None)
        outputs = backbone.model(inputs_embeds=embeds, **inputs)
        value = _score(outputs.logits, positions + prefix, tokens, score)
        (grad,) = torch.autograd.grad(value.sum(), embeds, create_graph=create_graph)
    relevance = (embeds * grad).sum(dim=-1)
    relevance = relevance if create_graph else relevance.detach()
    return relevance[:, prefix:]


def vlm_relevance(backbone, batch: Mapping[str, Tensor], operator: str = "rollout", *, positions: Tensor,
                  tokens: Tensor, prefix_embeds: Tensor | None = None, last_k: int | None = None,
                  create_graph: bool = False, score: str = "logit", **params: Any) -> Tensor:
    """``[B, L]`` relevance of every position of the batch's sequence for ``tokens`` at ``positions``."""
    meta = OPERATORS.meta(operator)
    positions = torch.as_tensor(positions, device=batch["input_ids"].device).long().view(-1)
    tokens = torch.as_tensor(tokens, device=batch["input_ids"].device).long().view(-1)
    if "relevance_matrix" in meta:
        return _attention_rows(backbone, batch, meta, positions, tokens, prefix_embeds, last_k, create_graph,
                               score, params)
    if "model_patches" in meta:
        return _patched_input_rows(backbone, batch, meta, positions, tokens, prefix_embeds, create_graph, score)
    supported = [n for n in OPERATORS.names() if {"relevance_matrix", "model_patches"} & set(OPERATORS.meta(n))]
    raise ValueError(f"operator {operator!r} does not run on vision-language backbones; these do: "
                     f"{', '.join(supported)}")


def visual_token_relevance(relevance: Tensor, input_ids: Tensor, image_token_id: int) -> list[Tensor]:
    """Per example, the relevance of its image tokens in order (``[N_b]``, as the token layout)."""
    return [row[ids == image_token_id] for row, ids in zip(relevance, input_ids)]
