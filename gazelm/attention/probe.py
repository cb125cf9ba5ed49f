"""A configured operator, and running it over prompt texts with character offsets.

:class:`OperatorSpec` is what a ``conf/operator/<name>.yaml`` instantiates: a registered operator
(``name``), the target it explains (``stage``, ``max_new_tokens``, ``score``) and its keyword
``params``. Calling it runs the operator. :func:`probe_texts` is the glue shared by
``gazelm align`` and the training callback: tokenize with offsets, call the operator in batches,
read the relevance of each real token back as ``(text, score, span)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from omegaconf import OmegaConf
from torch import Tensor

from gazelm.attention.operators import OPERATORS, get_operator
from gazelm.attention.target import Target


@dataclass
class OperatorSpec:
    """An operator name, its target (stage, generation length, score) and its parameters.

    ``label`` names the results (``gazelm align`` uses the config option's name); it defaults to
    ``name``. The operator is looked up when the spec is made, so an unknown name fails early.
    """

    name: str
    stage: str = "reading"
    max_new_tokens: int = 8
    score: str = "logit"
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        if OmegaConf.is_config(self.params):
            self.params = OmegaConf.to_container(self.params, resolve=True)
        self.params = dict(self.params or {})
        get_operator(self.name)  # fail early on an unknown operator
        self.target  # and on a bad stage / score
        self.label = self.label or self.name

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | Any, label: str | None = None) -> "OperatorSpec":
        """From a mapping with the fields above (an operator config's ``_target_`` is ignored)."""
        data = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
        data = {k: v for k, v in data.items() if not str(k).startswith("_")}
        known = {"name", "stage", "max_new_tokens", "score", "params", "label"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown operator config keys {sorted(unknown)}; expected {sorted(known)}")
        spec = cls(**data)
        spec.label = data.get("label") or label or spec.name
        return spec

    @property
    def target(self) -> Target:
        return Target(stage=self.stage, max_new_tokens=int(self.max_new_tokens), score=self.score)

    @property
    def meta(self) -> dict[str, Any]:
        """The operator's registry metadata (e.g. ``differentiable``, ``reads_text``)."""
        return OPERATORS.meta(self.name)

    def __call__(self, model, input_ids: Tensor, attention_mask: Tensor | None = None, **extra: Any) -> Tensor:
        """``operator(model, input_ids, attention_mask, target, **params, **extra)`` → ``[B, S]``."""
        return get_operator(self.name)(model, input_ids, attention_mask, self.target, **{**self.params, **extra})


TokenScore = tuple[str, float, tuple[int, int]]


def probe_texts(model, tokenizer, texts: Sequence[str], spec: OperatorSpec, batch_size: int = 8,
                max_length: int | None = None, on_batch=None) -> list[list[TokenScore]]:
    """Per text, ``(token text, relevance, (start, end))`` for every real token, in order.

    Token text is the prompt substring under the token's offsets (special tokens, which have
    none, keep their vocabulary string and span ``(0, 0)``). Operators registered with
    ``reads_text=True`` (they perturb the text) also get the tokenizer and the (possibly
    truncated) texts the ids cover. ``on_batch(n)`` is called after each batch of ``n`` texts.
    """
    device = next(model.parameters()).device
    reads_text = bool(spec.meta.get("reads_text"))
    results: list[list[TokenScore]] = []
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start:start + batch_size])
            enc = tokenizer(chunk, return_tensors="pt", padding=True, return_offsets_mapping=True,
                            truncation=max_length is not None, max_length=max_length)
            ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
            extra = {}
            if reads_text:
                ends = [max([int(e) for _, e in enc["offset_mapping"][b].tolist()] or [0]) for b in range(len(chunk))]
                extra = {"tokenizer": tokenizer, "texts": [t[:end] for t, end in zip(chunk, ends)]}
            relevance = spec(model, ids, mask, **extra).detach().float().cpu()
            for b, text in enumerate(chunk):
                row = []
                for pos in torch.nonzero(enc["attention_mask"][b]).flatten().tolist():
                    a, e = (int(x) for x in enc["offset_mapping"][b][pos])
                    piece = text[a:e] if e > a else tokenizer.convert_ids_to_tokens(int(enc["input_ids"][b][pos]))
                    row.append((piece, float(relevance[b, pos]), (a, e)))
                results.append(row)
            if on_batch is not None:
                on_batch(len(chunk))
    finally:
        tokenizer.padding_side = side
    return results
