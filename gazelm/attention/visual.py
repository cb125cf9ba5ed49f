"""Attribution operators on vision-language backbones: relevance of every position — the
visual tokens in particular — for the answer, read on the answer-source row.

The text operators (:mod:`gazelm.attention.operators`) run a causal LM from token ids. A VLM
needs its images, its (multimodal) position ids and, inside FixATE, a soft prompt in front, so
:func:`vlm_relevance` runs :class:`~gazelm.models.vlm.VLMBackbone` itself and reuses each
operator's own mathematics, which the operator declares in the registry:

- ``in_forward`` (:mod:`gazelm.attention.in_forward`; ``rollout``, ``glimpse``,
  ``grad_x_attention``, ``glimpse_fixate``, ``attnlrp_fixate``): the relevance row of the
  answer-source position from the attention weights of the last ``last_k`` layers (and their
  gradient with respect to the explained score, when ``needs_gradient``) of **one** forward.
  Differentiable with ``create_graph=True`` (the gradient of the score stays in the graph), so a
  loss on it trains whatever produced the inputs (a soft prompt).
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

from gazelm.attention.in_forward import relevance_in_forward
from gazelm.attention.operators import OPERATORS
from gazelm.attention.target import eager_attention


def _score(logits: Tensor, positions: Tensor, tokens: Tensor, score: str) -> Tensor:
    rows = logits[torch.arange(logits.shape[0], device=logits.device), positions]  # [B, V]
    if score == "logprob":
        rows = torch.log_softmax(rows.float(), dim=-1)
    elif score != "logit":
        raise ValueError(f"unknown score {score!r}; expected logit or logprob")
    return rows.gather(1, tokens.view(-1, 1).to(rows.device)).squeeze(1)


def _inputs_in_a_graph(backbone, batch, prefix_embeds) -> dict[str, Any]:
    """Model inputs whose embeddings are in an autograd graph, so a frozen model's attention weights
    have a gradient (a leaf copy when nothing upstream, e.g. a soft prompt, requires one)."""
    inputs = backbone.model_inputs(batch, prefix_embeds)
    if not inputs["inputs_embeds"].requires_grad:
        inputs["inputs_embeds"] = inputs["inputs_embeds"].detach().requires_grad_(True)
    return inputs


def _attention_rows(backbone, batch, operator, meta, positions, tokens, prefix_embeds, last_k, create_graph, score,
                    params) -> Tensor:
    prefix = 0 if prefix_embeds is None else int(prefix_embeds.shape[1])
    rows = positions + prefix
    with eager_attention(backbone.model), torch.enable_grad():
        inputs = _inputs_in_a_graph(backbone, batch, prefix_embeds)
        outputs = backbone.model(**inputs, output_attentions=True)
        value = _score(outputs.logits, rows, tokens, score).sum() if meta.get("needs_gradient") else None
        relevance = relevance_in_forward(operator, outputs.attentions, value, rows, inputs["attention_mask"].bool(),
                                         last_k=last_k, create_graph=create_graph, **params)
    if not create_graph:
        relevance = relevance.detach()
    return relevance[:, prefix:]


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
    if meta.get("in_forward") is not None:
        return _attention_rows(backbone, batch, operator, meta, positions, tokens, prefix_embeds, last_k,
                               create_graph, score, params)
    if meta.get("model_patches") is not None:
        return _patched_input_rows(backbone, batch, meta, positions, tokens, prefix_embeds, create_graph, score)
    supported = [n for n in OPERATORS.names() if {"in_forward", "model_patches"} & set(OPERATORS.meta(n))]
    raise ValueError(f"operator {operator!r} does not run on vision-language backbones; these do: "
                     f"{', '.join(supported)}")


def visual_token_relevance(relevance: Tensor, input_ids: Tensor, image_token_id: int) -> list[Tensor]:
    """Per example, the relevance of its image tokens in order (``[N_b]``, as the token layout)."""
    return [row[ids == image_token_id] for row, ids in zip(relevance, input_ids)]
