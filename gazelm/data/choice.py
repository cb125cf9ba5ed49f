"""Features of multiple-choice examples with slots (FixATE): answer letters, slots, gaze targets.

Driven by ``Example.meta`` (any source can supply them; see ``docs/fixate.md``):

* ``choices`` — the answer strings (``[" A", " B", " C"]``): each must be **one** token of the
  tokenizer (``option_ids``), else a :class:`GazelmInputError` names the example and the letter;
  ``choice`` / ``correct`` — indices into them (``-1``: none) → ``choice_index`` / ``correct_index``;
  ``answer_position`` — the position whose logits predict the answer (the last prompt position).
  The answer letter follows the prompt in ``input_ids`` (teacher forcing, as FixATE feeds it); a trial
  without an answer (``choice = -1``) carries the correct letter there with no label (no CE);
* ``slots`` — half-open character spans over the source → ``slot_index`` (position → slot, ``-1``
  elsewhere; :func:`gazelm.attention.slots.slot_index_from_spans`), with ``slot_target`` →
  ``gaze_target`` and ``slot_mask``;
* ``adapt_only`` → ``adapt_only`` (a new user's shot: trains only that user's logits).
"""
from __future__ import annotations

from typing import Any, Sequence

from gazelm.data.example import Example
from gazelm.errors import GazelmInputError


def answer_token_ids(tokenizer, choices: Sequence[str], where: str = "") -> list[int]:
    """The single token id of each answer string; a string that is not one token is an error."""
    ids = []
    for choice in choices:
        enc = tokenizer(choice, add_special_tokens=False)["input_ids"]
        if len(enc) != 1:
            pieces = tokenizer.convert_ids_to_tokens(enc)
            raise GazelmInputError(
                f"answer {choice!r} is {len(enc)} tokens for this tokenizer ({pieces}); an answer must be one "
                "token (set data.source.answer_prefix to '' or ' ' so each letter is a single token)",
                field=f"example {where!r}.meta.choices" if where else "choices")
        ids.append(int(enc[0]))
    return ids


def choice_features(example: Example, tokenizer, n_prompt: int, causal: bool) -> dict[str, Any]:
    meta = example.meta
    if not meta.get("choices"):
        return {}
    out = {"option_ids": answer_token_ids(tokenizer, meta["choices"], example.id),
           "choice_index": int(meta.get("choice", -1)), "correct_index": int(meta.get("correct", -1)),
           "answer_position": n_prompt - 1 if causal else 0,
           "adapt_only": int(bool(meta.get("adapt_only", False)))}
    if out["choice_index"] < 0:
        out["no_labels"] = True
    return out


def slot_features(example: Example, src_offsets: Sequence[tuple[int, int]], n_head: int, length: int
                  ) -> dict[str, Any]:
    """``slot_index`` over all ``length`` positions (the source starts at ``n_head``), targets per slot."""
    from gazelm.attention.slots import slot_index_from_spans

    spans = [tuple(s) for s in example.meta.get("slots") or ()]
    if not spans:
        return {}
    target = [float(v) for v in example.meta.get("slot_target") or [0.0] * len(spans)]
    if len(target) != len(spans):
        raise GazelmInputError(f"{len(target)} slot targets for {len(spans)} slots",
                               field=f"example {example.id!r}.meta.slot_target")
    index = slot_index_from_spans(list(src_offsets), spans)
    full = [-1] * n_head + index
    return {"slot_index": full + [-1] * (length - len(full)), "gaze_target": target, "slot_mask": [True] * len(spans)}
