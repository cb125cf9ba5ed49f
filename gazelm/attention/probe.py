"""Run an operator over prompt texts and return per-token relevance with character offsets.

The glue shared by ``gazelm align`` and the training callback: tokenize with offsets, call the
operator in batches, read the relevance of each real token back as ``(text, score, span)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from omegaconf import OmegaConf

from gazelm.attention.operators import get_operator
from gazelm.attention.target import Target


@dataclass
class OperatorSpec:
    """An operator name, its target (stage, generation length, score) and its parameters."""

    name: str
    stage: str = "reading"
    max_new_tokens: int = 8
    score: str = "logit"
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # how results name it (the config file's name)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | Any, label: str | None = None) -> "OperatorSpec":
        data = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
        known = {"name", "stage", "max_new_tokens", "score", "params", "label"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown operator config keys {sorted(unknown)}; expected {sorted(known)}")
        spec = cls(**data)
        get_operator(spec.name)  # fail early on an unknown operator
        spec.label = spec.label or label or spec.name
        return spec

    @property
    def target(self) -> Target:
        return Target(stage=self.stage, max_new_tokens=int(self.max_new_tokens), score=self.score)


def load_operator_spec(name: str, conf_dir: str | Path, overrides: Mapping[str, Any] | None = None) -> OperatorSpec:
    """``conf/operator/<name>.yaml`` merged with ``overrides``."""
    path = Path(conf_dir) / "operator" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ValueError(f"no operator config {name!r} in {path.parent}; known: {', '.join(known)}")
    cfg = OmegaConf.load(path)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.create(dict(overrides)))
    return OperatorSpec.from_config(cfg, label=name)


TokenScore = tuple[str, float, tuple[int, int]]


def probe_texts(model, tokenizer, texts: Sequence[str], spec: OperatorSpec, batch_size: int = 8,
                max_length: int | None = None) -> list[list[TokenScore]]:
    """Per text, ``(token text, relevance, (start, end))`` for every real token, in order.

    Token text is the prompt substring under the token's offsets (special tokens, which have
    none, keep their vocabulary string and span ``(0, 0)``).
    """
    operator = get_operator(spec.name)
    device = next(model.parameters()).device
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
            if spec.name == "mask_fill":  # it perturbs text: give it the (possibly truncated) text the ids cover
                ends = [max([int(e) for _, e in enc["offset_mapping"][b].tolist()] or [0]) for b in range(len(chunk))]
                extra = {"tokenizer": tokenizer, "texts": [t[:end] for t, end in zip(chunk, ends)]}
            relevance = operator(model, ids, mask, spec.target, **spec.params, **extra)
            relevance = relevance.detach().float().cpu()
            for b, text in enumerate(chunk):
                row = []
                for pos in torch.nonzero(enc["attention_mask"][b]).flatten().tolist():
                    a, e = (int(x) for x in enc["offset_mapping"][b][pos])
                    piece = text[a:e] if e > a else tokenizer.convert_ids_to_tokens(int(enc["input_ids"][b][pos]))
                    row.append((piece, float(relevance[b, pos]), (a, e)))
                results.append(row)
    finally:
        tokenizer.padding_side = side
    return results
