"""Attribution operators: where a model "looks" in its input, one operator a module.

Every operator has the signature::

    op(model, input_ids, attention_mask, target: Target = Target(), **params) -> Tensor  # [B, S]

and returns one relevance value per input position (zeros on padding), on the caller's padding
layout, for any Hugging Face causal LM or encoder-decoder. Aggregation to words, lines or spans
is a separate step (:mod:`gazelm.attention.pooling`), as in inseq's (method, target, aggregation).

Operators are looked up by name: ``get_operator("rollout")``; ``OPERATORS.names()`` lists them.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from gazelm.registry import Registry

Operator = Callable[..., Tensor]
#: Every public module of this package is imported on the first lookup (one operator a module;
#: ``_``-prefixed modules are shared helpers).
OPERATORS: Registry[Operator] = Registry("attention operator", package=__name__)


def register_operator(name: str, **meta: Any) -> Callable[[Operator], Operator]:
    """Register an operator under ``name``.

    Metadata: ``differentiable=True`` if it supports ``create_graph`` (usable inside a loss);
    ``reads_text=True`` if it perturbs the prompt text, so callers pass ``tokenizer=`` and
    ``texts=`` (the prompts the ids came from) as :func:`gazelm.attention.probe.probe_texts` does.
    """
    return OPERATORS.register(name, **meta)


def get_operator(name: str) -> Operator:
    return OPERATORS.get(name)


__all__ = ["OPERATORS", "Operator", "get_operator", "register_operator"]
