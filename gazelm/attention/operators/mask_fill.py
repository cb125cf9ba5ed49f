"""``mask_fill``: Kou et al.'s (FSE 2024) BERT-masking perturbation.

Each non-punctuation word of the prompt (a ``\\w+`` run, so ``has_close_elements`` is one word)
is replaced by a fill-mask model's top-1 prediction; the model regenerates code from every
perturbed prompt, and the word's importance is ``1 − BLEU(original code, new code)``
(sacrebleu sentence BLEU with its default exponential smoothing, divided by 100). Every input
token gets the importance of the word it overlaps (0 outside words).

All perturbed variants of all prompts are generated in ONE greedy ``generate`` call
(``batched=True``; ``batch_size`` bounds it); ``batched=False`` is the one-at-a-time loop.
The fill model is pluggable: anything with ``__call__(items) -> list[str]`` where ``items`` is a
list of ``(text, start, end)`` and the result is the replacement for each ``text[start:end]``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import torch
from sacrebleu.metrics import BLEU
from torch import Tensor

from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, is_encoder_decoder

WORD = re.compile(r"\w+")
_BLEU = BLEU(effective_order=True)


class FillModel(Protocol):
    def __call__(self, items: Sequence[tuple[str, int, int]]) -> list[str]: ...


@dataclass
class HFFillMask:
    """Top-1 replacement from a Hugging Face fill-mask pipeline (a model name or a local path)."""

    model: str = "bert-base-uncased"
    device: Any = None
    _pipe: Any = field(default=None, init=False, repr=False)

    def __call__(self, items: Sequence[tuple[str, int, int]]) -> list[str]:
        if self._pipe is None:
            from transformers import pipeline

            self._pipe = pipeline("fill-mask", model=self.model, device=self.device)
        mask = self._pipe.tokenizer.mask_token
        masked = [text[:a] + mask + text[b:] for text, a, b in items]
        outputs = self._pipe(masked, top_k=1)
        if len(masked) == 1:
            outputs = [outputs]
        return [out[0]["token_str"].strip() if isinstance(out, list) else out["token_str"].strip() for out in outputs]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Half-open character spans of the non-punctuation words (``\\w+`` runs) of ``text``."""
    return [m.span() for m in WORD.finditer(text)]


def code_change(original: str, new: str) -> float:
    """``1 − sentence BLEU(new vs original) / 100``; identical outputs (even empty) give 0."""
    if original == new:
        return 0.0
    if not original.strip() or not new.strip():
        return 1.0
    return 1.0 - _BLEU.sentence_score(new, [original]).score / 100.0


def _generate(model, tokenizer, texts: list[str], max_new_tokens: int) -> list[str]:
    enc_dec = is_encoder_decoder(model)
    side = tokenizer.padding_side
    tokenizer.padding_side = "right" if enc_dec else "left"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                             max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    new = out[:, 1:] if enc_dec else out[:, batch["input_ids"].shape[1]:]
    return tokenizer.batch_decode(new, skip_special_tokens=True)


def generate_all(model, tokenizer, texts: list[str], max_new_tokens: int, batch_size: int | None = None) -> list[str]:
    """Greedy continuations of ``texts``: in chunks of ``batch_size`` (None: one call for all)."""
    size = batch_size or len(texts)
    return [code for i in range(0, len(texts), size)
            for code in _generate(model, tokenizer, texts[i:i + size], max_new_tokens)]


def word_importance(model, tokenizer, texts: Sequence[str], fill_model: FillModel, max_new_tokens: int = 16,
                    batched: bool = True, batch_size: int | None = None) -> list[list[tuple[int, int, float]]]:
    """Per prompt, ``(start, end, importance)`` for each word (see the module docstring)."""
    spans = [word_spans(text) for text in texts]
    items = [(text, a, b) for text, sp in zip(texts, spans) for a, b in sp]
    fills = fill_model(items) if items else []
    variants = [text[:a] + fill + text[b:] for (text, a, b), fill in zip(items, fills)]
    everything = list(texts) + variants
    codes = generate_all(model, tokenizer, everything, max_new_tokens, batch_size if batched else 1)
    originals, perturbed = codes[:len(texts)], iter(codes[len(texts):])
    return [[(a, b, code_change(orig, next(perturbed))) for a, b in sp] for orig, sp in zip(originals, spans)]


def _offsets(tokenizer, text: str, ids: list[int]) -> list[tuple[int, int]]:
    for special in (True, False):
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=special)
        if list(enc["input_ids"]) == ids:
            return [tuple(o) for o in enc["offset_mapping"]]
    raise ValueError("mask_fill: `texts` do not tokenize to the given input_ids; pass the prompts the ids came from")


@register_operator("mask_fill", reads_text=True)
def mask_fill(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
              *, tokenizer=None, texts: Sequence[str] | None = None, fill_model: FillModel | str | None = None,
              max_new_tokens: int | None = None, batched: bool = True, batch_size: int | None = None,
              **_: object) -> Tensor:
    """Word importance from fill-mask perturbation, spread onto the input tokens.

    ``tokenizer`` (a fast HF tokenizer) is required; ``texts`` are the prompts (decoded from
    ``input_ids`` when omitted); ``fill_model`` an object, or a HF fill-mask model name/path.
    ``max_new_tokens`` defaults to the target's.
    """
    if tokenizer is None:
        raise ValueError("mask_fill needs the model's tokenizer (tokenizer=...)")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if fill_model is None or isinstance(fill_model, str):
        fill_model = HFFillMask(fill_model or HFFillMask.model)
    rows = [ids[m.bool()].tolist() for ids, m in zip(input_ids, attention_mask)]
    if texts is None:
        texts = [tokenizer.decode(r, skip_special_tokens=True) for r in rows]
    importance = word_importance(model, tokenizer, list(texts), fill_model,
                                 max_new_tokens or target.max_new_tokens, batched, batch_size)
    out = torch.zeros(input_ids.shape, dtype=torch.float, device=input_ids.device)
    for b, (text, ids, words) in enumerate(zip(texts, rows, importance)):
        offsets = _offsets(tokenizer, text, ids)
        positions = attention_mask[b].bool().nonzero().flatten().tolist()
        for pos, (ta, tb) in zip(positions, offsets):
            hits = [imp for a, c, imp in words if ta < c and a < tb and tb > ta]
            if hits:
                out[b, pos] = max(hits)
    return out
