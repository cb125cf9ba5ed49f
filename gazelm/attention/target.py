"""What an attribution explains: the *target* half of (operator, target, aggregation).

Kou et al. (FSE 2024) probe two moments of generation: the *reading* stage (the model has read the
prompt and produces its first token) and the *coding* stage (the model produces the last token of
its greedy continuation). A third target explains a given sequence, teacher-forced.

:func:`resolve_target` turns a :class:`Target` into tensors every operator shares: the prompt
(left-padded for causal LMs), the continuation fed after it (causal) or to the decoder
(encoder-decoder), and the positions/token ids whose scores are explained.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

import torch
from torch import Tensor

Stage = Literal["reading", "coding", "sequence"]


@dataclass(frozen=True)
class Target:
    """Which output an operator explains.

    ``stage="reading"``: the first generated token (greedy). ``"coding"``: the last of
    ``max_new_tokens`` greedily generated tokens. ``"sequence"``: the summed score of the given
    ``sequence`` ids ``[B, T]`` (``sequence_mask`` marks real tokens), teacher-forced.
    ``score`` is ``"logit"`` (linear in the last hidden state) or ``"logprob"``.
    """

    stage: Stage = "reading"
    max_new_tokens: int = 8
    sequence: Tensor | None = None
    sequence_mask: Tensor | None = None
    score: Literal["logit", "logprob"] = "logit"

    def __post_init__(self) -> None:
        if self.stage not in ("reading", "coding", "sequence"):
            raise ValueError(f"unknown target stage {self.stage!r}; expected reading, coding or sequence")
        if self.stage == "sequence" and self.sequence is None:
            raise ValueError("target stage 'sequence' needs the target token ids in `sequence`")
        if self.stage == "coding" and self.max_new_tokens < 1:
            raise ValueError("target stage 'coding' needs max_new_tokens >= 1")
        if self.score not in ("logit", "logprob"):
            raise ValueError(f"unknown target score {self.score!r}; expected logit or logprob")


@dataclass
class ResolvedTarget:
    """Tensors shared by all operators.

    Causal LM: the model sees ``cat(input_ids, cont_ids)``; ``positions`` index that sequence.
    Encoder-decoder: the encoder sees ``input_ids``, the decoder ``cont_ids``; ``positions``
    index the decoder sequence. ``tokens[b, t]`` is explained at ``positions[b, t]`` with
    weight ``weights[b, t]`` (0 for padding). ``order`` maps the caller's padding back:
    ``restore`` puts a ``[B, S]`` relevance back on the caller's positions.
    """

    input_ids: Tensor
    attention_mask: Tensor
    cont_ids: Tensor
    cont_mask: Tensor
    positions: Tensor
    tokens: Tensor
    weights: Tensor
    is_encoder_decoder: bool
    src_index: Tensor  # [B, S] bool: where the caller's real tokens sit in ``input_ids``
    caller_mask: Tensor  # [B, S] the caller's attention mask

    @property
    def src_len(self) -> int:
        return self.input_ids.shape[1]

    def full_mask(self) -> Tensor:
        """Attention mask of the whole causal sequence (prompt + continuation)."""
        return torch.cat([self.attention_mask, self.cont_mask], dim=1)

    def restore(self, relevance: Tensor) -> Tensor:
        """Map ``[B, S]`` relevance on the internal (left-padded) layout back to the caller's."""
        out = torch.zeros_like(relevance)
        if torch.equal(self.src_index, self.caller_mask.bool()):
            return relevance * self.caller_mask.to(relevance.dtype)
        for b in range(relevance.shape[0]):
            out[b, self.caller_mask[b].bool()] = relevance[b, self.src_index[b]]
        return out


def is_encoder_decoder(model) -> bool:
    return bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))


def left_pad(input_ids: Tensor, attention_mask: Tensor, pad_id: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Move each row's real tokens to the right end (causal LMs generate from the last column).

    Returns ``(ids, mask, index)`` where ``index[b]`` marks the real tokens' new positions.
    """
    mask = attention_mask.bool()
    lengths = mask.sum(dim=1)
    width = input_ids.shape[1]
    cols = torch.arange(width, device=input_ids.device).expand_as(input_ids)
    index = cols >= (width - lengths).unsqueeze(1)
    ids = torch.full_like(input_ids, pad_id)
    ids[index] = input_ids[mask]
    return ids, index.to(attention_mask.dtype), index


@contextmanager
def eager_attention(model) -> Iterator[None]:
    """Temporarily switch a HF model to eager attention (sdpa returns no attention weights)."""
    config = getattr(model, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    switch = previous not in (None, "eager") and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(previous)


def _pad_id(model) -> int:
    config = getattr(model, "config", None)
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return 0


def _decoder_start(model) -> int:
    config = model.config
    start = getattr(config, "decoder_start_token_id", None)
    if start is None:
        start = getattr(getattr(model, "generation_config", None), "decoder_start_token_id", None)
    return int(start if start is not None else _pad_id(model))


@torch.no_grad()
def _greedy(model, input_ids: Tensor, attention_mask: Tensor, n: int) -> Tensor:
    """Exactly ``n`` greedy tokens (EOS suppressed so every row has the same length)."""
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=n,
                         min_new_tokens=n, do_sample=False, pad_token_id=_pad_id(model))
    return out if is_encoder_decoder(model) else out[:, input_ids.shape[1]:]


def resolve_target(model, input_ids: Tensor, attention_mask: Tensor | None, target: Target) -> ResolvedTarget:
    """Generate (reading/coding) or take (sequence) the output to explain; see :class:`Target`."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    caller_mask = attention_mask
    enc_dec = is_encoder_decoder(model)
    if enc_dec:
        ids, mask, index = input_ids, attention_mask, attention_mask.bool()
    else:
        ids, mask, index = left_pad(input_ids, attention_mask, _pad_id(model))
    batch, width = ids.shape
    device = ids.device
    rows = torch.ones(batch, 1, dtype=torch.long, device=device)

    if target.stage == "sequence":
        seq = target.sequence.to(device)
        seq_mask = (target.sequence_mask if target.sequence_mask is not None else torch.ones_like(seq)).to(device)
        if enc_dec:
            start = torch.full((batch, 1), _decoder_start(model), dtype=seq.dtype, device=device)
            cont = torch.cat([start, seq[:, :-1]], dim=1)
            cont_mask = torch.cat([torch.ones_like(start), seq_mask[:, :-1]], dim=1)
            positions = torch.arange(seq.shape[1], device=device).expand(batch, -1)
        else:
            cont, cont_mask = seq[:, :-1], seq_mask[:, :-1]
            positions = (width - 1 + torch.arange(seq.shape[1], device=device)).expand(batch, -1)
        return ResolvedTarget(ids, mask, cont, cont_mask, positions.clone(), seq, seq_mask.to(torch.float),
                              enc_dec, index, caller_mask)

    if target.stage == "reading":
        if enc_dec:
            cont = torch.full((batch, 1), _decoder_start(model), dtype=ids.dtype, device=device)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=cont).logits
            positions = 0 * rows
        else:
            cont = ids[:, :0]
            from gazelm.attention.forward import _keeps_logits

            extra = {"logits_to_keep": 1} if _keeps_logits(type(model)) else {}
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask, **extra).logits
            positions = (width - 1) * rows
        tokens = logits[:, -1].argmax(-1, keepdim=True)
        return ResolvedTarget(ids, mask, cont, torch.ones_like(cont), positions, tokens,
                              torch.ones(batch, 1, device=device), enc_dec, index, caller_mask)

    generated = _greedy(model, ids, mask, target.max_new_tokens)
    tokens = generated[:, -1:]
    cont = generated[:, :-1]
    positions = (cont.shape[1] - 1 if enc_dec else width + cont.shape[1] - 1) * rows
    return ResolvedTarget(ids, mask, cont, torch.ones_like(cont), positions, tokens,
                          torch.ones(batch, 1, device=device), enc_dec, index, caller_mask)
